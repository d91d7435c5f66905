"""The converter's core: safetensors round trip, state-dict checks, atomic package writing, f16 storage."""
import contextlib
import io
import json
import os
import tempfile
import unittest

import onnx
import torch

from tools.convert.__main__ import main as convert_main
from tools.convert.checks import check_state_dict
from tools.convert.errors import ConversionError
from tools.convert.goldens import load_goldens, save_goldens
from tools.convert.package import DEFAULT_SAMPLING, PackageWriter, override_sampling, sha256_of
from tools.convert.safetensors_io import load_file, load_folder, save_file


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_with_metadata_and_bf16(self):
        tensors = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64),
                   "c": torch.randn(2, 2).to(torch.bfloat16), "d": torch.randn(7).half()}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.safetensors")
            save_file(tensors, path, {"k": "v"})
            loaded, metadata = load_file(path)
            self.assertEqual(metadata, {"k": "v"})
            for name, t in tensors.items():
                self.assertEqual(loaded[name].dtype, t.dtype)
                self.assertTrue(torch.equal(loaded[name], t), name)
            self.assertEqual(set(load_folder(d)), set(tensors))

    def test_truncated_file_is_a_conversion_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.safetensors")
            save_file({"a": torch.randn(100)}, path)
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) - 10)
            with self.assertRaisesRegex(ConversionError, "tensor a runs past the end"):
                load_file(path)

    def test_goldens_carry_a_version(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "g.safetensors")
            save_goldens(path, {"input.x": torch.ones(2)}, "test")
            self.assertTrue(torch.equal(load_goldens(path)["input.x"], torch.ones(2)))
            save_file({"input.x": torch.ones(2)}, path, {"format": "tar-goldens", "version": "0"})
            with self.assertRaisesRegex(ConversionError, "not a version-1 golden file"):
                load_goldens(path)


class CheckStateDictTest(unittest.TestCase):
    def test_reports_every_problem_with_key_and_shapes(self):
        expected = {"w": (2, 3), "b": (2,), "gone": (4,)}
        sd = {"w": torch.zeros(3, 2), "b": torch.zeros(2), "extra": torch.zeros(1), "teacher.x": torch.zeros(1)}
        with self.assertRaises(ConversionError) as ctx:
            check_state_dict(sd, expected, "ckpt.pth", ignore_prefixes=("teacher",))
        message = str(ctx.exception)
        self.assertIn("ckpt.pth", message)
        self.assertIn("key w has shape [3, 2], expected [2, 3]", message)
        self.assertIn("missing key gone (expected shape [4])", message)
        self.assertIn("unexpected key extra (shape [1])", message)
        self.assertNotIn("teacher.x", message)


class PackageWriterTest(unittest.TestCase):
    def test_manifest_lists_every_file_with_size_and_hash(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "pkg")
            with PackageWriter(out, "m") as w:
                desc = w.write_table("c/table.bin", torch.ones(4, 3))
                w.add_component("c", {"n": 1}, {"table": "c/table.bin"}, {"table": desc})
            with open(os.path.join(out, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["format"], "tar-webgpu-package")
            self.assertEqual(manifest["components"]["c"]["tables"]["table"], {"dtype": "float32", "shape": [4, 3]})
            [entry] = manifest["files"]
            self.assertEqual(entry["path"], "c/table.bin")
            self.assertEqual(entry["bytes"], 48)
            self.assertEqual(entry["sha256"], sha256_of(os.path.join(out, "c/table.bin")))
            self.assertEqual(manifest["sampling"]["textToImage"], {"temperature": 1.0, "topP": 0.95, "topK": 1200, "cfgScale": 1.0,
                                                                 "candidates": 1})

    def test_detokenizer_image_size_follows_the_vq_downsample(self):
        with tempfile.TemporaryDirectory() as d:
            for components, expected in (((("vq", {"downsample": 8}),), 8 * 8), ((), 8 * 16)):
                out = os.path.join(d, f"pkg{expected}")
                with PackageWriter(out, "m") as w:
                    w.add_component("ardtok", {"gridSize": 8, "imageSize": 8 * 16}, {})
                    for name, config in components:
                        w.add_component(name, config, {})
                with open(os.path.join(out, "manifest.json")) as f:
                    self.assertEqual(json.load(f)["components"]["ardtok"]["config"]["imageSize"], expected)

    def test_sampling_overrides_replace_only_the_named_fields(self):
        sampling = override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), {"detokenizer": {"cfgScale": 1.0}})
        self.assertEqual(sampling["detokenizer"], {**DEFAULT_SAMPLING["detokenizer"], "cfgScale": 1.0})
        self.assertEqual(sampling["chat"], DEFAULT_SAMPLING["chat"])
        self.assertNotIn("cfgMinP", DEFAULT_SAMPLING["textToImage"])            # optional: written only when set
        guided = override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), {"textToImage": {"cfgScale": 2, "cfgMinP": 0.05}})
        self.assertEqual(guided["textToImage"], {**DEFAULT_SAMPLING["textToImage"], "cfgScale": 2, "cfgMinP": 0.05})
        checked = override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)),
                                    {"textToImage": {"candidates": 4, "selfCheckQuestion": "describe the image."}})
        self.assertEqual(checked["textToImage"], {**DEFAULT_SAMPLING["textToImage"], "candidates": 4,
                                                  "selfCheckQuestion": "describe the image."})
        self.assertNotIn("drawings", DEFAULT_SAMPLING["detokenizer"])
        self.assertNotIn("cfgMinP", DEFAULT_SAMPLING["detokenizer"])
        filtered = override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), {"detokenizer": {"cfgMinP": 0.3}})
        self.assertEqual(filtered["detokenizer"], {**DEFAULT_SAMPLING["detokenizer"], "cfgMinP": 0.3})
        drawn = override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), {"detokenizer": {"drawings": 4}})
        self.assertEqual(drawn["detokenizer"], {**DEFAULT_SAMPLING["detokenizer"], "drawings": 4})
        for bad in ({"textToImage": {"selfCheckQuestion": " "}}, {"textToImage": {"selfCheckQuestion": 3}},
                    {"textToImage": {"candidates": "4"}}, {"chat": {"selfCheckQuestion": "describe"}},
                    {"textToImage": {"drawings": 4}}, {"detokenizer": {"drawings": "4"}}):
            with self.subTest(bad=bad), self.assertRaises(ConversionError):
                override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), bad)
        for bad in ({"detokeniser": {"cfgScale": 1}}, {"detokenizer": {"cfg": 1}}, {"detokenizer": {"cfgScale": "1"}},
                    {"detokenizer": {"cfgScale": True}}, {"detokenizer": 1}, [1], {"chat": {"cfgMinP": 0.05}},
                    {"detokenizer": {"cfgMinP": "0.05"}}):
            with self.subTest(bad=bad), self.assertRaises(ConversionError):
                override_sampling(json.loads(json.dumps(DEFAULT_SAMPLING)), bad)

    def test_a_bad_sampling_override_stops_the_converter_before_it_writes(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "pkg")
            errors = io.StringIO()
            with contextlib.redirect_stderr(errors):
                code = convert_main(["--vq", os.path.join(d, "missing.pt"), "--out", out,
                                     "--sampling", '{"detokenizer": {"cfg": 1}}'])
            self.assertEqual(code, 2)
            self.assertIn("sampling.detokenizer has no field 'cfg'", errors.getvalue())
            self.assertEqual(os.listdir(d), [])

    def test_a_failed_conversion_leaves_nothing_behind(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "pkg")
            with self.assertRaises(ConversionError):
                with PackageWriter(out, "m") as w:
                    w.write_table("t.bin", torch.ones(2))
                    raise ConversionError("boom")
            self.assertEqual(os.listdir(d), [])

    def test_float16_storage_halves_tables_and_casts_graph_weights(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "pkg")
            module = torch.nn.Linear(8, 8)
            with PackageWriter(out, "m", storage="float16") as w:
                desc = w.write_table("t.bin", torch.ones(4, 4))
                roles = w.export_onnx("g.onnx", module, (torch.randn(1, 8),), ["x"], ["y"], {"x": {0: "b"}})
            self.assertEqual(desc["dtype"], "float16")
            self.assertEqual(os.path.getsize(os.path.join(out, "t.bin")), 32)
            self.assertEqual(roles, {"": "g.onnx"})
            model = onnx.load(os.path.join(out, "g.onnx"))
            onnx.checker.check_model(model)
            self.assertTrue(any(n.op_type == "Cast" for n in model.graph.node))
            self.assertTrue(all(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer
                                if len(t.dims) and t.dims[0] * (t.dims[1] if len(t.dims) > 1 else 1) >= 16))

    def test_large_weights_are_split_into_external_data_files(self):
        from tools.convert import package
        saved = (package.EXTERNAL_DATA_THRESHOLD, package.MAX_DATA_FILE_BYTES)
        package.EXTERNAL_DATA_THRESHOLD, package.MAX_DATA_FILE_BYTES = 1024, 5000
        try:
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "pkg")
                module = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 32), torch.nn.Linear(32, 32))
                with PackageWriter(out, "m") as w:
                    roles = w.export_onnx("c/g.onnx", module, (torch.randn(1, 32),), ["x"], ["y"], {})
                self.assertEqual(roles, {"": "c/g.onnx", "Data": "c/g.onnx.data", "Data1": "c/g.onnx.data1",
                                         "Data2": "c/g.onnx.data2"})
                for name in ("g.onnx.data", "g.onnx.data1", "g.onnx.data2"):
                    self.assertLessEqual(os.path.getsize(os.path.join(out, "c", name)), 5000)
                model = onnx.load(os.path.join(out, "c/g.onnx"))
                onnx.checker.check_model(model)
                weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
                self.assertTrue(any(abs(w - module[0].weight.detach().numpy()).max() == 0 for w in weights.values()
                                    if w.shape == (32, 32)))
        finally:
            package.EXTERNAL_DATA_THRESHOLD, package.MAX_DATA_FILE_BYTES = saved


if __name__ == "__main__":
    unittest.main()
