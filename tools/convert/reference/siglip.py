"""SigLIP / SigLIP2 vision transformer building blocks (TAR_SPEC §1.3, §1.7), written for export.

Our own code, written from the spec. Parameter names follow the Hugging Face `transformers` modules
(`SiglipVisionTransformer`, `Siglip2VisionTransformer`) so the official TA-Tok state dict loads with
`load_state_dict(strict=True)`. Everything is plain arithmetic that torch 1.13 exports to ONNX opset 17 with
ops ORT-web's WebGPU provider has: LayerNorm and GELU(tanh) are written out by hand, attention is
MatMul + Softmax + MatMul, no data-dependent Python control flow in `forward`.

Only what TA-Tok uses is here: no MAP head and, for the SigLIP encoder, no post-layernorm (both exist in
the checkpoint and are skipped by name by the converter)."""
import math

import torch
from torch import nn


class LayerNorm(nn.Module):
    """nn.LayerNorm over the last dimension (same `weight`/`bias` names), written out by hand."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=-1, keepdim=True)
        return centred / torch.sqrt(var + self.eps) * self.weight + self.bias


def gelu_tanh(x):
    """gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class Attention(nn.Module):
    """SiglipAttention: q/k/v/out projections with bias, softmax(q·kᵀ/√d)·v, no mask (all-ones masks)."""

    def __init__(self, hidden, heads):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = hidden // heads
        self.scale = self.head_dim ** -0.5
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x):
        b, n, c = x.shape[0], x.shape[1], x.shape[2]

        def split(t):  # [B,N,C] → [B,H,N,D]
            return t.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

        q = split(self.q_proj(x)) * self.scale
        k = split(self.k_proj(x))
        v = split(self.v_proj(x))
        weights = torch.softmax(torch.matmul(q, k.transpose(2, 3)), dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, n, c)
        return self.out_proj(out)


class MLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.fc1 = nn.Linear(hidden, intermediate)
        self.fc2 = nn.Linear(intermediate, hidden)

    def forward(self, x):
        return self.fc2(gelu_tanh(self.fc1(x)))


class EncoderLayer(nn.Module):
    """Pre-LN block: x + attn(LN1 x), then + mlp(LN2 ·)."""

    def __init__(self, hidden, heads, intermediate, eps):
        super().__init__()
        self.layer_norm1 = LayerNorm(hidden, eps)
        self.self_attn = Attention(hidden, heads)
        self.layer_norm2 = LayerNorm(hidden, eps)
        self.mlp = MLP(hidden, intermediate)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, hidden, heads, intermediate, layers, eps):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(hidden, heads, intermediate, eps) for _ in range(layers)])

    def forward(self, x, count=None):
        """Runs the first `count` layers (all when None): hidden_states[count] of HF's output."""
        for layer in self.layers[: len(self.layers) if count is None else count]:
            x = layer(x)
        return x


class SiglipVisionEmbeddings(nn.Module):
    """Conv2d patch embedding (kernel = stride = patch, 'valid') + learned raster-order positions."""

    def __init__(self, hidden, patch_size, image_size, channels=3):
        super().__init__()
        self.grid = image_size // patch_size
        self.patch_embedding = nn.Conv2d(channels, hidden, kernel_size=patch_size, stride=patch_size)
        self.position_embedding = nn.Embedding(self.grid * self.grid, hidden)

    def forward(self, pixel_values):
        x = self.patch_embedding(pixel_values)          # [B,C,g,g]
        x = x.flatten(2).transpose(1, 2)                # [B,g·g,C], raster order
        return x + self.position_embedding.weight


class SiglipVisionTower(nn.Module):
    """`SiglipVisionModel(...).vision_model` without post_layernorm and head (unused by TA-Tok)."""

    def __init__(self, hidden, heads, intermediate, layers, patch_size, image_size, eps):
        super().__init__()
        self.embeddings = SiglipVisionEmbeddings(hidden, patch_size, image_size)
        self.encoder = Encoder(hidden, heads, intermediate, layers, eps)

    def hidden_state(self, pixel_values, index):
        """HF `hidden_states[index]` (index 0 = embeddings, k = output of layer k-1; negative from the end)."""
        count = index if index >= 0 else len(self.encoder.layers) + 1 + index
        return self.encoder(self.embeddings(pixel_values), count)


class Siglip2PatchEmbeddings(nn.Module):
    """Siglip2VisionEmbeddings: Linear patch embedding (channels·patch² → hidden) and a learned square
    position table that is resized to the token grid (precomputed offline, see `resized_positions`)."""

    def __init__(self, in_features, hidden, num_patches):
        super().__init__()
        side = int(round(math.sqrt(num_patches)))
        if side * side != num_patches:
            raise ValueError(f"num_patches {num_patches} is not a square")
        self.side = side
        self.patch_embedding = nn.Linear(in_features, hidden)
        self.position_embedding = nn.Embedding(num_patches, hidden)

    def resized_positions(self, height, width):
        """HF `resize_positional_embeddings`: (side,side,C) → (1,C,side,side) → bilinear, align_corners=False,
        antialias=True, in float32 → (height·width, C) row-major."""
        table = self.position_embedding.weight.detach().float().reshape(self.side, self.side, -1)
        table = table.permute(2, 0, 1).unsqueeze(0)
        resized = torch.nn.functional.interpolate(table, size=(height, width), mode="bilinear",
                                                  align_corners=False, antialias=True)
        return resized.reshape(table.shape[1], height * width).transpose(0, 1).contiguous()

    def forward(self, rows, positions):
        return self.patch_embedding(rows) + positions


class Siglip2VisionTower(nn.Module):
    """`Siglip2VisionModel(config).vision_model` without the MAP head: embeddings → layers → post_layernorm
    (= last_hidden_state). With all-ones attention masks, as TA-Tok's decoder calls it."""

    def __init__(self, in_features, hidden, heads, intermediate, layers, num_patches, eps):
        super().__init__()
        self.embeddings = Siglip2PatchEmbeddings(in_features, hidden, num_patches)
        self.encoder = Encoder(hidden, heads, intermediate, layers, eps)
        self.post_layernorm = LayerNorm(hidden, eps)

    def forward(self, rows, positions):
        return self.post_layernorm(self.encoder(self.embeddings(rows, positions)))
