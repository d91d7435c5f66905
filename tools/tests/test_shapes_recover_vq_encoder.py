"""tools/shapes/recover_vq_encoder.py: the decoding half of the checkpoint it starts from stays exactly as it was
(codebook, post_quant_conv, decoder), only a freshly initialised encoder and quant_conv learn, and its codes are
the cosine-nearest rows of the checkpoint's own codebook. Runs on a few rendered scenes in seconds; it does not
recover the real encoder."""
import os
import tempfile
import unittest

import numpy as np
import torch

from tools.shapes import recover_vq_encoder, train_vq, world


class RecoverVqEncoderTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        self.tmp = tempfile.TemporaryDirectory()
        self.checkpoint = os.path.join(self.tmp.name, train_vq.CHECKPOINT)
        shipped = train_vq.build_model(seed=3)
        with torch.no_grad():
            for name, parameter in shipped.named_parameters():
                parameter.add_(0.01 * torch.randn_like(parameter))
        train_vq.save_checkpoint(shipped, self.checkpoint)
        self.shipped = torch.load(self.checkpoint)["model"]

    def tearDown(self):
        self.tmp.cleanup()

    def test_only_the_encoding_half_learns_and_it_starts_afresh(self):
        model = recover_vq_encoder.frozen_decoder_model(self.checkpoint)
        start = {k: v.clone() for k, v in model.state_dict().items()}
        for key, value in start.items():
            if key.startswith(recover_vq_encoder.LEARNED) and value.dtype.is_floating_point and value.dim() > 1:
                self.assertFalse(torch.equal(value, self.shipped[key]), key)
        images = np.stack([world.render(s) for s in world.scenes("train", 16, 5)])      # uint8 [16,64,64,3]
        train_vq.train(model, images, recover_vq_encoder.schedule(4), os.path.join(self.tmp.name, "state.pt"))
        after = model.state_dict()
        learned = [k for k in after if k.startswith(recover_vq_encoder.LEARNED)]
        self.assertTrue(any(not torch.equal(after[k], start[k]) for k in learned))
        for key, value in after.items():
            if not key.startswith(recover_vq_encoder.LEARNED):
                self.assertTrue(torch.equal(value, self.shipped[key]), key)

    def test_codes_are_nearest_rows_of_the_shipped_codebook(self):
        model = recover_vq_encoder.frozen_decoder_model(self.checkpoint)
        images = np.stack([world.render(s) for s in world.scenes("test", 4, 5)])
        codes = train_vq.encode_all(model, images)                                       # int16 [4,h,w]
        with torch.no_grad():
            z, _ = model.encode(train_vq.to_input(images))                               # [4,h,w,D]
            codebook = torch.nn.functional.normalize(self.shipped["quantize.embedding.weight"], dim=-1)
            self.assertTrue(np.array_equal(codes, (z @ codebook.t()).argmax(-1).numpy()))


if __name__ == "__main__":
    unittest.main()
