"""tools.shapes.device_call's packing: the stage outputs a device call returns (checkpoints and done.json files, not
the training states), unpacked here into the same layout, and a tar file with entries it should not hold refused."""
import os
import sys
import tarfile
import tempfile
import time
import unittest
from unittest import mock

from tools.shapes import data, device_call


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
        with mock.patch.object(data, "WORK", self.there):
            sizes = device_call.pack(self.out)
        self.assertEqual(sorted(sizes), sorted(device_call.RETURNED))
        write(os.path.join(self.here, "llm", "stale.json"), "old run")
        with mock.patch.object(data, "WORK", self.here):
            device_call.unpack(self.out)
        found = sorted(os.path.relpath(os.path.join(d, f), self.here)
                       for d, _, names in os.walk(self.here) for f in names)
        self.assertEqual(found, ["llm/config.json", "llm/done.json", "llm/model-00001-of-00002.safetensors",
                                 "logs/gpu_llm.log", "tatok/siglip2-shapes/config.json", "tatok/ta_tok.pth",
                                 "vq/done.json", "vq/vq_shapes.pt"])
        with open(os.path.join(self.here, "vq", "vq_shapes.pt")) as f:
            self.assertEqual(f.read(), "vq")

    def test_entries_outside_the_returned_stages_are_refused(self):
        self.stage_files()
        with mock.patch.object(data, "WORK", self.there):
            device_call.pack(self.out)
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
            code, stopped = device_call.run_until([sys.executable, "-c", script], dict(os.environ), deadline=2)
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

    def test_a_run_within_its_deadline_gives_its_exit_code(self):
        self.assertEqual(device_call.run_until([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), 30),
                         (3, False))


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
