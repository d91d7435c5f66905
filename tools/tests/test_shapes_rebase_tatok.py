"""tools/shapes/rebase_tatok.py on random weights and a few real scenes: the student starts where the source is
when it reads the same features, keeps the source's codebook, out_linear and decoder, and training brings a disturbed
head back towards the source's tokens. Not a test of the stage's quality."""
import unittest

import numpy as np
import torch

from tools.convert.reference.tatok import TATok
from tools.shapes import common, data, rebase_tatok, train_tatok
from tools.shapes.train_teacher import pixels

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

    def test_only_the_head_learns_and_finds_the_sources_tokens_again(self):
        """The student reads with the source's own encoder (a near-perfect start: the ridge), its head is then
        disturbed; training brings its tokens back towards the source's and changes nothing but the parameters `learns` names."""
        targets = rebase_tatok.tokens_of(self.source, self.images, (1, 2, 3))
        indices = {scale: index for scale, (_, index) in targets.items()}
        encoder = {k: v for k, v in self.source.state_dict().items() if k.startswith("encoder.")}
        student = rebase_tatok.student_of(self.source, encoder, self.images)
        self.assertGreater(min(rebase_tatok.agreement(student.eval(), indices, self.images).values()), 0.9)
        with torch.no_grad():
            weight = student.encode_task_layer[0].weight
            weight.add_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(1)) * weight.std())
        before = {k: v.clone() for k, v in student.state_dict().items()}
        start = rebase_tatok.agreement(student.eval(), indices, self.images)
        start_loss = self.loss(student, targets)
        rebase_tatok.train(student.train(), self.images, targets, common.Clock("test"))
        for name, p in student.named_parameters():
            with self.subTest(name=name):
                if rebase_tatok.learns(name, student.cfg):
                    self.assertFalse(torch.equal(p, before[name]), "a head parameter did not learn")
                else:
                    self.assertTrue(torch.equal(p, before[name]), "a frozen parameter moved")
        self.assertLess(self.loss(student, targets), start_loss)
        self.assertGreater(sum(rebase_tatok.agreement(student.eval(), indices, self.images).values()),
                           sum(start.values()))

    def loss(self, student, targets):
        """The training loss over every image at every scale."""
        with torch.no_grad():
            codebook = student.codebook()
            return sum(rebase_tatok.token_loss(student, codebook, pixels(self.images), targets[s], s)[0].item()
                       for s in targets)


if __name__ == "__main__":
    unittest.main()
