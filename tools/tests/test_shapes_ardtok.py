"""Tar-Shapes AR de-tokenizer stage (tools/shapes/train_ardtok.py) on stand-in inputs: a few training steps,
resumed runs equal uninterrupted ones, the checkpoint loads through the converter unchanged, the figures and
samples.png are written.

Stand-ins (`write_standins`, also usable for a longer trial run): the tiny random TA-Tok and VQ checkpoints of
tools/tiny, TA-Tok indices from the tiny TA-Tok's own encoder on the scenes' images, and "VQ codes" that are
each 8×8 block's mean colour at 4 levels per channel (64 codes = the tiny VQ's codebook), so there is
something learnable. Not a test of the real stage's quality."""
import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

from tools.convert import ardtok as ardtok_convert
from tools.convert import vq as vq_convert
from tools.convert.tatok import load_tatok
from tools.shapes import data, train_ardtok, world
from tools.tiny import tatok as tiny_tatok
from tools.tiny import vq as tiny_vq

STEPS = 4
SHOWN = 4        # fewer sampled and shown test images than the real run (the tiny VQ decodes to 128 px)


def block_colour_codes(images):
    """uint8 [N,64,64,3] -> int16 [N,8,8]: each 8×8 block's mean colour, 4 levels per channel."""
    n = images.shape[0]
    blocks = images.reshape(n, 8, 8, 8, 8, 3).astype(np.float64).mean(axis=(2, 4))       # [N,8,8,3]
    levels = np.clip(blocks // 64, 0, 3).astype(np.int16)
    return levels[..., 0] * 16 + levels[..., 1] * 4 + levels[..., 2]


@torch.no_grad()
def write_standins(work, counts, seed=0):
    """Writes vq/ and tatok/ stand-ins under `work` for splits {name: image count}."""
    vq, tatok = os.path.join(work, "vq"), os.path.join(work, "tatok")
    os.replace(tiny_vq.write_checkpoint(vq, seed), os.path.join(vq, "vq_shapes.pt"))
    tatok_model = load_tatok(tiny_tatok.write_checkpoint(tatok, seed))[0]
    for split, count in counts.items():
        images = np.stack([world.render(s) for s in data.scene_list(split)[:count]])
        np.save(os.path.join(vq, f"codes_{split}.npy"), block_colour_codes(images))
        pixels = tatok_model.preprocess(torch.from_numpy(images))
        for scale in train_ardtok.SCALES:
            indices = torch.cat([tatok_model.encode(p, scale)[1] for p in pixels.split(256)])
            np.save(os.path.join(tatok, f"indices_{split}_s{scale}.npy"), indices.numpy().astype(np.int16))


def write_source(work):
    """A random de-tokenizer for the stand-ins under `work` (data.WORK), as an official checkpoint to continue from
    → (train_ardtok.input_paths(), its model args, its path)."""
    paths = train_ardtok.input_paths()
    tatok = load_tatok(paths["tatok"])[0]
    _, vq_arch = vq_convert.build_checked(paths["vq"])
    codes = train_ardtok.load_codes(paths["codes_train"], vq_arch["codebook_size"])
    args = train_ardtok.model_args(tatok, vq_arch, codes)
    source = os.path.join(work, "source.pth")
    train_ardtok.write_checkpoint(source, train_ardtok.new_model(args, tatok.grid), args)
    return paths, args, source


class TrainArdtokTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.saved = data.WORK, train_ardtok.EVAL_IMAGES, train_ardtok.SHOWN
        train_ardtok.EVAL_IMAGES = train_ardtok.SHOWN = SHOWN
        cls.folder = tempfile.mkdtemp()
        cls.work = os.path.join(cls.folder, "a")
        data.WORK = cls.work
        write_standins(cls.work, {"train": 64, "test": SHOWN})
        shutil.copytree(os.path.join(cls.work, "vq"), os.path.join(cls.folder, "b", "vq"))
        shutil.copytree(os.path.join(cls.work, "tatok"), os.path.join(cls.folder, "b", "tatok"))
        train_ardtok.run(STEPS, stop_after=2)
        cls.done = train_ardtok.run(STEPS)
        data.WORK = os.path.join(cls.folder, "b")
        train_ardtok.run(STEPS, stop_after=STEPS)

    @classmethod
    def tearDownClass(cls):
        data.WORK, train_ardtok.EVAL_IMAGES, train_ardtok.SHOWN = cls.saved
        shutil.rmtree(cls.folder)

    def out(self, run, name):
        return os.path.join(self.folder, run, "ardtok", name)

    def test_resumed_run_equals_uninterrupted_run(self):
        resumed = torch.load(self.out("a", "state.pt"))["model"]
        uninterrupted = torch.load(self.out("b", "state.pt"))["model"]
        for key, value in resumed.items():
            self.assertTrue(torch.equal(value, uninterrupted[key]), key)

    def test_checkpoint_reads_raw_features_as_the_trained_model_read_standardised_ones(self):
        """The checkpoint's clip_proj has the standardisation of the stage's own training features folded in;
        everything else is the trained state."""
        model, _ = ardtok_convert.build_checked(self.out("a", train_ardtok.CHECKPOINT))
        trained = train_ardtok.ARDTok(model.args)
        trained.load_state_dict(torch.load(self.out("a", "state.pt"))["model"])
        for key, value in model.state_dict().items():
            if not key.startswith("clip_proj."):
                self.assertTrue(torch.equal(value, trained.state_dict()[key]), key)
        data.WORK = self.work
        paths = train_ardtok.input_paths()
        tatok = load_tatok(paths["tatok"])[0]
        feats = train_ardtok.features(tatok, "train", train_ardtok.TRAIN_SCALE, paths)    # [N,p²,C]
        raw = feats[:3]                                                                   # [3,p²,C]
        with torch.no_grad():
            folded = model.clip_proj(raw)
            expected = trained.clip_proj(train_ardtok.standardise(raw, train_ardtok.condition_standardiser(feats)))
        self.assertFalse(torch.allclose(trained.clip_proj(raw), expected, atol=1e-3))
        self.assertLess((folded - expected).abs().max().item(), 1e-4)

    def test_corruption_replaces_about_the_set_fraction_of_input_codes(self):
        codes = torch.zeros(64, 256, dtype=torch.int64)
        for rate in (0.2, 0.6, 1.0):
            changed = (train_ardtok.corrupted(codes, 512, torch.Generator().manual_seed(0), rate) != codes).float()
            self.assertAlmostEqual(changed.mean().item(), rate * 511 / 512, delta=0.01)

    def test_corruption_falls_from_the_condition_alone_to_its_rate(self):
        warmup = train_ardtok.CONDITION_WARMUP
        self.assertEqual(train_ardtok.corruption_rate(0), 1.0)
        self.assertAlmostEqual(train_ardtok.corruption_rate(warmup // 2), (1 + train_ardtok.CORRUPT) / 2)
        self.assertEqual(train_ardtok.corruption_rate(warmup), train_ardtok.CORRUPT)
        self.assertEqual(train_ardtok.corruption_rate(10 * warmup), train_ardtok.CORRUPT)

    def test_spatial_positions_match_each_code_with_the_prefix_cell_under_it(self):
        """The row that predicts code j is most like the prefix row of the TA-Tok cell holding code j's centre."""
        for cond_grid, code_grid, dim in ((6, 16, 128), (3, 8, 64), (2, 16, 128)):
            rows = train_ardtok.spatial_positions(cond_grid, code_grid, dim)                # [T+M-1,dim]
            t = cond_grid ** 2
            self.assertEqual(rows.shape, (t + code_grid ** 2 - 1, dim))
            for j in range(1, code_grid ** 2):
                y, x = ((k + 0.5) * cond_grid // code_grid for k in divmod(j, code_grid))
                self.assertEqual((rows[t - 1 + j] @ rows[:t].T).argmax().item(), int(y) * cond_grid + int(x))

    def test_checkpoint_has_the_inputs_sizes(self):
        model, name = ardtok_convert.build_checked(self.out("a", train_ardtok.CHECKPOINT))
        a = model.args
        self.assertEqual(name, train_ardtok.NAME)
        self.assertEqual((a.dim, a.n_layer, a.n_head), (train_ardtok.DIM, train_ardtok.LAYERS, train_ardtok.HEADS))
        self.assertEqual((a.cond_dim, a.cls_token_num, a.vocab_size, a.max_seq_len), (48, 64, 64, 64))

    def test_done_json_and_samples(self):
        with open(self.out("a", "done.json")) as f:
            done = json.load(f)
        self.assertEqual(done["run_key"]["settings"]["steps"], STEPS)
        figures = done["figures"]
        self.assertEqual(set(figures["teacher_forcing_test"]), {"s1", "s2", "s3"})
        self.assertEqual(set(figures["samples_cfg4"]["s1"]),
                         {"token_match", "count", "colour", "shape", "size", "position", "object", "all"})
        with Image.open(self.out("a", "samples.png")) as sheet:
            size = 128 + 2   # the tiny VQ decodes 8×8 codes to 128 px; 2 px gaps
            self.assertEqual(sheet.size, (SHOWN * size, 5 * size))

    def test_done_run_is_not_repeated(self):
        data.WORK = self.work
        self.assertEqual(train_ardtok.run(STEPS), self.done)

    def test_teacher_forcing_matches_step_by_step_decoding(self):
        """The training forward (one prefill over prefix + codes) gives the logits of KV-cached decoding."""
        model, _ = ardtok_convert.build_checked(self.out("a", train_ardtok.CHECKPOINT))
        g = torch.Generator().manual_seed(1)
        cond = torch.randn(2, 4, model.args.cond_dim, generator=g)
        codes = torch.randint(0, model.args.vocab_size, (2, model.args.max_seq_len), generator=g)
        with torch.no_grad():
            full = train_ardtok.teacher_forced_logits(model, cond, codes)
            past, x, steps = model.empty_past(2), model.clip_proj(cond), []
            for j in range(codes.shape[1]):
                total = 4 + j
                positions = torch.arange(total - x.shape[1], total).unsqueeze(0).repeat(2, 1)
                logits, past = model.decode(x, torch.ones(2, total, dtype=torch.int64), positions, past)
                steps.append(logits[:, -1])
                x = model.tok_embeddings(codes[:, j:j + 1])
        self.assertLess((full - torch.stack(steps, 1)).abs().max().item(), 1e-4)


if __name__ == "__main__":
    unittest.main()
