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
from onnx import external_data_helper, helper, numpy_helper

from .errors import ConversionError
from .fuse import fuse_rms_norms, fuse_rotary_embeddings

FORMAT = "tar-webgpu-package"
FORMAT_VERSION = 1
EXTERNAL_DATA_THRESHOLD = 64 * 1024 * 1024
EXTERNAL_TENSOR_MIN_BYTES = 1024
MAX_DATA_FILE_BYTES = 1 << 30
ONNX_OPSET = 17
DEFAULT_SAMPLING = {
    "textToImage": {"temperature": 1.0, "topP": 0.95, "topK": 1200, "cfgScale": 1.0, "candidates": 1},
    "detokenizer": {"cfgScale": 4.0, "temperature": 1.0, "topK": 0, "topP": 1.0},
    "chat": {"temperature": 0.7, "topP": 0.8, "topK": 20, "maxNewTokens": 512, "repetitionPenalty": 1.0, "views": 1},
}
# Fields a manifest holds only when set: the conditional min-p filter of prompt guidance and of the de-tokenizer's
# guidance (absent: no filter), the question imagine's self-check reads a candidate back with (absent: no
# self-check), and the de-tokenizer's drawings per picture kept by TA-Tok's read-back (absent: 1).
OPTIONAL_SAMPLING = {"textToImage": ("cfgMinP", "selfCheckQuestion"), "detokenizer": ("cfgMinP", "drawings")}
# The fields that are text; every other one is a number.
TEXT_SAMPLING = ("selfCheckQuestion",)


def check_sampling_overrides(overrides):
    """overrides {group: {field: number, or text for TEXT_SAMPLING}} naming only groups and fields of
    DEFAULT_SAMPLING (or OPTIONAL_SAMPLING), else a ConversionError (checked before a conversion starts, so that a typo does not cost one)."""
    if not isinstance(overrides, dict):
        raise ConversionError(f"sampling overrides must be an object of groups, not {overrides!r}")
    for group, fields in overrides.items():
        if group not in DEFAULT_SAMPLING or not isinstance(fields, dict):
            raise ConversionError(f"sampling has no group {group!r} (groups: {', '.join(DEFAULT_SAMPLING)})")
        for field, value in fields.items():
            known = (*DEFAULT_SAMPLING[group], *OPTIONAL_SAMPLING.get(group, ()))
            if field not in known:
                raise ConversionError(f"sampling.{group} has no field {field!r} (fields: {', '.join(known)})")
            if field in TEXT_SAMPLING:
                if not isinstance(value, str) or not value.strip():
                    raise ConversionError(f"sampling.{group}.{field} must be non-empty text, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConversionError(f"sampling.{group}.{field} must be a number, not {value!r}")


def override_sampling(sampling, overrides):
    """sampling {group: {field: value}} with the checked `overrides` (a subset of it) written over it."""
    check_sampling_overrides(overrides)
    for group, fields in overrides.items():
        sampling[group].update(fields)
    return sampling


def _match_detokenizer_to_vq(components):
    """The de-tokenizer's output size is its code grid times the VQ decoder's downsample factor, which only the VQ
    checkpoint knows: set it once both are in the package."""
    ardtok, vq = components.get("ardtok"), components.get("vq")
    if ardtok and vq:
        ardtok["config"]["imageSize"] = ardtok["config"]["gridSize"] * vq["config"]["downsample"]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _store_weights_as_float16(model, keep_float32=()):
    """Weight-only f16: every float32 initializer (except those whose name contains one of `keep_float32`)
    becomes float16 followed by a Cast back to float32, so the file halves and the arithmetic stays f32."""
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 16:
            continue
        if any(part in init.name for part in keep_float32):
            continue
        array = numpy_helper.to_array(init).astype(np.float16)
        original = init.name
        init.CopyFrom(numpy_helper.from_array(array, original + "__f16"))
        casts.append(helper.make_node("Cast", [original + "__f16"], [original], to=onnx.TensorProto.FLOAT,
                                      name=original + "__cast"))
    for node in reversed(casts):
        graph.node.insert(0, node)


def _assign_external_data(model, data_name):
    """Marks every initializer of at least EXTERNAL_TENSOR_MIN_BYTES as external, filling data files
    `data_name`, `data_name`1, ... in graph order, each at most MAX_DATA_FILE_BYTES (a single larger tensor
    gets a file of its own). Returns the file names in order."""
    names = [data_name]
    used = 0
    for tensor in model.graph.initializer:
        nbytes = numpy_helper.to_array(tensor).nbytes
        if nbytes < EXTERNAL_TENSOR_MIN_BYTES:
            continue
        if used > 0 and used + nbytes > MAX_DATA_FILE_BYTES:
            names.append(f"{data_name}{len(names)}")
            used = 0
        external_data_helper.set_external_data(tensor, names[-1])
        used += nbytes
    return names


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

    def export_onnx(self, relative, module, args, input_names, output_names, dynamic_axes, keep_float32=(),
                    rms_norms=0, rotary_embeddings=0):
        """torch.onnx.export, then its `rms_norms` RMSNorms and `rotary_embeddings` rotary embeddings fused into one
        node each (tools/convert/fuse.py), then float16 weight storage if asked (except initializers whose name
        contains one of `keep_float32`), then external data when large, split so that no file passes
        MAX_DATA_FILE_BYTES.
        Returns the file roles {"": graph path, "Data": first data file, "Data1": second, ...} relative to the
        package (no "Data*" roles when the weights stay inside the graph)."""
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
        if rms_norms:
            fuse_rms_norms(model, rms_norms)
        if rotary_embeddings:
            fuse_rotary_embeddings(model, rotary_embeddings)
        if self.storage == "float16":
            _store_weights_as_float16(model, keep_float32)
        size = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
        if size <= EXTERNAL_DATA_THRESHOLD:
            onnx.save_model(model, target)
            return {"": relative}
        data_files = _assign_external_data(model, os.path.basename(relative) + ".data")
        external_data_helper.write_external_data_tensors(model, os.path.dirname(target))
        onnx.save_model(model, target)
        folder = os.path.dirname(relative)
        return {"": relative, **{f"Data{i or ''}": os.path.join(folder, name) for i, name in enumerate(data_files)}}

    def _finish(self):
        _match_detokenizer_to_vq(self.components)
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
