"""The Tar-Shapes TA-Tok stage's second phase (tools/shapes/train_tatok.refine_decoder), on random weights and a
few real scenes: only the decoder side learns, so every token of every image stays what the first phase made it
(the LLM is trained on those tokens). Not a test of the stage's quality."""
import unittest

import numpy as np
import torch

from tools.convert.reference.tatok import TATok
from tools.shapes import common, data, train_tatok
from tools.shapes.train_teacher import VisionTower, pixels

SCENES, CODES, CODE_DIM = 6, 40, 96


class RefineDecoderTest(unittest.TestCase):
    def setUp(self):
        self.saved = train_tatok.DECODER_STEPS, train_tatok.BATCH
        train_tatok.DECODER_STEPS, train_tatok.BATCH = 3, 4

    def tearDown(self):
        train_tatok.DECODER_STEPS, train_tatok.BATCH = self.saved

    def test_only_the_decoder_side_learns_and_every_token_stays(self):
        torch.manual_seed(0)
        tatok = TATok(train_tatok.architecture(CODES, CODE_DIM))
        tatok.bottleneck.regularizer.embedding.weight.data.copy_(torch.randn(CODES, CODE_DIM))
        teacher = VisionTower().eval().requires_grad_(False)
        images = torch.from_numpy(np.stack([data.images("test")[i] for i in range(SCENES)]))   # uint8 [N,64,64,3]

        def tokens():
            with torch.no_grad():
                return {s: tatok.encode(pixels(images), s)[1] for s in (1, 2, 3)}                # {s: [N,p²]}

        before_tokens = tokens()
        before = {k: v.clone() for k, v in tatok.state_dict().items()}
        decoder_side = {id(p) for p in train_tatok.decoder_side(tatok)}
        train_tatok.refine_decoder(tatok, teacher, images, before_tokens, common.Clock("test"))
        for name, p in tatok.named_parameters():
            with self.subTest(name=name):
                if id(p) in decoder_side:
                    self.assertFalse(torch.equal(p, before[name]), "a decoder-side parameter did not learn")
                else:
                    self.assertTrue(torch.equal(p, before[name]), "a parameter outside the decoder side moved")
        for scale, indices in tokens().items():
            self.assertTrue(torch.equal(indices, before_tokens[scale]), f"tokens at scale {scale} changed")


if __name__ == "__main__":
    unittest.main()
