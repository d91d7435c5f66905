"""tools/shapes/finetune_llm.py: an LLM folder written by the llm stage's own writer loads back as the same model
(bf16 as stored), the stage refuses to continue from the folder it would overwrite, and its off-palette share
asks colourless questions of the off-palette tokens."""
import random
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch

from tools.shapes import data, finetune_llm, text, train_llm, world


class FinetuneLlmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

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
        _, vocab_size, base = text.write_tokenizer(self.tmp.name)
        chat = text.ChatSequences(self.tmp.name)
        scenes = world.scenes("train", 4, 0)
        p2 = 4
        indices = {s: np.zeros((len(scenes), p2), np.int64) for s in text.SCALES}
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


if __name__ == "__main__":
    unittest.main()
