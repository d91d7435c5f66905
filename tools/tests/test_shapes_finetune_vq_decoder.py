"""tools/shapes/finetune_vq_decoder.py: only the decoding half (post_quant_conv, decoder) of the checkpoint learns —
encoder, quant_conv and codebook stay exactly as they were, so the codes keep their meaning — and a crop takes the
same window of pixels, loss weights and codes; drawn pairs take their share of a batch, each picture with its own
drawing, and a drawing is usable only when its picture has the scene's objects in number, colour and place over
the scene's background. Runs on a few rendered scenes in seconds; it trains no real decoder."""
import copy
import os
import tempfile
import unittest

import numpy as np
import torch

from tools.shapes import finetune_vq_decoder, train_vq, world

OTHER = {"circle": "square", "square": "triangle", "triangle": "star", "star": "circle"}


def altered(scene, change):
    """A copy of the scene (world.Scene) with change(json) applied to its JSON."""
    data = copy.deepcopy(scene.to_json())
    change(data)
    return world.Scene.from_json(data)


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

    def test_drawn_pairs_take_their_share_each_picture_with_its_own_drawing(self):
        images = np.zeros((10, 64, 64, 3), np.uint8)
        codes = np.arange(10, dtype=np.int16)[:, None, None] * np.ones((1, 2, 2), np.int16)      # [10,2,2]
        which = np.array([2, 5, 7])
        drawn = (which, 100 + codes[which])                                                       # [3,2,2]
        settings = dict(finetune_vq_decoder.DEFAULTS, batch=64)
        pick, batch = finetune_vq_decoder.batch_pairs(images, codes, None, settings, torch.Generator().manual_seed(1))
        np.testing.assert_array_equal(batch, codes[pick])
        for share, expected in ((0.0, 0), (1.0, 64)):
            pick, batch = finetune_vq_decoder.batch_pairs(images, codes, drawn, dict(settings, drawn_share=share),
                                                          torch.Generator().manual_seed(1))
            from_drawings = batch[:, 0, 0] >= 100
            self.assertEqual(int(from_drawings.sum()), expected)
            np.testing.assert_array_equal(batch[from_drawings], 100 + codes[pick[from_drawings]])
            np.testing.assert_array_equal(batch[~from_drawings], codes[pick[~from_drawings]])
        pick, batch = finetune_vq_decoder.batch_pairs(images, codes, drawn, dict(settings, drawn_share=0.5),
                                                      torch.Generator().manual_seed(1))
        self.assertTrue(0 < int((batch[:, 0, 0] >= 100).sum()) < 64)
        self.assertTrue(set(pick[batch[:, 0, 0] >= 100]) <= set(which.tolist()))

    def test_a_drawing_is_usable_when_only_its_shapes_are_off(self):
        scenes = [s for s in world.scenes("train", 20, 5) if len(s.to_json()["things"]) >= 2][:2]
        images = np.stack([world.render(s) for s in scenes])

        def reshaped(data):
            data["things"][0]["shape"] = OTHER[data["things"][0]["shape"]]

        def recoloured(data):
            data["things"][0]["colour"] = "red" if data["things"][0]["colour"] != "red" else "blue"

        def one_fewer(data):
            data["things"].pop()

        def background(data):
            data["background"] = "black" if data["background"] != "black" else "white"

        cases = {"as drawn": lambda data: None, "another shape": reshaped, "another colour": recoloured,
                 "one fewer": one_fewer, "another background": background}
        usable = {}
        for name, change in cases.items():
            drawn = np.stack([world.render(altered(s, change)) for s in scenes])
            usable[name] = len(finetune_vq_decoder.usable_drawings(drawn, images, scenes))
        self.assertEqual(usable, {"as drawn": 2, "another shape": 2, "another colour": 0, "one fewer": 0,
                                  "another background": 0})


if __name__ == "__main__":
    unittest.main()
