"""AR de-tokenizer: conversion of a tiny official-format checkpoint, the exported graphs (checked by a small
NumPy ONNX evaluator against the torch goldens), the torch reference against an independent NumPy
re-implementation, and every converter error message.

Also home of `run_onnx`, a tiny NumPy evaluator for the ONNX ops our exported graphs use (onnx 1.12 has no
reference evaluator and there is no onnxruntime for Python here); tools/tests/test_vq.py imports it; and of
`check_model`, onnx.checker for graphs holding onnxruntime's SimplifiedLayerNormalization (test_llm, test_fuse)."""
import os
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from tools.convert import ardtok as conv
from tools.convert.fuse import CONTRIB_DOMAIN, RMS_NORM_OP
from tools.convert.reference.ardtok import REGISTRY, ARDTok, ModelArgs, generate_reference
from tools.tiny import ardtok as tiny
from tools.tests.tiny_package import ConversionErrorAssertions, TinyPackage

# ---------------------------------------------------------------------------------------------------------
# A tiny NumPy ONNX evaluator (only the ops and attributes torch.onnx.export emits for our graphs).


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    pads = a.get("pads", [0, 0, 0, 0])
    strides = a.get("strides", [1, 1])
    assert a.get("group", 1) == 1 and list(a.get("dilations", [1, 1])) == [1, 1] and list(strides) == [1, 1]
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + oh, j:j + ow]
    out = np.tensordot(w.reshape(o, -1), cols.reshape(n, c * kh * kw, oh * ow), axes=([1], [1])).transpose(1, 0, 2)
    out = out.reshape(n, o, oh, ow)
    return out + b.reshape(1, -1, 1, 1) if b is not None else out


def _op(node, ins):
    t, a = node.op_type, _attrs(node)
    x = ins[0] if ins else None
    if t == "Constant":
        return [numpy_helper.to_array(a["value"])]
    if t in ("Add", "Sub", "Mul", "Div", "Equal", "LessOrEqual", "And", "Less", "Greater", "Pow"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Equal": np.equal,
             "LessOrEqual": np.less_equal, "And": np.logical_and, "Less": np.less, "Greater": np.greater,
             "Pow": np.power}[t]
        r = f(ins[0], ins[1])
        if t == "Div" and np.issubdtype(ins[0].dtype, np.integer):
            r = np.floor_divide(ins[0], ins[1])
        return [np.asarray(r).astype(ins[0].dtype) if t in ("Add", "Sub", "Mul", "Div", "Pow") else np.asarray(r)]
    if t == "Not":
        return [np.logical_not(x)]
    if t == "Sqrt":
        return [np.sqrt(x)]
    if t == "Reciprocal":
        return [np.asarray(1.0 / x, dtype=x.dtype)]
    if t == "Sigmoid":
        return [np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=x.dtype)]
    if t == "Softmax":
        ax = a.get("axis", -1)
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return [e / e.sum(axis=ax, keepdims=True)]
    if t == "ReduceMean":
        return [x.mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(x.dtype)]
    if t == "RotaryEmbedding":                                       # onnxruntime's, on [B, heads, T, d] input
        assert a.get("interleaved", 0) == 0
        cos, sin = ins[2][ins[1]][:, None], ins[3][ins[1]][:, None]    # [B, 1, T, d/2]
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        return [np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x.dtype)]
    if t == "SimplifiedLayerNormalization":                          # onnxruntime's RMSNorm (tools/convert/fuse.py)
        rms = np.sqrt((x * x).mean(axis=a.get("axis", -1), keepdims=True) + np.float32(a["epsilon"]))
        return [(x / rms * ins[1]).astype(x.dtype)]
    if t == "MatMul":
        return [np.matmul(ins[0], ins[1])]
    if t == "Gemm":
        A = ins[0].T if a.get("transA", 0) else ins[0]
        B = ins[1].T if a.get("transB", 0) else ins[1]
        r = a.get("alpha", 1.0) * A @ B
        return [r + a.get("beta", 1.0) * ins[2] if len(ins) > 2 and ins[2] is not None else r]
    if t == "Cast":
        to = onnx.helper.tensor_dtype_to_np_dtype(a["to"]) if hasattr(onnx.helper, "tensor_dtype_to_np_dtype") \
            else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]
        return [x.astype(to)]
    if t == "Shape":
        return [np.array(x.shape, dtype=np.int64)]
    if t == "Gather":
        return [np.take(x, ins[1], axis=a.get("axis", 0))]
    if t == "Unsqueeze":
        axes = [int(v) for v in ins[1]]
        r = x
        for ax in sorted(v % (x.ndim + len(axes)) for v in axes):
            r = np.expand_dims(r, ax)
        return [r]
    if t == "Squeeze":
        return [np.squeeze(x, axis=tuple(int(v) for v in ins[1])) if len(ins) > 1 else np.squeeze(x)]
    if t == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if t == "Reshape":
        shape = [int(v) for v in ins[1]]
        shape = [x.shape[i] if s == 0 and not a.get("allowzero", 0) else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if t == "Transpose":
        return [np.transpose(x, a.get("perm"))]
    if t == "Expand":
        shape = np.broadcast_shapes(x.shape, tuple(int(v) for v in ins[1]))
        return [np.broadcast_to(x, shape).copy()]
    if t == "ConstantOfShape":
        value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full(tuple(int(v) for v in x), value.reshape(-1)[0], dtype=value.dtype)]
    if t == "Range":
        return [np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)]
    if t == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if t == "Split":
        sizes = [int(v) for v in ins[1]]
        return np.split(x, np.cumsum(sizes)[:-1], axis=a.get("axis", 0))
    if t == "Slice":
        starts, ends = ins[1], ins[2]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        sl = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(s), int(e), int(st))
        return [x[tuple(sl)]]
    if t == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
        return [np.clip(x, lo, hi).astype(x.dtype)]
    if t == "Conv":
        return [_conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)]
    raise NotImplementedError(f"NumPy evaluator: op {t} not supported")


def run_onnx(path, feeds):
    """Evaluates an ONNX graph in float32 NumPy: feeds {name: array} -> {output name: array}."""
    model = onnx.load(path)
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for name, v in feeds.items():
        values[name] = np.asarray(v)
    missing = [i.name for i in model.graph.input if i.name not in values]
    if missing:
        raise KeyError(f"missing graph inputs {missing}")
    for node in model.graph.node:
        ins = [values[n] if n else None for n in node.input]
        for name, v in zip(node.output, _op(node, ins)):
            values[name] = v
    return {o.name: values[o.name] for o in model.graph.output}


def check_model(model_or_path):
    """onnx.checker.check_model on a copy whose SimplifiedLayerNormalization nodes sit in onnxruntime's contrib
    domain: the checker knows no schema for that op in the ONNX domain, where onnxruntime registers it, and
    checks every other node as usual."""
    model = onnx.load(model_or_path) if isinstance(model_or_path, str) else model_or_path
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == RMS_NORM_OP:
            node.domain = CONTRIB_DOMAIN
    if all(o.domain != CONTRIB_DOMAIN for o in copy.opset_import):
        copy.opset_import.append(onnx.helper.make_opsetid(CONTRIB_DOMAIN, 1))
    onnx.checker.check_model(copy)


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


# ---------------------------------------------------------------------------------------------------------
# Independent NumPy re-implementation of AR-DTok (no KV cache: one causal pass over prefix + tokens).


def numpy_ardtok(sd, a, condition, tokens):
    sd = {k: v.double().numpy() for k, v in sd.items()}
    hd, kv = a.dim // a.n_head, a.n_kv_head or a.n_head

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + a.norm_eps) * w

    prefix = condition @ sd["clip_proj.weight"].T + sd["clip_proj.bias"]
    x = np.concatenate([prefix, sd["tok_embeddings.weight"][tokens]], axis=0)
    L = x.shape[0]
    x = x + sd["abs_pe"][0, :L]
    mask = np.tril(np.ones((L, L), bool))
    for i in range(a.n_layer):
        p = f"layers.{i}."
        h = rms(x, sd[p + "attention_norm.weight"]) @ sd[p + "attention.wqkv.weight"].T
        q, k, v = h[:, :a.dim], h[:, a.dim:a.dim + kv * hd], h[:, a.dim + kv * hd:]
        outs = []
        for head in range(a.n_head):
            g = head // (a.n_head // kv)
            s = q[:, head * hd:(head + 1) * hd] @ k[:, g * hd:(g + 1) * hd].T / np.sqrt(hd)
            s = np.where(mask, s, -np.inf)
            e = np.exp(s - s.max(-1, keepdims=True))
            outs.append((e / e.sum(-1, keepdims=True)) @ v[:, g * hd:(g + 1) * hd])
        x = x + np.concatenate(outs, axis=1) @ sd[p + "attention.wo.weight"].T
        h = rms(x, sd[p + "ffn_norm.weight"])
        w1, w3 = h @ sd[p + "feed_forward.w1.weight"].T, h @ sd[p + "feed_forward.w3.weight"].T
        x = x + (w1 / (1 + np.exp(-w1)) * w3) @ sd[p + "feed_forward.w2.weight"].T
    return rms(x, sd["norm.weight"]) @ sd["output.weight"].T


class ArdtokTest(ConversionErrorAssertions, unittest.TestCase):
    converter = conv

    @classmethod
    def setUpClass(cls):
        cls.package = TinyPackage(tiny, conv, 1234)
        cls.tmp, cls.ckpt, cls.out, cls.manifest = cls.package.tmp, cls.package.checkpoint, cls.package.out, cls.package.manifest
        cls.goldens = {k: v.numpy() for k, v in tiny.goldens(cls.ckpt).items()}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def graph(self, name):
        return os.path.join(self.out, "ardtok", name)

    def test_manifest_config_and_files(self):
        c = self.manifest["components"]["ardtok"]
        self.assertEqual(c["files"], {"conditionEmbed": "ardtok/condition_embed.onnx",
                                      "tokenEmbed": "ardtok/token_embed.onnx", "model": "ardtok/model.onnx"})
        cfg = c["config"]
        self.assertEqual((cfg["dim"], cfg["layers"], cfg["heads"], cfg["kvHeads"], cfg["headDim"]), (64, 2, 4, 4, 16))
        self.assertEqual((cfg["vocabSize"], cfg["condDim"], cfg["maxSeqLen"], cfg["maxPrefixLen"]), (64, 48, 16, 64))
        self.assertEqual((cfg["intermediateSize"], cfg["gridSize"], cfg["imageSize"]), (192, 4, 64))
        self.assertEqual(cfg["modelType"], "clip_cond")
        total = sum(f["bytes"] for f in self.manifest["files"])
        self.assertLess(total, 700_000)

    def test_graphs_are_valid_with_the_documented_names(self):
        names = {"condition_embed.onnx": (["condition"], ["embeds"]), "token_embed.onnx": (["input_ids"], ["embeds"]),
                 "model.onnx": (["inputs_embeds", "attention_mask", "position_ids"] +
                                [f"past_key_values.{i}.{kv}" for i in range(2) for kv in ("key", "value")],
                                ["logits"] + [f"present.{i}.{kv}" for i in range(2) for kv in ("key", "value")])}
        for file, (ins, outs) in names.items():
            model = onnx.load(self.graph(file))
            check_model(model)
            norms = sum(n.op_type == RMS_NORM_OP for n in model.graph.node)
            self.assertEqual(norms, 2 * 2 + 1 if file == "model.onnx" else 0, file)     # two a layer, one final
            self.assertEqual([i.name for i in model.graph.input], ins, file)
            self.assertEqual([o.name for o in model.graph.output], outs, file)

    def test_exported_graphs_match_the_goldens(self):
        """Every golden graph call (prefill with an empty past, two decode steps) through the exported graphs."""
        g = self.goldens
        for graph, file in (("condition_embed", "condition_embed.onnx"), ("token_embed", "token_embed.onnx"),
                            ("prefill", "model.onnx"), ("decode", "model.onnx"), ("decode2", "model.onnx")):
            feeds = {k[len(graph) + 7:]: v for k, v in g.items() if k.startswith(graph + ".input.")}
            got = run_onnx(self.graph(file), feeds)
            wanted = {k[len(graph) + 8:]: v for k, v in g.items() if k.startswith(graph + ".output.")}
            self.assertEqual(set(got), set(wanted), graph)
            for name, v in wanted.items():
                self.assertEqual(got[name].shape, v.shape, f"{graph}.{name}")
                self.assertLess(rel_error(got[name], v), 1e-4, f"{graph}.{name}")

    def test_goldens_chain_and_cfg(self):
        g = self.goldens
        np.testing.assert_array_equal(g["prefill.input.inputs_embeds"], g["condition_embed.output.embeds"])
        np.testing.assert_array_equal(g["decode.input.past_key_values.1.value"], g["prefill.output.present.1.value"])
        np.testing.assert_array_equal(g["decode.input.inputs_embeds"], g["token_embed.output.embeds"][:, :1])
        self.assertTrue((g["condition_embed.input.condition"][1] == 0).all())
        s = float(g["generate.cfg_scale"][0])
        for step, logits in enumerate((g["prefill.output.logits"], g["decode.output.logits"], g["decode2.output.logits"])):
            c, u = logits[0, -1], logits[1, -1]
            np.testing.assert_allclose(g["generate.cfg_logits"][step], u + s * (c - u), rtol=1e-5, atol=1e-5)

    def test_reference_matches_numpy_reimplementation(self):
        g = self.goldens
        sd = torch.load(self.ckpt)["model"]["sd"]
        a = ModelArgs(**{**tiny.ARGS})
        cond = g["condition_embed.input.condition"].astype(np.float64)
        tokens = list(g["generate.token_ids"])
        for row in range(2):
            want = numpy_ardtok(sd, a, cond[row], tokens)               # [N+2, vocab]
            n = cond.shape[1]
            got = np.concatenate([g["prefill.output.logits"][row], g["decode.output.logits"][row],
                                  g["decode2.output.logits"][row]])
            self.assertLess(rel_error(got, want[:n + 2]), 1e-5)

    def test_grouped_kv_heads_and_fixed_pe_match_numpy(self):
        args = {**tiny.ARGS, "n_kv_head": 2, "use_fixed_pe": True, "multiple_of": 64, "ffn_dim_multiplier": 1.5}
        a = ModelArgs(**args)
        self.assertEqual(a.ffn_hidden, 256)  # int(1.5 * 170) = 255 -> 256
        sd = tiny.random_state_dict(args, 3)
        model = ARDTok(a)
        sd["abs_pe"] = model.abs_pe.clone()   # fixed sin-cos buffer, stored in the state dict like the official one
        path = tiny.write_checkpoint(os.path.join(self.tmp.name, "gqa"), 3, args=args, sd=sd)
        model, _ = conv.build_checked(path)
        cond = torch.randn(5, a.cond_dim)
        calls, _ = generate_reference(model, cond, [1, 2, 3], 2.0)
        want = numpy_ardtok(sd, a, cond.double().numpy(), [1, 2, 3])
        got = torch.cat([calls[k][1]["logits"][0] for k in ("prefill", "decode", "decode2", "decode3")]).numpy()
        self.assertLess(rel_error(got, want[:8]), 1e-5)
        self.assertEqual(tuple(calls["decode3"][1]["present.0.key"].shape), (2, 2, 8, 16))

    def test_registry_sizes(self):
        a = conv.model_args("llama-abs-LP", {"model_type": "clip_cond", "vocab_size": 16384, "cls_token_num": 729,
                                             "max_seq_len": 256}, "x")
        self.assertEqual((a.n_layer, a.n_head, a.dim, a.head_dim, a.ffn_hidden, a.pe_rows), (30, 20, 1280, 64, 3584, 984))
        self.assertEqual(REGISTRY["llama-abs-XXXL"], (48, 40, 2560))

    # -- failure messages ---------------------------------------------------------------------------------


    def tiny_spec(self):
        return torch.load(self.ckpt)["model"]

    def test_missing_unexpected_and_wrong_shape_keys(self):
        spec = self.tiny_spec()
        del spec["sd"]["layers.1.feed_forward.w3.weight"]
        spec["sd"]["layers.0.attention.bias"] = torch.zeros(3)
        spec["sd"]["abs_pe"] = torch.zeros(1, 40, 64)
        path = self.write("keys.pth", {"model": spec})
        self.assertConversionError(path, "missing key layers.1.feed_forward.w3.weight (expected shape [192, 64])",
                                   "unexpected key layers.0.attention.bias (shape [3])",
                                   "key abs_pe has shape [1, 40, 64], expected [1, 79, 64]")

    def test_wrong_files(self):
        text = os.path.join(self.tmp.name, "not.pth")
        with open(text, "w") as f:
            f.write("hello")
        self.assertConversionError(text, "not a torch checkpoint")
        self.assertConversionError(os.path.join(self.tmp.name, "absent.pth"), "no such file")
        self.assertConversionError(self.write("vq_like.pth", {"model": {"decoder.conv_in.weight": torch.zeros(1)}}),
                                   "expected a dict {'model': {'name', 'args', 'sd'}}",
                                   "found ['model'] = ['decoder.conv_in.weight']")
        self.assertConversionError(self.write("list.pth", [1, 2]), "found list")

    def test_bad_name_model_type_and_args(self):
        spec = self.tiny_spec()
        spec["name"] = "llama-abs-Q"
        self.assertConversionError(self.write("name.pth", {"model": spec}), "unknown model name 'llama-abs-Q'",
                                   "llama-abs-S, llama-abs-B, llama-abs-L, llama-abs-LP")
        spec = self.tiny_spec()
        spec["args"]["model_type"] = "indice_cond"
        self.assertConversionError(self.write("type.pth", {"model": spec}), "model_type 'indice_cond' is not supported")
        spec = self.tiny_spec()
        del spec["args"]["model_type"]   # official default: class_cond
        self.assertConversionError(self.write("type2.pth", {"model": spec}), "model_type 'class_cond'")
        spec = self.tiny_spec()
        spec["args"]["rope_scaling"] = 2
        self.assertConversionError(self.write("args.pth", {"model": spec}), "not ModelArgs fields: ['rope_scaling']")
        spec = self.tiny_spec()
        spec["args"]["max_seq_len"] = 15
        self.assertConversionError(self.write("seq.pth", {"model": spec}), "max_seq_len 15 is not a square")


if __name__ == "__main__":
    unittest.main()
