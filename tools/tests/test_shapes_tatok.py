"""The Tar-Shapes TA-Tok stage's two phases (tools/shapes/train_tatok), on random weights and a few real scenes.
The joint phase at ENCODER_LR_SHARE 0 leaves the encoder the teacher's while the rest learns (and at a share above
0 the encoder learns too); its optimiser leaves the encoder out at share 0 and sets its rate to the share of the
rest's otherwise. The second phase trains only the decoder side, so every token of every image stays what
the first phase made it (the LLM is trained on those tokens); its extra scenes (decoder_extra_images) are seeded
off-shape then off-palette renders, tokenised by the same encode_indices as the training images. Not a test of the
stage's quality."""
import random
import unittest

import numpy as np
import torch

from tools.convert.reference.tatok import TATok
from tools.shapes import common, data, train_tatok, world
from tools.shapes.train_teacher import VisionTower, pixels

SCENES, CODES, CODE_DIM = 6, 40, 96


def random_tatok(teacher):
    """A TA-Tok on random weights whose encoder is `teacher`'s, as the stage starts one."""
    torch.manual_seed(0)
    tatok = TATok(train_tatok.architecture(CODES, CODE_DIM))
    train_tatok.start_from_teacher(tatok, teacher.state_dict())
    tatok.bottleneck.regularizer.embedding.weight.data.copy_(torch.randn(CODES, CODE_DIM))
    tatok.bottleneck.regularizer.embedding.weight.requires_grad_(False)
    return tatok


def scene_images():
    return torch.from_numpy(np.stack([data.images("test")[i] for i in range(SCENES)]))    # uint8 [N,64,64,3]


class JointPhaseTest(unittest.TestCase):
    def setUp(self):
        self.saved = train_tatok.STEPS, train_tatok.BATCH, train_tatok.ENCODER_LR_SHARE
        train_tatok.STEPS, train_tatok.BATCH = 3, 4

    def tearDown(self):
        train_tatok.STEPS, train_tatok.BATCH, train_tatok.ENCODER_LR_SHARE = self.saved

    def moved_after_joint_phase(self, share):
        """→ {parameter name: whether the joint phase changed it} at ENCODER_LR_SHARE = share."""
        train_tatok.ENCODER_LR_SHARE = share
        teacher = VisionTower().eval().requires_grad_(False)
        tatok = random_tatok(teacher)
        before = {k: v.clone() for k, v in tatok.named_parameters()}
        steps = train_tatok.train_jointly(tatok, teacher, scene_images(), common.Clock("test"))
        self.assertEqual(steps, train_tatok.STEPS)
        return {name: not torch.equal(p, before[name]) for name, p in tatok.named_parameters()}

    def test_share_zero_keeps_the_encoder_the_teachers_while_the_rest_learns(self):
        moved = self.moved_after_joint_phase(0.0)
        encoder = [name for name in moved if name.startswith("encoder.")]
        self.assertTrue(encoder)
        self.assertEqual([name for name in encoder if moved[name]], [], "an encoder parameter moved at share 0")
        self.assertTrue(moved["encode_task_layer.0.weight"], "the task layer did not learn")
        self.assertTrue(any(moved[name] for name in moved if name.startswith("decoder")), "the decoder did not learn")

    def test_share_zero_refuses_an_encoder_that_is_not_the_teachers(self):
        train_tatok.ENCODER_LR_SHARE = 0.0
        teacher = VisionTower().eval().requires_grad_(False)
        tatok = random_tatok(teacher)
        with torch.no_grad():
            tatok.encoder.encoder.layers[0].mlp.fc1.weight.mul_(1.1)
        with self.assertRaisesRegex(ValueError, "not the teacher's"):
            train_tatok.train_jointly(tatok, teacher, scene_images(), common.Clock("test"))

    def test_a_share_above_zero_trains_the_encoder(self):
        moved = self.moved_after_joint_phase(0.1)
        self.assertTrue(any(moved[name] for name in moved if name.startswith("encoder.")), "the encoder stayed")


class EncoderShareOptimiserTest(unittest.TestCase):
    """common.encoder_share_optimiser / set_shared_lr, which the joint phase and rebase_tatok train with."""

    def groups(self, share):
        """→ {group: (its parameters' ids, its learning rate)} after set_shared_lr(optimiser, 1e-3)."""
        tatok = random_tatok(VisionTower())
        optimiser = common.encoder_share_optimiser(tatok, share)
        common.set_shared_lr(optimiser, 1e-3)
        encoder = {id(p) for p in tatok.encoder.parameters()}
        return {("encoder" if {id(p) for p in g["params"]} <= encoder else "rest"): ({id(p) for p in g["params"]},
                                                                                  g["lr"])
                for g in optimiser.param_groups}, encoder

    def test_share_zero_leaves_the_encoder_out(self):
        groups, encoder = self.groups(0.0)
        self.assertEqual(list(groups), ["rest"])
        self.assertFalse(groups["rest"][0] & encoder)
        self.assertEqual(groups["rest"][1], 1e-3)

    def test_a_share_sets_the_encoders_rate_against_the_rest(self):
        groups, encoder = self.groups(0.1)
        self.assertEqual(groups["encoder"][0], encoder)
        self.assertAlmostEqual(groups["encoder"][1], 1e-4)
        self.assertEqual(groups["rest"][1], 1e-3)


class RefineDecoderTest(unittest.TestCase):
    def setUp(self):
        self.saved = train_tatok.DECODER_STEPS, train_tatok.BATCH
        train_tatok.DECODER_STEPS, train_tatok.BATCH = 3, 4

    def tearDown(self):
        train_tatok.DECODER_STEPS, train_tatok.BATCH = self.saved

    def test_only_the_decoder_side_learns_and_every_token_stays(self):
        teacher = VisionTower().eval().requires_grad_(False)
        tatok = random_tatok(teacher)
        images = scene_images()

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


class DecoderExtraImagesTest(unittest.TestCase):
    def test_seeded_off_shape_then_off_palette_renders(self):
        images = train_tatok.decoder_extra_images(3, 2)
        self.assertEqual(images.shape, (5, world.IMAGE_SIZE, world.IMAGE_SIZE, 3))
        self.assertEqual(images.dtype, np.uint8)
        np.testing.assert_array_equal(images, train_tatok.decoder_extra_images(3, 2))
        rng = random.Random(train_tatok.DECODER_EXTRA_SEED)
        for k in range(3):
            np.testing.assert_array_equal(images[k], world.render(world.off_shape_scene(rng)))
        self.assertEqual(train_tatok.decoder_extra_images(0, 0).shape, (0, world.IMAGE_SIZE, world.IMAGE_SIZE, 3))

    def test_off_palette_renders_hold_no_colour_of_the_world(self):
        images = train_tatok.decoder_extra_images(0, 4).reshape(-1, 3).astype(np.int64)
        named = np.array([*world.COLOURS.values()], np.int64)
        distance = np.sqrt(((images[:, None, :] - named[None]) ** 2).sum(-1)).min(1)              # [pixels]
        self.assertGreater(distance.min(), 20, "an off-palette render holds a pixel of a world colour")


class EncodeIndicesTest(unittest.TestCase):
    def test_every_scale_is_the_loaded_models_nearest_code(self):
        teacher = VisionTower().eval().requires_grad_(False)
        tatok = random_tatok(teacher).eval()
        images = scene_images()
        indices = train_tatok.encode_indices(tatok, images)
        self.assertEqual(set(indices), {1, 2, 3})
        with torch.no_grad():
            for scale, rows in indices.items():
                self.assertEqual(rows.dtype, torch.int64)
                self.assertTrue(torch.equal(rows, tatok.encode(tatok.preprocess(images), scale)[1]), f"scale {scale}")


if __name__ == "__main__":
    unittest.main()
