"""tools/shapes/soup_llm.py: the folder it writes loads back as the element-wise mean of its ingredients' weights
(as stored, bf16), and it refuses a single ingredient, ingredients of different configs, and the folder it writes
as an ingredient."""
import json
import os
import tempfile
import unittest
from unittest import mock

import torch

from tools.shapes import data, finetune_llm, soup_llm, text, train_llm


class SoupLlmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def ingredient(self, name, seed):
        """(folder, vocabulary size): a fresh LLM of seed `seed` written by the llm stage's own writer."""
        folder = os.path.join(self.tmp.name, name)
        os.makedirs(folder)
        _, vocab_size, _ = text.write_tokenizer(folder)
        torch.manual_seed(seed)
        train_llm.write_llm_folder(folder, train_llm.build_model(vocab_size, train_llm.LLM_ROPE_THETA))
        return folder, vocab_size

    def test_the_soup_is_the_mean_of_its_ingredients(self):
        (a, vocab_size), (b, _), (c, _) = (self.ingredient(n, s) for n, s in (("a", 0), ("b", 1), ("c", 2)))
        work = os.path.join(self.tmp.name, "work")
        with mock.patch.object(data, "WORK", work):
            soup_llm.run([a, b, c])
        loaded = finetune_llm.load_llm(os.path.join(work, "llm"), vocab_size).state_dict()
        states = [finetune_llm.load_llm(f, vocab_size).state_dict() for f in (a, b, c)]
        for key, value in loaded.items():
            with self.subTest(key=key):
                mean = (states[0][key] + states[1][key] + states[2][key]) / 3
                self.assertTrue(torch.equal(value, mean.to(torch.bfloat16).float()))
        self.assertFalse(all(torch.equal(loaded[key], states[0][key]) for key in loaded))
        with open(os.path.join(work, "llm", "done.json")) as f:
            self.assertEqual(len(json.load(f)["soup_of"]), 3)

    def test_one_ingredient_is_refused(self):
        a, _ = self.ingredient("a", 0)
        with self.assertRaises(SystemExit) as ctx:
            soup_llm.check_ingredients([a], os.path.join(self.tmp.name, "llm"))
        self.assertIn("at least 2 ingredients", str(ctx.exception))

    def test_ingredients_of_different_configs_are_refused(self):
        (a, _), (b, _) = self.ingredient("a", 0), self.ingredient("b", 1)
        with open(os.path.join(b, "config.json")) as f:
            config = json.load(f)
        config["num_hidden_layers"] += 1
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(config, f)
        with self.assertRaises(SystemExit) as ctx:
            soup_llm.check_ingredients([a, b], os.path.join(self.tmp.name, "llm"))
        self.assertIn("not one architecture", str(ctx.exception))

    def test_the_folder_it_writes_is_refused_as_an_ingredient(self):
        (a, _), (b, _) = self.ingredient("a", 0), self.ingredient("b", 1)
        with self.assertRaises(SystemExit) as ctx:
            soup_llm.check_ingredients([a, b], b)
        self.assertIn("is the folder this stage writes", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
