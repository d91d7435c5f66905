"""Torch reference of the AR de-tokenizer (TAR_SPEC §3: LLAMA-ABS GPT, `clip_cond` variant), written from the spec.

Parameter names are the official state-dict keys (`clip_proj.*`, `tok_embeddings.weight`,
`layers.{i}.attention.{wqkv,wo}.weight`, `layers.{i}.feed_forward.{w1,w2,w3}.weight`,
`layers.{i}.{attention_norm,ffn_norm}.weight`, `norm.weight`, `output.weight`, `abs_pe`), so
`load_state_dict(strict=True)` accepts the official `sd`.

Export-friendly: attention written by hand (MatMul/Softmax), grouped KV heads by broadcasting (no
repeat_interleave), RMSNorm by hand in float32, no Python control flow that depends on tensor values.

Three exported graphs (docs/model-format.md "ardtok"):
  ConditionEmbed: condition [B,N,condDim] -> embeds [B,N,dim]                (clip_proj)
  TokenEmbed:     input_ids [B,T] int64  -> embeds [B,T,dim]                 (tok_embeddings)
  KVDecoder:      inputs_embeds [B,T,dim], attention_mask [B,P+T] int64, position_ids [B,T] int64,
                  past_key_values.{i}.key/value [B,kvHeads,P,headDim]
                  -> logits [B,T,vocab], present.{i}.key/value [B,kvHeads,P+T,headDim]
The absolute position embedding is gathered inside KVDecoder: h = inputs_embeds + abs_pe[position_ids].
"""
import math
from dataclasses import dataclass, fields
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Official registry (ar_model.py: LLAMA-ABS configs): name -> (n_layer, n_head, dim).
REGISTRY = {
    "llama-abs-S": (12, 6, 384),
    "llama-abs-B": (12, 12, 768),
    "llama-abs-L": (24, 16, 1024),
    "llama-abs-LP": (30, 20, 1280),
    "llama-abs-XL": (36, 20, 1280),
    "llama-abs-XXL": (48, 24, 1536),
    "llama-abs-XXXL": (48, 40, 2560),
}


def find_multiple(n, k):
    return n if n % k == 0 else n + k - (n % k)


@dataclass
class ModelArgs:
    """The official ModelArgs fields (ar_model.py) with their defaults. Only some affect inference."""
    dim: int = 4096
    n_layer: int = 32
    n_head: int = 32
    n_kv_head: Optional[int] = None
    multiple_of: int = 256
    ffn_dim_multiplier: Optional[float] = None
    rope_base: float = 10000
    norm_eps: float = 1e-5
    initializer_range: float = 0.02
    token_dropout_p: float = 0.1
    attn_dropout_p: float = 0.0
    resid_dropout_p: float = 0.1
    ffn_dropout_p: float = 0.1
    drop_path_rate: float = 0.0
    num_classes: int = 1000
    class_dropout_prob: float = 0.1
    model_type: str = "class_cond"
    cond_dim: int = 1152
    cond_vocab_size: int = 8192
    vocab_size: int = 8192
    cls_token_num: int = 1
    max_batch_size: int = 32
    max_seq_len: int = 2048
    use_fixed_pe: bool = False
    frame_prediction: bool = False

    @property
    def kv_heads(self):
        return self.n_kv_head if self.n_kv_head is not None else self.n_head

    @property
    def head_dim(self):
        return self.dim // self.n_head

    @property
    def ffn_hidden(self):
        hidden = int(2 * (4 * self.dim) / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return find_multiple(hidden, self.multiple_of)

    @property
    def pe_rows(self):
        return self.max_seq_len + self.cls_token_num - 1


MODEL_ARGS_FIELDS = tuple(f.name for f in fields(ModelArgs))


def fixed_sincos_pe(dim, rows):
    """use_fixed_pe=True: 1-D sin-cos table (sin half then cos half), as the official code builds it."""
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", np.arange(rows, dtype=np.float64), omega)
    return torch.from_numpy(np.concatenate([np.sin(out), np.cos(out)], axis=1)).float()


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + self.eps) * self.weight


class FeedForward(nn.Module):
    def __init__(self, args):
        super().__init__()
        hidden = args.ffn_hidden
        self.w1 = nn.Linear(args.dim, hidden, bias=False)
        self.w3 = nn.Linear(args.dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, args.dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Attention(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.dim = args.dim
        self.n_head = args.n_head
        self.n_kv_head = args.kv_heads
        self.head_dim = args.head_dim
        self.wqkv = nn.Linear(args.dim, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=False)
        self.wo = nn.Linear(args.dim, args.dim, bias=False)

    def forward(self, x, past_k, past_v, allowed):
        """x [B,T,dim]; past_k/v [B,kv,P,hd]; allowed [B,1,1,T,P+T] bool. Returns out, new k, new v."""
        b, t = x.shape[0], x.shape[1]
        kv, hd, rep = self.n_kv_head, self.head_dim, self.n_head // self.n_kv_head
        kv_size = kv * hd
        q, k, v = self.wqkv(x).split([self.dim, kv_size, kv_size], dim=-1)
        q = q.reshape(b, t, kv, rep, hd).permute(0, 2, 3, 1, 4)           # [B,kv,rep,T,hd]
        k = k.reshape(b, t, kv, hd).transpose(1, 2)                       # [B,kv,T,hd]
        v = v.reshape(b, t, kv, hd).transpose(1, 2)
        keys = torch.cat([past_k, k], dim=2)                              # [B,kv,P+T,hd]
        values = torch.cat([past_v, v], dim=2)
        scores = torch.matmul(q, keys.unsqueeze(2).transpose(-1, -2)) * (1.0 / math.sqrt(hd))  # [B,kv,rep,T,S]
        scores = torch.where(allowed, scores, torch.full_like(scores, torch.finfo(torch.float32).min))
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, values.unsqueeze(2))                    # [B,kv,rep,T,hd]
        out = out.permute(0, 3, 1, 2, 4).reshape(b, t, self.dim)
        return self.wo(out), keys, values


class TransformerBlock(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)

    def forward(self, x, past_k, past_v, allowed):
        a, keys, values = self.attention(self.attention_norm(x), past_k, past_v, allowed)
        h = x + a
        return h + self.feed_forward(self.ffn_norm(h)), keys, values


class ARDTok(nn.Module):
    """The whole model with official parameter names (clip_cond only)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.clip_proj = nn.Linear(args.cond_dim, args.dim)
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList([TransformerBlock(args) for _ in range(args.n_layer)])
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        if args.use_fixed_pe:
            self.register_buffer("abs_pe", fixed_sincos_pe(args.dim, args.pe_rows).reshape(1, args.pe_rows, args.dim))
        else:
            self.abs_pe = nn.Parameter(torch.zeros(1, args.pe_rows, args.dim))

    def decode(self, inputs_embeds, attention_mask, position_ids, past):
        """One KV-cached step. past: list of (key, value) per layer. Returns logits and the new past."""
        return kv_decode(self, inputs_embeds, attention_mask, position_ids, past)

    def empty_past(self, batch, device=None):
        a = self.args
        z = torch.zeros(batch, a.kv_heads, 0, a.head_dim, device=device)
        return [(z, z) for _ in range(a.n_layer)]


def kv_decode(m, inputs_embeds, attention_mask, position_ids, past):
    """Shared by ARDTok and KVDecoder: `m` has layers, norm, output, abs_pe."""
    t = inputs_embeds.shape[1]
    total = attention_mask.shape[1]
    p = total - t
    # causal over the whole sequence: query i (absolute P+i) sees key j <= P+i, and only keys with mask 1
    key_index = torch.arange(total, device=inputs_embeds.device)
    query_index = torch.arange(t, device=inputs_embeds.device) + p
    causal = key_index.unsqueeze(0) <= query_index.unsqueeze(1)                      # [T,S]
    allowed = causal.unsqueeze(0) & (attention_mask != 0).unsqueeze(1)              # [B,T,S]
    allowed = allowed.unsqueeze(1).unsqueeze(1)                                      # [B,1,1,T,S]
    h = inputs_embeds + m.abs_pe[0][position_ids]
    present = []
    for layer, (pk, pv) in zip(m.layers, past):
        h, keys, values = layer(h, pk, pv, allowed)
        present.append((keys, values))
    return m.output(m.norm(h)), present


class ConditionEmbed(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.clip_proj = model.clip_proj

    def forward(self, condition):
        return self.clip_proj(condition)


class TokenEmbed(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.tok_embeddings = model.tok_embeddings

    def forward(self, input_ids):
        return self.tok_embeddings(input_ids)


class KVDecoder(nn.Module):
    """The `ardtok/model.onnx` graph: flat inputs (past as key0, value0, key1, ...) and flat outputs."""

    def __init__(self, model):
        super().__init__()
        self.layers = model.layers
        self.norm = model.norm
        self.output = model.output
        self.abs_pe = model.abs_pe

    def forward(self, inputs_embeds, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(self.layers))]
        logits, present = kv_decode(self, inputs_embeds, attention_mask, position_ids, past)
        flat = [logits]
        for k, v in present:
            flat += [k, v]
        return tuple(flat)


def io_names(n_layer):
    inputs = ["inputs_embeds", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(n_layer):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


@torch.no_grad()
def generate_reference(model, condition, token_ids, cfg_scale):
    """The official inference flow with fixed tokens instead of sampling (TAR_SPEC §3.3-3.4).

    condition [N, condDim] (one image); token_ids: the image tokens fed after the prefix (one per decode step).
    Batch = 2: row 0 conditional, row 1 unconditional (zero condition). Returns a dict of every graph call's
    inputs/outputs and the CFG-combined logits l = l_u + s (l_c - l_u) at each step."""
    n = condition.shape[0]
    cond = torch.stack([condition, torch.zeros_like(condition)])                  # [2,N,condDim]
    embeds = model.clip_proj(cond)
    calls = {"condition_embed": ({"condition": cond}, {"embeds": embeds})}
    past = model.empty_past(2)
    mask = torch.ones(2, n, dtype=torch.int64)
    pos = torch.arange(n, dtype=torch.int64).unsqueeze(0).repeat(2, 1)
    cfg_logits = []
    ids = torch.tensor(token_ids, dtype=torch.int64)
    tok_in = ids.unsqueeze(0).repeat(2, 1)                                       # both CFG halves get the token
    calls["token_embed"] = ({"input_ids": tok_in}, {"embeds": model.tok_embeddings(tok_in)})
    names = ["decode"] + [f"decode{j + 1}" for j in range(1, len(token_ids))]
    for step in range(len(token_ids) + 1):
        if step > 0:
            x = model.tok_embeddings(tok_in[:, step - 1:step])
            mask = torch.ones(2, n + step, dtype=torch.int64)
            pos = torch.full((2, 1), n + step - 1, dtype=torch.int64)
            name = names[step - 1]
        else:
            name, x = "prefill", embeds
        inputs = {"inputs_embeds": x, "attention_mask": mask, "position_ids": pos}
        for i, (k, v) in enumerate(past):
            inputs[f"past_key_values.{i}.key"] = k
            inputs[f"past_key_values.{i}.value"] = v
        logits, past = model.decode(x, mask, pos, past)
        outputs = {"logits": logits}
        for i, (k, v) in enumerate(past):
            outputs[f"present.{i}.key"] = k
            outputs[f"present.{i}.value"] = v
        calls[name] = (inputs, outputs)
        last = logits[:, -1]
        cfg_logits.append(last[1] + cfg_scale * (last[0] - last[1]))
    return calls, torch.stack(cfg_logits)
