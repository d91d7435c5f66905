"""Tiny random AR de-tokenizer in the official checkpoint format ({"model": {"name", "args", "sd"}}).

Sizes: dim 64, 2 layers, 4 heads (head dim 16, kv heads = heads as in the released models), SwiGLU hidden
find_multiple(int(2*4*64/3), multiple_of=32) = 192, vocab 64 (= tiny VQ codebook), cond_dim 48 (= tiny TA-Tok
decoder hidden size), cls_token_num 64 (= the most TA-Tok tokens of the tiny TA-Tok: its 8x8 grid at pool
scale 1, so every scale fits the position table), max_seq_len 16 (a 4x4 VQ grid -> 64 px). The registry name is
'llama-abs-S'; n_layer/n_head/dim come from args (see tools/convert/ardtok.py: args override the registry)."""
import os

import torch

from tools.convert.ardtok import build_checked
from tools.convert.reference.ardtok import generate_reference

NAME = "llama-abs-S"
ARGS = {
    "n_layer": 2, "n_head": 4, "dim": 64, "multiple_of": 32, "norm_eps": 1e-5,
    "model_type": "clip_cond", "cond_dim": 48, "vocab_size": 64, "cls_token_num": 64, "max_seq_len": 16,
    "use_fixed_pe": False, "class_dropout_prob": 0.1, "token_dropout_p": 0.1,
}
CFG_SCALE = 4.0
PREFIX_LEN = 16         # the tiny TA-Tok's 4x4 grid at pool scale 2 (any N <= cls_token_num works)
DECODE_TOKENS = [5, 42]  # fixed image tokens fed after the prefix (instead of sampling)


def random_state_dict(args, seed):
    """Random weights with the official key names and shapes (scaled so activations stay O(1))."""
    from tools.convert.reference.ardtok import ARDTok, ModelArgs
    g = torch.Generator().manual_seed(seed)
    model = ARDTok(ModelArgs(**args))
    sd = {}
    for key, t in model.state_dict().items():
        if key.endswith("norm.weight"):
            sd[key] = 1.0 + 0.1 * torch.randn(t.shape, generator=g)
        elif key == "abs_pe":
            sd[key] = 0.5 * torch.randn(t.shape, generator=g)
        elif key == "tok_embeddings.weight":
            sd[key] = torch.randn(t.shape, generator=g)
        elif t.dim() == 2:
            sd[key] = torch.randn(t.shape, generator=g) / t.shape[1] ** 0.5
        else:
            sd[key] = 0.1 * torch.randn(t.shape, generator=g)
    return sd


def write_checkpoint(folder, seed, name=NAME, args=None, sd=None):
    os.makedirs(folder, exist_ok=True)
    args = dict(ARGS if args is None else args)
    if sd is None:
        sd = random_state_dict(args, seed)
    path = os.path.join(folder, "ar_dtok_tiny_64px.pth")
    torch.save({"model": {"name": name, "args": args, "sd": sd}}, path)
    return path


def goldens(checkpoint_path):
    model, _ = build_checked(checkpoint_path)
    g = torch.Generator().manual_seed(7)
    condition = torch.randn(PREFIX_LEN, model.args.cond_dim, generator=g)
    calls, cfg = generate_reference(model, condition, DECODE_TOKENS, CFG_SCALE)
    out = {}
    for graph, (inputs, outputs) in calls.items():
        for k, v in inputs.items():
            out[f"{graph}.input.{k}"] = v.contiguous()
        for k, v in outputs.items():
            out[f"{graph}.output.{k}"] = v.contiguous()
    out["generate.cfg_scale"] = torch.tensor([CFG_SCALE])
    out["generate.token_ids"] = torch.tensor(DECODE_TOKENS, dtype=torch.int64)
    out["generate.cfg_logits"] = cfg.contiguous()
    return out
