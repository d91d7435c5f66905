"""tools/convert/fuse.py: the RMSNorms and rotary embeddings of the reference modules' exports become single
SimplifiedLayerNormalization and RotaryEmbedding nodes with the same arithmetic (checked by the NumPy ONNX
evaluator of test_ardtok against torch); look-alikes stay as they are; a count other than the expected one is a
ConversionError."""
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from tools.convert.errors import ConversionError
from tools.convert.fuse import CONTRIB_DOMAIN, RMS_NORM_OP, ROTARY_OP, fuse_rms_norms, fuse_rotary_embeddings
from tools.convert.reference.ardtok import RMSNorm as ArdtokNorm
from tools.convert.reference.qwen2 import Qwen2RMSNorm, rotate_half
from tools.tests.test_ardtok import check_model, run_onnx


class NotANorm(torch.nn.Module):
    """RMSNorm's shape with 2 / sqrt instead of 1 / sqrt: must not be fused."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.linspace(0.5, 1.5, 6))

    def forward(self, x):
        return x * (2.0 / torch.sqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-6)) * self.weight


class TwoNorms(torch.nn.Module):
    def __init__(self, norm):
        super().__init__()
        self.first, self.second = norm(), norm()
        with torch.no_grad():
            self.first.weight.copy_(torch.linspace(0.5, 1.5, 6))
            self.second.weight.copy_(torch.linspace(-1.0, 2.0, 6))

    def forward(self, x):
        return self.second(self.first(x) + x)


class Rotary(torch.nn.Module):
    """The Qwen2 reference's rotary step on q [B, 3, T, 8] (transposed from [B, T, 24], as its attention does):
    cos and sin rows gathered by position_ids from [16, 4] tables, q·cos + rotate_half(q)·sin; the look-alike
    rotates with +x2 where rotate_half has −x2."""

    def __init__(self, look_alike=False):
        super().__init__()
        freqs = torch.arange(16).float().unsqueeze(1) * torch.tensor([1.0, 0.3, 0.1, 0.03])
        self.register_buffer("rope_cos", torch.cos(freqs), persistent=False)
        self.register_buffer("rope_sin", torch.sin(freqs), persistent=False)
        self.look_alike = look_alike

    def forward(self, x, position_ids):
        b, t = x.shape[0], x.shape[1]
        q = x.view(b, t, 3, 8).transpose(1, 2)
        cos = torch.cat((self.rope_cos[position_ids], self.rope_cos[position_ids]), dim=-1).unsqueeze(1)
        sin = torch.cat((self.rope_sin[position_ids], self.rope_sin[position_ids]), dim=-1).unsqueeze(1)
        turned = torch.cat((q[..., 4:], q[..., :4]), dim=-1) if self.look_alike else rotate_half(q, 4)
        return q * cos + turned * sin


def export(module, inputs, input_names=("x",), dynamic_axes=None):
    """`module` exported as the converter exports (opset 17, constants folded), outputs named "y"."""
    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    try:
        torch.onnx.export(module.eval(), inputs, path, opset_version=17, input_names=list(input_names),
                          output_names=["y"], dynamic_axes=dynamic_axes, do_constant_folding=True)
        return onnx.load(path)
    finally:
        os.remove(path)


def evaluate(model, feeds):
    """`model`'s output "y" on `feeds` {input name: tensor} (the NumPy ONNX evaluator of test_ardtok)."""
    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    try:
        onnx.save(model, path)
        return run_onnx(path, {name: value.numpy() for name, value in feeds.items()})["y"]
    finally:
        os.remove(path)


BATCH_AXES = {"x": {0: "batch"}, "y": {0: "batch"}}


class Fuse(unittest.TestCase):
    X = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0)) * 4

    def test_both_reference_norms_fuse_with_the_same_arithmetic(self):
        for norm in (lambda: ArdtokNorm(6, eps=1e-5), lambda: Qwen2RMSNorm(6, eps=1e-6)):
            module = TwoNorms(norm)
            model = export(module, (self.X,), dynamic_axes=BATCH_AXES)
            before = len(model.graph.node)
            self.assertEqual(fuse_rms_norms(model, 2), 2)
            ops = [n.op_type for n in model.graph.node]
            self.assertEqual(ops.count(RMS_NORM_OP), 2)
            self.assertFalse({"ReduceMean", "Sqrt", "Div"} & set(ops), ops)
            self.assertLess(len(model.graph.node), before - 10)
            check_model(model)
            eps = {round(onnx.helper.get_attribute_value(a), 9) for n in model.graph.node if n.op_type == RMS_NORM_OP
                   for a in n.attribute if a.name == "epsilon"}
            self.assertEqual(eps, {round(float(np.float32(module.first.eps)), 9)})
            with torch.no_grad():
                expected = module(self.X).numpy()
            np.testing.assert_allclose(evaluate(model, {"x": self.X}), expected, rtol=1e-5, atol=1e-5)

    def test_rotary_embeddings_fuse_with_the_same_arithmetic(self):
        x = torch.randn(2, 5, 24, generator=torch.Generator().manual_seed(1))
        positions = torch.tensor([[3, 4, 5, 6, 7], [0, 1, 2, 9, 15]])
        model = export(Rotary(), (x, positions), ("x", "position_ids"),
                       {"x": {0: "b", 1: "t"}, "position_ids": {0: "b", 1: "t"}, "y": {0: "b", 2: "t"}})
        self.assertEqual(fuse_rotary_embeddings(model, 1), 1)
        ops = [n.op_type for n in model.graph.node]
        self.assertEqual(ops.count(ROTARY_OP), 1)
        self.assertFalse({"Neg", "Slice"} & set(ops), ops)
        self.assertEqual([n.op_type for n in model.graph.node if "position_ids" in n.input], [ROTARY_OP])
        self.assertIn(CONTRIB_DOMAIN, [o.domain for o in model.opset_import])
        check_model(model)
        got = evaluate(model, {"x": x, "position_ids": positions})
        with torch.no_grad():
            expected = Rotary()(x, positions).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    def test_look_alikes_stay_and_a_wrong_count_is_an_error(self):
        model = export(Rotary(look_alike=True), (torch.randn(1, 2, 24), torch.tensor([[0, 1]])), ("x", "position_ids"))
        with self.assertRaisesRegex(ConversionError, "found 0 rotary embedding subgraphs to fuse, expected 1"):
            fuse_rotary_embeddings(model, 1)
        model = export(NotANorm(), (self.X,), dynamic_axes=BATCH_AXES)
        with self.assertRaisesRegex(ConversionError, "found 0 RMSNorm subgraphs to fuse, expected 1"):
            fuse_rms_norms(model, 1)
        model = export(TwoNorms(lambda: Qwen2RMSNorm(6, eps=1e-6)), (self.X,), dynamic_axes=BATCH_AXES)
        with self.assertRaisesRegex(ConversionError, "found 2 RMSNorm subgraphs to fuse, expected 3"):
            fuse_rms_norms(model, 3)


if __name__ == "__main__":
    unittest.main()
