"""Test fixture: one component's tiny checkpoint written into a temporary folder (`tmp`) and converted into a
package (`out`, with its parsed `manifest`). Tests may put more files into `tmp`; `cleanup()` removes it."""
import json
import os
import tempfile

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
