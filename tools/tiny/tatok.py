"""Tiny random TA-Tok in the official `ta_tok.pth` format (TAR_SPEC §1.1), and its goldens.

Sizes: image 56 px, patch 7 → 8×8 grid (pooled 4×4 at scale 2, 2×2 at scale 3); SigLIP hidden 48, 4 heads,
intermediate 80, 3 layers (2 used: hidden_states[-2]); codebook 256 × codeDim 64; decoder hidden 48 (= teacher
hidden), 12 heads (head dim 4), intermediate 96, 2 layers, position table 4×4 (num_patches 16).

The checkpoint is {"model": {"args": EasyDict, "sd": state_dict}} with the official key names, including the
keys the converter skips (encoder post_layernorm and MAP head, decoder MAP head). Its `args.teacher` is the
relative folder `siglip2-tiny/` written beside it, holding a Hugging Face SigLIP config.json."""
import json
import os

import torch
from easydict import EasyDict

from tools.convert.reference.tatok import TATok
from tools.convert.tatok import load_tatok, position_offsets

TEACHER_FOLDER = "siglip2-tiny"
VISION = {"hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 3, "num_attention_heads": 4,
          "image_size": 56, "patch_size": 7, "model_type": "siglip_vision_model"}
CODE_DIM = 64
CODEBOOK = 256
DECODER = {"intermediate": 96, "layers": 2, "num_patches": 16}
IMAGE_HW = (37, 50)       # the preprocessing golden's image: 50 wide, 37 high
DECODER_GOLDEN_SCALE = 1  # decoder golden at pool scale 1 (8×8 tokens; positions upsampled 4×4 → 8×8)


def tiny_args(teacher=TEACHER_FOLDER):
    return EasyDict({
        "bottleneck": {"name": "bottleneck", "args": {
            "bottleneck_dim": CODE_DIM, "norm": "none",
            "regularizer": {"name": "simvq", "args": {
                "codebook_size": CODEBOOK, "commitment_loss_weight": 0.25, "codebook_loss_weight": 1.0,
                "entropy_loss_weight": 0.0, "entropy_loss_temperature": 0.01, "l2_normalized": True,
                "stochastic": True, "stochastic_temperature": 0.03, "top_k": 4, "top_k_prob": 0.5,
                "residual_weight": 0.1}}}},
        "bottleneck_token_num": 64, "input_size": VISION["image_size"], "teacher": teacher, "ckpt_path": teacher,
        "pool_scale": 1, "rand_scale": True, "decoder_depth": DECODER["layers"],
    })


def _head(prefix, hidden, intermediate, g):
    """HF SiglipMultiheadAttentionPoolingHead keys (unused by TA-Tok; present in the official file)."""
    r = lambda *shape: torch.randn(*shape, generator=g) * 0.05
    return {f"{prefix}.probe": r(1, 1, hidden), f"{prefix}.attention.in_proj_weight": r(3 * hidden, hidden),
            f"{prefix}.attention.in_proj_bias": r(3 * hidden), f"{prefix}.attention.out_proj.weight": r(hidden, hidden),
            f"{prefix}.attention.out_proj.bias": r(hidden), f"{prefix}.layernorm.weight": 1 + r(hidden),
            f"{prefix}.layernorm.bias": r(hidden), f"{prefix}.mlp.fc1.weight": r(intermediate, hidden),
            f"{prefix}.mlp.fc1.bias": r(intermediate), f"{prefix}.mlp.fc2.weight": r(hidden, intermediate),
            f"{prefix}.mlp.fc2.bias": r(hidden)}


def tiny_state_dict(seed):
    arch = {"image_size": VISION["image_size"], "patch_size": VISION["patch_size"], "hidden": VISION["hidden_size"],
            "heads": VISION["num_attention_heads"], "intermediate": VISION["intermediate_size"],
            "layers": VISION["num_hidden_layers"], "eps": 1e-6, "select_layer_id": -2, "code_dim": CODE_DIM,
            "codebook_size": CODEBOOK, "decoder_hidden": VISION["hidden_size"], "decoder_heads": 12,
            "decoder_intermediate": DECODER["intermediate"], "decoder_layers": DECODER["layers"],
            "decoder_num_patches": DECODER["num_patches"], "decoder_eps": 1e-6}
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, t in TATok(arch).state_dict().items():
        if name.startswith("scale_layer."):
            value = torch.full(t.shape, 0.5)
        elif "norm" in name.split(".")[-2]:  # layer_norm1/2, post_layernorm
            value = (1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(t.shape, generator=g)
        elif name.endswith("bias"):
            value = 0.05 * torch.randn(t.shape, generator=g)
        elif "position_embedding" in name:
            value = 0.3 * torch.randn(t.shape, generator=g)
        elif name.endswith("regularizer.embedding.weight"):
            value = torch.randn(t.shape, generator=g)
        else:  # linear / conv weights: fan-in scaling
            fan_in = t[0].numel()
            value = torch.randn(t.shape, generator=g) / fan_in ** 0.5
        sd[name] = value.float()
    sd.update({"encoder.post_layernorm.weight": 1 + 0.1 * torch.randn(VISION["hidden_size"], generator=g),
               "encoder.post_layernorm.bias": 0.1 * torch.randn(VISION["hidden_size"], generator=g)})
    sd.update(_head("encoder.head", VISION["hidden_size"], VISION["intermediate_size"], g))
    sd.update(_head("decoder.vision_model.head", VISION["hidden_size"], DECODER["intermediate"], g))
    return sd


def write_teacher(folder):
    os.makedirs(os.path.join(folder, TEACHER_FOLDER), exist_ok=True)
    with open(os.path.join(folder, TEACHER_FOLDER, "config.json"), "w") as f:
        json.dump({"model_type": "siglip", "architectures": ["SiglipModel"], "vision_config": VISION,
                   "text_config": {"hidden_size": 48}}, f, indent=2)


def write_checkpoint(folder, seed):
    os.makedirs(folder, exist_ok=True)
    write_teacher(folder)
    path = os.path.join(folder, "ta_tok.pth")
    torch.save({"model": {"args": tiny_args(), "sd": tiny_state_dict(seed)}}, path)
    return path


def goldens(checkpoint_path, seed=4321):
    model, arch, _ = load_tatok(checkpoint_path)
    g = torch.Generator().manual_seed(seed)
    s = arch["image_size"]
    out = {}
    with torch.no_grad():
        image = torch.randint(0, 256, (*IMAGE_HW, 3), generator=g, dtype=torch.int64).to(torch.uint8)
        from_image = model.preprocess(image)
        out["input.image_rgb"] = image
        out["output.pixel_values_from_image"] = from_image

        pixel_values = torch.cat([from_image, torch.rand(1, 3, s, s, generator=g) * 2 - 1])
        features = model.encode_features(pixel_values)
        out["input.encoder.pixel_values"] = pixel_values
        out["output.encoder.features"] = features

        codes = model.project(features)
        out["input.project.features"] = features
        out["output.project.codes"] = codes

        codebook = model.codebook()
        for scale in (1, 2, 3):
            pooled = model.avg_pool(features, scale)
            scaled_codes = model.project(pooled)
            if scale != 1:
                out[f"output.pooled.scale{scale}"] = pooled
                out[f"output.codes.scale{scale}"] = scaled_codes
            out[f"output.indices.scale{scale}"] = model.nearest(scaled_codes, codebook)

        grid = s // arch["patch_size"]
        p = grid // DECODER_GOLDEN_SCALE
        indices = out[f"output.indices.scale{DECODER_GOLDEN_SCALE}"]
        rows = torch.nn.functional.embedding(indices, model.decode_table())
        positions = model.decoder_positions(p)
        out["input.decoder.rows"] = rows
        out["input.decoder.positions"] = positions
        out["output.decoder.features"] = model.decode_rows(rows, positions)
        grids, _ = position_offsets(grid)
        out["output.decoder_positions"] = torch.cat([model.decoder_positions(q) for q in grids])
    return {k: v.contiguous() for k, v in out.items()}
