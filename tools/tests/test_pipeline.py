"""The end-to-end torch reference with fixed uniforms (tools/convert/reference/pipeline.py, tools/tiny/pipeline.py):
the Python port of the engine's sampler on hand cases and against the TypeScript reference
(src/kernels/sample-reference.ts, bundled with rolldown and run in node, when both are installed); the pipeline
golden is deterministic, has the documented names, shapes and dtypes, is internally consistent (each stored
decision re-drawn from its stored logits and uniform gives the stored token), and equals the committed
tests/fixtures/goldens/pipeline.safetensors."""
import importlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
import torch

from tools.convert.goldens import load_goldens
from tools.convert.llm import read_config, read_token_ids
from tools.convert.ardtok import build_checked as build_ardtok
from tools.convert.reference.pipeline import (VIEW_SHIFTS, Chooser, Sampling, answer_log_prob, detokenize, llm_generate,
                                              mean_log_probs, move_off_boundary, processed, round_trip_agreement,
                                              sample_row, shifted_pixels)
from tools.convert.tatok import load_tatok
from tools.convert.tokenizer import build_tokenizer_json
from tools.convert.reference.vq import to_uint8_hwc
from tools.tiny import pipeline
from tools.tiny.llm import load_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMITTED = os.path.join(ROOT, "tests", "fixtures", "goldens", "pipeline.safetensors")
SEED = 1234  # make_tiny's default seed


@torch.no_grad()
def last_logits(llm, ids):
    """The Qwen2 reference's last-position logits [V] for `ids`, in one uncached call."""
    t = len(ids)
    return llm(torch.tensor([ids]), torch.ones(1, t, dtype=torch.int64), torch.arange(t).unsqueeze(0),
               *llm.empty_past(1))[0][0, -1]


def draw(logits, u=0.5, uncond=None, **settings):
    return sample_row(Sampling(**settings), np.asarray(logits, dtype=np.float32), u,
                      None if uncond is None else np.asarray(uncond, dtype=np.float32)).id


class ViewCases(unittest.TestCase):
    # The same cases as tests/unit/views.spec.ts: two channels of a 3×3 picture, 1..9 and 11..19.
    PICTURE = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[11, 12, 13], [14, 15, 16], [17, 18, 19]]],
                           dtype=torch.float32).unsqueeze(0)

    def test_shifts_are_the_engines(self):
        self.assertEqual(VIEW_SHIFTS, ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)))

    def test_a_shift_moves_the_content_and_repeats_the_edge(self):
        self.assertTrue(torch.equal(shifted_pixels(self.PICTURE, (0, 0)), self.PICTURE))
        self.assertEqual(shifted_pixels(self.PICTURE, (0, 1)).flatten().tolist(),
                         [1, 1, 2, 4, 4, 5, 7, 7, 8, 11, 11, 12, 14, 14, 15, 17, 17, 18])
        self.assertEqual(shifted_pixels(self.PICTURE, (-1, 0))[0, 0].flatten().tolist(), [4, 5, 6, 7, 8, 9, 7, 8, 9])
        self.assertEqual(shifted_pixels(self.PICTURE, (1, -1))[0, 0].flatten().tolist(), [2, 3, 3, 2, 3, 3, 5, 6, 6])

    def test_mean_log_probs_of_one_row_is_its_log_softmax_and_ignores_offsets(self):
        row = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
        expected = torch.log_softmax(torch.tensor(row, dtype=torch.float64), -1).numpy()
        np.testing.assert_allclose(mean_log_probs([row]), expected, atol=1e-6)
        np.testing.assert_allclose(mean_log_probs([row, row + 100]), expected, atol=1e-5)


class SamplerHandCases(unittest.TestCase):
    def test_greedy_takes_the_lowest_id_among_ties(self):
        self.assertEqual(draw([1, 3, 3, 2], temperature=0), 1)

    def test_top_k_keeps_every_tie_at_the_threshold(self):
        # k = 2 keeps 5, 4, 4 (ids 0, 1, 2); a u near 1 lands on the last of them, never on id 3
        self.assertEqual(draw([5, 4, 4, 1], 0.999999, temperature=1, top_k=2), 2)
        self.assertEqual(draw([5, 4, 4, 1], 0.999999, temperature=1, top_k=0), 3)

    def test_top_p_drops_the_ascending_tail(self):
        logits = np.log([0.5, 0.3, 0.15, 0.05])
        # 1 - p = 0.25: the tail 0.05 and 0.05 + 0.15 = 0.2 is dropped; kept 0.5, 0.3 → 0.625, 0.375
        self.assertEqual(draw(logits, 0.6, temperature=1, top_p=0.75), 0)
        self.assertEqual(draw(logits, 0.7, temperature=1, top_p=0.75), 1)
        self.assertEqual(draw(logits, 0.99, temperature=1, top_p=0.75), 1)
        self.assertEqual(draw(logits, 0.99, temperature=1, top_p=1.0), 3)
        # the most probable token is always kept
        self.assertEqual(draw(logits, 0.99, temperature=1, top_p=0.01), 0)

    def test_draw_order_is_descending_value_then_ascending_id(self):
        # equal values: order ids 1, 3 (value 2) then 0, 2 (value 1)
        logits = [1, 2, 1, 2]
        p_hi = math.e / (2 * math.e + 2)
        self.assertEqual(draw(logits, p_hi - 1e-3, temperature=1), 1)
        self.assertEqual(draw(logits, p_hi + 1e-3, temperature=1), 3)
        self.assertEqual(draw(logits, 2 * p_hi + 1e-3, temperature=1), 0)
        self.assertEqual(draw(logits, 0.999, temperature=1), 2)

    def test_temperature_sharpens(self):
        logits = [0, math.log(3)]          # T = 1: 0.75 / 0.25; T = 0.5: 0.9 / 0.1
        self.assertEqual(draw(logits, 0.8, temperature=1), 0)
        self.assertEqual(draw(logits, 0.8, temperature=0.5), 1)

    def test_range_and_non_finite_values_are_never_drawn(self):
        self.assertEqual(draw([10, 10, 1, 2], temperature=0, lo=2, hi=4), 3)
        self.assertEqual(draw([10, 10, 1, 2], 0.99, temperature=1, lo=2, hi=4), 2)
        for u in (0.0, 0.5, 0.999):
            self.assertEqual(draw([float("nan"), -float("inf"), 0, float("inf")], u, temperature=1), 2)

    def test_guidance_combines_in_float32(self):
        # l = l_u + 4 (l_c − l_u): [4, −3] → greedy 0; with the rows swapped → 1
        self.assertEqual(draw([1, 0], uncond=[0, 1], temperature=0, guidance=4.0), 0)
        self.assertEqual(draw([0, 1], uncond=[1, 0], temperature=0, guidance=4.0), 1)
        # per-token arithmetic is float32 step by step (f32(u + f32(s · f32(c − u))), then · f32(1/T)): equal to
        # that formula bit for bit, and different from the float64 one on large random logits
        rng = np.random.default_rng(3)
        c = (rng.normal(size=512) * 1e4).astype(np.float32)
        u = (rng.normal(size=512) * 1e4).astype(np.float32)
        x, _ = processed(Sampling(temperature=0.7, guidance=4.0), c, u)
        f32 = np.float32(u + np.float32(np.float32(4.0) * np.float32(c - u))) * np.float32(1 / 0.7)
        self.assertTrue(np.array_equal(x, f32))
        f64 = (u.astype(np.float64) + 4.0 * (c.astype(np.float64) - u)) / 0.7
        self.assertGreater(int((x != f64.astype(np.float32)).sum()), 0)

    def test_conditional_min_p_drops_what_the_conditional_row_finds_implausible(self):
        # cond [4, 3, 0], uncond [4, 0, −3]: guidance 3 gives [4, 9, 6]; min-p e^−2 drops id 2 (4 below the best)
        cond, uncond = [4, 3, 0], [4, 0, -3]
        self.assertEqual(draw(cond, 0.97, uncond=uncond, temperature=1, guidance=3.0), 2)
        for u in (0.001, 0.5, 0.97, 0.999):
            self.assertNotEqual(draw(cond, u, uncond=uncond, temperature=1, guidance=3.0, cond_min_p=math.exp(-2)), 2)
        self.assertEqual(draw(cond, uncond=uncond, temperature=0, guidance=3.0, cond_min_p=1.0), 0)
        # the threshold is f32(max + f32(ln p)) over the finite values c · f32(1/T)
        x, _ = processed(Sampling(temperature=0.5, guidance=3.0, cond_min_p=0.1), [np.inf, 1, np.nan], [0, 5, 0])
        self.assertTrue(np.isnan(x[0]) and np.isnan(x[2]))
        self.assertEqual(x[1], np.float32(np.float32(5 + 3 * (1 - 5)) * np.float32(2.0)))

    def test_bad_settings_are_refused(self):
        for settings in ({"temperature": -1}, {"temperature": 1, "top_p": 0}, {"temperature": 1, "lo": 3, "hi": 3}):
            with self.assertRaises(ValueError):
                draw([1, 2, 3], **settings)
        with self.assertRaises(ValueError):
            draw([1, 2, 3], 1.0, temperature=1)

    def test_uniform_moved_off_a_boundary_and_margins_enforced(self):
        cumulative = [0.25, 0.75, 1.0]
        self.assertEqual(move_off_boundary(0.5, cumulative, 1e-3), 0.5)
        self.assertEqual(move_off_boundary(0.7499, cumulative, 1e-3), 0.5)
        self.assertEqual(move_off_boundary(0.7501, cumulative, 1e-3), 0.875)
        chooser = Chooser(Sampling(temperature=1), [0.7501], u_gap=1e-3)
        chooser(np.log(np.array([0.25, 0.5, 0.25], np.float32)))
        self.assertEqual(chooser.used, [0.875])
        with self.assertRaisesRegex(ValueError, "greedy"):
            Chooser(Sampling(temperature=0), logit_gap=1e-3)(np.array([1.0, 1.0 + 1e-4], np.float32))
        with self.assertRaisesRegex(ValueError, "out of uniforms"):
            Chooser(Sampling(temperature=1), [])(np.zeros(3, np.float32))


def _node_reference(cases):
    """Runs src/kernels/sample-reference.ts sampleReference on each case in node; None when node/npx are missing."""
    npx, node = shutil.which("npx"), shutil.which("node")
    if not npx or not node or not os.path.isdir(os.path.join(ROOT, "node_modules", "rolldown")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "sample-reference.mjs")
        subprocess.run([npx, "rolldown", os.path.join(ROOT, "src", "kernels", "sample-reference.ts"), "--format",
                        "esm", "--file", bundle], cwd=ROOT, check=True, capture_output=True)
        script = ("import { readFileSync } from 'node:fs';\n"
                  f"import {{ sampleReference }} from {json.dumps(bundle)};\n"
                  "const cases = JSON.parse(readFileSync(0, 'utf8'));\n"
                  "const ids = cases.map((c) => sampleReference(c.shape, c.settings, new Float32Array(c.logits), c.uniforms)[0]);\n"
                  "process.stdout.write(JSON.stringify(ids));\n")
        path = os.path.join(tmp, "run.mjs")
        with open(path, "w") as f:
            f.write(script)
        done = subprocess.run([node, path], input=json.dumps(cases), capture_output=True, text=True, check=True)
        return json.loads(done.stdout)


class SamplerAgainstTypeScript(unittest.TestCase):
    def test_same_ids_as_the_typescript_reference(self):
        rng = np.random.default_rng(5)
        cases, python = [], []
        for i in range(200):
            vocab = int(rng.integers(2, 40))
            guided = i % 3 == 0
            cond = (rng.normal(size=vocab) * 3).astype(np.float32)
            if i % 5 == 1:
                cond = np.round(cond).astype(np.float32)                  # many ties
            uncond = (rng.normal(size=vocab) * 3).astype(np.float32)
            lo = int(rng.integers(0, vocab // 2 + 1)) if i % 4 == 2 else 0
            s = Sampling(temperature=[0.0, 0.7, 1.0, 1.3][i % 4], top_k=int(rng.integers(0, vocab + 2)),
                         top_p=float(np.float32(rng.uniform(0.05, 1.0))) if i % 2 else 1.0, lo=lo, hi=vocab,
                         guidance=3.5 if guided else None, cond_min_p=0.05 if guided and i % 2 else None)
            u = float(np.float32(rng.uniform(0, 1)))
            python.append(sample_row(s, cond, u, uncond if guided else None).id)
            settings = {"temperature": s.temperature, "topK": s.top_k, "topP": s.top_p, "range": {"lo": lo, "hi": vocab}}
            if guided:
                settings["guidance"] = {"scale": 3.5, **({"condMinP": 0.05} if s.cond_min_p else {})}
            logits = np.concatenate([cond, uncond]) if guided else cond
            cases.append({"shape": {"batch": 2 if guided else 1, "vocab": vocab}, "settings": settings,
                          "logits": logits.tolist(), "uniforms": [u]})
        typescript = _node_reference(cases)
        if typescript is None:
            self.skipTest("node, npx or rolldown is not installed")
        self.assertEqual(python, typescript)


class RoundTripAgreement(unittest.TestCase):
    def test_counts_the_drawn_tokens_read_back_in_place(self):
        with tempfile.TemporaryDirectory() as work:
            tatok = load_tatok(importlib.import_module("tools.tiny.tatok").write_checkpoint(work, SEED))[0]
        image = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (56, 56, 3), dtype=np.uint8))
        for scale in (1, 2):
            _, read = tatok.encode(tatok.preprocess(image), scale)
            read = read[0]                                                          # [N]
            self.assertEqual(round_trip_agreement(tatok, image, read, scale), len(read))
            changed = read.clone()
            changed[0] = (changed[0] + 1) % tatok.codebook().shape[0]
            changed[-1] = (changed[-1] + 1) % tatok.codebook().shape[0]
            self.assertEqual(round_trip_agreement(tatok, image, changed, scale), len(read) - 2)
            self.assertEqual(round_trip_agreement(tatok, image, torch.roll(read, 1), scale),
                             int((torch.roll(read, 1) == read).sum()))


class PipelineGolden(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.TemporaryDirectory()
        cls.checkpoints = {name: importlib.import_module(f"tools.tiny.{name}").write_checkpoint(
            os.path.join(cls.work.name, name), SEED) for name in ("tatok", "llm", "ardtok", "vq")}
        cls.golden = pipeline.goldens(cls.checkpoints)

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def test_deterministic(self):
        again = pipeline.goldens(self.checkpoints)
        self.assertEqual(sorted(again), sorted(self.golden))
        for name, value in self.golden.items():
            self.assertTrue(torch.equal(value, again[name]), name)

    def test_names_shapes_and_dtypes(self):
        g = self.golden
        self.assertEqual(sorted(g), sorted(pipeline.GOLDEN_NAMES))
        n = 16                                           # (8 // pool scale 2)² image tokens; AR-DTok maxSeqLen 16
        vocab = 568
        expected = {
            "understand.image_rgb": ((37, 50, 3), torch.uint8), "understand.pixel_values": ((1, 3, 56, 56), torch.float32),
            "understand.indices": ((64,), torch.int64), "chat.logits": ((8, vocab), torch.float32),
            "chat.new_ids": ((8,), torch.int64), "t2i.uniforms": ((n,), torch.float32), "t2i.logits": ((n, vocab), torch.float32),
            "t2i.token_ids": ((n,), torch.int64), "t2i.indices": ((n,), torch.int64), "t2i.features": ((n, 48), torch.float32),
            "detok.uniforms": ((16,), torch.float32), "detok.logits": ((16, 2, 64), torch.float32),
            "detok.cfg_logits": ((16, 64), torch.float32), "detok.codes": ((16,), torch.int64),
            "vq.image": ((1, 3, 64, 64), torch.float32), "vq.image_uint8": ((64, 64, 3), torch.uint8),
        }
        for name, (shape, dtype) in expected.items():
            self.assertEqual((tuple(g[name].shape), g[name].dtype), (shape, dtype), name)

    def test_consistent(self):
        g = self.golden
        base, end = g["t2i.token_range"].tolist()
        ids = g["t2i.token_ids"]
        self.assertTrue(bool(((ids >= base) & (ids < end)).all()))
        self.assertTrue(torch.equal(g["t2i.indices"], ids - base))
        folder = self.checkpoints["llm"]
        tokens, _ = read_token_ids(folder, read_config(folder), build_tokenizer_json(folder))
        self.assertEqual(g["t2i.prompt_ids"][-2:].tolist(), [tokens["imageStartTag"], tokens["scaleTokenBase"] + 1])
        self.assertTrue(bytes(g["t2i.prompt_text"].tolist()).decode().endswith("<|im_start|>assistant\n<im_start><S1>"))
        self.assertEqual(bytes(g["t2i.prompt"].tolist()).decode(), "a red circle")
        image_ids = (g["understand.indices"] + base).tolist()
        prompt = g["chat.prompt_ids"].tolist()
        start = prompt.index(image_ids[0])
        self.assertEqual(prompt[start:start + len(image_ids)], image_ids)
        self.assertTrue(torch.equal(g["vq.image_uint8"], to_uint8_hwc(g["vq.image"])[0]))
        for u in g["t2i.uniforms"].tolist() + g["detok.uniforms"].tolist():
            self.assertTrue(0 <= u < 1)
        # every stored decision, re-drawn from its stored logits and uniform, gives the stored token
        t2i = Sampling(temperature=g["t2i.temperature"].item(), top_k=g["t2i.top_k"].item(),
                       top_p=0.95, lo=base, hi=end)
        for row, u, token in zip(g["t2i.logits"].numpy(), g["t2i.uniforms"].tolist(), ids.tolist()):
            self.assertEqual(sample_row(t2i, row, u).id, token)
        detok = Sampling(temperature=1.0, guidance=g["detok.cfg_scale"].item())
        for rows, u, code in zip(g["detok.logits"].numpy(), g["detok.uniforms"].tolist(), g["detok.codes"].tolist()):
            self.assertEqual(sample_row(detok, rows[0], u, rows[1]).id, code)
            self.assertEqual(sample_row(Sampling(temperature=1.0), (rows[1] + np.float32(4) * (rows[0] - rows[1])), u).id, code)
        for row, token in zip(g["chat.logits"].numpy(), g["chat.new_ids"].tolist()):
            self.assertEqual(int(np.argmax(row)), token)
        # views: view 0 is the plain picture; each step's stored row is log-probabilities whose argmax was taken
        self.assertEqual(g["chat_views.indices"].shape[0], g["chat_views.views"].item())
        self.assertTrue(torch.equal(g["chat_views.indices"][0], g["understand.indices"]))
        self.assertFalse(all(torch.equal(v, g["understand.indices"]) for v in g["chat_views.indices"][1:]))
        for row, token in zip(g["chat_views.mean_log_probs"].numpy(), g["chat_views.new_ids"].tolist()):
            self.assertEqual(int(np.argmax(row)), token)
            self.assertTrue(bool((row <= 0).all()))

    def test_guided_generation_runs_two_aligned_sequences(self):
        # the unconditional sequence = the prompt itself: l_u = l_c, so l_u + s (l_c − l_u) = l_c exactly and the
        # guided draw equals the plain one; another unconditional prompt changes some draws
        llm = load_reference(self.checkpoints["llm"])
        prompt, other = [1, 2, 3, 4, 5], [1, 5]
        uniforms = np.random.default_rng(0).uniform(size=12).tolist()
        def run(guidance, unconditional):
            choose = Chooser(Sampling(temperature=1.0, guidance=guidance), uniforms)
            return llm_generate(llm, prompt, 12, choose, unconditional_ids=unconditional), choose
        plain = llm_generate(llm, prompt, 12, Chooser(Sampling(temperature=1.0), uniforms))
        same, choose = run(3.0, prompt)
        self.assertEqual(same, plain)
        self.assertEqual(len(choose.logits), 12)
        self.assertTrue(all(np.array_equal(rows[0], rows[1]) for rows in choose.logits))
        self.assertNotEqual(run(3.0, other)[0], plain)

    def test_unguided_detokenizer_runs_the_conditional_row_alone(self):
        # without guidance (the engine's cfgScale 1) each decision sees one row: the conditional row of the CFG run
        # fed the same codes, and draws what it would draw from that row
        ardtok, _ = build_ardtok(self.checkpoints["ardtok"])
        features = self.golden["t2i.features"]
        uniforms = np.random.default_rng(1).uniform(size=ardtok.args.max_seq_len).tolist()
        alone = Chooser(Sampling(temperature=1.0), uniforms)
        codes = detokenize(ardtok, features, alone)
        fed = iter(codes)

        class FedCodes(Chooser):                         # draws with guidance 3, but feeds the unguided codes
            def __call__(self, cond, uncond=None):
                super().__call__(cond, uncond)
                return next(fed)
        guided = FedCodes(Sampling(temperature=1.0, guidance=3.0), uniforms)
        detokenize(ardtok, features, guided)
        self.assertEqual(len(codes), ardtok.args.max_seq_len)
        self.assertTrue(all(row.ndim == 1 for row in alone.logits))
        for row, rows in zip(alone.logits, guided.logits):
            np.testing.assert_allclose(row, rows[0], rtol=1e-5, atol=1e-5)
        self.assertNotEqual(guided.ids, codes)

    def test_answer_log_prob_is_the_cached_step_by_step_log_softmax(self):
        llm = load_reference(self.checkpoints["llm"])
        prompt, answer = [1, 2, 3, 4, 5], [7, 9, 2]
        steps = []
        llm_generate(llm, prompt, len(answer), lambda row: steps.append(row) or answer[len(steps) - 1])
        expected = sum(float(torch.log_softmax(torch.tensor(row, dtype=torch.float64), -1)[a]) for row, a in zip(steps, answer))
        self.assertAlmostEqual(answer_log_prob(llm, prompt, answer), expected, places=4)
        self.assertLess(answer_log_prob(llm, prompt, answer), 0)
        self.assertNotAlmostEqual(answer_log_prob(llm, prompt, answer), answer_log_prob(llm, [1, 5], answer), places=4)

    def test_views_are_greedy_on_the_mean_of_the_streams_log_softmax(self):
        llm = load_reference(self.checkpoints["llm"])
        prompts = [[1, 2, 3, 4, 5], [1, 2, 9, 4, 5], [1, 7, 3, 4, 6]]
        seen = []
        ids = llm_generate(llm, prompts[0], 4, lambda row: seen.append(row) or int(np.argmax(row)), views=prompts[1:])
        self.assertEqual(len(seen), 4)
        for step, row in enumerate(seen):   # each step: the mean over the prompts of log_softmax(logits | prompt + fed)
            expected = np.mean([torch.log_softmax(last_logits(llm, p + ids[:step]).double(), -1).numpy()
                                for p in prompts], 0)
            np.testing.assert_allclose(row, expected, atol=1e-5)
        with self.assertRaises(ValueError):
            llm_generate(llm, prompts[0], 1, lambda *rows: 0, unconditional_ids=prompts[1], views=prompts[2:])

    def test_committed_golden_is_current(self):
        if not os.path.exists(COMMITTED):
            self.fail(f"{COMMITTED} is missing: write it with npm run make-tiny")
        committed = load_goldens(COMMITTED)
        self.assertEqual(sorted(committed), sorted(self.golden))
        for name, value in self.golden.items():
            c = committed[name]
            self.assertEqual((tuple(c.shape), c.dtype), (tuple(value.shape), value.dtype), name)
            if value.is_floating_point():
                # Up to float32 summation order: the system BLAS (Debian's reference libblas or OpenBLAS) may differ.
                self.assertTrue(torch.allclose(c, value, rtol=1e-4, atol=1e-5), f"{name}: max |Δ| "
                                f"{(c.double() - value.double()).abs().max().item():.3g}")
            elif value.dtype == torch.uint8:   # pixels: the same rounding margin, at most one level apart
                self.assertLessEqual((c.int() - value.int()).abs().max().item(), 1, name)
            else:
                self.assertTrue(torch.equal(c, value), name)


if __name__ == "__main__":
    unittest.main()
