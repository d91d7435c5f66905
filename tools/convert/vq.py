"""VQ decoder converter: LlamaGen `vq_ds16_t2i.pt` -> `vq/decoder.onnx` (TAR_SPEC §4).

The official file is a torch pickle whose state dict is `ckpt['model']` (the whole VQModel). Only the decoding
half is converted; keys under `encoder.`, `quant_conv.` and `quantize.codebook_used` are skipped on purpose
(the encoder, its 1x1 projection and a training-time usage buffer). Any other key must match the reference.

The architecture is read from the shapes: codebook size and dimension from `quantize.embedding.weight`,
z_channels from `post_quant_conv.weight`, the number of levels, the channels per level (ch * ch_mult) and
num_res_blocks from the `decoder.conv_blocks.*` keys. GroupNorm uses 32 groups as in LlamaGen, so every
channel count must divide by 32.
"""
import math
import re
from collections.abc import Mapping

import torch

from .ardtok import describe_keys, load_torch_pickle
from .checks import load_checked
from .errors import ConversionError
from .reference.vq import NUM_GROUPS, VQDecoderModel

SKIPPED_PREFIXES = ("encoder.", "quant_conv.", "quantize.codebook_used")


def read_state_dict(path):
    ckpt = load_torch_pickle(path)
    if not isinstance(ckpt, Mapping) or "model" not in ckpt or not isinstance(ckpt["model"], Mapping):
        raise ConversionError(f"{path}: expected a dict with the VQ state dict under 'model' (LlamaGen "
                              f"vq_ds16_t2i.pt); found {describe_keys(ckpt)}")
    sd = dict(ckpt["model"])
    if not all(torch.is_tensor(v) for v in sd.values()):
        raise ConversionError(f"{path}: ckpt['model'] is not a state dict of tensors")
    return sd


def _need(sd, key, path, dims):
    if key not in sd:
        raise ConversionError(f"{path}: missing key {key} (needed to read the architecture)")
    if sd[key].dim() != dims:
        raise ConversionError(f"{path}: key {key} has shape {list(sd[key].shape)}, expected {dims} dimensions")
    return sd[key].shape


def architecture(sd, path):
    """-> dict(codebook_size, code_dim, z_channels, channels [ch*ch_mult], num_res_blocks)."""
    codebook_size, code_dim = _need(sd, "quantize.embedding.weight", path, 2)
    z_channels = _need(sd, "post_quant_conv.weight", path, 4)[0]
    levels = sorted({int(m.group(1)) for k in sd for m in [re.match(r"decoder\.conv_blocks\.(\d+)\.", k)] if m})
    if not levels or levels != list(range(len(levels))):
        raise ConversionError(f"{path}: decoder.conv_blocks.* keys missing or not numbered 0..n-1 (found {levels})")
    res = {int(m.group(1)) for k in sd for m in [re.match(r"decoder\.conv_blocks\.0\.res\.(\d+)\.", k)] if m}
    if not res:
        raise ConversionError(f"{path}: missing key decoder.conv_blocks.0.res.0.conv1.weight")
    num_res_blocks = max(res)
    # decoder block i handles level len-1-i; its channel count is the output of its first conv
    outs = [_need(sd, f"decoder.conv_blocks.{i}.res.0.conv1.weight", path, 4)[0] for i in levels]
    channels = list(reversed(outs))
    bad = [c for c in channels if c % NUM_GROUPS]
    if bad or z_channels <= 0:
        raise ConversionError(f"{path}: decoder channels {channels}: GroupNorm uses {NUM_GROUPS} groups, "
                              "so every channel count must divide by it")
    return {"codebook_size": int(codebook_size), "code_dim": int(code_dim), "z_channels": int(z_channels),
            "channels": [int(c) for c in channels], "num_res_blocks": int(num_res_blocks)}


def build_checked(path):
    sd = read_state_dict(path)
    arch = architecture(sd, path)
    model = VQDecoderModel(**arch)
    return load_checked(model, sd, path, ignore_prefixes=SKIPPED_PREFIXES), arch


def config_of(model, arch):
    ch = math.gcd(*arch["channels"]) if len(arch["channels"]) > 1 else arch["channels"][0]
    return {"codebookSize": arch["codebook_size"], "codeDim": arch["code_dim"], "downsample": model.downsample,
            "zChannels": arch["z_channels"], "ch": ch, "chMult": [c // ch for c in arch["channels"]],
            "numResBlocks": arch["num_res_blocks"], "groupNormGroups": NUM_GROUPS,
            "postprocess": "uint8(trunc(clamp(x*0.5+0.5, 0, 1)*255)), HWC"}


def convert(writer, path):
    model, arch = build_checked(path)
    with torch.no_grad():
        roles = writer.export_onnx("vq/decoder.onnx", model, (torch.zeros(1, 2, 3, dtype=torch.int64),),
                                   ["codes"], ["image"],
                                   {"codes": {0: "batch", 1: "height", 2: "width"},
                                    "image": {0: "batch", 2: "image_height", 3: "image_width"}})
    files = {"decoder" + suffix: rel for suffix, rel in roles.items()}
    writer.add_component("vq", config_of(model, arch), files)
