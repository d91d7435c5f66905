"""tools.shapes.device_call: the stage outputs a device call returns (checkpoints and done.json files, not the
training states), one variant's files by their prefix, unpacked here into the same layout; a tar file with entries it
should not hold refused; runs stopped at the deadline with their children; the shipped teacher placed as a done stage
(and the teacher's budget only when one is trained); the preflight naming what is missing."""
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
from unittest import mock

from tools.shapes import common, data, device_call, train_tatok


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


class DeviceCallPackingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.there, self.out, self.here = (os.path.join(self.tmp.name, n) for n in ("there", "out", "here"))
        os.makedirs(self.out)

    def tearDown(self):
        self.tmp.cleanup()

    def stage_files(self):
        files = {"vq/vq_shapes.pt": "vq", "vq/done.json": "{}", "vq/train_state.pt": "state",
                 "vq/codes_train.npy": "codes", "llm/config.json": "{}", "llm/model-00001-of-00002.safetensors": "w",
                 "llm/phase_a.pt": "state", "llm/done.json": "{}", "tatok/ta_tok.pth": "t", "tatok/joint.pt": "s",
                 "tatok/siglip2-shapes/config.json": "{}",
                 "logs/gpu_llm.log": "log"}
        for name, content in files.items():
            write(os.path.join(self.there, name), content)

    def test_checkpoints_and_markers_travel_training_states_do_not(self):
        self.stage_files()
        sizes = device_call.pack(self.out, self.there, "more-scenes-")
        self.assertEqual(sorted(sizes), sorted("more-scenes-" + name for name in device_call.RETURNED))
        write(os.path.join(self.here, "llm", "stale.json"), "old run")
        with mock.patch.object(data, "WORK", self.here):
            with self.assertRaises(SystemExit):
                device_call.unpack(self.out)                    # the recipe's own files did not come back
            device_call.unpack(self.out, "more-scenes-")
        found = sorted(os.path.relpath(os.path.join(d, f), self.here)
                       for d, _, names in os.walk(self.here) for f in names)
        self.assertEqual(found, ["llm/config.json", "llm/done.json", "llm/model-00001-of-00002.safetensors",
                                 "logs/gpu_llm.log", "tatok/siglip2-shapes/config.json", "tatok/ta_tok.pth",
                                 "vq/done.json", "vq/vq_shapes.pt"])
        with open(os.path.join(self.here, "vq", "vq_shapes.pt")) as f:
            self.assertEqual(f.read(), "vq")

    def test_entries_outside_the_returned_stages_are_refused(self):
        self.stage_files()
        device_call.pack(self.out, self.there)
        evil = os.path.join(self.tmp.name, "evil")
        write(evil, "x")
        with tarfile.open(os.path.join(self.out, "logs.tar"), "w") as tar:
            tar.add(evil, arcname="logs/../../evil")
        with mock.patch.object(data, "WORK", self.here), self.assertRaises(SystemExit) as refused:
            device_call.unpack(self.out)
        self.assertIn("unexpected entry", str(refused.exception))
        self.assertFalse(os.path.exists(self.here))

    def test_a_missing_tar_file_is_named(self):
        with mock.patch.object(data, "WORK", self.here), self.assertRaises(SystemExit) as missing:
            device_call.unpack(self.out)
        self.assertIn("did not return it", str(missing.exception))


def gone(pid):
    """True when process `pid` has ended (or is only waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class DeadlineTest(unittest.TestCase):
    def test_a_run_past_its_deadline_is_stopped_with_its_children(self):
        with tempfile.TemporaryDirectory() as tmp:
            child_pid = os.path.join(tmp, "child")
            script = ("import subprocess, time\n"
                      f"open({child_pid!r}, 'w').write(str(subprocess.Popen(['sleep', '60']).pid))\n"
                      "time.sleep(60)\n")
            begin = time.time()
            quick = [sys.executable, "-c", "raise SystemExit(3)"]
            results = device_call.run_until([([sys.executable, "-c", script], dict(os.environ)),
                                             (quick, dict(os.environ))], deadline=2)
            (code, stopped), quick_result = results
            self.assertEqual(quick_result, (3, False))
            self.assertTrue(stopped)
            self.assertNotEqual(code, 0)
            self.assertLess(time.time() - begin, 30)
            with open(child_pid) as f:
                pid = int(f.read())
            for _ in range(50):
                if gone(pid):
                    break
                time.sleep(0.1)
            self.assertTrue(gone(pid))

    def test_runs_within_the_deadline_give_their_exit_codes(self):
        runs = [([sys.executable, "-c", f"raise SystemExit({code})"], dict(os.environ)) for code in (0, 3)]
        self.assertEqual(device_call.run_until(runs, 30), [(0, False), (3, False)])

    def test_each_variant_has_its_own_work_folder(self):
        with mock.patch.object(data, "WORK", "/w/shapes"):
            self.assertEqual([device_call.variant_work(p) for p in device_call.VARIANTS],
                             ["/w/shapes", "/w/shapes-more-scenes"])


class TeacherTest(unittest.TestCase):
    def test_the_shipped_teacher_is_placed_as_a_done_stage_that_loads(self):
        with tempfile.TemporaryDirectory() as work:
            device_call.place_shipped_teacher(work)
            with mock.patch.object(data, "WORK", work):
                self.assertTrue(common.is_done(data.stage_dir("teacher")))
                teacher, state = train_tatok.frozen_teacher()
            self.assertTrue(all(not p.requires_grad for p in teacher.parameters()))
            self.assertTrue(any(name.startswith("grounding.") for name in state))

    def test_the_teacher_has_a_budget_only_when_trained(self):
        self.assertNotIn("teacher", device_call.stage_budgets(1.0, train_teacher=False))
        budgets = device_call.stage_budgets(0.5, train_teacher=True)
        self.assertEqual(budgets["teacher"], device_call.TEACHER_SECONDS * 0.5)
        self.assertEqual(budgets["llm"], device_call.BUDGETS["llm"] * 0.5)

    def test_from_scratch_without_a_teacher_or_its_budget_is_refused(self):
        with tempfile.TemporaryDirectory() as work:
            result = subprocess.run([sys.executable, "-m", "tools.shapes.train_gpu", "--from-scratch",
                                     "--tatok-seconds", "1", "--device", "cpu"], cwd=data.ROOT, capture_output=True,
                                    text=True, env=dict(os.environ, SHAPES_WORK=work, PYTHONPATH=data.ROOT))
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("stage teacher is not done", result.stderr)


class PreflightTest(unittest.TestCase):
    def test_every_stage_module_imports_here(self):
        self.assertIsNone(device_call.preflight(dict(os.environ), "cpu"))

    def test_a_missing_package_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "easydict.py"), "w") as f:
                f.write("raise ImportError('easydict is not here')\n")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([tmp, data.ROOT]))
            self.assertIn("easydict is not here", device_call.preflight(env, "cpu"))

    def test_a_missing_device_is_named(self):
        self.assertIn("meta-nonsense", device_call.preflight(dict(os.environ), "meta-nonsense"))


if __name__ == "__main__":
    unittest.main()
