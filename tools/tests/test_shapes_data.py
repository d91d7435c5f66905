"""tools.shapes.data: SHAPES_TRAIN_SCENES sets the training split's size; a larger split starts with the same
scenes (one seeded stream); the image cache's name carries the count, so two sizes never share a cache."""
import importlib
import os
import tempfile
import unittest
from unittest import mock

from tools.shapes import data, world


class TrainingScenesTest(unittest.TestCase):
    def tearDown(self):
        importlib.reload(data)

    def test_the_variable_sets_the_count_and_a_larger_split_extends_the_smaller(self):
        with mock.patch.dict(os.environ, {"SHAPES_TRAIN_SCENES": "48000"}):
            importlib.reload(data)
        self.assertEqual(data.SPLITS["train"][0], 48000)
        self.assertEqual(world.scenes("train", 300, 1)[:100], world.scenes("train", 100, 1))

    def test_the_recipe_keeps_its_sixteen_thousand(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("SHAPES_TRAIN_SCENES", None)
            importlib.reload(data)
        self.assertEqual(data.SPLITS["train"], (16000, 1))

    def test_caches_of_two_counts_are_two_files(self):
        with tempfile.TemporaryDirectory() as work:
            for count in (3, 5):
                with mock.patch.dict(os.environ, {"SHAPES_TRAIN_SCENES": str(count), "SHAPES_WORK": work}):
                    importlib.reload(data)
                    self.assertEqual(data.images("train").shape, (count, world.IMAGE_SIZE, world.IMAGE_SIZE, 3))
            self.assertEqual(sorted(n for n in os.listdir(os.path.join(work, "data")) if n.endswith(".npy")),
                             ["images_train_3.npy", "images_train_5.npy"])


if __name__ == "__main__":
    unittest.main()
