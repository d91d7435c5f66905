"""tools/shapes/recover.py on the committed Tar-Shapes package: the recovered checkpoints convert back to the
package's very tensors (recover() itself raises past its tolerance; here every file is also held to it), what the
package does not hold is listed, and a package of another architecture is refused with the file named."""
import json
import os
import shutil
import tempfile
import unittest

from tools.shapes import package, recover


class RecoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.differences = recover.recover(package.OUT, work=os.path.join(cls.tmp.name, "work"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def not_in_package(self, stage):
        with open(os.path.join(self.tmp.name, "work", stage, "recovered.json")) as f:
            return json.load(f)["not_in_package"]

    def test_every_exported_tensor_comes_back(self):
        with open(os.path.join(package.OUT, "manifest.json")) as f:
            files = [e["path"] for e in json.load(f)["files"] if e["path"].endswith((".onnx", ".bin"))]
        self.assertEqual(sorted(self.differences), sorted(files))
        for relative, difference in self.differences.items():
            with self.subTest(file=relative):
                self.assertLessEqual(difference, recover.TOLERANCE)

    def test_what_the_package_lacks_is_listed(self):
        self.assertEqual(self.not_in_package("llm"), [])
        self.assertEqual(self.not_in_package("ardtok"), [])
        self.assertTrue(self.not_in_package("vq"))
        self.assertTrue(all(k.startswith(("encoder.", "quant_conv.")) for k in self.not_in_package("vq")))
        self.assertTrue(all(k.startswith(("encoder.encoder.layers.3.", "scale_layer."))
                            for k in self.not_in_package("tatok")))

    def test_a_package_of_another_architecture_is_refused(self):
        other = os.path.join(self.tmp.name, "other")
        shutil.copytree(package.OUT, other)
        shutil.copy(os.path.join(other, "tatok", "decoder.onnx"), os.path.join(other, "tatok", "project.onnx"))
        with self.assertRaises(recover.RecoveryError) as ctx:
            recover.recover(other, work=os.path.join(self.tmp.name, "other-work"))
        self.assertIn("tatok/project.onnx", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
