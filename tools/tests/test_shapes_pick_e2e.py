"""tools.shapes.pick_e2e's rule, with the real world, evaluation set and evaluator and a stand-in for the model
(the model is not what is tested here): the first held-out prompt with the asked number of objects and the
smallest seed drawn right; the first test scene with the question answered right; None when nothing is."""
import unittest

import numpy as np

from tools.shapes import data, eval_set, pick_e2e, world
from tools.shapes.torch_eval import Picture


def two_object_prompts():
    return [item for item in eval_set.build(40, 0)["t2i"] if len(item["scene"]["things"]) == 2]


class StandIn:
    """Draws `right_prompt` right (the scene itself) only from seed `right_seed`, anything else as an empty
    background; answers right only about test scene `right_scene`."""

    def __init__(self, right_prompt=None, right_seed=None, right_scene=None):
        self.right_prompt, self.right_seed, self.right_scene = right_prompt, right_seed, right_scene
        self.scenes = {item["prompt"]: world.Scene.from_json(item["scene"]) for item in eval_set.build(40, 0)["t2i"]}
        self.pixels = data.images("test")

    def imagine(self, prompt, scale, seed):
        if prompt == self.right_prompt and seed == self.right_seed:
            return Picture(world.render(self.scenes[prompt]), [], np.zeros((1, 1)), None, None)
        return Picture(np.full((64, 64, 3), 255, dtype=np.uint8), [], np.zeros((1, 1)), None, None)

    def answer(self, image, question):
        if self.right_scene is not None and np.array_equal(image, self.pixels[self.right_scene]):
            return dict(world.questions(data.scene_list("test")[self.right_scene], phrasings=1))[question]
        return "I cannot tell"


class PickE2eTest(unittest.TestCase):
    def test_the_first_prompt_drawn_right_and_its_smallest_seed(self):
        second = two_object_prompts()[1]
        picked = pick_e2e.pick_t2i(StandIn(second["prompt"], 3), objects=2, prompts=40, seeds=5)
        self.assertEqual((picked["prompt"], picked["seed"]), (second["prompt"], 3))
        self.assertEqual(picked["objects"], [{k: t[k] for k in ("colour", "shape", "size", "position")}
                                             for t in second["scene"]["things"]])

    def test_no_prompt_when_the_right_seed_is_beyond_the_seeds_tried(self):
        first = two_object_prompts()[0]
        self.assertIsNone(pick_e2e.pick_t2i(StandIn(first["prompt"], 6), objects=2, prompts=40, seeds=5))

    def test_the_first_scene_with_the_question_answered_right(self):
        question = "what is on the right?"
        having = [i for i, s in enumerate(data.scene_list("test")[:100])
                  if question in dict(world.questions(s, phrasings=1))]
        picked = pick_e2e.pick_chat(StandIn(right_scene=having[2]), question, scenes=100)
        self.assertEqual(picked["scene"], having[2])
        self.assertEqual(pick_e2e.pick_chat(StandIn(), question, scenes=100), None)


if __name__ == "__main__":
    unittest.main()
