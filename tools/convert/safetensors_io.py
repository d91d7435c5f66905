"""Safetensors reading and writing (8-byte little-endian header length, JSON header, raw bytes), with
sharded Hugging Face folders (`model.safetensors.index.json`). Not a general tensor library: numpy and
torch tensors in, torch tensors out."""
import json
import os
import struct

import numpy as np
import torch

from .errors import ConversionError

_DTYPES = {
    "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16),
    "BF16": (None, torch.bfloat16),
    "I64": (np.int64, torch.int64),
    "I32": (np.int32, torch.int32),
    "U8": (np.uint8, torch.uint8),
}
_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
          torch.int32: "I32", torch.uint8: "U8"}


def read_header(path):
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ConversionError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (length,) = struct.unpack("<Q", raw)
        if length > os.path.getsize(path) - 8:
            raise ConversionError(f"{path}: header length {length} runs past the end of the file (truncated?)")
        try:
            header = json.loads(f.read(length))
        except ValueError as e:
            raise ConversionError(f"{path}: header is not JSON ({e})") from e
    return header, 8 + length


def load_file(path):
    """All tensors of one safetensors file → {name: torch.Tensor}, plus the `__metadata__` dict."""
    header, data_start = read_header(path)
    metadata = header.pop("__metadata__", {}) or {}
    size = os.path.getsize(path)
    tensors = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            dtype = info.get("dtype")
            if dtype not in _DTYPES:
                raise ConversionError(f"{path}: tensor {name} has unsupported dtype {dtype}")
            begin, end = info["data_offsets"]
            if data_start + end > size:
                raise ConversionError(f"{path}: tensor {name} runs past the end of the file (truncated?)")
            f.seek(data_start + begin)
            raw = bytearray(f.read(end - begin))
            shape = info["shape"]
            if dtype == "BF16":
                t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=torch.bfloat16)
            else:
                t = torch.from_numpy(np.frombuffer(raw, dtype=_DTYPES[dtype][0]).copy())
            tensors[name] = t.reshape(shape)
    return tensors, metadata


def load_folder(folder):
    """A Hugging Face weights folder: `model.safetensors` or the shards named by its index file."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(folder, "model.safetensors")):
        shards = ["model.safetensors"]
    else:
        raise ConversionError(f"{folder}: no model.safetensors or model.safetensors.index.json")
    tensors = {}
    for shard in shards:
        part, _ = load_file(os.path.join(folder, shard))
        tensors.update(part)
    return tensors


def save_file(tensors, path, metadata=None):
    """{name: torch.Tensor} → one safetensors file (tensors in name order)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            blob = t.view(torch.int16).numpy().tobytes()
        else:
            blob = t.numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)
