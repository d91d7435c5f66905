"""Test fixtures: one component's tiny checkpoint written into a temporary folder (`tmp`) and converted into a
package (`out`, with its parsed `manifest`; tests may put more files into `tmp`; `cleanup()` removes it), and the
assertions every converter's failure-message tests share."""
import json
import os
import tempfile

import torch

from tools.convert.errors import ConversionError
from tools.convert.package import PackageWriter


class TinyPackage:
    def __init__(self, tiny_module, converter_module, seed, model_id="tiny"):
        self.tmp = tempfile.TemporaryDirectory()
        self.checkpoint = tiny_module.write_checkpoint(os.path.join(self.tmp.name, "ckpt"), seed)
        self.out = os.path.join(self.tmp.name, "pkg")
        with PackageWriter(self.out, model_id) as writer:
            converter_module.convert(writer, self.checkpoint)
        with open(os.path.join(self.out, "manifest.json")) as f:
            self.manifest = json.load(f)

    def cleanup(self):
        self.tmp.cleanup()


class ConversionErrorAssertions:
    """Mixin for a TestCase with `tmp` (a TemporaryDirectory) and `converter` (a tools.convert module)."""

    def write(self, name, obj):
        path = os.path.join(self.tmp.name, name)
        torch.save(obj, path)
        return path

    def assertConversionError(self, path, *fragments):
        """Converting `path` fails with a message holding every fragment, and leaves no package behind."""
        with self.assertRaises(ConversionError) as ctx:
            with PackageWriter(os.path.join(self.tmp.name, "bad"), "t") as w:
                self.converter.convert(w, path)
        for f in fragments:
            self.assertIn(f, str(ctx.exception))
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "bad")))
