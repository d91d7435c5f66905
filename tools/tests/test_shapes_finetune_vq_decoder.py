"""tools/shapes/finetune_vq_decoder.py: only the decoding half (post_quant_conv, decoder) of the checkpoint learns —
encoder, quant_conv and codebook stay exactly as they were, so the codes keep their meaning — and a crop takes the
same window of pixels, loss weights and codes. Runs on a few rendered scenes in seconds; it trains no real decoder."""
import os
import tempfile
import unittest

import numpy as np
import torch

from tools.shapes import finetune_vq_decoder, train_vq, world


class FinetuneVqDecoderTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        self.tmp = tempfile.TemporaryDirectory()
        self.checkpoint = os.path.join(self.tmp.name, train_vq.CHECKPOINT)
        train_vq.save_checkpoint(train_vq.build_model(seed=3), self.checkpoint)
        self.source = torch.load(self.checkpoint)["model"]

    def tearDown(self):
        self.tmp.cleanup()

    def test_only_the_decoding_half_learns(self):
        model = finetune_vq_decoder.source_model(self.checkpoint)
        images = np.stack([world.render(s) for s in world.scenes("train", 8, 5)])        # uint8 [8,64,64,3]
        codes = train_vq.encode_all(model, images)                                      # int16 [8,h,w]
        settings = dict(finetune_vq_decoder.DEFAULTS, steps=4, batch=2)
        losses = finetune_vq_decoder.train(model, images, codes, settings, log_every=2)
        self.assertEqual(len(losses), 4)
        after = model.state_dict()
        learned = [k for k in after if k.startswith(finetune_vq_decoder.LEARNED)]
        self.assertTrue(learned)
        self.assertTrue(any(not torch.equal(after[k], self.source[k]) for k in learned if after[k].is_floating_point()))
        for key, value in after.items():
            if not key.startswith(finetune_vq_decoder.LEARNED):
                self.assertTrue(torch.equal(value, self.source[key]), key)

    def test_a_crop_takes_the_same_window_of_pixels_weights_and_codes(self):
        f = train_vq.CODE_CELL
        x = torch.arange(2 * 3 * 64 * 64, dtype=torch.float32).reshape(2, 3, 64, 64)
        weights = x[:, :1] * 2
        zq = x[:, :, ::f, ::f].permute(0, 2, 3, 1)                                      # [2,16,16,3]: a pixel per code
        cx, cw, cz = finetune_vq_decoder.crop(x, weights, zq, torch.Generator().manual_seed(1))
        size = train_vq.SETTINGS["crop"]
        self.assertEqual(tuple(cx.shape), (2, 3, size, size))
        self.assertEqual(tuple(cz.shape), (2, size // f, size // f, 3))
        self.assertTrue(torch.equal(cw, cx[:, :1] * 2))
        self.assertTrue(torch.equal(cz, cx[:, :, ::f, ::f].permute(0, 2, 3, 1)))


if __name__ == "__main__":
    unittest.main()
