"""Tar-Shapes VQ stage (tools/shapes/train_vq.py): the checkpoint it writes is the official LlamaGen format the
converter accepts, with the official encoder key names; the training model decodes like the converter's
reference; codes are the cosine-nearest codebook rows; a training run stopped and resumed gives bit-identical
weights. Runs on a few rendered scenes in seconds; it does not train the real model."""
import os
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from tools.convert.vq import build_checked
from tools.shapes import common, train_vq, world


K = train_vq.ARCH["codebook_size"]
LEVELS = len(train_vq.ARCH["channels"])
GRID = world.IMAGE_SIZE // 2 ** (LEVELS - 1)                                       # codes per side


def tiny_images(count):
    return np.stack([world.render(s) for s in world.scenes("train", count, 5)])     # uint8 [N,64,64,3]


class ShapesVqTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def test_checkpoint_converts_and_decodes_like_the_reference(self):
        model = train_vq.build_model(0).eval()
        path = os.path.join(self.tmp.name, "vq.pt")
        train_vq.save_checkpoint(model, path)
        reference, arch = build_checked(path)
        self.assertEqual(arch, train_vq.ARCH)
        sd = torch.load(path)["model"]
        self.assertTrue(torch.allclose(sd["quantize.embedding.weight"].norm(dim=-1), torch.ones(K)))
        last = LEVELS - 1
        for key in ("encoder.conv_in.weight", "encoder.conv_blocks.0.res.0.conv1.weight",
                    "encoder.conv_blocks.0.downsample.conv.weight", f"encoder.conv_blocks.{last}.res.0.nin_shortcut.weight",
                    f"encoder.conv_blocks.{last}.attn.0.q.weight", "encoder.mid.1.proj_out.weight",
                    "encoder.norm_out.weight", "encoder.conv_out.weight", "quant_conv.weight"):
            self.assertIn(key, sd)
        self.assertNotIn(f"encoder.conv_blocks.{last}.downsample.conv.weight", sd)
        codes = torch.randint(0, K, (2, GRID, GRID), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ours = model.decode_z(model.codebook()[codes])
            theirs = reference(codes)
        self.assertEqual(tuple(theirs.shape), (2, 3, 64, 64))
        self.assertLess((ours - theirs).abs().max().item(), 1e-4)

    def test_codes_are_the_cosine_nearest_rows(self):
        model = train_vq.build_model(0).eval()
        x = train_vq.to_input(tiny_images(2))
        with torch.no_grad():
            z, indices = model.encode(x)
            raw = model.quant_conv(model.encoder(x)).permute(0, 2, 3, 1)             # [2,g,g,D]
        self.assertEqual(tuple(indices.shape), (2, GRID, GRID))
        cosine = F.cosine_similarity(raw[..., None, :], model.quantize.embedding.weight, dim=-1)   # [2,g,g,K]
        self.assertTrue(torch.equal(indices, cosine.argmax(dim=-1)))
        codes = train_vq.encode_all(model, tiny_images(2), batch=1)
        self.assertEqual((codes.dtype, codes.shape), (np.int16, (2, GRID, GRID)))
        self.assertTrue(np.array_equal(codes, indices.numpy()))

    def test_resumed_training_is_bit_identical(self):
        images = tiny_images(6)
        settings = dict(train_vq.SETTINGS, cycles=[[2, 1e-3], [2, 5e-4]], batch=2, warmup=1, restart_every=3,
                        restart_until=1.0, save_seconds=1e9)
        straight = train_vq.build_model(3)
        train_vq.train(straight, images, settings, os.path.join(self.tmp.name, "a.pt"))
        state = os.path.join(self.tmp.name, "b.pt")
        train_vq.train(train_vq.build_model(3), images, settings, state, until=2)
        resumed = train_vq.build_model(99)
        log = train_vq.train(resumed, images, settings, state)
        self.assertEqual(len(log["loss"]), 4)
        self.assertEqual([step for step, _ in log["restarts"]], [3])
        for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
            self.assertTrue(torch.equal(a, b), name)

    def test_shortened_cycles_keep_their_shares_and_the_total(self):
        settings = dict(train_vq.SETTINGS, cycles=[[1500, 2e-3], [1500, 1e-3], [3000, 5e-4]], warmup=30)
        short = train_vq.shortened(settings, 1000)
        self.assertEqual(short["cycles"], [[250, 2e-3], [250, 1e-3], [500, 5e-4]])
        tiny = train_vq.shortened(settings, 50)
        self.assertTrue(all(length > settings["warmup"] for length, _ in tiny["cycles"]))
        self.assertEqual(train_vq.SETTINGS["cycles"][0][0], 1500)

    def test_a_time_budget_shortens_every_cycle_after_the_probe(self):
        settings = dict(train_vq.SETTINGS, cycles=[[100, 1e-3], [100, 5e-4]], batch=2, warmup=5, save_seconds=1e9)
        with mock.patch.dict(os.environ, {"SHAPES_VQ_SECONDS": "0.001"}):
            log = train_vq.train(train_vq.build_model(3), tiny_images(4), settings,
                                 os.path.join(self.tmp.name, "c.pt"))
        probe = common.StepBudget(1).probe
        self.assertEqual(log["cycles"], [[15, 1e-3], [16, 5e-4]])
        self.assertEqual(len(log["loss"]), probe + 1)


if __name__ == "__main__":
    unittest.main()
