"""eval_set.compare: how a run's pictures differ from another run's of the same items; eval_set.build's later
prompts (--t2i-from) and questions (--chat-from) go on from the same generator."""
import os
import tempfile
import unittest

import numpy as np
from PIL import Image

from tools.shapes import eval_set, world


def _save(path, pixels):
    Image.fromarray(pixels.astype(np.uint8)).save(path)


class CompareTest(unittest.TestCase):
    def test_levels_and_missing_pictures(self):
        rng = np.random.default_rng(0)
        picture = rng.integers(1, 254, size=(64, 64, 3))
        with tempfile.TemporaryDirectory() as run_dir, tempfile.TemporaryDirectory() as other_dir:
            run = []
            for k, (theirs, change) in enumerate([(True, 1), (True, 9), (False, 0)]):
                _save(os.path.join(run_dir, f"a{k}.png"), picture)
                run.append({"id": f"t2i-{k}", "scale": 1, "image": f"a{k}.png"})
                if theirs:
                    changed = picture.copy()
                    changed[5, 7, 1] += change
                    _save(os.path.join(other_dir, f"t2i-{k}-s1.png"), changed)
            result = eval_set.compare(run, run_dir, other_dir)
        self.assertEqual(result, {"n": 3, "compared": 2, "withinOneLevel": 0.5, "maxLevelDifference": 9})

    def test_nothing_to_compare(self):
        with tempfile.TemporaryDirectory() as empty:
            result = eval_set.compare([{"id": "t2i-0", "scale": 2, "image": "x.png"}], empty, empty)
        self.assertEqual(result, {"n": 1, "compared": 0, "withinOneLevel": None, "maxLevelDifference": None})


class HeldOutFromTest(unittest.TestCase):
    def test_later_prompts_go_on_from_the_same_generator(self):
        later = eval_set.build(3, 0, t2i_from=400)["t2i"]
        _, seed = eval_set.SPLITS["test"]
        scenes = world.scenes("test", 403, seed)[400:]
        self.assertEqual([item["scene"] for item in later], [s.to_json() for s in scenes])
        self.assertEqual([item["id"] for item in later], ["t2i-0", "t2i-1", "t2i-2"])
        self.assertNotIn(later[0]["scene"], [item["scene"] for item in eval_set.build(400, 0)["t2i"]])

    def test_later_questions_ask_about_later_scenes_only(self):
        first = eval_set.build(0, 800)["chat"]
        later = eval_set.build(0, 6, chat_from=400)["chat"]
        _, seed = eval_set.SPLITS["test"]
        scenes = [s.to_json() for s in world.scenes("test", 403, seed)[400:]]
        self.assertEqual([item["scene"] for item in later], [scene for scene in scenes for _ in range(2)])
        self.assertEqual([item["image"] for item in later][::2], [f"images/test-{i}.png" for i in (400, 401, 402)])
        self.assertEqual(eval_set.build(0, 800, chat_from=0)["chat"], first)


if __name__ == "__main__":
    unittest.main()
