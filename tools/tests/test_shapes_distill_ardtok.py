"""tools/shapes/distill_ardtok.py on the de-tokenizer stage's stand-in inputs (test_shapes_ardtok.write_standins):
only drawings the judge accepts become targets, each the codes that were drawn; the scenes split over workers
are each drawn; the result loads through the converter with the source's args and new weights, scored at every
scale; a run where nothing is right stops with a clear message. The judge is replaced where a test needs drawings
to be accepted (the tiny random VQ never draws a right scene); the evaluator itself is tested in
test_shapes_evaluate. Not a test of quality."""
import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from tools.convert import ardtok as ardtok_convert
from tools.convert import vq as vq_convert
from tools.convert.tatok import load_tatok
from tools.shapes import data, distill_ardtok, train_ardtok
from tools.tests.test_shapes_ardtok import write_source, write_standins

SHOWN = 4
SCENES = 8


def even(scene, image):
    """A stand-in judge that accepts about half of the pictures: those whose pixel sum is even."""
    return int(image.astype(np.int64).sum()) % 2 == 0


class DistillArdtokTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.saved = data.WORK, distill_ardtok.EVAL_IMAGES, distill_ardtok.BATCH
        distill_ardtok.EVAL_IMAGES = SHOWN
        distill_ardtok.BATCH = 4
        cls.folder = tempfile.mkdtemp()
        data.WORK = cls.folder
        write_standins(cls.folder, {"train": SCENES, "test": SHOWN})
        cls.paths, cls.args, cls.source = write_source(cls.folder)
        tatok = load_tatok(cls.paths["tatok"])[0]
        cls.cond = train_ardtok.features(tatok, "train", 1, cls.paths)
        with mock.patch.object(distill_ardtok, "right", even):
            distill_ardtok.run(cls.source, SCENES, 2, 3, [1, 2], workers=1)
        cls.out = os.path.join(cls.folder, "ardtok")

    @classmethod
    def tearDownClass(cls):
        data.WORK, distill_ardtok.EVAL_IMAGES, distill_ardtok.BATCH = cls.saved
        shutil.rmtree(cls.folder)

    def done(self):
        with open(os.path.join(self.out, "done.json")) as f:
            return json.load(f)

    def test_targets_are_accepted_drawings(self):
        targets = np.load(os.path.join(self.out, distill_ardtok.TARGETS))
        kept, codes = targets["scenes"], targets["codes"].astype(np.int64)
        self.assertGreater(len(kept), 0)
        self.assertEqual(len(set(kept.tolist())), len(kept))
        vq = vq_convert.build_checked(self.paths["vq"])[0]
        for image in train_ardtok.decode_images(vq, torch.from_numpy(codes)):
            self.assertTrue(even(None, image))
        done = self.done()
        self.assertEqual(done["kept"], len(kept))
        self.assertGreater(done["drawn"], SCENES)       # some scenes needed a second drawing
        self.assertLessEqual(done["drawn"], SCENES * 2)

    def test_a_second_run_reads_the_drawing_back_and_may_teach_other_scales_only(self):
        work = tempfile.mkdtemp()
        try:
            for stage in ("vq", "tatok"):
                shutil.copytree(os.path.join(self.folder, stage), os.path.join(work, stage))
            os.makedirs(os.path.join(work, "ardtok"))
            shutil.copy(os.path.join(self.out, distill_ardtok.TARGETS), os.path.join(work, "ardtok"))
            with mock.patch.object(data, "WORK", work), \
                    mock.patch.object(distill_ardtok, "draw_targets", side_effect=AssertionError("drew again")):
                distill_ardtok.run(self.source, SCENES, 2, 1, [2], workers=1)
                with open(os.path.join(work, "ardtok", "done.json")) as f:
                    self.assertEqual(json.load(f)["kept"], self.done()["kept"])
        finally:
            shutil.rmtree(work)

    def test_every_scene_is_drawn_whatever_the_workers(self):
        scenes = data.scene_list("train")[:SCENES]
        for workers in (1, 2):
            kept, codes, drawn = distill_ardtok.draw_targets(self.source, self.paths["vq"], self.cond, scenes, 2,
                                                             workers)
            self.assertEqual((len(kept), drawn), (0, SCENES * 2))
            self.assertEqual(tuple(codes.shape), (0, self.args["max_seq_len"]))

    def test_the_result_loads_with_the_sources_args_and_new_weights(self):
        path = os.path.join(self.out, train_ardtok.CHECKPOINT)
        result, name = ardtok_convert.build_checked(path)
        source, _ = ardtok_convert.build_checked(self.source)
        self.assertEqual(name, train_ardtok.NAME)
        self.assertEqual(ardtok_convert.read_checkpoint(path)[1], self.args)
        changed = [k for k, v in result.state_dict().items() if not torch.equal(v, source.state_dict()[k])]
        self.assertIn("output.weight", changed)
        done = self.done()
        self.assertEqual((done["steps"], done["scale_cycle"]), (3, [1, 2]))
        for key in ("figures_source", "figures"):
            self.assertEqual(set(done[key]), {"s1", "s2", "s3"})
            self.assertIn("shape", done[key]["s1"])

    def test_nothing_right_stops_with_a_message(self):
        work = tempfile.mkdtemp()
        try:
            for stage in ("vq", "tatok"):
                shutil.copytree(os.path.join(self.folder, stage), os.path.join(work, stage))
            with mock.patch.object(data, "WORK", work), \
                    mock.patch.object(distill_ardtok, "right", lambda scene, image: False):
                with self.assertRaises(SystemExit) as ctx:
                    distill_ardtok.run(self.source, SCENES, 1, 3, [1], workers=1)
            self.assertIn("nothing to learn from", str(ctx.exception))
        finally:
            shutil.rmtree(work)

    def test_its_own_output_is_refused_as_the_source(self):
        with self.assertRaises(SystemExit) as ctx:
            distill_ardtok.run(os.path.join(self.out, train_ardtok.CHECKPOINT), SCENES, 1, 3, [1], workers=1)
        self.assertIn("is the checkpoint this stage writes", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
