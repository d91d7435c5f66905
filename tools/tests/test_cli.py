"""The converter's command line: one component alone makes a package holding only it; a bad file exits 2
with a message naming the file, and leaves no package (not even a partial folder) behind."""
import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

from tools.convert.__main__ import main
from tools.tiny import vq as tiny_vq


class ConvertCliTest(unittest.TestCase):
    def test_one_component_alone(self):
        with tempfile.TemporaryDirectory() as d:
            checkpoint = tiny_vq.write_checkpoint(os.path.join(d, "ckpt"), seed=3)
            out = os.path.join(d, "pkg")
            with redirect_stdout(io.StringIO()):
                self.assertEqual(main(["--vq", checkpoint, "--out", out, "--model-id", "vq-only"]), 0)
            with open(os.path.join(out, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["modelId"], "vq-only")
            self.assertEqual(list(manifest["components"]), ["vq"])
            self.assertEqual(sorted(os.listdir(out)), ["manifest.json", "vq"])

    def test_a_bad_file_exits_2_names_it_and_leaves_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "ar_dtok_lp_256px.pth")
            with open(bad, "wb") as f:
                f.write(b"this is not a torch pickle")
            out = os.path.join(d, "pkg")
            err = io.StringIO()
            with redirect_stderr(err), redirect_stdout(io.StringIO()):
                self.assertEqual(main(["--ardtok", bad, "--out", out]), 2)
            self.assertIn("ar_dtok_lp_256px.pth", err.getvalue())
            self.assertEqual(os.listdir(d), ["ar_dtok_lp_256px.pth"])

    def test_no_component_is_a_usage_error(self):
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as ctx:
            main(["--out", "x"])
        self.assertEqual(ctx.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
