"""TA-Tok converter: official `ta_tok.pth` → package component `tatok` (docs/model-format.md, TAR_SPEC §1).

The checkpoint is a torch pickle {"model": {"args": EasyDict, "sd": state_dict}}. The architecture is read from
the checkpoint itself, the way the official code builds it (`tok/ta_tok.py`):

* SigLIP encoder: `AutoConfig.from_pretrained(args.teacher).vision_config`. Offline we resolve `args.teacher` as
  (a) a folder holding a Hugging Face `config.json` (relative to the checkpoint's folder, or absolute): SigLIP
  `vision_config` (or a bare vision config), missing fields take `SiglipVisionConfig` defaults; or (b) a known
  hub id: only `google/siglip2-so400m-patch14-384`, whose vision config is kept in KNOWN_TEACHERS below
  (1152 hidden, 27 layers, 16 heads, 4304 intermediate, patch 14, image 384, eps 1e-6). Anything else is a
  ConversionError. `args.input_size` must equal the teacher's image size.
  Layers kept: hidden_states[select_layer_id] (args, default −2) → the first L+1+id layers.
* Decoder: `Siglip2VisionConfig()` defaults updated with patch_size=1, num_hidden_layers=decoder_depth (args,
  default 3), num_channels=bottleneck_dim, hidden_size=teacher hidden. Its head count is the default 12 (kept,
  not configurable, as in the official code). Documented deviations, so that a tiny model is possible: the
  intermediate size is read from `decoder.vision_model.encoder.layers.0.mlp.fc1.weight` (officially always the
  default 3072) and the position-table size from `...embeddings.position_embedding.weight` (officially the
  default num_patches 256 = 16×16); both must then match every other shape.
* Quantiser: args.bottleneck.args.bottleneck_dim and regularizer {name: simvq, args: {codebook_size,
  l2_normalized: True}}.

Keys skipped on purpose (the converter says so): `teacher*` (the official loader drops them too when
load_teacher=False), `encoder.post_layernorm.*` and `encoder.head.*` (TA-Tok uses hidden_states[-2], before
them) and `decoder.vision_model.head.*` (MAP head computed by HF but unused). Every other key must be exactly
the reference's, with the reference's shape.

Exports: tatok/encoder.onnx, tatok/project.onnx, tatok/decoder.onnx, and the tables tatok/codebook.bin
(normalize(E·Wᵀ+b)), tatok/decode_table.bin (out_linear of it) and tatok/decoder_positions.bin (the decoder's
position table resized, bilinear + antialias, to the pooled grid of each pool scale, concatenated; row offsets
in config.decoderPositionOffsets)."""
import json
import math
import os
import pickle
import sys
import zipfile

import torch

from .checks import load_checked
from .errors import ConversionError
from .reference.tatok import DecoderGraph, EncoderGraph, ProjectGraph, TATok

COMPONENT = "tatok"
POOL_SCALES = (1, 2, 3)  # <S0>, <S1>, <S2> (TAR_SPEC §1.4)

# SiglipVisionConfig defaults (transformers), applied to fields a config.json leaves out.
SIGLIP_VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16,
                          "layer_norm_eps": 1e-6}
# Teachers resolvable offline by hub id (their config.json vision_config; TAR_SPEC §1.3).
KNOWN_TEACHERS = {
    "google/siglip2-so400m-patch14-384": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                                          "num_attention_heads": 16, "num_channels": 3, "image_size": 384,
                                          "patch_size": 14, "layer_norm_eps": 1e-6},
}
# Siglip2VisionConfig defaults the official decoder keeps.
DECODER_HEADS = 12
DECODER_INTERMEDIATE_DEFAULT = 3072
DECODER_NUM_PATCHES_DEFAULT = 256
DECODER_EPS = 1e-6
DEFAULT_TEACHER = "google/siglip2-so400m-patch14-384"

SKIPPED_PREFIXES = ("teacher", "encoder.post_layernorm.", "encoder.head.", "decoder.vision_model.head.")
DECODER_FC1 = "decoder.vision_model.encoder.layers.0.mlp.fc1.weight"
DECODER_POSITIONS = "decoder.vision_model.embeddings.position_embedding.weight"


def read_checkpoint(path):
    """→ (args dict, state dict). ConversionError for a missing file, a non-pickle, or a wrong structure."""
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file (expected ta_tok.pth)")
    try:
        try:  # the file holds an EasyDict: a full unpickle is needed (torch ≥ 2.6 defaults to weights_only)
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # torch without the weights_only argument
            ckpt = torch.load(path, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, AttributeError,
            ModuleNotFoundError, ImportError, UnicodeDecodeError) as e:
        raise ConversionError(f"{path}: not a torch pickle ({type(e).__name__}: {e}); expected ta_tok.pth") from e
    model = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("args"), dict) or not isinstance(model.get("sd"), dict):
        found = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConversionError(f"{path}: expected a TA-Tok checkpoint {{'model': {{'args': …, 'sd': …}}}}, "
                              f"found {found}")
    sd = model["sd"]
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f"{path}: state dict entry {bad[0]} is not a tensor")
    return dict(model["args"]), sd


def _get(mapping, key, default=None):
    return mapping.get(key, default) if isinstance(mapping, dict) else default


def resolve_teacher(teacher, checkpoint_path):
    """args.teacher → the SigLIP vision config dict (see module doc)."""
    folder = teacher if os.path.isabs(teacher) else os.path.join(os.path.dirname(os.path.abspath(checkpoint_path)),
                                                                 teacher)
    config_path = os.path.join(folder, "config.json")
    if os.path.isfile(config_path):
        try:
            with open(config_path) as f:
                config = json.load(f)
        except ValueError as e:
            raise ConversionError(f"{config_path}: teacher config is not JSON ({e})") from e
        vision = config.get("vision_config", config) if isinstance(config, dict) else None
        if not isinstance(vision, dict):
            raise ConversionError(f"{config_path}: no vision_config")
        resolved = dict(SIGLIP_VISION_DEFAULTS)
        resolved.update({k: vision[k] for k in SIGLIP_VISION_DEFAULTS if k in vision})
        return resolved, config_path
    if teacher in KNOWN_TEACHERS:
        return dict(KNOWN_TEACHERS[teacher]), f"built-in config of {teacher}"
    raise ConversionError(f"{checkpoint_path}: args.teacher {teacher!r} is neither a folder with config.json "
                          f"(looked in {folder}) nor a known teacher ({', '.join(KNOWN_TEACHERS)})")


def architecture(args, sd, checkpoint_path):
    """The reference's config dict, from the checkpoint's args, its teacher config and (decoder intermediate,
    decoder position table) two shapes."""
    teacher = args.get("teacher") or DEFAULT_TEACHER
    vision, source = resolve_teacher(teacher, checkpoint_path)
    if vision["num_channels"] != 3:
        raise ConversionError(f"{source}: num_channels {vision['num_channels']}, expected 3 (RGB)")
    input_size = args.get("input_size", 384)
    if input_size != vision["image_size"]:
        raise ConversionError(f"{checkpoint_path}: args.input_size {input_size} differs from the teacher's "
                              f"image_size {vision['image_size']} ({source})")
    layers = vision["num_hidden_layers"]
    select = args.get("select_layer_id", -2)
    kept = select if select >= 0 else layers + 1 + select
    if not 1 <= kept <= layers:
        raise ConversionError(f"{checkpoint_path}: select_layer_id {select} selects no layer of {layers}")
    if vision["hidden_size"] % vision["num_attention_heads"]:
        raise ConversionError(f"{source}: hidden_size {vision['hidden_size']} not divisible by "
                              f"{vision['num_attention_heads']} heads")
    if vision["hidden_size"] % DECODER_HEADS:
        raise ConversionError(f"{checkpoint_path}: decoder hidden size {vision['hidden_size']} (= teacher hidden) "
                              f"is not divisible by the decoder's {DECODER_HEADS} heads")

    bottleneck = _get(_get(args, "bottleneck"), "args")
    regularizer = _get(bottleneck, "regularizer")
    reg_args = _get(regularizer, "args")
    if not isinstance(bottleneck, dict) or not isinstance(reg_args, dict):
        raise ConversionError(f"{checkpoint_path}: args.bottleneck.args.regularizer.args missing (args keys "
                              f"{sorted(args)})")
    if regularizer.get("name") != "simvq":
        raise ConversionError(f"{checkpoint_path}: regularizer {regularizer.get('name')!r}, only 'simvq' is supported")
    if not reg_args.get("l2_normalized", False):
        raise ConversionError(f"{checkpoint_path}: simvq with l2_normalized=False is not supported")
    for name, value in (("bottleneck_dim", bottleneck.get("bottleneck_dim")),
                        ("codebook_size", reg_args.get("codebook_size"))):
        if not isinstance(value, int) or value <= 0:
            raise ConversionError(f"{checkpoint_path}: bottleneck {name} is {value!r}")

    decoder_intermediate = DECODER_INTERMEDIATE_DEFAULT
    if DECODER_FC1 in sd and sd[DECODER_FC1].dim() == 2:
        decoder_intermediate = int(sd[DECODER_FC1].shape[0])
    num_patches = DECODER_NUM_PATCHES_DEFAULT
    if DECODER_POSITIONS in sd and sd[DECODER_POSITIONS].dim() == 2:
        num_patches = int(sd[DECODER_POSITIONS].shape[0])
        if int(round(math.sqrt(num_patches))) ** 2 != num_patches:
            raise ConversionError(f"{checkpoint_path}: key {DECODER_POSITIONS} has {num_patches} rows, not a square")
    return {
        "image_size": vision["image_size"], "patch_size": vision["patch_size"], "hidden": vision["hidden_size"],
        "heads": vision["num_attention_heads"], "intermediate": vision["intermediate_size"], "layers": layers,
        "eps": float(vision["layer_norm_eps"]), "select_layer_id": select, "kept_layers": kept,
        "code_dim": bottleneck["bottleneck_dim"], "codebook_size": reg_args["codebook_size"],
        "decoder_hidden": vision["hidden_size"], "decoder_heads": DECODER_HEADS,
        "decoder_intermediate": decoder_intermediate, "decoder_layers": args.get("decoder_depth", 3),
        "decoder_num_patches": num_patches, "decoder_eps": DECODER_EPS,
        "default_pool_scale": args.get("pool_scale", 1), "teacher_source": source,
    }


def load_tatok(path):
    """Reads, checks and loads a ta_tok.pth → (TATok reference in eval mode, arch dict, skipped keys)."""
    args, sd = read_checkpoint(path)
    arch = architecture(args, sd, path)
    model = TATok(arch)
    skipped = sorted(k for k in sd if k.startswith(SKIPPED_PREFIXES))
    load_checked(model, sd, path, ignore_prefixes=SKIPPED_PREFIXES)
    for name in ("shift", "scale"):
        if not torch.allclose(getattr(model.scale_layer, name), torch.full((1, 3, 1, 1), 0.5)):
            raise ConversionError(f"{path}: scale_layer.{name} is {getattr(model.scale_layer, name).flatten().tolist()}"
                                  ", expected 0.5 (the package's preprocessing is x/127.5 − 1)")
    return model, arch, skipped


def position_offsets(grid):
    grids = [grid // s for s in POOL_SCALES]
    offsets, total = [], 0
    for p in grids:
        offsets.append(total)
        total += p * p
    return grids, offsets


def convert(writer, path):
    model, arch, skipped = load_tatok(path)
    grid = arch["image_size"] // arch["patch_size"]
    if grid // max(POOL_SCALES) < 1:
        raise ConversionError(f"{path}: token grid {grid} too small for pool scale {max(POOL_SCALES)}")
    if skipped:
        groups = sorted({p for k in skipped for p in SKIPPED_PREFIXES if k.startswith(p)})
        print(f"tatok: skipped {len(skipped)} keys unused at inference ({', '.join(p + '*' for p in groups)})",
              file=sys.stderr)

    files, tables = {}, {}
    with torch.no_grad():
        s, c, n = arch["image_size"], arch["hidden"], grid * grid
        for role, module, inputs, in_names, out_names, axes in (
            ("encoder", EncoderGraph(model), (torch.zeros(1, 3, s, s),), ["pixel_values"], ["features"],
             {"pixel_values": {0: "batch"}, "features": {0: "batch"}}),
            ("project", ProjectGraph(model), (torch.zeros(1, n, c),), ["features"], ["codes"],
             {"features": {0: "batch", 1: "tokens"}, "codes": {0: "batch", 1: "tokens"}}),
            ("decoder", DecoderGraph(model), (torch.zeros(1, n, arch["code_dim"]),
                                              torch.zeros(n, arch["decoder_hidden"])),
             ["rows", "positions"], ["features"],
             {"rows": {0: "batch", 1: "tokens"}, "positions": {0: "tokens"}, "features": {0: "batch", 1: "tokens"}}),
        ):
            roles = writer.export_onnx(f"tatok/{role}.onnx", module, inputs, in_names, out_names, axes)
            for suffix, rel in roles.items():
                files[role + suffix] = rel

        codebook = model.codebook()
        grids, offsets = position_offsets(grid)
        positions = torch.cat([model.decoder_positions(p) for p in grids], dim=0)
        for role, rel, table in (("codebook", "tatok/codebook.bin", codebook),
                                 ("decodeTable", "tatok/decode_table.bin", model.bottleneck.out_linear(codebook)),
                                 ("decoderPositions", "tatok/decoder_positions.bin", positions)):
            tables[role] = writer.write_table(rel, table)
            files[role] = rel

    config = {
        "imageSize": arch["image_size"],
        "patchSize": arch["patch_size"],
        "gridSize": grid,
        "encoderHiddenSize": arch["hidden"],
        "encoderLayers": arch["kept_layers"],
        "encoderHeads": arch["heads"],
        "encoderIntermediateSize": arch["intermediate"],
        "layerNormEps": arch["eps"],
        "codebookSize": arch["codebook_size"],
        "codeDim": arch["code_dim"],
        "poolScales": list(POOL_SCALES),
        "defaultPoolScale": arch["default_pool_scale"],
        "decoderHiddenSize": arch["decoder_hidden"],
        "decoderLayers": arch["decoder_layers"],
        "decoderHeads": arch["decoder_heads"],
        "decoderIntermediateSize": arch["decoder_intermediate"],
        "decoderLayerNormEps": arch["decoder_eps"],
        "decoderPositionGrids": grids,
        "decoderPositionOffsets": offsets,
        "preprocess": {"resize": "bilinear", "antialias": False, "rescale": "x / 127.5 - 1"},
    }
    writer.add_component(COMPONENT, config, files, tables)
    return config

