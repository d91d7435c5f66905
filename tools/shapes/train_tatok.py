"""Stage "tatok": Tar-Shapes' text-aligned tokenizer (TAR_SPEC §1, the paper's §3.1) trained from the teacher.

TA-Tok = the teacher's vision tower (trained further) → hidden_states[-2] → scale-adaptive average pooling
(scale 1, 2 or 3 per batch) → encode_task_layer → in_linear → L2-normalise → nearest row of the text-aligned
codebook C = normalize(E·Wᵀ + b), where E is the text LM's embedding table (frozen) and only W, b learn (SimVQ)
→ straight-through → out_linear → a small SigLIP2-style ViT decoder → decode_task_layer, trained to reconstruct
the frozen teacher's hidden_states[-2] (pooled to the same scale). The decoder's 6×6 position table is resized
per scale with the same antialiased bilinear resize the converter bakes in, here differentiably.

Writes build/shapes/tatok/: ta_tok.pth in the official format ({"model": {"args", "sd"}}) with its teacher folder
siglip2-shapes/config.json, codebook.pt (C, for the LLM's image-token embeddings), indices_{split}_s{scale}.npy
(int16 [N, p²], computed by the converter's own loader on uint8 images), done.json."""
import json
import os
import random

import numpy as np
import torch
import torch.nn.functional as F
from easydict import EasyDict

from tools.convert.reference.tatok import TATok
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, text
from tools.shapes.train_llm import text_embeddings
from tools.shapes.train_teacher import VISION, VisionTower, pixels

TEACHER_FOLDER = "siglip2-shapes"
DECODER_LAYERS, DECODER_INTERMEDIATE, DECODER_GRID = 2, 192, 6
STEPS, BATCH, LR = 600, 64, 1e-3
COMMITMENT = 0.25
SEED = 31


def architecture(codebook_size, code_dim):
    v = VISION
    return {"image_size": v["image_size"], "patch_size": v["patch_size"], "hidden": v["hidden_size"],
            "heads": v["num_attention_heads"], "intermediate": v["intermediate_size"],
            "layers": v["num_hidden_layers"], "eps": v["layer_norm_eps"], "select_layer_id": -2,
            "code_dim": code_dim, "codebook_size": codebook_size, "decoder_hidden": v["hidden_size"],
            "decoder_heads": 12, "decoder_intermediate": DECODER_INTERMEDIATE, "decoder_layers": DECODER_LAYERS,
            "decoder_num_patches": DECODER_GRID * DECODER_GRID, "decoder_eps": 1e-6}


def official_args(codebook_size, code_dim):
    return EasyDict({
        "bottleneck": {"name": "bottleneck", "args": {
            "bottleneck_dim": code_dim, "norm": "none",
            "regularizer": {"name": "simvq", "args": {
                "codebook_size": codebook_size, "commitment_loss_weight": COMMITMENT, "codebook_loss_weight": 1.0,
                "entropy_loss_weight": 0.0, "entropy_loss_temperature": 0.01, "l2_normalized": True,
                "stochastic": False, "stochastic_temperature": 0.03, "top_k": 1, "top_k_prob": 0.5,
                "residual_weight": 0.0}}}},
        "bottleneck_token_num": DECODER_GRID * DECODER_GRID, "input_size": VISION["image_size"],
        "teacher": TEACHER_FOLDER, "ckpt_path": TEACHER_FOLDER, "pool_scale": 1, "rand_scale": True,
        "decoder_depth": DECODER_LAYERS,
    })


def positions(tatok, p):
    """Differentiable twin of Siglip2PatchEmbeddings.resized_positions: [p², Cdec]."""
    table = tatok.decoder.vision_model.embeddings.position_embedding.weight
    side = tatok.decoder.vision_model.embeddings.side
    grid = table.reshape(side, side, -1).permute(2, 0, 1).unsqueeze(0)                  # [1,C,side,side]
    resized = F.interpolate(grid, size=(p, p), mode="bilinear", align_corners=False, antialias=True)
    return resized.reshape(grid.shape[1], p * p).t()


def teacher_features(teacher, x):
    """Frozen teacher's hidden_states[-2]: [B, g², C]."""
    with torch.no_grad():
        return teacher.encoder.hidden_state(x, -2)


def step_loss(tatok, teacher, x, scale):
    target = tatok.avg_pool(teacher_features(teacher, x), scale)                         # [B,p²,C]
    codes = tatok.project(tatok.avg_pool(tatok.encode_features(x), scale))               # [B,p²,D] unit
    codebook = tatok.codebook()                                                          # [K,D] unit
    chosen = codebook[(codes @ codebook.t()).argmax(-1)]                                 # [B,p²,D]
    quantised = codes + (chosen - codes).detach()
    p = int(round(codes.shape[1] ** 0.5))
    decoded = tatok.decode_rows(tatok.bottleneck.out_linear(quantised), positions(tatok, p))
    reconstruction = F.mse_loss(decoded, target) + (1 - F.cosine_similarity(decoded, target, dim=-1)).mean()
    vq = F.mse_loss(chosen, codes.detach()) + COMMITMENT * F.mse_loss(codes, chosen.detach())
    return reconstruction + vq, reconstruction.item()


def write_checkpoint(folder, tatok, teacher_state, args):
    os.makedirs(os.path.join(folder, TEACHER_FOLDER), exist_ok=True)
    with open(os.path.join(folder, TEACHER_FOLDER, "config.json"), "w") as f:
        json.dump({"model_type": "siglip", "architectures": ["SiglipModel"], "vision_config": VISION}, f, indent=2)
    sd = {k: v.detach().clone() for k, v in tatok.state_dict().items()}
    sd.update({k: v for k, v in teacher_state.items() if k.startswith(("encoder.post_layernorm.", "encoder.head."))})
    path = os.path.join(folder, "ta_tok.pth")
    common.save_atomic({"model": {"args": args, "sd": sd}}, path)
    return path


def write_indices(folder, path):
    """Indices of every image at every scale, by the converter's loader (one encoder pass per image)."""
    model, _, _ = load_tatok(path)
    codebook = model.codebook()
    for split in data.SPLITS:
        images = torch.from_numpy(data.images(split))
        out = {scale: [] for scale in text.SCALES}
        with torch.no_grad():
            for start in range(0, len(images), 256):
                features = model.encode_features(model.preprocess(images[start:start + 256]))
                for scale in text.SCALES:
                    out[scale].append(model.nearest(model.project(model.avg_pool(features, scale)), codebook))
        for scale in text.SCALES:
            np.save(os.path.join(folder, f"indices_{split}_s{scale}.npy"), torch.cat(out[scale]).numpy().astype(np.int16))
    return model


def run():
    folder = data.stage_dir("tatok")
    if common.is_done(folder):
        print("tatok: done already")
        return
    common.setup(SEED)
    clock = common.Clock("tatok")
    embeddings = text_embeddings()                                                       # E [K, D]
    teacher = VisionTower()
    teacher_state = torch.load(os.path.join(data.stage_dir("teacher"), "teacher.pt"))["vision"]
    teacher.load_state_dict(teacher_state)
    teacher.eval()
    tatok = TATok(architecture(embeddings.shape[0], embeddings.shape[1]))
    tatok.encoder.load_state_dict({k[len("encoder."):]: v for k, v in teacher_state.items()
                                   if k.startswith("encoder.") and not k.startswith(("encoder.post_layernorm.",
                                                                                      "encoder.head."))})
    regulariser = tatok.bottleneck.regularizer
    regulariser.embedding.weight.data.copy_(embeddings)
    regulariser.embedding.weight.requires_grad_(False)
    params = [p for p in tatok.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=LR, weight_decay=1e-4)
    images = torch.from_numpy(data.images("train"))
    rng = random.Random(SEED)
    for step in range(STEPS):
        for group in optimiser.param_groups:
            group["lr"] = common.cosine_lr(step, STEPS, LR)
        x = pixels(images[[rng.randrange(len(images)) for _ in range(BATCH)]])
        loss, reconstruction = step_loss(tatok, teacher, x, rng.choice(text.SCALES))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == STEPS - 1:
            clock.log(f"step {step}/{STEPS} loss {loss.item():.4f} reconstruction {reconstruction:.4f}")
    tatok.eval()
    path = write_checkpoint(folder, tatok, teacher_state, official_args(embeddings.shape[0], embeddings.shape[1]))
    model = write_indices(folder, path)
    with torch.no_grad():
        torch.save(model.codebook().detach().clone(), os.path.join(folder, "codebook.pt"))
    used = {s: int(len(np.unique(np.load(os.path.join(folder, f"indices_train_s{s}.npy"))))) for s in text.SCALES}
    clock.log(f"codes used per scale {used}")
    common.mark_done(folder, {"steps": STEPS, "batch": BATCH, "final_reconstruction": reconstruction,
                              "codes_used": used, "minutes": clock.minutes()})


if __name__ == "__main__":
    run()
