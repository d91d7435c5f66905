"""tools/shapes/detok_drawings.py on the de-tokenizer stage's stand-ins (test_shapes_ardtok.write_standins, a random
de-tokenizer): one drawing per picture in the de-tokenizer's code grid, seeded per batch; the cache is read back
for the same inputs and redrawn when the de-tokenizer changes; a manifest whose de-tokenizer sampling cuts the
distribution is refused. Not a test of what a trained de-tokenizer draws."""
import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from tools.shapes import data, detok_drawings, package, world
from tools.tests.test_shapes_ardtok import write_source, write_standins

PICTURES = 6


class DetokDrawingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.saved = data.WORK, detok_drawings.BATCH
        detok_drawings.BATCH = 4
        cls.folder = tempfile.mkdtemp()
        data.WORK = cls.folder
        write_standins(cls.folder, {"train": PICTURES, "test": 1})
        cls.paths, cls.args, source = write_source(cls.folder)
        cls.ardtok = detok_drawings.paths()["ardtok"]
        shutil.copy(source, cls.ardtok)
        cls.images = np.stack([world.render(s) for s in data.scene_list("train")[:PICTURES]])

    @classmethod
    def tearDownClass(cls):
        data.WORK, detok_drawings.BATCH = cls.saved
        shutil.rmtree(cls.folder)

    def draw(self, images, seed):
        return detok_drawings.draw(images, self.paths["tatok"], self.ardtok, seed)

    def test_one_drawing_per_picture_in_the_code_grid(self):
        drawn = self.draw(self.images, 3)
        side = int(round(self.args["max_seq_len"] ** 0.5))
        self.assertEqual(drawn.shape, (PICTURES, side, side))
        self.assertEqual(drawn.dtype, np.int16)
        self.assertTrue(((drawn >= 0) & (drawn < self.args["vocab_size"])).all())

    def test_seeded_per_batch(self):
        drawn = self.draw(self.images, 3)
        np.testing.assert_array_equal(drawn, self.draw(self.images, 3))
        np.testing.assert_array_equal(drawn[:detok_drawings.BATCH], self.draw(self.images[:detok_drawings.BATCH], 3))
        self.assertFalse(np.array_equal(drawn, self.draw(self.images, 4)))

    def test_the_cache_is_read_back_and_redrawn_for_a_new_detokenizer(self):
        with mock.patch.object(data, "images", lambda split: self.images):
            first = detok_drawings.cached(PICTURES - 1, 5)
            np.testing.assert_array_equal(first, self.draw(self.images[:PICTURES - 1], 5))
            with mock.patch.object(detok_drawings, "draw", side_effect=AssertionError("drew again")):
                np.testing.assert_array_equal(detok_drawings.cached(PICTURES - 1, 5), first)
            saved = torch.load(self.ardtok)
            try:
                other = {k: v + 0.5 if v.is_floating_point() else v for k, v in saved["model"]["sd"].items()}
                torch.save({"model": dict(saved["model"], sd=other)}, self.ardtok)
                with mock.patch.object(detok_drawings, "draw", return_value=first + 1) as drawing:
                    np.testing.assert_array_equal(detok_drawings.cached(PICTURES - 1, 5), first + 1)
                    drawing.assert_called_once()
            finally:
                torch.save(saved, self.ardtok)

    def test_a_cut_distribution_is_refused(self):
        with tempfile.TemporaryDirectory() as out:
            with open(os.path.join(out, "manifest.json"), "w") as f:
                json.dump({"sampling": {"detokenizer": {"cfgScale": 1.0, "temperature": 1.0, "topK": 20}}}, f)
            with mock.patch.object(package, "OUT", out), self.assertRaisesRegex(ValueError, "top-k"):
                detok_drawings.sampling()


if __name__ == "__main__":
    unittest.main()
