"""Qwen2 causal LM (the Tar LLM, TAR_SPEC §2.1) with an explicit KV cache, written for torch 1.13 and ONNX
export. Parameter names are the Hugging Face state-dict names (`model.embed_tokens.weight`,
`model.layers.{i}.self_attn.{q,k,v,o}_proj.*`, `model.layers.{i}.mlp.{gate,up,down}_proj.weight`,
`model.layers.{i}.{input,post_attention}_layernorm.weight`, `model.norm.weight`, `lm_head.weight` unless tied),
so `load_state_dict(strict=True)` works on the official weights.

Math (as Hugging Face Qwen2): RMSNorm x·rsqrt(mean(x²)+eps)·w; RoPE with inv_freq = θ^(-2i/d) on
cat(freqs, freqs) and rotate_half(x) = cat(-x2, x1); grouped-query attention (kvHeads ≤ heads, query head h
reads KV head h // (heads/kvHeads)), scale 1/√headDim, softmax in f32; SwiGLU down(silu(gate x)·up x);
logits = norm(h)·Eᵀ when tie_word_embeddings, else lm_head.

Calling convention (the graph's, docs/model-format.md "KV-cached decoder graphs"):
    forward(input_ids [B,T] int64, attention_mask [B,P+T] int64, position_ids [B,T] int64,
            past.0.key, past.0.value, past.1.key, … [B,kvHeads,P,headDim] f32)
      → (logits [B,T,V], present.0.key, present.0.value, … [B,kvHeads,P+T,headDim])
Query i (0-based in this call) may attend key j of the whole sequence iff j ≤ P + i and attention_mask[b, j]
is 1. A query row that can attend nothing (a left-padding position) gets a uniform distribution instead of
NaN; its output is meaningless and must be ignored by the caller. P may be 0.
"""
import math

import torch
from torch import nn


class Qwen2Config:
    """The fields the LLM needs, taken from a Hugging Face config.json dict (see tools/convert/llm.py)."""

    def __init__(self, hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
                 intermediate_size, rms_norm_eps, rope_theta, vocab_size, tie_word_embeddings,
                 max_position_embeddings, head_dim=None):
        self.hidden_size = int(hidden_size)
        self.num_hidden_layers = int(num_hidden_layers)
        self.num_attention_heads = int(num_attention_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.intermediate_size = int(intermediate_size)
        self.rms_norm_eps = float(rms_norm_eps)
        self.rope_theta = float(rope_theta)
        self.vocab_size = int(vocab_size)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.max_position_embeddings = int(max_position_embeddings)
        self.head_dim = int(head_dim) if head_dim else self.hidden_size // self.num_attention_heads


class Qwen2RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        variance = (x * x).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x, half):
    """cat(-x2, x1) over the last axis, whose halves are `half` wide (a Python int: the export holds constants)."""
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Qwen2Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        if self.heads % self.kv_heads:
            raise ValueError(f"num_attention_heads {self.heads} is not a multiple of num_key_value_heads "
                             f"{self.kv_heads}")
        self.groups = self.heads // self.kv_heads
        hidden = config.hidden_size
        self.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, allowed, past_key, past_value):
        """x [B,T,hidden]; cos/sin [B,1,T,headDim]; allowed [B,1,1,T,P+T] bool; past [B,kv,P,d]."""
        b, t = x.shape[0], x.shape[1]
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)      # [B,H,T,d]
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)   # [B,kv,T,d]
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q, self.head_dim // 2) * sin
        k = k * cos + rotate_half(k, self.head_dim // 2) * sin
        key = torch.cat((past_key, k), dim=2)                                           # [B,kv,S,d]
        value = torch.cat((past_value, v), dim=2)
        # GQA without copying the cache: group the query heads by the KV head they read.
        q5 = q.reshape(b, self.kv_heads, self.groups, t, self.head_dim)                 # [B,kv,g,T,d]
        scores = torch.matmul(q5, key.unsqueeze(2).transpose(3, 4)) * (1.0 / math.sqrt(self.head_dim))
        scores = torch.where(allowed, scores, torch.tensor(torch.finfo(torch.float32).min, device=scores.device))
        probs = torch.softmax(scores, dim=-1)                                           # [B,kv,g,T,S]
        out = torch.matmul(probs, value.unsqueeze(2))                                   # [B,kv,g,T,d]
        out = out.reshape(b, self.heads, t, self.head_dim).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.o_proj(out), key, value


class Qwen2MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        gate = self.gate_proj(x)
        return self.down_proj(gate * torch.sigmoid(gate) * self.up_proj(x))


class Qwen2DecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self_attn = Qwen2Attention(config)
        self.mlp = Qwen2MLP(config)
        self.input_layernorm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin, allowed, past_key, past_value):
        attn, key, value = self.self_attn(self.input_layernorm(x), cos, sin, allowed, past_key, past_value)
        x = x + attn
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, key, value


class Qwen2Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([Qwen2DecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = Qwen2RMSNorm(config.hidden_size, config.rms_norm_eps)


class Qwen2ForCausalLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.model = Qwen2Model(config)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # Rotary tables [maxPositions, headDim/2], computed in float32 exactly as Hugging Face's Qwen2 does at run
        # time, and looked up by position in the graph: GPU sin/cos are too coarse (WGSL allows ~2^-11 error).
        d = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        freqs = torch.arange(config.max_position_embeddings, dtype=torch.int64).float().unsqueeze(1) * inv_freq
        self.register_buffer("rope_cos", torch.cos(freqs), persistent=False)
        self.register_buffer("rope_sin", torch.sin(freqs), persistent=False)

    # The two ends that depend on how the vocabulary table is stored; the export wrapper overrides them.
    def embed(self, input_ids):
        return self.model.embed_tokens(input_ids)

    def head(self, h):
        if self.config.tie_word_embeddings:
            return torch.matmul(h, self.model.embed_tokens.weight.t())
        return self.lm_head(h)

    def forward(self, input_ids, attention_mask, position_ids, *past_key_values):
        return self.run(self.embed, self.head, input_ids, attention_mask, position_ids, past_key_values)

    def run(self, embed, head, input_ids, attention_mask, position_ids, past_key_values):
        layers = self.model.layers
        if len(past_key_values) != 2 * len(layers):
            raise ValueError(f"expected {2 * len(layers)} past tensors, got {len(past_key_values)}")
        t = input_ids.shape[1]
        past_len = past_key_values[0].shape[2]
        total = attention_mask.shape[1]
        # Rotary factors for these positions: [B,1,T,d].
        half_cos = self.rope_cos[position_ids]
        half_sin = self.rope_sin[position_ids]
        cos = torch.cat((half_cos, half_cos), dim=-1).unsqueeze(1)
        sin = torch.cat((half_sin, half_sin), dim=-1).unsqueeze(1)
        # Causal over the whole sequence, combined with the attention mask: [B,1,1,T,S].
        query_pos = torch.arange(t, dtype=torch.int64, device=input_ids.device) + past_len
        key_pos = torch.arange(total, dtype=torch.int64, device=input_ids.device)
        causal = key_pos.unsqueeze(0) <= query_pos.unsqueeze(1)                          # [T,S]
        allowed = causal.unsqueeze(0) & (attention_mask.unsqueeze(1) != 0)               # [B,T,S]
        allowed = allowed.unsqueeze(1).unsqueeze(1)
        x = embed(input_ids)
        presents = []
        for i, layer in enumerate(layers):
            x, key, value = layer(x, cos, sin, allowed, past_key_values[2 * i], past_key_values[2 * i + 1])
            presents += [key, value]
        logits = head(self.model.norm(x))
        return (logits, *presents)

    def empty_past(self, batch, device=None):
        c = self.config
        return [torch.zeros(batch, c.num_key_value_heads, 0, c.head_dim, device=device)
                for _ in range(2 * c.num_hidden_layers)]


class Qwen2ForExport(nn.Module):
    """Same computation as `Qwen2ForCausalLM`, for torch.onnx.export. With tied embeddings it holds the vocabulary
    table once, transposed ([hidden, V]): the input embedding is Gather(axis 1) on it and the head a plain MatMul.
    (Exporting the tied module directly would store the table twice: constant folding turns Transpose(E) into a
    second initializer.)"""

    def __init__(self, reference):
        super().__init__()
        self.reference = reference
        self.tied = reference.config.tie_word_embeddings
        if self.tied:
            self.embed_t = nn.Parameter(reference.model.embed_tokens.weight.detach().t().contiguous())

    def forward(self, input_ids, attention_mask, position_ids, *past_key_values):
        ref = self.reference
        if not self.tied:
            return ref(input_ids, attention_mask, position_ids, *past_key_values)
        return ref.run(self._embed, self._head, input_ids, attention_mask, position_ids, past_key_values)

    def _embed(self, input_ids):
        b, t = input_ids.shape[0], input_ids.shape[1]
        columns = torch.index_select(self.embed_t, 1, input_ids.reshape(-1))             # [hidden, B·T]
        return columns.t().reshape(b, t, self.embed_t.shape[0])

    def _head(self, h):
        return torch.matmul(h, self.embed_t)
