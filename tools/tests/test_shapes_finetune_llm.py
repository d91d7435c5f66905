"""tools/shapes/finetune_llm.py: an LLM folder written by the llm stage's own writer loads back as the same model
(bf16 as stored), and the stage refuses to continue from the folder it would overwrite."""
import os
import tempfile
import unittest
from unittest import mock

import torch

from tools.shapes import data, finetune_llm, text, train_llm


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


if __name__ == "__main__":
    unittest.main()
