"""TA-Tok: the tiny checkpoint converts; the exported graphs are valid ONNX and compute what an independent NumPy
re-implementation of TAR_SPEC §1 computes (checked twice: the torch reference against NumPy, and the exported
graphs — run by a tiny NumPy ONNX evaluator for the ops they use — against NumPy); the goldens are named after
the graphs' inputs/outputs; every failure message of the converter is tested."""
import json
import math
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from tools.convert import tatok as conv
from tools.convert.errors import ConversionError
from tools.convert.package import PackageWriter
from tools.tiny import tatok as tiny
from tools.tests.tiny_package import TinyPackage

SEED = 1234


# ---- independent NumPy re-implementation (float64), straight from TAR_SPEC §1 ---------------------------------
def np_layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_linear(x, sd, name):
    return x @ sd[name + ".weight"].T + sd[name + ".bias"]


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_vit_layer(x, sd, p, heads, eps):
    b, n, c = x.shape
    d = c // heads
    h = np_layernorm(x, sd[p + "layer_norm1.weight"], sd[p + "layer_norm1.bias"], eps)
    q, k, v = (np_linear(h, sd, p + f"self_attn.{t}_proj").reshape(b, n, heads, d).transpose(0, 2, 1, 3)
               for t in "qkv")
    a = np_softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)) @ v
    x = x + np_linear(a.transpose(0, 2, 1, 3).reshape(b, n, c), sd, p + "self_attn.out_proj")
    h = np_layernorm(x, sd[p + "layer_norm2.weight"], sd[p + "layer_norm2.bias"], eps)
    return x + np_linear(np_gelu_tanh(np_linear(h, sd, p + "mlp.fc1")), sd, p + "mlp.fc2")


def np_normalize(x):
    return x / np.maximum(np.sqrt((x * x).sum(-1, keepdims=True)), 1e-12)


def np_encoder(pixels, sd, patch, heads, layers_used, eps):
    b, _, s, _ = pixels.shape
    g = s // patch
    x = pixels[:, :, :g * patch, :g * patch].reshape(b, 3, g, patch, g, patch).transpose(0, 2, 4, 1, 3, 5)
    w = sd["encoder.embeddings.patch_embedding.weight"]
    x = x.reshape(b, g * g, -1) @ w.reshape(w.shape[0], -1).T + sd["encoder.embeddings.patch_embedding.bias"]
    x = x + sd["encoder.embeddings.position_embedding.weight"]
    for i in range(layers_used):
        x = np_vit_layer(x, sd, f"encoder.encoder.layers.{i}.", heads, eps)
    return x


def np_project(features, sd):
    return np_normalize(np_linear(np.tanh(np_linear(features, sd, "encode_task_layer.0")), sd, "bottleneck.in_linear"))


def np_codebook(sd):
    return np_normalize(sd["bottleneck.regularizer.embedding.weight"] @ sd["bottleneck.regularizer.embedding_proj.weight"].T
                        + sd["bottleneck.regularizer.embedding_proj.bias"])


def np_avg_pool(features, s):
    b, n, c = features.shape
    g = int(round(math.sqrt(n)))
    q = g // s
    grid = features.reshape(b, g, g, c)[:, :q * s, :q * s].reshape(b, q, s, q, s, c)
    return grid.mean(axis=(2, 4)).reshape(b, q * q, c)


def aa_bilinear_matrix(in_size, out_size):
    """PyTorch/PIL antialiased bilinear (triangle filter stretched by the downscale factor), as a matrix."""
    scale = in_size / out_size
    support = scale if scale >= 1 else 1.0
    inv = 1 / scale if scale >= 1 else 1.0
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        w = np.array([max(0.0, 1 - abs((j - center + 0.5) * inv)) for j in range(lo, hi)])
        m[i, lo:hi] = w / w.sum()
    return m


def bilinear_matrix(in_size, out_size):
    """Plain bilinear, align_corners=False (source coordinate clamped at 0), as a matrix."""
    m = np.zeros((out_size, in_size))
    scale = in_size / out_size
    for i in range(out_size):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        j0 = min(int(np.floor(src)), in_size - 1)
        j1 = min(j0 + 1, in_size - 1)
        t = src - j0
        m[i, j0] += 1 - t
        m[i, j1] += t
    return m


def np_decoder_positions(sd, p):
    table = sd["decoder.vision_model.embeddings.position_embedding.weight"]
    side = int(round(math.sqrt(table.shape[0])))
    grid = table.reshape(side, side, -1)
    m = aa_bilinear_matrix(side, p)
    return np.einsum("yi,xj,ijc->yxc", m, m, grid).reshape(p * p, -1)


def np_decoder(rows, positions, sd, heads, layers, eps):
    x = np_linear(rows, sd, "decoder.vision_model.embeddings.patch_embedding") + positions
    for i in range(layers):
        x = np_vit_layer(x, sd, f"decoder.vision_model.encoder.layers.{i}.", heads, eps)
    x = np_layernorm(x, sd["decoder.vision_model.post_layernorm.weight"], sd["decoder.vision_model.post_layernorm.bias"], eps)
    return np_linear(np.tanh(np_linear(x, sd, "decode_task_layer.0")), sd, "decode_task_layer.2")


def np_preprocess(image, size):
    x = (image.astype(np.float64) / 255.0 - 0.5) / 0.5          # [H,W,3]
    my, mx = bilinear_matrix(image.shape[0], size), bilinear_matrix(image.shape[1], size)
    return np.einsum("yi,xj,ijc->cyx", my, mx, x)[None]


# ---- a tiny NumPy ONNX evaluator for the ops our graphs use --------------------------------------------------
def run_onnx(model, feeds):
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            out = numpy_helper.to_array(a["value"])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "MatMul"):
            out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
                   "MatMul": np.matmul}[op](ins[0], ins[1])
        elif op in ("Sqrt", "Tanh", "Erf", "Neg", "Exp"):
            out = {"Sqrt": np.sqrt, "Tanh": np.tanh, "Neg": np.negative, "Exp": np.exp}[op](ins[0])
        elif op == "Shape":
            out = np.array(ins[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(ins[0], ins[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            out = ins[0]
            for ax in sorted(int(v) % (out.ndim + len(ins[1])) for v in ins[1]):
                out = np.expand_dims(out, ax)
        elif op == "Concat":
            out = np.concatenate([np.atleast_1d(x) for x in ins], axis=a["axis"])
        elif op == "Reshape":
            shape = [ins[0].shape[i] if v == 0 else int(v) for i, v in enumerate(ins[1])]
            out = ins[0].reshape(shape)
        elif op == "Transpose":
            out = ins[0].transpose(a["perm"])
        elif op in ("ReduceMean", "ReduceSum"):
            axes = a.get("axes") if op == "ReduceMean" or len(ins) < 2 else ins[1]
            fn = np.mean if op == "ReduceMean" else np.sum
            out = fn(ins[0], axis=tuple(int(v) for v in axes), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Softmax":
            x = ins[0]
            e = np.exp(x - x.max(axis=a.get("axis", -1), keepdims=True))
            out = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "Clip":
            out = np.clip(ins[0], ins[1] if len(ins) > 1 and ins[1] is not None else None,
                          ins[2] if len(ins) > 2 and ins[2] is not None else None)
        elif op == "Cast":
            out = ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
        elif op == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 else range(len(starts))
            steps = ins[4] if len(ins) > 4 else [1] * len(starts)
            index = [slice(None)] * data.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                index[int(ax)] = slice(int(s), int(min(e, np.iinfo(np.int64).max)), int(st))
            out = data[tuple(index)]
        elif op == "Conv":
            x, w = ins[0], ins[1]
            k = list(a["kernel_shape"])
            assert list(a.get("strides", [1, 1])) == k and a.get("group", 1) == 1 and not any(a.get("pads", [0])), \
                "evaluator handles only patchify convolutions"
            bsz, ch, h, wd = x.shape
            gh, gw = h // k[0], wd // k[1]
            patches = x[:, :, :gh * k[0], :gw * k[1]].reshape(bsz, ch, gh, k[0], gw, k[1])
            out = np.einsum("bcyixj,ocij->boyx", patches, w)
            if len(ins) > 2:
                out = out + ins[2].reshape(1, -1, 1, 1)
        else:
            raise NotImplementedError(f"evaluator: op {op}")
        env[node.output[0]] = np.asarray(out)
    return {o.name: env[o.name] for o in model.graph.output}


def state_dict_np(path):
    _, sd = conv.read_checkpoint(path)
    return {k: v.double().numpy() for k, v in sd.items()}


class TinyTATokTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.package = TinyPackage(tiny, conv, SEED)
        cls.tmp, cls.ckpt, cls.out, cls.manifest = cls.package.tmp, cls.package.checkpoint, cls.package.out, cls.package.manifest
        cls.component = cls.manifest["components"]["tatok"]
        cls.goldens = tiny.goldens(cls.ckpt)
        cls.sd = state_dict_np(cls.ckpt)
        cls.graphs = {r: onnx.load(os.path.join(cls.out, cls.component["files"][r]))
                      for r in ("encoder", "project", "decoder")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def close(self, actual, expected, tol=2e-5, what=""):
        actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
        self.assertEqual(actual.shape, expected.shape, what)
        err = np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-6)
        self.assertLess(err, tol, f"{what}: max rel error {err}")

    def test_component_config_files_and_tables(self):
        c = self.component["config"]
        self.assertEqual((c["imageSize"], c["patchSize"], c["gridSize"]), (56, 7, 8))
        self.assertEqual((c["encoderHiddenSize"], c["encoderLayers"], c["encoderHeads"], c["encoderIntermediateSize"]),
                         (48, 2, 4, 80))
        self.assertEqual((c["codebookSize"], c["codeDim"], c["poolScales"]), (256, 64, [1, 2, 3]))
        self.assertEqual((c["decoderHiddenSize"], c["decoderLayers"], c["decoderHeads"], c["decoderIntermediateSize"]),
                         (48, 2, 12, 96))
        self.assertEqual((c["decoderPositionGrids"], c["decoderPositionOffsets"]), ([8, 4, 2], [0, 64, 80]))
        t = self.component["tables"]
        self.assertEqual(t["codebook"], {"dtype": "float32", "shape": [256, 64]})
        self.assertEqual(t["decodeTable"], {"dtype": "float32", "shape": [256, 64]})
        self.assertEqual(t["decoderPositions"], {"dtype": "float32", "shape": [84, 48]})
        listed = {f["path"] for f in self.manifest["files"]}
        self.assertTrue(set(self.component["files"].values()) <= listed)
        total = sum(f["bytes"] for f in self.manifest["files"] if f["path"].startswith("tatok/"))
        self.assertLess(total, 1.5e6)

    def test_graphs_are_valid_with_the_documented_io(self):
        io = {"encoder": (["pixel_values"], ["features"]), "project": (["features"], ["codes"]),
              "decoder": (["rows", "positions"], ["features"])}
        for role, (ins, outs) in io.items():
            model = self.graphs[role]
            onnx.checker.check_model(model)
            self.assertEqual([i.name for i in model.graph.input], ins, role)
            self.assertEqual([o.name for o in model.graph.output], outs, role)
            self.assertEqual(model.opset_import[0].version, 17)

    def test_golden_names_match_graph_io(self):
        for role, model in self.graphs.items():
            for i in model.graph.input:
                self.assertIn(f"input.{role}.{i.name}", self.goldens)
            for o in model.graph.output:
                self.assertIn(f"output.{role}.{o.name}", self.goldens)

    def test_reference_matches_numpy(self):
        g, sd = self.goldens, self.sd
        pixels = g["input.encoder.pixel_values"].double().numpy()
        features = np_encoder(pixels, sd, 7, 4, 2, 1e-6)
        self.close(g["output.encoder.features"], features, what="encoder")
        self.close(g["output.project.codes"], np_project(features, sd), what="project")
        codebook = np_codebook(sd)
        for s in (2, 3):
            self.close(g[f"output.pooled.scale{s}"], np_avg_pool(features, s), what=f"pool {s}")
            self.close(g[f"output.codes.scale{s}"], np_project(np_avg_pool(features, s), sd), what=f"codes {s}")
        for s in (1, 2, 3):
            codes = np_project(np_avg_pool(features, s) if s > 1 else features, sd)
            sims = codes @ codebook.T
            top2 = np.sort(sims, -1)[..., -2:]
            self.assertGreater((top2[..., 1] - top2[..., 0]).min(), 1e-4, "near tie in the index golden")
            np.testing.assert_array_equal(g[f"output.indices.scale{s}"].numpy(), sims.argmax(-1))
        decode_table = codebook @ sd["bottleneck.out_linear.weight"].T + sd["bottleneck.out_linear.bias"]
        rows = decode_table[g["output.indices.scale1"].numpy()]
        self.close(g["input.decoder.rows"], rows, what="rows")
        positions = np_decoder_positions(sd, 8)
        self.close(g["input.decoder.positions"], positions, what="positions 8x8")
        self.close(g["output.decoder.features"], np_decoder(rows, positions, sd, 12, 2, 1e-6), what="decoder")
        self.close(g["output.decoder_positions"],
                   np.concatenate([np_decoder_positions(sd, p) for p in (8, 4, 2)]), what="all positions")
        image = g["input.image_rgb"].numpy()
        self.assertEqual((image.shape, image.dtype), ((37, 50, 3), np.uint8))
        self.close(g["output.pixel_values_from_image"], np_preprocess(image, 56), what="preprocess")
        np.testing.assert_array_equal(g["input.encoder.pixel_values"][:1].numpy(),
                                      g["output.pixel_values_from_image"].numpy())

    def test_antialiased_downsample_is_really_antialiased(self):
        # 16 → 9 and 16 → 13 (the real model's 9×9 / 13×13 grids): torch antialias = our triangle-filter matrix
        table = torch.randn(1, 5, 16, 16)
        for p in (27, 13, 9):
            got = torch.nn.functional.interpolate(table, size=(p, p), mode="bilinear", align_corners=False,
                                                  antialias=True)
            m = aa_bilinear_matrix(16, p)
            self.close(got[0], np.einsum("yi,xj,cij->cyx", m, m, table[0].double().numpy()), 1e-5, f"aa {p}")

    def test_tables_match_numpy(self):
        codebook = np_codebook(self.sd)
        read = lambda role: np.fromfile(os.path.join(self.out, self.component["files"][role]), "<f4").reshape(
            self.component["tables"][role]["shape"])
        self.close(read("codebook"), codebook, what="codebook.bin")
        self.close(read("decodeTable"), codebook @ self.sd["bottleneck.out_linear.weight"].T
                   + self.sd["bottleneck.out_linear.bias"], what="decode_table.bin")
        self.close(read("decoderPositions"),
                   np.concatenate([np_decoder_positions(self.sd, p) for p in (8, 4, 2)]), what="decoder_positions.bin")

    def test_exported_graphs_match_numpy_and_goldens(self):
        g = self.goldens
        for role in ("encoder", "project", "decoder"):
            model = self.graphs[role]
            feeds = {i.name: g[f"input.{role}.{i.name}"].numpy() for i in model.graph.input}
            outs = run_onnx(model, feeds)
            for name, value in outs.items():
                self.close(value, g[f"output.{role}.{name}"].numpy(), 1e-5, f"{role}.{name}")
        # a different batch / token count than the export's dummy inputs (dynamic axes really dynamic)
        x = np.random.default_rng(0).standard_normal((3, 16, 48)).astype(np.float32)
        self.close(run_onnx(self.graphs["project"], {"features": x})["codes"], np_project(x.astype(np.float64), self.sd),
                   1e-5, "project at N=16")
        rows = np.random.default_rng(1).standard_normal((1, 4, 64)).astype(np.float32)
        positions = np_decoder_positions(self.sd, 2)
        out = run_onnx(self.graphs["decoder"], {"rows": rows, "positions": positions.astype(np.float32)})["features"]
        self.close(out, np_decoder(rows.astype(np.float64), positions, self.sd, 12, 2, 1e-6), 1e-5, "decoder at N=4")

    def test_float16_storage(self):
        out = os.path.join(self.tmp.name, "pkg16")
        with PackageWriter(out, "tiny", storage="float16") as w:
            conv.convert(w, self.ckpt)
        with open(os.path.join(out, "manifest.json")) as f:
            comp = json.load(f)["components"]["tatok"]
        self.assertEqual(comp["tables"]["codebook"]["dtype"], "float16")
        codebook = np.fromfile(os.path.join(out, comp["files"]["codebook"]), "<f2").reshape(256, 64)
        self.close(codebook, np_codebook(self.sd), 2e-3, "f16 codebook")
        model = onnx.load(os.path.join(out, comp["files"]["project"]))
        self.close(run_onnx(model, {"features": self.goldens["input.project.features"].numpy()})["codes"],
                   self.goldens["output.project.codes"].numpy(), 5e-3, "f16 project")


class TATokErrorsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.folder = self.tmp.name
        tiny.write_teacher(self.folder)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, sd=None, args=None, obj=None):
        path = os.path.join(self.folder, "ta_tok.pth")
        if obj is None:
            obj = {"model": {"args": args if args is not None else tiny.tiny_args(),
                             "sd": sd if sd is not None else tiny.tiny_state_dict(SEED)}}
        torch.save(obj, path)
        return path

    def fails(self, path, *fragments):
        with self.assertRaises(ConversionError) as ctx:
            conv.load_tatok(path)
        for fragment in fragments:
            self.assertIn(fragment, str(ctx.exception))
        return str(ctx.exception)

    def test_missing_key(self):
        sd = tiny.tiny_state_dict(SEED)
        del sd["bottleneck.in_linear.bias"]
        self.fails(self.write(sd), "missing key bottleneck.in_linear.bias (expected shape [64])")

    def test_unexpected_key(self):
        sd = tiny.tiny_state_dict(SEED)
        sd["bottleneck.extra"] = torch.zeros(3)
        self.fails(self.write(sd), "unexpected key bottleneck.extra (shape [3])")

    def test_wrong_shape(self):
        sd = tiny.tiny_state_dict(SEED)
        sd["encode_task_layer.0.weight"] = torch.zeros(48, 47)
        self.fails(self.write(sd), "key encode_task_layer.0.weight has shape [48, 47], expected [48, 48]")

    def test_shapes_follow_the_teacher_config(self):
        with open(os.path.join(self.folder, tiny.TEACHER_FOLDER, "config.json")) as f:
            config = json.load(f)
        config["vision_config"]["intermediate_size"] = 81
        with open(os.path.join(self.folder, tiny.TEACHER_FOLDER, "config.json"), "w") as f:
            json.dump(config, f)
        self.fails(self.write(), "key encoder.encoder.layers.0.mlp.fc1.weight has shape [80, 48], expected [81, 48]")

    def test_decoder_depth_comes_from_args(self):
        args = tiny.tiny_args()
        args["decoder_depth"] = 3
        self.fails(self.write(args=args), "missing key decoder.vision_model.encoder.layers.2.mlp.fc1.weight")

    def test_skipped_keys(self):
        sd = tiny.tiny_state_dict(SEED)
        sd["teacher.vision_model.embeddings.patch_embedding.weight"] = torch.zeros(2, 2)
        _, _, skipped = conv.load_tatok(self.write(sd))
        self.assertIn("teacher.vision_model.embeddings.patch_embedding.weight", skipped)
        self.assertIn("encoder.head.probe", skipped)
        self.assertIn("encoder.post_layernorm.weight", skipped)
        self.assertIn("decoder.vision_model.head.probe", skipped)
        for key in [k for k in sd if k.startswith(("encoder.head.", "encoder.post_layernorm.", "decoder.vision_model.head."))]:
            del sd[key]
        conv.load_tatok(self.write(sd))  # they may also be absent

    def test_not_a_torch_pickle(self):
        path = os.path.join(self.folder, "ta_tok.pth")
        with open(path, "wb") as f:
            f.write(b"\x00not a pickle at all" * 10)
        self.fails(path, "not a torch pickle")

    def test_wrong_top_level_structure(self):
        self.fails(self.write(obj={"state_dict": {}}), "expected a TA-Tok checkpoint", "state_dict")
        self.fails(self.write(obj={"model": {"sd": {}}}), "expected a TA-Tok checkpoint")
        self.fails(self.write(obj=[1, 2]), "expected a TA-Tok checkpoint", "list")

    def test_missing_file(self):
        self.fails(os.path.join(self.folder, "nope.pth"), "no such file")

    def test_teacher_resolution(self):
        args = tiny.tiny_args(teacher="google/unknown-model")
        self.fails(self.write(args=args), "args.teacher 'google/unknown-model' is neither a folder")
        vision, source = conv.resolve_teacher("google/siglip2-so400m-patch14-384", os.path.join(self.folder, "x.pth"))
        self.assertEqual((vision["hidden_size"], vision["num_hidden_layers"], vision["num_attention_heads"],
                          vision["intermediate_size"], vision["patch_size"], vision["image_size"],
                          vision["layer_norm_eps"]), (1152, 27, 16, 4304, 14, 384, 1e-6))
        # the known id with the tiny weights: the input size and then every shape disagree
        self.fails(self.write(args=tiny.tiny_args(teacher="google/siglip2-so400m-patch14-384")),
                   "args.input_size 56 differs from the teacher's image_size 384")
        args = tiny.tiny_args(teacher="google/siglip2-so400m-patch14-384")
        args["input_size"] = 384
        self.fails(self.write(args=args),
                   "key encoder.embeddings.patch_embedding.weight has shape [48, 3, 7, 7], expected [1152, 3, 14, 14]")
        # an absolute folder works as well
        args = tiny.tiny_args(teacher=os.path.join(self.folder, tiny.TEACHER_FOLDER))
        conv.load_tatok(self.write(args=args))

    def test_official_architecture_from_args_and_teacher_id(self):
        """The released args (TAR_SPEC §1.1) with the built-in so400m teacher → the documented numbers."""
        args = tiny.tiny_args(teacher="google/siglip2-so400m-patch14-384")
        args.update({"input_size": 384, "bottleneck_token_num": 729})
        del args["decoder_depth"]  # not in the released args: default 3
        args["bottleneck"]["args"]["bottleneck_dim"] = 1536
        args["bottleneck"]["args"]["regularizer"]["args"]["codebook_size"] = 65536
        arch = conv.architecture(args, {}, os.path.join(self.folder, "ta_tok.pth"))
        self.assertEqual((arch["image_size"], arch["patch_size"], arch["hidden"], arch["heads"], arch["intermediate"],
                          arch["layers"], arch["kept_layers"], arch["eps"]), (384, 14, 1152, 16, 4304, 27, 26, 1e-6))
        self.assertEqual((arch["code_dim"], arch["codebook_size"]), (1536, 65536))
        self.assertEqual((arch["decoder_hidden"], arch["decoder_heads"], arch["decoder_intermediate"],
                          arch["decoder_layers"], arch["decoder_num_patches"]), (1152, 12, 3072, 3, 256))
        self.assertEqual(conv.position_offsets(27), ([27, 13, 9], [0, 729, 898]))

    def test_unsupported_quantiser_and_scale_layer(self):
        args = tiny.tiny_args()
        args["bottleneck"]["args"]["regularizer"]["name"] = "vq"
        self.fails(self.write(args=args), "only 'simvq' is supported")
        sd = tiny.tiny_state_dict(SEED)
        sd["scale_layer.shift"] = torch.zeros(1, 3, 1, 1)
        self.fails(self.write(sd), "scale_layer.shift", "expected 0.5")


if __name__ == "__main__":
    unittest.main()
