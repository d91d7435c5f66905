"""Writes a model package (docs/model-format.md): files go into a temporary folder next to the target, the
manifest (with every file's size and sha256) is written last, and the folder is renamed into place only when
everything succeeded. Also exports ONNX graphs (external data when large; optional float16 weight storage)."""
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .errors import ConversionError

FORMAT = "tar-webgpu-package"
FORMAT_VERSION = 1
EXTERNAL_DATA_THRESHOLD = 64 * 1024 * 1024
ONNX_OPSET = 17
DEFAULT_SAMPLING = {
    "textToImage": {"temperature": 1.0, "topP": 0.95, "topK": 1200},
    "detokenizer": {"cfgScale": 4.0, "temperature": 1.0, "topK": 0, "topP": 1.0},
    "chat": {"temperature": 0.7, "topP": 0.8, "topK": 20, "maxNewTokens": 512, "repetitionPenalty": 1.0},
}


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _store_weights_as_float16(model):
    """Weight-only f16: every float32 initializer becomes float16 followed by a Cast back to float32, so the
    file halves and the arithmetic stays f32."""
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 16:
            continue
        array = numpy_helper.to_array(init).astype(np.float16)
        original = init.name
        init.CopyFrom(numpy_helper.from_array(array, original + "__f16"))
        casts.append(helper.make_node("Cast", [original + "__f16"], [original], to=onnx.TensorProto.FLOAT,
                                      name=original + "__cast"))
    for node in reversed(casts):
        graph.node.insert(0, node)


class PackageWriter:
    """Use as a context manager: on success the package appears at `out`; on error nothing does."""

    def __init__(self, out, model_id, storage="float32"):
        if storage not in ("float32", "float16"):
            raise ConversionError(f"storage must be float32 or float16, not {storage}")
        self.out = os.path.abspath(out)
        self.tmp = f"{self.out}.partial-{os.getpid()}"
        self.model_id = model_id
        self.storage = storage
        self.components = {}
        self.sampling = json.loads(json.dumps(DEFAULT_SAMPLING))

    def __enter__(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        self._finish()
        return False

    def path(self, relative):
        full = os.path.join(self.tmp, relative)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def add_component(self, name, config, files, tables=None, **extra):
        entry = {"config": config, "files": files}
        if tables:
            entry["tables"] = tables
        entry.update(extra)
        self.components[name] = entry

    def write_table(self, relative, tensor):
        """A raw little-endian row-major table in the package's storage dtype; returns its descriptor."""
        dtype = np.float16 if self.storage == "float16" else np.float32
        array = tensor.detach().cpu().float().numpy().astype(dtype)
        with open(self.path(relative), "wb") as f:
            f.write(np.ascontiguousarray(array).tobytes())
        return {"dtype": self.storage, "shape": list(array.shape)}

    def export_onnx(self, relative, module, args, input_names, output_names, dynamic_axes):
        """torch.onnx.export, then float16 weight storage if asked, then external data when large.
        Returns the file roles {"": path, "Data": data path or absent} relative to the package."""
        target = self.path(relative)
        # torch writes one external file per tensor next to the graph when it passes 2 GB: export into a scratch
        # folder that is removed, so that only the files written below end up in the package.
        scratch = tempfile.mkdtemp(prefix=".export-", dir=self.tmp)
        try:
            staged = os.path.join(scratch, os.path.basename(relative))
            torch.onnx.export(module, args, staged, opset_version=ONNX_OPSET, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
            model = onnx.load(staged)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if self.storage == "float16":
            _store_weights_as_float16(model)
        data_name = os.path.basename(relative) + ".data"
        size = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
        if size > EXTERNAL_DATA_THRESHOLD:
            onnx.save_model(model, target, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)
            return {"": relative, "Data": os.path.join(os.path.dirname(relative), data_name)}
        onnx.save_model(model, target)
        return {"": relative}

    def _finish(self):
        files = []
        for root, _, names in os.walk(self.tmp):
            for name in sorted(names):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, self.tmp).replace(os.sep, "/")
                files.append({"path": rel, "bytes": os.path.getsize(full), "sha256": sha256_of(full)})
        files.sort(key=lambda f: f["path"])
        manifest = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "modelId": self.model_id,
            "storage": self.storage,
            "files": files,
            "components": self.components,
            "sampling": self.sampling,
        }
        with open(os.path.join(self.tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        if os.path.exists(self.out):
            shutil.rmtree(self.out)
        os.rename(self.tmp, self.out)
