"""tools/shapes/rebase_tatok.py on random weights and a few real scenes: the student keeps the source's codebook,
out_linear and decoder, only its encoder side learns, and learning moves its tokens towards the source's. Not a
test of the stage's quality."""
import unittest

import numpy as np
import torch

from tools.convert.reference.tatok import TATok
from tools.shapes import common, data, rebase_tatok, train_tatok
from tools.shapes.train_teacher import VisionTower

SCENES, CODES, CODE_DIM = 8, 40, 96


class RebaseTatokTest(unittest.TestCase):
    def setUp(self):
        self.saved = rebase_tatok.STEPS, rebase_tatok.BATCH
        rebase_tatok.STEPS, rebase_tatok.BATCH = 60, SCENES
        torch.manual_seed(0)
        self.source = TATok(train_tatok.architecture(CODES, CODE_DIM)).eval()
        self.source.bottleneck.regularizer.embedding.weight.data.copy_(torch.randn(CODES, CODE_DIM))
        self.images = torch.from_numpy(np.stack([data.images("test")[i] for i in range(SCENES)]))

    def tearDown(self):
        rebase_tatok.STEPS, rebase_tatok.BATCH = self.saved

    def test_only_the_encoder_side_learns_towards_the_sources_tokens(self):
        targets = rebase_tatok.indices_of(self.source, self.images, (1, 2, 3))
        student = rebase_tatok.student_of(self.source, VisionTower().state_dict(), self.images)
        before = {k: v.clone() for k, v in student.state_dict().items()}
        start = rebase_tatok.agreement(student.eval(), targets, self.images)
        rebase_tatok.train(student.train(), self.images, targets, common.Clock("test"))
        for name, p in student.named_parameters():
            with self.subTest(name=name):
                if rebase_tatok.learns(name, student.cfg):
                    self.assertFalse(torch.equal(p, before[name]), "an encoder-side parameter did not learn")
                else:
                    self.assertTrue(torch.equal(p, before[name]), "a frozen parameter moved")
                if not name.startswith(rebase_tatok.TRAINED):
                    self.assertTrue(torch.equal(p, self.source.state_dict()[name]), "not the source's parameter")
        end = rebase_tatok.agreement(student.eval(), targets, self.images)
        self.assertGreater(sum(end.values()), sum(start.values()))


if __name__ == "__main__":
    unittest.main()
