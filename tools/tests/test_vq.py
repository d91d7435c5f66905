"""VQ decoder: conversion of a tiny official-format checkpoint, the exported graph at two grid sizes (NumPy ONNX
evaluator from test_ardtok against the torch reference), the reference against an independent NumPy
re-implementation (including num_res_blocks 2 and a channel change), post-processing, and every error message."""
import os
import unittest

import numpy as np
import onnx
import torch

from tools.convert import vq as conv
from tools.convert.errors import ConversionError
from tools.convert.reference.vq import VQDecoderModel, to_uint8_hwc
from tools.tests.test_ardtok import rel_error, run_onnx
from tools.tiny import vq as tiny
from tools.tests.tiny_package import ConversionErrorAssertions, TinyPackage

# Nodes that keep their input's layout: the residual adds and swish between the decoder's convolutions.
CHANNEL_WISE_OPS = {"Add", "Mul", "Sigmoid"}

# ---------------------------------------------------------------------------------------------------------
# Independent NumPy re-implementation of LlamaGen's decode_code (float64).


def np_conv(x, w, b):
    k = w.shape[2]
    p = k // 2
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, h, wd = x.shape
    oh, ow = h - k + 1, wd - k + 1
    out = np.zeros((n, w.shape[0], oh, ow))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out + b[None, :, None, None]


def np_gn(x, w, b, groups=32, eps=1e-6):
    n, c, h, wd = x.shape
    g = x.reshape(n, groups, -1)
    g = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    return g.reshape(n, c, h, wd) * w[None, :, None, None] + b[None, :, None, None]


def np_swish(x):
    return x / (1 + np.exp(-x))


def numpy_vq_decode(sd, codes, levels, num_res_blocks):
    P = {k: v.double().numpy() for k, v in sd.items()}

    def cv(name, x):
        return np_conv(x, P[name + ".weight"], P[name + ".bias"])

    def gn(name, x):
        return np_gn(x, P[name + ".weight"], P[name + ".bias"])

    def res(name, x):
        h = cv(name + ".conv1", np_swish(gn(name + ".norm1", x)))
        h = cv(name + ".conv2", np_swish(gn(name + ".norm2", h)))
        return (cv(name + ".nin_shortcut", x) if name + ".nin_shortcut.weight" in P else x) + h

    def attn(name, x):
        n, c, h, w = x.shape
        y = gn(name + ".norm", x)
        q, k, v = (cv(f"{name}.{t}", y).reshape(n, c, h * w) for t in "qkv")
        s = np.einsum("nci,ncj->nij", q, k) / np.sqrt(c)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        return x + cv(name + ".proj_out", np.einsum("nij,ncj->nci", s, v).reshape(n, c, h, w))

    e = P["quantize.embedding.weight"]
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    x = e[codes].transpose(0, 3, 1, 2)
    x = cv("decoder.conv_in", cv("post_quant_conv", x))
    x = attn("decoder.mid.1", res("decoder.mid.0", x))
    x = res("decoder.mid.2", x)
    for i in range(levels):
        for j in range(num_res_blocks + 1):
            x = res(f"decoder.conv_blocks.{i}.res.{j}", x)
            if i == 0:
                x = attn(f"decoder.conv_blocks.{i}.attn.{j}", x)
        if i != levels - 1:
            x = cv(f"decoder.conv_blocks.{i}.upsample.conv", x.repeat(2, axis=2).repeat(2, axis=3))
    return cv("decoder.conv_out", np_swish(gn("decoder.norm_out", x)))


class VqTest(ConversionErrorAssertions, unittest.TestCase):
    converter = conv

    @classmethod
    def setUpClass(cls):
        cls.package = TinyPackage(tiny, conv, 1234)
        cls.tmp, cls.ckpt, cls.out, cls.manifest = cls.package.tmp, cls.package.checkpoint, cls.package.out, cls.package.manifest
        cls.goldens = {k: v.numpy() for k, v in tiny.goldens(cls.ckpt).items()}
        cls.graph = os.path.join(cls.out, "vq", "decoder.onnx")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_manifest_config_and_size(self):
        c = self.manifest["components"]["vq"]
        self.assertEqual(c["files"], {"decoder": "vq/decoder.onnx"})
        cfg = c["config"]
        self.assertEqual((cfg["codebookSize"], cfg["codeDim"], cfg["downsample"], cfg["zChannels"]), (64, 8, 16, 32))
        self.assertEqual((cfg["ch"], cfg["chMult"], cfg["numResBlocks"]), (32, [1, 1, 1, 1, 1], 1))
        self.assertLess(sum(f["bytes"] for f in self.manifest["files"]), 1_400_000)

    def test_graph_is_valid_with_the_documented_names(self):
        model = onnx.load(self.graph)
        onnx.checker.check_model(model)
        self.assertEqual([i.name for i in model.graph.input], ["codes"])
        self.assertEqual([o.name for o in model.graph.output], ["image"])
        self.assertEqual(model.graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.INT64)
        self.assertNotIn("Resize", {n.op_type for n in model.graph.node})

    def test_no_reshape_or_reduction_acts_on_a_channels_first_activation(self):
        # onnxruntime's WebGPU provider runs Conv channels-last and cancels the transposes it adds around each Conv
        # only against ours; a Reshape or ReduceMean of a channels-first activation (as torch exports nn.GroupNorm)
        # would keep two transposes of the whole activation per GroupNorm. Layout is tracked from each Conv output
        # (channels-first) through element-wise nodes; Transpose [0, 2, 3, 1] makes it channels-last.
        model = onnx.load(self.graph)
        channels_first, offenders = set(), []
        for node in model.graph.node:
            first = [name for name in node.input if name in channels_first]
            if node.op_type == "Conv":
                channels_first.add(node.output[0])
            elif node.op_type in CHANNEL_WISE_OPS and first:
                channels_first.update(node.output)
            elif node.op_type == "Transpose" and first:
                perm = next(list(a.ints) for a in node.attribute if a.name == "perm")
                self.assertEqual(perm, [0, 2, 3, 1], node.name)
            elif first and node.op_type != "Shape":    # Shape reads only the dimensions
                offenders.append(f"{node.op_type} {node.name}")
        self.assertGreater(len(channels_first), 30)
        self.assertEqual(offenders, [])

    def test_exported_graph_matches_goldens_at_two_sizes(self):
        g = self.goldens
        for prefix, side in (("", 4), ("small.", 2)):
            got = run_onnx(self.graph, {"codes": g[prefix + "input.codes"]})["image"]
            self.assertEqual(got.shape[2:], (16 * side, 16 * side))
            self.assertLess(rel_error(got, g[prefix + "output.image"]), 1e-4, prefix)

    def test_reference_matches_numpy_reimplementation(self):
        sd = torch.load(self.ckpt)["model"]
        g = self.goldens
        want = numpy_vq_decode(sd, g["small.input.codes"], 5, 1)
        self.assertLess(rel_error(g["small.output.image"], want), 1e-5)

    def test_two_res_blocks_and_channel_change_match_numpy(self):
        """The official layout has num_res_blocks 2 and channel changes (nin_shortcut): check both on a 2-level
        model (channels [32, 64] -> downsample 2), converted from its own checkpoint."""
        arch = {"codebook_size": 16, "code_dim": 4, "z_channels": 32, "channels": [32, 64], "num_res_blocks": 2}
        path = tiny.write_checkpoint(os.path.join(self.tmp.name, "two"), 5, arch=arch)
        model, read = conv.build_checked(path)
        self.assertEqual(read, arch)
        self.assertEqual(model.downsample, 2)
        codes = torch.tensor([[[1, 2, 3], [4, 5, 15]]])                       # h != w works too
        with torch.no_grad():
            got = model(codes).numpy()
        self.assertEqual(got.shape, (1, 3, 4, 6))
        self.assertLess(rel_error(got, numpy_vq_decode(torch.load(path)["model"], codes.numpy(), 2, 2)), 1e-5)

    def test_uint8_postprocessing_truncates(self):
        g = self.goldens
        want = np.clip(g["output.image"] * 0.5 + 0.5, 0, 1) * 255
        self.assertEqual(g["output.image_uint8"].shape, (2, 64, 64, 3))
        np.testing.assert_array_equal(g["output.image_uint8"], np.floor(want.transpose(0, 2, 3, 1)).astype(np.uint8))
        x = torch.tensor([-1.5, -1.0, 0.0, 0.99, 1.0, 2.0]).reshape(1, 1, 1, 6).expand(1, 3, 1, 6)
        self.assertEqual(to_uint8_hwc(x)[0, 0, :, 0].tolist(), [0, 0, 127, 253, 255, 255])

    # -- failure messages ---------------------------------------------------------------------------------


    def test_skipped_keys_are_not_required(self):
        sd = torch.load(self.ckpt)["model"]
        self.assertIn("quantize.codebook_used", sd)
        sd = {k: v for k, v in sd.items() if not k.startswith(conv.SKIPPED_PREFIXES)}
        model, _ = conv.build_checked(self.write("decoder_only.pt", {"model": sd}))
        self.assertIsInstance(model, VQDecoderModel)

    def test_missing_unexpected_and_wrong_shape_keys(self):
        sd = torch.load(self.ckpt)["model"]
        del sd["decoder.conv_blocks.4.res.1.norm2.bias"]
        sd["decoder.conv_blocks.0.extra.weight"] = torch.zeros(2)
        sd["decoder.mid.1.q.weight"] = torch.zeros(32, 32, 3, 3)
        self.assertConversionError(self.write("keys.pt", {"model": sd}),
                                   "missing key decoder.conv_blocks.4.res.1.norm2.bias (expected shape [32])",
                                   "unexpected key decoder.conv_blocks.0.extra.weight (shape [2])",
                                   "key decoder.mid.1.q.weight has shape [32, 32, 3, 3], expected [32, 32, 1, 1]")
        sd = torch.load(self.ckpt)["model"]
        del sd["quantize.embedding.weight"]
        self.assertConversionError(self.write("nocode.pt", {"model": sd}), "missing key quantize.embedding.weight")
        sd = torch.load(self.ckpt)["model"]
        for k in [k for k in sd if k.startswith("decoder.conv_blocks.")]:
            del sd[k]
        self.assertConversionError(self.write("noblocks.pt", {"model": sd}), "decoder.conv_blocks.* keys missing")

    def test_channels_must_divide_by_32_groups(self):
        arch = {"codebook_size": 16, "code_dim": 4, "z_channels": 32, "channels": [48, 48], "num_res_blocks": 0}
        sd = {}
        from tools.convert.reference import vq as ref
        old = ref.NUM_GROUPS
        try:
            ref.NUM_GROUPS = 16   # build a 48-channel model just to get its keys
            sd = VQDecoderModel(**arch).state_dict()
        finally:
            ref.NUM_GROUPS = old
        self.assertConversionError(self.write("gn.pt", {"model": sd}), "decoder channels [48, 48]",
                                   "32 groups")

    def test_wrong_files(self):
        text = os.path.join(self.tmp.name, "not.pt")
        with open(text, "wb") as f:
            f.write(b"\x00\x01garbage")
        self.assertConversionError(text, "not a torch checkpoint")
        self.assertConversionError(self.write("flat.pt", {"decoder.conv_in.weight": torch.zeros(1)}),
                                   "expected a dict with the VQ state dict under 'model'",
                                   "found ['decoder.conv_in.weight']")
        sd = torch.load(self.ckpt)["model"]
        with self.assertRaises(ConversionError) as ctx:
            conv.build_checked(self.write("flat_full.pt", sd))
        self.assertIn(f"... ({len(sd)} keys)", str(ctx.exception))
        self.assertLess(len(str(ctx.exception)), 600)
        self.assertConversionError(self.write("ardtok_like.pt", {"model": {"name": "x", "args": {}, "sd": {}}}),
                                   "ckpt['model'] is not a state dict of tensors")


if __name__ == "__main__":
    unittest.main()
