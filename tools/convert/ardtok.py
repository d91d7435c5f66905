"""AR de-tokenizer converter: `ar_dtok_lp_{256,512,1024}px.pth` -> `ardtok/*.onnx` (TAR_SPEC §3).

The official file is a torch pickle {"model": {"name": registry name, "args": {ModelArgs fields}, "sd": state
dict}}. The registry name gives n_layer/n_head/dim (official table); `args` give everything else. Extension:
when `args` also hold n_layer/n_head/dim, they override the registry values. The official constructor
(`ARModel(ModelArgs(n_layer=.., n_head=.., dim=.., **args))`) would reject such a file with a TypeError
(duplicate keyword), so official checkpoints never carry them; the tiny test checkpoints do, and this converter
treats them like any other checkpoint (no special case).

Every key of `sd` is checked against the reference built from that config (name, both shapes); there are no
skipped keys. The official loader is strict=False and silently drops a mismatching `abs_pe`; we refuse it.
"""
import math
import os
from collections.abc import Mapping

import torch

from .checks import load_checked
from .errors import ConversionError
from .reference.ardtok import (MODEL_ARGS_FIELDS, REGISTRY, ARDTok, ConditionEmbed, KVDecoder, ModelArgs,
                               TokenEmbed, io_names)

# LlamaGen VQ-16 (TAR_SPEC §4): one image token per 16x16 pixels. Only a package without a VQ component keeps
# it; with one, the package writer sets imageSize from the VQ's own downsample factor (package.py).
DEFAULT_VQ_DOWNSAMPLE = 16


def load_torch_pickle(path):
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu")
    except Exception as e:  # pickle errors, zip errors, missing classes...
        raise ConversionError(f"{path}: not a torch checkpoint (torch.load failed: {type(e).__name__}: {e})") from e


def describe_keys(obj, limit=8):
    """A short description of what a checkpoint holds: its first keys (sorted), or its type."""
    if not isinstance(obj, Mapping):
        return type(obj).__name__
    keys = sorted(map(str, obj.keys()))
    more = f" ... ({len(keys)} keys)" if len(keys) > limit else ""
    return "[" + ", ".join(repr(k) for k in keys[:limit]) + more + "]"


def read_checkpoint(path):
    """-> (name, args dict, state dict), or ConversionError naming what is wrong with the structure."""
    ckpt = load_torch_pickle(path)
    where = f"{path}: expected a dict {{'model': {{'name', 'args', 'sd'}}}} (AR-DTok checkpoint)"
    if not isinstance(ckpt, Mapping) or "model" not in ckpt:
        raise ConversionError(f"{where}; found {describe_keys(ckpt)}")
    spec = ckpt["model"]
    if not isinstance(spec, Mapping) or any(k not in spec for k in ("name", "args", "sd")):
        raise ConversionError(f"{where}; found ['model'] = {describe_keys(spec)}")
    args, sd = spec["args"], spec["sd"]
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        args = vars(args) if hasattr(args, "__dict__") else None
    if args is None:
        raise ConversionError(f"{path}: model.args is a {type(spec['args']).__name__}, expected a dict")
    if not isinstance(sd, Mapping) or not all(torch.is_tensor(v) for v in sd.values()):
        raise ConversionError(f"{path}: model.sd is not a state dict of tensors")
    return spec["name"], dict(args), dict(sd)


def model_args(name, args, source):
    """Registry size + checkpoint args -> ModelArgs, with the checks the engine relies on."""
    if name not in REGISTRY:
        raise ConversionError(f"{source}: unknown model name {name!r}; known names: {', '.join(REGISTRY)}")
    unknown = sorted(k for k in args if k not in MODEL_ARGS_FIELDS)
    if unknown:
        raise ConversionError(f"{source}: model.args has fields that are not ModelArgs fields: {unknown}")
    n_layer, n_head, dim = REGISTRY[name]
    merged = {"n_layer": n_layer, "n_head": n_head, "dim": dim}
    merged.update(args)
    a = ModelArgs(**merged)
    if a.model_type != "clip_cond":
        raise ConversionError(f"{source}: model_type {a.model_type!r} is not supported; only 'clip_cond' takes the "
                              "continuous TA-Tok features (TAR_SPEC §3.2)")
    if a.dim % a.n_head or a.n_head % a.kv_heads:
        raise ConversionError(f"{source}: dim {a.dim}, n_head {a.n_head}, n_kv_head {a.kv_heads}: dim must divide "
                              "by n_head and n_head by n_kv_head")
    side = math.isqrt(a.max_seq_len)
    if side * side != a.max_seq_len:
        raise ConversionError(f"{source}: max_seq_len {a.max_seq_len} is not a square (the VQ grid is square)")
    return a


def build_checked(path):
    """Reads, validates and loads the checkpoint: -> (ARDTok in float32 eval mode, name)."""
    name, args, sd = read_checkpoint(path)
    a = model_args(name, args, path)
    model = ARDTok(a)
    return load_checked(model, sd, path), name


def config_of(model, name):
    a = model.args
    side = math.isqrt(a.max_seq_len)
    return {
        "name": name, "modelType": a.model_type,
        "dim": a.dim, "layers": a.n_layer, "heads": a.n_head, "kvHeads": a.kv_heads, "headDim": a.head_dim,
        "intermediateSize": a.ffn_hidden, "normEps": float(a.norm_eps), "vocabSize": a.vocab_size,
        "condDim": a.cond_dim, "maxSeqLen": a.max_seq_len, "maxPrefixLen": a.cls_token_num,
        "gridSize": side, "imageSize": side * DEFAULT_VQ_DOWNSAMPLE,
    }


def export_graphs(writer, model):
    """Exports the three graphs; returns the component's files dict."""
    a = model.args
    files = {}

    def add(role, roles):
        for suffix, rel in roles.items():
            files[role + suffix] = rel

    add("conditionEmbed", writer.export_onnx(
        "ardtok/condition_embed.onnx", ConditionEmbed(model).eval(), (torch.zeros(2, 3, a.cond_dim),),
        ["condition"], ["embeds"], {"condition": {0: "batch", 1: "sequence"}, "embeds": {0: "batch", 1: "sequence"}}))
    add("tokenEmbed", writer.export_onnx(
        "ardtok/token_embed.onnx", TokenEmbed(model).eval(), (torch.zeros(2, 3, dtype=torch.int64),),
        ["input_ids"], ["embeds"], {"input_ids": {0: "batch", 1: "sequence"}, "embeds": {0: "batch", 1: "sequence"}}))
    b, t, p = 2, 2, 3
    past = []
    for _ in range(a.n_layer):
        past += [torch.zeros(b, a.kv_heads, p, a.head_dim), torch.zeros(b, a.kv_heads, p, a.head_dim)]
    dummy = (torch.zeros(b, t, a.dim), torch.ones(b, p + t, dtype=torch.int64),
             torch.arange(p, p + t, dtype=torch.int64).unsqueeze(0).repeat(b, 1), *past)
    inputs, outputs = io_names(a.n_layer)
    axes = {"inputs_embeds": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
            "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for name in inputs[3:]:
        axes[name] = {0: "batch", 2: "past_sequence"}
    for name in outputs[1:]:
        axes[name] = {0: "batch", 2: "total_sequence"}
    add("model", writer.export_onnx("ardtok/model.onnx", KVDecoder(model).eval(), dummy, inputs, outputs, axes,
                                    rms_norms=2 * a.n_layer + 1))                          # two a layer, one final
    return files


def convert(writer, path):
    model, name = build_checked(path)
    with torch.no_grad():
        files = export_graphs(writer, model)
    writer.add_component("ardtok", config_of(model, name), files)
