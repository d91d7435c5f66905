"""tools/convert/fuse.py: the RMSNorms of the reference modules' exports become single
SimplifiedLayerNormalization nodes with the same arithmetic (checked by the NumPy ONNX evaluator of
test_ardtok against torch); look-alikes stay as they are; a count other than the expected one is a ConversionError."""
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from tools.convert.errors import ConversionError
from tools.convert.fuse import FUSED_OP, fuse_rms_norms
from tools.convert.reference.ardtok import RMSNorm as ArdtokNorm
from tools.convert.reference.qwen2 import Qwen2RMSNorm
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


def export(module, x):
    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    torch.onnx.export(module.eval(), (x,), path, opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, do_constant_folding=True)
    model = onnx.load(path)
    os.remove(path)
    return model


def evaluate(model, x):
    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    try:
        onnx.save(model, path)
        return run_onnx(path, {"x": x.numpy()})["y"]
    finally:
        os.remove(path)


class FuseRmsNorms(unittest.TestCase):
    X = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0)) * 4

    def test_both_reference_norms_fuse_with_the_same_arithmetic(self):
        for norm in (lambda: ArdtokNorm(6, eps=1e-5), lambda: Qwen2RMSNorm(6, eps=1e-6)):
            module = TwoNorms(norm)
            model = export(module, self.X)
            before = len(model.graph.node)
            self.assertEqual(fuse_rms_norms(model, 2), 2)
            ops = [n.op_type for n in model.graph.node]
            self.assertEqual(ops.count(FUSED_OP), 2)
            self.assertFalse({"ReduceMean", "Sqrt", "Div"} & set(ops), ops)
            self.assertLess(len(model.graph.node), before - 10)
            check_model(model)
            eps = {round(onnx.helper.get_attribute_value(a), 9) for n in model.graph.node if n.op_type == FUSED_OP
                   for a in n.attribute if a.name == "epsilon"}
            self.assertEqual(eps, {round(float(np.float32(module.first.eps)), 9)})
            with torch.no_grad():
                expected = module(self.X).numpy()
            np.testing.assert_allclose(evaluate(model, self.X), expected, rtol=1e-5, atol=1e-5)

    def test_look_alikes_stay_and_a_wrong_count_is_an_error(self):
        model = export(NotANorm(), self.X)
        with self.assertRaisesRegex(ConversionError, "found 0 RMSNorm subgraphs to fuse, expected 1"):
            fuse_rms_norms(model, 1)
        model = export(TwoNorms(lambda: Qwen2RMSNorm(6, eps=1e-6)), self.X)
        with self.assertRaisesRegex(ConversionError, "found 2 RMSNorm subgraphs to fuse, expected 3"):
            fuse_rms_norms(model, 3)


if __name__ == "__main__":
    unittest.main()
