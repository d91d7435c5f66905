"""Tiny random LlamaGen VQ in the official checkpoint format (torch pickle, state dict under ckpt['model']).

Sizes: codebook 64 x 8 (64 = tiny AR-DTok vocab), z_channels 32, ch 32, ch_mult [1,1,1,1,1] (5 levels -> the
downsample factor stays 16; GroupNorm keeps LlamaGen's 32 groups, so every channel count is 32),
num_res_blocks 1 (2 ResBlocks per level, 2 AttnBlocks at the lowest resolution; the official model has 2, i.e.
3 and 3: one fewer keeps ardtok + vq under 2 MB of float32 package files; the converter reads the count from
the keys, and tools/tests/test_vq.py checks num_res_blocks 2 and a channel change (nin_shortcut) separately).
The checkpoint also holds a few encoder / quant_conv tensors and the `quantize.codebook_used` buffer, like the
official file, so the converter's skipping of them is exercised. The 64-row codebook is L2-normalised in the
checkpoint like LlamaGen's init (the graph normalises anyway)."""
import os

import torch

from tools.convert.reference.vq import VQDecoderModel, to_uint8_hwc
from tools.convert.vq import build_checked

ARCH = {"codebook_size": 64, "code_dim": 8, "z_channels": 32, "channels": [32, 32, 32, 32, 32], "num_res_blocks": 1}


def random_state_dict(arch, seed):
    torch.manual_seed(seed)
    model = VQDecoderModel(**arch)   # torch's default init keeps activations O(1)
    g = torch.Generator().manual_seed(seed)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for k in sd:
        if k.endswith("norm.weight") or k.endswith("norm1.weight") or k.endswith("norm2.weight") or k.endswith("norm_out.weight"):
            sd[k] = 1.0 + 0.1 * torch.randn(sd[k].shape, generator=g)
        elif k.endswith("norm.bias") or k.endswith("norm1.bias") or k.endswith("norm2.bias") or k.endswith("norm_out.bias"):
            sd[k] = 0.1 * torch.randn(sd[k].shape, generator=g)
    emb = torch.randn(arch["codebook_size"], arch["code_dim"], generator=g)
    sd["quantize.embedding.weight"] = torch.nn.functional.normalize(emb, dim=-1)
    # parts of the official file that decoding does not use (skipped by the converter)
    z, d = arch["z_channels"], arch["code_dim"]
    sd["encoder.conv_in.weight"] = torch.randn(arch["channels"][0], 3, 3, 3, generator=g)
    sd["encoder.conv_in.bias"] = torch.zeros(arch["channels"][0])
    sd["encoder.conv_out.weight"] = torch.randn(z, arch["channels"][-1], 3, 3, generator=g)
    sd["encoder.conv_out.bias"] = torch.zeros(z)
    sd["quant_conv.weight"] = torch.randn(d, z, 1, 1, generator=g)
    sd["quant_conv.bias"] = torch.zeros(d)
    sd["quantize.codebook_used"] = torch.zeros(65536)
    return sd


def write_checkpoint(folder, seed, arch=None, sd=None):
    os.makedirs(folder, exist_ok=True)
    if sd is None:
        sd = random_state_dict(arch or ARCH, seed)
    path = os.path.join(folder, "vq_ds16_tiny.pt")
    torch.save({"model": sd}, path)
    return path


@torch.no_grad()
def goldens(checkpoint_path):
    model, arch = build_checked(checkpoint_path)
    g = torch.Generator().manual_seed(11)
    codes = torch.randint(0, arch["codebook_size"], (2, 4, 4), generator=g, dtype=torch.int64)
    small = torch.randint(0, arch["codebook_size"], (1, 2, 2), generator=g, dtype=torch.int64)
    image = model(codes)
    return {
        "input.codes": codes, "output.image": image, "output.image_uint8": to_uint8_hwc(image),
        "small.input.codes": small, "small.output.image": model(small),
    }
