"""tools/shapes/finetune_ardtok.py on the de-tokenizer stage's stand-in inputs (test_shapes_ardtok.write_standins):
it continues from an official checkpoint, writes one the converter loads with the source's args and changed
weights, scores the source and the result alike, and refuses to overwrite its own source. Not a test of quality."""
import json
import os
import shutil
import tempfile
import unittest

import torch

from tools.convert import ardtok as ardtok_convert
from tools.shapes import data, finetune_ardtok, train_ardtok
from tools.tests.test_shapes_ardtok import write_source, write_standins

SHOWN = 4


class FinetuneArdtokTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.saved = data.WORK, finetune_ardtok.EVAL_IMAGES, train_ardtok.SHOWN
        finetune_ardtok.EVAL_IMAGES = train_ardtok.SHOWN = SHOWN
        cls.folder = tempfile.mkdtemp()
        data.WORK = cls.folder
        write_standins(cls.folder, {"train": 32, "test": SHOWN})
        _, cls.args, cls.source = write_source(cls.folder)
        finetune_ardtok.run(cls.source, 3)
        cls.out = os.path.join(cls.folder, "ardtok")

    @classmethod
    def tearDownClass(cls):
        data.WORK, finetune_ardtok.EVAL_IMAGES, train_ardtok.SHOWN = cls.saved
        shutil.rmtree(cls.folder)

    def test_the_result_loads_with_the_sources_args_and_new_weights(self):
        path = os.path.join(self.out, train_ardtok.CHECKPOINT)
        result, name = ardtok_convert.build_checked(path)
        source, _ = ardtok_convert.build_checked(self.source)
        self.assertEqual(name, train_ardtok.NAME)
        self.assertEqual(ardtok_convert.read_checkpoint(path)[1], self.args)
        changed = [k for k, v in result.state_dict().items() if not torch.equal(v, source.state_dict()[k])]
        self.assertIn("output.weight", changed)

    def test_source_and_result_are_scored_alike(self):
        with open(os.path.join(self.out, "done.json")) as f:
            done = json.load(f)
        self.assertEqual(done["steps"], 3)
        for key in ("figures_source", "figures"):
            self.assertEqual(set(done[key]["samples_cfg1"]), {"s1", "s2", "s3"})
            self.assertIn("shape", done[key]["samples_cfg1"]["s1"])

    def test_its_own_output_is_refused_as_the_source(self):
        with self.assertRaises(SystemExit) as ctx:
            finetune_ardtok.run(os.path.join(self.out, train_ardtok.CHECKPOINT), 3)
        self.assertIn("is the checkpoint this stage writes", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
