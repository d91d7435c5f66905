"""Tar-Shapes evaluator: the world's own renders score ≥ 99% on every attribute (clean and at other image sizes;
≥ 97% blurred or resized down and up), an empty image has no objects, wrong images score what is wrong, chat
answers are judged by the world's words, and aggregation averages per-item scores."""
import dataclasses
import unittest

import numpy as np
from PIL import Image

from tools.shapes import evaluate, world


def _scenes(count):
    return world.scenes("train", count // 2, 7) + world.scenes("test", count - count // 2, 7)


def _replace_things(scene, **changes):
    return world.Scene(scene.background, tuple(dataclasses.replace(t, **changes) for t in scene.things))


class GroundTruthTest(unittest.TestCase):
    def assert_scores(self, degrade, minimum, count=60):
        items = [evaluate.score_image(s, degrade(world.render(s))) for s in _scenes(count)]
        for attribute, accuracy in evaluate.aggregate(items).items():
            self.assertGreaterEqual(accuracy, minimum, attribute)

    def test_clean_renders_score_at_least_99_percent(self):
        self.assert_scores(lambda image: image, 0.99, count=300)

    def test_blurred_and_down_up_renders_score_at_least_97_percent(self):
        self.assert_scores(evaluate.DEGRADATIONS["blur σ1"], 0.97)
        self.assert_scores(evaluate.DEGRADATIONS["down-up 32"], 0.97)

    def test_other_image_sizes(self):
        for size in (128, 256):
            upscaled = lambda image: np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
            self.assert_scores(upscaled, 0.99)

    def test_detect_reports_the_scene(self):
        scene = world.Scene("black", (world.Thing("star", "yellow", "large", "top"),
                                      world.Thing("square", "blue", "small", "left", 1, -1)))
        background, objects = evaluate.detect(world.render(scene))
        self.assertEqual(background, "black")
        found = sorted((o["colour"], o["shape"], o["size"], o["position"]) for o in objects)
        self.assertEqual(found, [("blue", "square", "small", "left"), ("yellow", "star", "large", "top")])
        top = next(o for o in objects if o["colour"] == "yellow")
        np.testing.assert_allclose(top["centroid"], world.POSITIONS["top"], atol=1.5)


class WrongImageTest(unittest.TestCase):
    def test_empty_image_has_no_objects(self):
        for name, rgb in world.BACKGROUNDS.items():
            image = np.full((64, 64, 3), rgb, np.uint8)
            self.assertEqual(evaluate.detect(image), (name, []))
            scene = world.Scene(name, (world.Thing("circle", "red", "small", "centre"),))
            scores = evaluate.score_image(scene, image)
            self.assertEqual((scores["count"], scores["object"], scores["all"]), (0.0, 0.0, 0.0))

    def test_wrong_colour_scores_colour_false(self):
        scene = world.Scene("white", (world.Thing("triangle", "red", "large", "centre"),))
        drawn = world.render(_replace_things(scene, colour="green"))
        scores = evaluate.score_image(scene, drawn)
        self.assertEqual(scores["colour"], 0.0)
        self.assertEqual((scores["count"], scores["shape"], scores["size"], scores["position"]), (1.0,) * 4)
        self.assertEqual((scores["object"], scores["all"]), (0.0, 0.0))

    def test_wrong_shape_size_and_count(self):
        scene = world.Scene("gray", (world.Thing("star", "orange", "small", "left"),
                                     world.Thing("circle", "purple", "large", "right")))
        drawn = world.render(world.Scene("gray", (world.Thing("square", "orange", "large", "left"),)))
        scores = evaluate.score_image(scene, drawn)
        self.assertEqual(scores["count"], 0.0)
        self.assertEqual((scores["colour"], scores["position"]), (0.5, 0.5))
        self.assertEqual((scores["shape"], scores["size"], scores["object"]), (0.0, 0.0, 0.0))

    def test_touching_objects_of_one_colour_are_counted_apart(self):
        scene = world.Scene("gray", tuple(world.Thing("star", "red", "large", p, d, 0)
                                          for p, d in (("left", 1), ("centre", -1), ("right", -1))))
        self.assertEqual(evaluate.score_image(scene, world.render(scene))["all"], 1.0)


class AnswerTest(unittest.TestCase):
    def test_one_word_answers(self):
        cases = [("red", "Red.", True), ("red", " red ", True), ("red", "orange", False),
                 ("red", "it is red", False), ("centre", "center", True), ("centre", "Centre!", True),
                 ("gray", "grey", True), ("three", "3", True), ("two", "three", False), ("star", "", False)]
        for truth, answer, expected in cases:
            self.assertEqual(evaluate.score_answer("q?", truth, answer), expected, (truth, answer))

    def test_descriptions_compare_as_sets_of_objects(self):
        scene = world.Scene("white", (world.Thing("circle", "red", "large", "left"),
                                      world.Thing("square", "blue", "small", "bottom")))
        truth = world.canonical_caption(scene)
        self.assertTrue(evaluate.score_answer("describe the image.", truth, truth))
        swapped = "A small blue square at the bottom, and a large red circle on the left."
        self.assertTrue(evaluate.score_answer("describe the image.", truth, swapped))
        for wrong in ("a large red circle on the left", "a large red circle on the right and a small blue square "
                      "at the bottom", "a red circle on the left and a blue square at the bottom"):
            self.assertFalse(evaluate.score_answer("describe the image.", truth, wrong), wrong)

    def test_counting_descriptions(self):
        scene = world.Scene("black", tuple(world.Thing("star", "yellow", "small", p) for p in ("left", "right")))
        truth = world.canonical_caption(scene)
        self.assertEqual(truth, "two small yellow stars on the left and on the right")
        self.assertTrue(evaluate.score_answer("q", truth, "two small yellow stars on the right and on the left"))
        self.assertTrue(evaluate.score_answer("q", truth, "a small yellow star on the left and a small yellow "
                                                          "star on the right"))
        self.assertFalse(evaluate.score_answer("q", truth, "three small yellow stars on the left and on the right"))
        self.assertFalse(evaluate.score_answer("q", truth, "two small yellow stars on the left and at the top"))

    def test_short_descriptions_accept_what_the_truth_leaves_unsaid(self):
        self.assertTrue(evaluate.score_answer("what is on the left?", "a red circle", "A red circle."))
        self.assertTrue(evaluate.score_answer("what is on the left?", "a red circle", "a large red circle"))
        self.assertFalse(evaluate.score_answer("what is on the left?", "a red circle", "a red square"))
        self.assertFalse(evaluate.score_answer("what is on the left?", "an orange star", "a star"))

    def test_parse_ignores_backgrounds_and_relations(self):
        parsed = evaluate.parse_description("a red circle to the left of a blue star on a gray background")
        self.assertEqual(parsed, [{"colour": "red", "shape": "circle"}, {"colour": "blue", "shape": "star"}])

    def test_every_world_truth_scores_itself(self):
        for scene in world.scenes("test", 60, 3):
            for question, truth in world.questions(scene):
                self.assertTrue(evaluate.score_answer(question, truth, truth), (question, truth))


class AggregateTest(unittest.TestCase):
    def test_means_per_key(self):
        items = [{"count": 1.0, "colour": 0.5}, {"count": 0.0, "colour": 1.0}, {"count": True}]
        self.assertEqual(evaluate.aggregate(items), {"count": 2 / 3, "colour": 0.75})


if __name__ == "__main__":
    unittest.main()
