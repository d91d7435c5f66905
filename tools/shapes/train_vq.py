"""Tar-Shapes stage "vq": trains a LlamaGen-architecture VQ autoencoder (64 px images -> 16x16 codes from a
512-entry, 8-d, L2-normalised codebook) on the training images and writes, under build/shapes/vq/:
  vq_shapes.pt            the official LlamaGen checkpoint format ({"model": state_dict}, official key names),
                          accepted unchanged by tools.convert.vq;
  codes_{train,test}.npy  int16 [N, 16, 16] codebook indices (raster order): the AR de-tokenizer's targets;
  recon.png               16 test images, original | reconstruction;
  done.json               settings and measured figures, written last (if present, the stage is done).
Resumable: the training state is saved every few minutes and a killed run resumes from it bit-exactly (every
step's randomness is a function of the step number). SHAPES_DEVICE picks the device (the same schedule and batch
on a GPU); with SHAPES_VQ_SECONDS set (tools.shapes.train_gpu) every cycle is shortened alike to fit that many
seconds, if the whole schedule would not (common.step_budget, decided after a probe inside the first warm-up).

The decoding half is tools/convert/reference/vq.py's VQDecoderModel (the module the converter exports); this
file adds LlamaGen's Encoder, its Downsample, quant_conv and the cosine quantiser. It is not a general VQ
trainer: the architecture and schedule below are Tar-Shapes' model definition.

Run: /usr/bin/python3 -m tools.shapes.train_vq"""
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from tools.convert.reference.vq import (GN_EPS, NUM_GROUPS, AttnBlock, GroupNorm, ResnetBlock, VQDecoderModel,
                                        swish, to_uint8_hwc)
from tools.shapes import common, data

# ---- the model ------------------------------------------------------------------------------------------------
# 4x downsampling: an 8x8 grid of 256 codes (channels [32, 32, 32, 64]) reached 26.2 dB but its reconstructions
# scored only 55% on shape and 58% on count with the evaluator (blobs for stars, merged objects); a 4 px code
# cell holds one edge at most, and 64 channels at full resolution give GroupNorm(32) two channels per group.
ARCH = {"codebook_size": 512, "code_dim": 8, "z_channels": 64, "channels": [64, 64, 128], "num_res_blocks": 1}
# LlamaGen's encoder_ch_mult may differ from decoder_ch_mult (the encoder is not exported): 128 channels at the
# code grid give its final GroupNorm(32) four channels per group, so a flat region's colour survives it (with one or two
# channels per group, a flat map normalises to +-1 and black and gray backgrounds share codes).
ENCODER_CHANNELS = [32, 64, 128]
CODE_CELL = 2 ** (len(ARCH["channels"]) - 1)            # pixels per code, each way

# ---- the schedule ---------------------------------------------------------------------------------------------
SETTINGS = {
    "seed": 7,
    # [steps, peak lr]; Adam, each cycle a linear warm-up and a cosine...
    "cycles": [[1500, 2e-3], [1500, 1e-3], [1500, 5e-4], [1500, 3e-4]],
    "warmup": 30,
    "lr_floor": 0.05,           # ...down to peak * lr_floor
    "batch": 8,
    "crop": 32,                 # random crops on the code grid (a quarter of the compute per image)...
    "crop_until": 0.9,          # ...for this fraction of each cycle, then whole 64x64 images (the test-time input)
    "l1_weight": 1.0,           # reconstruction loss = MSE + l1_weight * L1, on [-1, 1] pixels...
    "shape_weight": 3.0,        # ...weighted this much on pixels that differ from the background (the corner)
    "commit_beta": 0.25,        # LlamaGen's commitment weight (the codebook loss has weight 1)
    "restart_every": 50,        # codes unused over this many steps move onto the worst-fit encodings...
    "restart_until": 0.6,       # ...until this fraction of the cycle (the decoder then settles on the codebook)
    "save_seconds": 120,
}
CHECKPOINT = "vq_shapes.pt"
STATE = "train_state.pt"
RECON_COUNT = 16


class Downsample(nn.Module):
    """LlamaGen's Downsample(with_conv=True): pad right/bottom by one, 3x3 conv with stride 2."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):                                       # [B,C,H,W] -> [B,C,H/2,W/2]
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Encoder(nn.Module):
    """LlamaGen's Encoder with the official key names: conv_in, conv_blocks[i].res[j] (+ .attn[j] at the lowest
    resolution, + .downsample except there), mid (ResBlock, AttnBlock, ResBlock), norm_out, conv_out."""

    def __init__(self, z_channels, channels, num_res_blocks):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        self.conv_blocks = nn.ModuleList()
        block_in = channels[0]
        for i_level, block_out in enumerate(channels):
            block = nn.Module()
            block.res = nn.ModuleList()
            block.attn = nn.ModuleList()
            for _ in range(num_res_blocks):
                block.res.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i_level == len(channels) - 1:
                    block.attn.append(AttnBlock(block_in))
            if i_level != len(channels) - 1:
                block.downsample = Downsample(block_in)
            self.conv_blocks.append(block)
        self.mid = nn.ModuleList([ResnetBlock(block_in, block_in), AttnBlock(block_in),
                                  ResnetBlock(block_in, block_in)])
        self.norm_out = GroupNorm(block_in)
        self.conv_out = nn.Conv2d(block_in, z_channels, 3, padding=1)

    def forward(self, x):                                       # [B,3,H,W] -> [B,z,H/f,W/f]
        h = self.conv_in(x)
        for block in self.conv_blocks:
            for i, res in enumerate(block.res):
                h = res(h)
                if len(block.attn) > 0:
                    h = block.attn[i](h)
            if hasattr(block, "downsample"):
                h = block.downsample(h)
        for m in self.mid:
            h = m(h)
        return self.conv_out(swish(self.norm_out(h)))


class VQModel(VQDecoderModel):
    """LlamaGen's VQModel (codebook_l2_norm): the reference decoding half plus encoder and quant_conv. Its
    state_dict holds exactly the official keys the converter reads (and the encoder ones it skips)."""

    def __init__(self, encoder_channels, codebook_size, code_dim, z_channels, channels, num_res_blocks):
        super().__init__(codebook_size, code_dim, z_channels, channels, num_res_blocks)
        self.encoder = Encoder(z_channels, encoder_channels, num_res_blocks)
        self.quant_conv = nn.Conv2d(z_channels, code_dim, 1)

    def codebook(self):                                         # -> [K, D], unit rows
        return F.normalize(self.quantize.embedding.weight, p=2, dim=-1)

    def encode(self, x):
        """x [B,3,H,W] in [-1,1] -> (z [B,h,w,D] unit vectors, indices [B,h,w]: the cosine-nearest code)."""
        z = F.normalize(self.quant_conv(self.encoder(x)).permute(0, 2, 3, 1), p=2, dim=-1)
        return z, torch.argmax(z @ self.codebook().t(), dim=-1)

    def decode_z(self, zq):                                     # [B,h,w,D] -> [B,3,f*h,f*w]
        return self.decoder(self.post_quant_conv(zq.permute(0, 3, 1, 2)))

    def forward(self, x):
        """-> (reconstruction, codebook loss, commitment loss (unweighted), indices, z), LlamaGen's losses."""
        z, indices = self.encode(x)
        zq = self.codebook()[indices]                           # [B,h,w,D]
        codebook_loss = torch.mean((zq - z.detach()) ** 2)
        commit_loss = torch.mean((zq.detach() - z) ** 2)
        recon = self.decode_z(z + (zq - z).detach())            # straight-through
        return recon, codebook_loss, commit_loss, indices, z


def fuse_group_norms(module):
    """Swaps the reference's export-friendly GroupNorm for torch's fused one (same maths and parameter names,
    ~1.4x faster training on CPU). Returns the module."""
    for name, child in module.named_children():
        if isinstance(child, GroupNorm):
            fused = nn.GroupNorm(NUM_GROUPS, child.weight.numel(), eps=GN_EPS)
            fused.weight, fused.bias = child.weight, child.bias
            setattr(module, name, fused)
        else:
            fuse_group_norms(child)
    return module


def init_encoder(model):
    """The encoder's main path (conv_in, downsamples, shortcuts, conv_out, quant_conv) variance-preserving and
    its residual branches zero, so every block starts as the identity and the pixels' colours reach the codes
    from the first step. Torch's default init shrinks the main path ~1.7x per conv under unit-variance branch
    noise: the codes start out nearly blind to the background colour and the loss sat on its initial plateau
    for 150-300+ steps (about 100 with this init)."""
    main = [model.encoder.conv_in, model.encoder.conv_out, model.quant_conv]
    for m in model.encoder.modules():
        if isinstance(m, ResnetBlock):
            nn.init.zeros_(m.conv2.weight)
            nn.init.zeros_(m.conv2.bias)
            main += [m.nin_shortcut] if m.has_shortcut else []
        elif isinstance(m, AttnBlock):
            nn.init.zeros_(m.proj_out.weight)
            nn.init.zeros_(m.proj_out.bias)
        elif isinstance(m, Downsample):
            main.append(m.conv)
    for conv in main:
        nn.init.normal_(conv.weight, std=conv.weight[0].numel() ** -0.5)
        nn.init.zeros_(conv.bias)


def build_model(seed):
    torch.manual_seed(seed)
    model = VQModel(ENCODER_CHANNELS, **ARCH)
    init_encoder(model)
    nn.init.uniform_(model.quantize.embedding.weight, -1.0 / ARCH["codebook_size"], 1.0 / ARCH["codebook_size"])
    return fuse_group_norms(model)


def to_input(images):                                          # uint8 [B,H,W,3] -> float [B,3,H,W] in [-1,1]
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


# ---- training -------------------------------------------------------------------------------------------------
def total_steps(s):
    return sum(length for length, _ in s["cycles"])


def cycle_of(step, s):
    """-> (step within its cycle, the cycle's length, its peak lr)."""
    for length, peak in s["cycles"]:
        if step < length:
            return step, length, peak
        step -= length
    raise ValueError("step beyond the last cycle")


def learning_rate(step, s):
    local, length, peak = cycle_of(step, s)
    if local < s["warmup"]:
        return peak * (local + 1) / s["warmup"]
    t = (local - s["warmup"]) / max(1, length - s["warmup"])
    return peak * (s["lr_floor"] + (1 - s["lr_floor"]) * 0.5 * (1 + math.cos(math.pi * t)))


def pixel_weights(x, shape_weight):
    """x [B,3,H,W] whole images -> [B,1,H,W]: shape_weight where a pixel differs from the image's corner (always
    background in this world), else 1."""
    differs = (x - x[:, :, :1, :1]).abs().amax(dim=1, keepdim=True) > 0.05
    return 1.0 + (shape_weight - 1.0) * differs.float()


def shortened(s, total):
    """The settings with every cycle shortened alike so that the schedule has `total` steps (the last cycle takes
    the rounding)."""
    lengths = [max(s["warmup"] + 1, length * total // total_steps(s)) for length, _ in s["cycles"]]
    lengths[-1] = max(s["warmup"] + 1, total - sum(lengths[:-1]))
    return dict(s, cycles=[[length, peak] for length, (_, peak) in zip(lengths, s["cycles"])])


def sample_batch(images, s, step, generator):
    """-> (x [B,3,S,S] in [-1,1], loss weights [B,1,S,S]): S = s["crop"] (crops on the code grid) early on, then
    the whole 64 px image."""
    x = to_input(images[torch.randint(len(images), (s["batch"],), generator=generator).numpy()])   # [B,3,64,64]
    both = torch.cat([x, pixel_weights(x, s["shape_weight"])], dim=1)                            # [B,4,64,64]
    local, length, _ = cycle_of(step, s)
    if local < s["crop_until"] * length:
        offsets = crop_offsets(len(x), x.shape[-1], s, generator) * CODE_CELL
        both = torch.stack([b[:, i:i + s["crop"], j:j + s["crop"]] for b, (i, j) in zip(both, offsets.tolist())])
    return both[:, :3], both[:, 3:]


def crop_offsets(count, side, s, generator):
    """-> int [count, 2]: random top-left corners, in codes, of s["crop"] px crops of `side` px images."""
    return torch.randint((side - s["crop"]) // CODE_CELL + 1, (count, 2), generator=generator)


def restart_dead_codes(model, optimizer, usage, z):
    """Codes unused since the last restart move onto the batch's encodings that the codebook fits worst (rare
    content, i.e. shapes: random picks would mostly duplicate background codes), with fresh Adam moments."""
    pool = z.detach().reshape(-1, z.shape[-1])                 # [B*h*w, D]
    dead = torch.nonzero(usage == 0).flatten()[:len(pool)]
    if len(dead) == 0:
        return 0
    fit = (pool @ model.codebook().detach().t()).max(dim=-1).values   # [B*h*w] cosine to the nearest code
    weight = model.quantize.embedding.weight
    with torch.no_grad():
        weight[dead] = pool[torch.argsort(fit)[:len(dead)]]
    moments = optimizer.state.get(weight, {})
    for key in ("exp_avg", "exp_avg_sq"):
        if key in moments:
            moments[key][dead] = 0
    return len(dead)


def save_state(path, model, optimizer, step, usage, log):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "usage": usage,
                "log": log}, path + ".tmp")
    os.replace(path + ".tmp", path)


def train(model, images, s, state_path, until=None):
    """Trains `model` (on its device) on uint8 [N,64,64,3] `images` through s["cycles"] — shortened to fit
    SHAPES_VQ_SECONDS when that is set — or up to step `until`, resuming from / saving to `state_path`. Returns
    the log (per-step losses and seconds, restarts, the cycles run)."""
    dev = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=s["cycles"][0][1])
    usage = torch.zeros(ARCH["codebook_size"], dtype=torch.long, device=dev)
    log, start = {"loss": [], "mse": [], "seconds": [], "restarts": [], "cycles": s["cycles"]}, 0
    if os.path.exists(state_path):
        state = torch.load(state_path, map_location=dev)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        usage, log, start = state["usage"], state["log"], state["step"]
        print(f"resuming at step {start}")
    s = dict(s, cycles=log["cycles"])
    budget = common.step_budget(total_steps(s), "SHAPES_VQ_SECONDS", cap=1) if start == 0 else None
    model.train()
    saved = time.time()
    step = start
    while True:
        if budget is not None and budget.tick(step) != total_steps(s):
            s = shortened(s, budget.total)                      # once, when the probe says it would not fit
            log["cycles"], budget = s["cycles"], None
        end = total_steps(s) if until is None else until
        if step >= end:
            break
        t0 = time.time()
        generator = torch.Generator().manual_seed(s["seed"] * 1_000_003 + step)
        x, weights = (t.to(dev) for t in sample_batch(images, s, step, generator))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s)
        recon, codebook_loss, commit_loss, indices, z = model(x)
        mse = F.mse_loss(recon, x)
        error = (recon - x) ** 2 + s["l1_weight"] * (recon - x).abs()           # [B,3,S,S]
        loss = (error * weights).mean() + codebook_loss + s["commit_beta"] * commit_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        usage += torch.bincount(indices.flatten(), minlength=ARCH["codebook_size"])
        if (step + 1) % s["restart_every"] == 0:
            local, length, _ = cycle_of(step, s)
            if local + 1 < s["restart_until"] * length:
                log["restarts"].append([step + 1, restart_dead_codes(model, optimizer, usage, z)])
            usage.zero_()
        log["loss"].append(loss.item())
        log["mse"].append(mse.item())
        log["seconds"].append(time.time() - t0)
        if (step + 1) % 50 == 0:
            recent = slice(-50, None)
            print(f"step {step + 1}: loss {np.mean(log['loss'][recent]):.4f} "
                  f"psnr~{10 * math.log10(4 / np.mean(log['mse'][recent])):.2f} dB "
                  f"{np.mean(log['seconds'][recent]):.3f} s/step", flush=True)
        step += 1
        if time.time() - saved > s["save_seconds"] or step == end:
            save_state(state_path, model, optimizer, step, usage, log)
            saved = time.time()
    return log


# ---- outputs --------------------------------------------------------------------------------------------------
def save_checkpoint(model, path):
    """The official format: {"model": state_dict}, codebook rows L2-normalised (LlamaGen's codebook_l2_norm)."""
    sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    sd["quantize.embedding.weight"] = F.normalize(sd["quantize.embedding.weight"], p=2, dim=-1)
    torch.save({"model": sd}, path + ".tmp")
    os.replace(path + ".tmp", path)


@torch.no_grad()
def encode_all(model, images, batch=100):
    """uint8 [N,64,64,3] -> int16 [N,h,w] code indices."""
    model.eval()
    dev = next(model.parameters()).device
    return np.concatenate([model.encode(to_input(images[i:i + batch]).to(dev))[1].cpu().numpy().astype(np.int16)
                           for i in range(0, len(images), batch)])


@torch.no_grad()
def decode_all(decoder, codes, batch=100):
    """int16 [N,h,w] -> uint8 [N,fh,fw,3] (f = 64 / h) through a decoding module (codes -> [-1,1] image, on its
    device) and Tar's post-processing."""
    dev = next(decoder.parameters()).device
    return np.concatenate([to_uint8_hwc(decoder(torch.from_numpy(codes[i:i + batch]).long().to(dev))).cpu().numpy()
                           for i in range(0, len(codes), batch)])


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * math.log10(255.0 ** 2 / mse))


def usage_figures(codes):
    counts = np.bincount(codes.flatten().astype(np.int64), minlength=ARCH["codebook_size"])
    p = counts[counts > 0] / counts.sum()
    return {"used": int((counts > 0).sum()), "of": ARCH["codebook_size"],
            "perplexity": float(np.exp(-(p * np.log(p)).sum()))}


def save_recon_png(originals, recons, path):
    """4x4 grid of (original | reconstruction) pairs, shown at 2x."""
    pairs = [np.concatenate([o, r], axis=1) for o, r in zip(originals, recons)]          # [64,128,3] each
    rows = [np.concatenate(pairs[i:i + 4], axis=1) for i in range(0, len(pairs), 4)]
    grid = np.concatenate(rows, axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def main():
    torch.set_num_threads(1)
    out = data.stage_dir("vq")
    done_path = os.path.join(out, "done.json")
    if os.path.exists(done_path):
        print(f"{done_path} exists: the vq stage is done")
        return
    from tools.convert.vq import build_checked
    train_images, test_images = data.images("train"), data.images("test")
    model = build_model(SETTINGS["seed"]).to(common.device())
    t0 = time.time()
    log = train(model, train_images, SETTINGS, os.path.join(out, STATE))
    train_wall = time.time() - t0
    checkpoint = os.path.join(out, CHECKPOINT)
    save_checkpoint(model, checkpoint)

    t0 = time.time()
    codes = {"train": encode_all(model, train_images), "test": encode_all(model, test_images)}
    for split, c in codes.items():
        np.save(os.path.join(out, f"codes_{split}.npy"), c)
    encode_wall = time.time() - t0

    reference, arch = build_checked(checkpoint)                 # the converter's module, as exported
    reference.to(common.device())
    recon_test = decode_all(reference, codes["test"])
    recon_train = decode_all(reference, codes["train"][:len(test_images)])
    save_recon_png(test_images[:RECON_COUNT], recon_test[:RECON_COUNT], os.path.join(out, "recon.png"))
    figures = {
        "psnr_test_db": psnr(recon_test, test_images),
        "psnr_train_first400_db": psnr(recon_train, train_images[:len(test_images)]),
        "codebook_train": usage_figures(codes["train"]), "codebook_test": usage_figures(codes["test"]),
        "seconds_per_step": float(np.mean(log["seconds"])), "train_s_all_runs": float(np.sum(log["seconds"])),
        "train_wall_s_this_run": train_wall,
        "encode_wall_s": encode_wall, "final_loss_last50": float(np.mean(log["loss"][-50:])),
        "restarts": log["restarts"],
        "params": {"encoder": sum(p.numel() for k, p in model.state_dict().items() if k.startswith("encoder.")),
                   "decoder_graph": sum(p.numel() for p in reference.parameters())},
    }
    print(json.dumps({k: v for k, v in figures.items() if k != "restarts"}, indent=1))
    with open(done_path + ".tmp", "w") as f:
        json.dump({"arch": arch, "encoder_channels": ENCODER_CHANNELS, "settings": SETTINGS, "figures": figures}, f,
                  indent=1)
    os.replace(done_path + ".tmp", done_path)


if __name__ == "__main__":
    main()
