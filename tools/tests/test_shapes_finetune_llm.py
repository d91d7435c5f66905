"""tools/shapes/finetune_llm.py: an LLM folder written by the llm stage's own writer loads back as the same model
(bf16 as stored), the stage refuses to continue from the folder it would overwrite, its off-palette share asks
colourless questions of the off-palette tokens, its off-shape share shapeless questions of the off-shape scenes'
tokens, its off-shape text-to-image share draws off-shape scenes from their captions, and its view share reads
image-to-text examples at random test-time views (and only those), each view's tokens TA-Tok's reading of the
shifted picture."""
import random
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from tools.convert.reference.pipeline import VIEW_SHIFTS, shifted_pixels
from tools.convert.tatok import load_tatok
from tools.shapes import data, finetune_llm, text, train_llm, world
from tools.tiny import tatok as tiny_tatok


class FinetuneLlmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def chat_scenes_and_blank_tokens(self, p2):
        """(base vocabulary size, chat sequences of a fresh tokenizer, 4 training scenes, their image tokens at every
        scale all 0 ({scale: int64 [4, p2]}))."""
        _, _, base = text.write_tokenizer(self.tmp.name)
        scenes = world.scenes("train", 4, 0)
        return (base, text.ChatSequences(self.tmp.name), scenes,
                {s: np.zeros((len(scenes), p2), np.int64) for s in text.SCALES})

    def test_a_written_folder_loads_back_as_the_same_model(self):
        folder = os.path.join(self.tmp.name, "llm")
        os.makedirs(folder)
        _, vocab_size, _ = text.write_tokenizer(folder)
        torch.manual_seed(0)
        model = train_llm.build_model(vocab_size, train_llm.LLM_ROPE_THETA)
        train_llm.write_llm_folder(folder, model)
        loaded = finetune_llm.load_llm(folder, vocab_size)
        for key, value in model.state_dict().items():
            with self.subTest(key=key):
                self.assertTrue(torch.equal(loaded.state_dict()[key], value.to(torch.bfloat16).float()))

    def test_the_folder_it_writes_is_refused_as_its_source(self):
        with mock.patch.object(data, "WORK", self.tmp.name):
            with self.assertRaises(SystemExit) as ctx:
                finetune_llm.run(os.path.join(self.tmp.name, "llm"))
        self.assertIn("is the folder this stage writes", str(ctx.exception))


    def test_the_off_palette_share_asks_colourless_questions_of_the_off_palette_tokens(self):
        p2 = 4
        base, chat, scenes, indices = self.chat_scenes_and_blank_tokens(p2)
        off_palette = np.full((len(scenes), p2), base - 1, np.int64)
        answers = {a for scene in scenes for _, a in world.colourless_questions(scene)}
        for share, expected in ((1.0, base - 1), (0.0, 0)):
            example = train_llm.mixed_example(chat, scenes, indices, (("i2t", 1.0),), off_palette, share)
            rng = random.Random(1)
            for _ in range(20):
                sequence, mask = example(rng)
                image = [t - chat.image_base for t in sequence if t >= chat.image_base]
                self.assertEqual(image, [expected] * p2)
                if share:
                    answer = chat.decode([t for t, m in zip(sequence, mask) if m]).replace("<|im_end|>", "").strip()
                    self.assertIn(answer, answers)

    def off_shape_sequences(self, kind, share_argument, p2=4):
        """(chat, base, off-shape scenes, {share: 30 sequences with their masks}) of mixed_example for one task kind,
        each off-shape scene j's tokens all j+1 and the training scenes' all 0, at `share_argument` 1 and 0."""
        base, chat, scenes, indices = self.chat_scenes_and_blank_tokens(p2)
        rng = random.Random(3)
        off_scenes = [world.off_shape_scene(rng) for _ in range(3)]
        off_shape = (off_scenes, np.arange(1, 4, dtype=np.int64)[:, None].repeat(p2, 1))
        sequences = {}
        for share in (1.0, 0.0):
            example = train_llm.mixed_example(chat, scenes, indices, ((kind, 1.0),), off_shape=off_shape,
                                              **{share_argument: share})
            rng = random.Random(1)
            sequences[share] = [example(rng) for _ in range(30)]
        return chat, base, off_scenes, sequences

    def test_the_off_shape_share_asks_shapeless_questions_of_the_off_shape_tokens(self):
        chat, _, off_scenes, sequences = self.off_shape_sequences("i2t", "off_shape_share")
        for share, examples in sequences.items():
            for sequence, mask in examples:
                image = [t - chat.image_base for t in sequence if t >= chat.image_base]
                self.assertEqual(len(set(image)), 1)
                if not share:
                    self.assertEqual(image[0], 0)
                    continue
                j = image[0] - 1
                answer = chat.decode([t for t, m in zip(sequence, mask) if m]).replace("<|im_end|>", "").strip()
                self.assertIn(answer, {a for _, a in world.shapeless_questions(off_scenes[j])})

    def test_the_off_shape_t2i_share_draws_off_shape_scenes_from_their_captions(self):
        p2 = 4
        chat, base, off_scenes, sequences = self.off_shape_sequences("t2i", "off_shape_t2i_share", p2)
        for share, examples in sequences.items():
            for sequence, _ in examples:
                image = [t - chat.image_base for t in sequence if chat.image_base <= t < chat.image_base + base]
                words = chat.decode([t for t in sequence if t < chat.image_base]).lower()
                self.assertEqual(len(set(image)), 1)
                if not share:
                    self.assertEqual(image[0], 0)
                    self.assertNotIn(world.OFF_SHAPES[0], words)
                    continue
                self.assertEqual(len(image), p2)                                   # the understanding scale's grid
                self.assertIn(world.OFF_SHAPES[0], words)
                for thing in off_scenes[image[0] - 1].things:
                    self.assertIn(thing.colour, words)

    def test_the_view_share_reads_image_to_text_examples_at_random_views(self):
        p2, views = 4, 9
        _, chat, scenes, indices = self.chat_scenes_and_blank_tokens(p2)
        # view v → token v+1
        seen = np.tile(np.arange(views, dtype=np.int64)[None, :, None] + 1, (len(scenes), 1, p2))   # [N,V,p²]
        for share, expected in ((1.0, set(range(1, views + 1))), (0.0, {0})):
            example = train_llm.mixed_example(chat, scenes, indices, (("i2t", 1.0),), None, 0.0, seen, share)
            rng = random.Random(2)
            read = set()
            for _ in range(60):
                sequence, _ = example(rng)
                image = [t - chat.image_base for t in sequence if t >= chat.image_base]
                self.assertEqual(len(set(image)), 1)
                read |= set(image)
            self.assertEqual(read, expected)
        text_to_image = train_llm.mixed_example(chat, scenes, indices, (("t2i", 1.0),), None, 0.0, seen, 1.0)
        sequence, _ = text_to_image(random.Random(3))
        self.assertEqual({t - chat.image_base for t in sequence if t >= chat.image_base}, {0})

    def test_view_tokens_are_tatoks_reading_of_each_shifted_picture(self):
        path = tiny_tatok.write_checkpoint(os.path.join(self.tmp.name, "tatok"), 3)
        model = load_tatok(path)[0].eval()
        images = np.random.default_rng(0).integers(0, 256, (3, 37, 50, 3), dtype=np.uint8)
        with mock.patch.object(finetune_llm, "VIEW_BATCH", 2), mock.patch.object(text, "SCALES", (1, 2)):
            scales, views = finetune_llm.view_tokens(images, path)
        pixel_values = model.preprocess(torch.from_numpy(images))
        self.assertEqual(views.shape[:2], (3, len(VIEW_SHIFTS)))
        for v, shift in enumerate(VIEW_SHIFTS):
            shifted = model.encode(shifted_pixels(pixel_values, shift), 1)[1].numpy()
            self.assertTrue(np.array_equal(views[:, v], shifted))
        self.assertTrue(np.array_equal(views[:, 0], scales[1]))
        self.assertTrue(np.array_equal(scales[2], model.encode(pixel_values, 2)[1].numpy()))


if __name__ == "__main__":
    unittest.main()
