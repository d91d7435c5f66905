"""The Tar-Shapes world and its language: determinism, the held-out split, captions and questions that say what
the scene holds, and a tokenizer in which every word of the world is one token."""
import random
import tempfile
import unittest

import numpy as np

from tools.shapes import text, world


class WorldTest(unittest.TestCase):
    def test_scenes_and_renders_are_deterministic(self):
        a, b = world.scenes("train", 50, 3), world.scenes("train", 50, 3)
        self.assertEqual(a, b)
        self.assertTrue(np.array_equal(world.render(a[7]), world.render(b[7])))
        self.assertNotEqual(a, world.scenes("train", 50, 4))

    def test_held_out_triples_never_reach_training(self):
        for scene in world.scenes("train", 500, 1):
            self.assertFalse(any(t.triple in world.HELD_OUT for t in scene.things))
        for scene in world.scenes("test", 100, 1):
            self.assertTrue(any(t.triple in world.HELD_OUT for t in scene.things))

    def test_render_shape_and_background(self):
        scene = world.Scene("black", (world.Thing("square", "red", "large", "centre"),))
        image = world.render(scene)
        self.assertEqual(image.shape, (world.IMAGE_SIZE, world.IMAGE_SIZE, 3))
        self.assertEqual(tuple(image[0, 0]), world.BACKGROUNDS["black"])
        self.assertEqual(tuple(image[32, 32]), world.COLOURS["red"])

    def test_off_palette_fills_name_no_colour_of_the_world_and_replace_each_things_colour(self):
        rng = random.Random(5)
        named = list(world.COLOURS.values()) + list(world.BACKGROUNDS.values())
        for _ in range(200):
            fill = world.off_palette_fill(rng)
            self.assertGreaterEqual(min(np.linalg.norm(np.subtract(fill, c)) for c in named),
                                    world.OFF_PALETTE_DISTANCE)
        scene = world.Scene("white", (world.Thing("square", "red", "large", "left"),
                                      world.Thing("circle", "blue", "small", "right")))
        image = world.render(scene, [(10, 200, 200), (90, 20, 120)])
        self.assertEqual(tuple(image[32, 13]), (10, 200, 200))
        self.assertEqual(tuple(image[32, 51]), (90, 20, 120))
        self.assertEqual(tuple(image[0, 0]), world.BACKGROUNDS["white"])

    def test_captions_name_every_thing(self):
        rng = random.Random(0)
        for scene in world.scenes("train", 200, 2):
            caption = world.caption(scene, rng)
            for thing in scene.things:
                self.assertIn(thing.colour, caption)
                self.assertIn(thing.shape, caption)
            canonical = world.canonical_caption(scene)
            for thing in scene.things:
                self.assertIn(thing.size, canonical)
                self.assertIn(world.WHERE[thing.position], canonical)

    def test_questions_are_unambiguous(self):
        scene = world.Scene("white", (world.Thing("circle", "red", "small", "left"),
                                      world.Thing("circle", "blue", "large", "right")))
        qa = dict(world.questions(scene))
        self.assertEqual(qa["how many objects are there?"], "two")
        self.assertNotIn("what colour is the circle?", qa)
        self.assertEqual(qa["what shape is the blue object?"], "circle")
        self.assertEqual(qa["where is the red circle?"], "left")
        self.assertEqual(qa["what is in the picture?"], world.canonical_caption(scene))


    def test_colourless_questions_name_no_colour_and_stay_unambiguous(self):
        scene = world.Scene("white", (world.Thing("circle", "red", "small", "left"),
                                      world.Thing("circle", "blue", "large", "right"),
                                      world.Thing("star", "blue", "small", "top")))
        qa = world.colourless_questions(scene)
        self.assertEqual(len(qa), len(dict(qa)))
        qa = dict(qa)
        self.assertEqual(qa["how many objects are there?"], "three")
        self.assertEqual(qa["where is the star?"], "top")
        self.assertNotIn("where is the circle?", qa)
        self.assertEqual(qa["what shape is the object on the right?"], "circle")
        self.assert_world_words_without(qa, set(world.COLOURS))

    def test_off_shape_scenes_keep_the_worlds_colours_and_places_but_no_shape_of_it(self):
        def drawn(seed):
            rng = random.Random(seed)
            return [world.off_shape_scene(rng) for _ in range(300)]
        scenes = drawn(11)
        self.assertEqual(scenes, drawn(11))
        things = [t for scene in scenes for t in scene.things]
        self.assertTrue(all(t.shape in world.OFF_SHAPES and t.shape not in world.SHAPES for t in things))
        self.assertTrue(all(t.colour in world.COLOURS and t.position in world.WHERE for t in things))
        self.assertTrue(any(t.colour == "red" and t.position == "centre" for t in things))
        image = world.render(world.Scene("black", (world.Thing("cross", "red", "large", "centre"),)))
        self.assertEqual(tuple(image[32, 32]), world.COLOURS["red"])
        self.assertEqual(tuple(image[20, 20]), world.BACKGROUNDS["black"])     # a plus has no corners, a square does

    def test_shapeless_questions_name_no_shape_and_stay_unambiguous(self):
        scene = world.Scene("white", (world.Thing("cross", "red", "small", "left"),
                                      world.Thing("cross", "blue", "large", "right"),
                                      world.Thing("cross", "blue", "small", "top")))
        qa = world.shapeless_questions(scene)
        self.assertEqual(len(qa), len(dict(qa)))
        qa = dict(qa)
        self.assertEqual(qa["how many objects are there?"], "three")
        self.assertEqual(qa["what colour is the background?"], "white")
        self.assertEqual(qa["where is the red object?"], "left")
        self.assertNotIn("where is the blue object?", qa)
        self.assertEqual(qa["what colour is the object on the right?"], "blue")
        self.assert_world_words_without(qa, set(world.SHAPES) | set(world.OFF_SHAPES))

    def assert_world_words_without(self, qa, forbidden):
        """Every question and answer of {question: answer} says only the world's words, none of `forbidden`."""
        vocabulary = {w.strip(".?") for w in world.vocabulary_text().split()}
        for question, answer in qa.items():
            words = {w.strip("?") for w in question.split()} | {answer}
            self.assertFalse(words & forbidden, question)
            self.assertLessEqual(words, vocabulary, question)


class TokenizerTest(unittest.TestCase):
    def test_every_world_word_is_one_token_and_codebook_matches_base_vocabulary(self):
        with tempfile.TemporaryDirectory() as folder:
            ids, vocab_size, base = text.write_tokenizer(folder)
            chat = text.ChatSequences(folder)
            words = {w.strip(".?") for w in world.vocabulary_text().split()}
            for word in sorted(words):
                self.assertEqual(min(len(chat.encode(" " + word)), len(chat.encode(word))), 1, word)
            self.assertEqual(ids["<I0>"], chat.image_base)
            self.assertEqual(vocab_size, ids[f"<I{base - 1}>"] + 1)
            sequence, mask = chat.text_to_image("a red circle", [0, 1, 2, 3], 3)
            target = ([ids["<im_start>"], ids["<S2>"]] + [chat.image_base + k for k in range(4)]
                      + [ids["<im_end>"], ids["<|im_end|>"]])
            self.assertEqual(sequence[-len(target):], target)
            self.assertEqual(mask[-len(target):], [1] * len(target))
            self.assertEqual(sum(mask), len(target))
            self.assertEqual(chat.decode(chat.encode("what colour is the star?")), "what colour is the star?")


if __name__ == "__main__":
    unittest.main()
