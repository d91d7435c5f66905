"""TA-Tok reference (TAR_SPEC §1): `TextAlignedTokenizer` at inference, written from the spec.

Parameter names are the official state-dict keys (`ta_tok.pth` → ["model"]["sd"]) minus the keys TA-Tok never
uses at inference (teacher.*, the SigLIP encoder's post_layernorm and MAP head, the decoder's MAP head); the
converter skips those by name. Pieces exported as graphs are the small wrapper modules at the bottom.

    image → to_tensor → (x − shift)/scale → squash-resize S×S (bilinear, antialias off)     preprocess()
          → SigLIP hidden_states[select_layer_id]                                           encode_features()
          → [avg-pool k = s = pool_scale]                                                   avg_pool()
          → tanh(Linear) → bottleneck.in_linear → L2-normalise                              project()
          → argmax cosine against normalize(embedding_proj(E))                              codebook(), nearest()
    indices → out_linear(codebook[indices]) → Siglip2 ViT (patch 1) → post-LN → decode_task_layer   decode()
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

from .siglip import Siglip2VisionTower, SiglipVisionTower


def l2_normalize(x, eps=1e-12):
    """F.normalize(x, dim=-1) written as Div by max(‖x‖, eps)."""
    return x / torch.sqrt((x * x).sum(dim=-1, keepdim=True)).clamp(min=eps)


class ScaleLayer(nn.Module):
    """tok/utils.py ScalingLayer: buffers shift, scale of shape 1×3×1×1; forward (x − shift) / scale."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("scale", torch.full((1, 3, 1, 1), 0.5))

    def forward(self, x):
        return (x - self.shift) / self.scale


class SimVQ(nn.Module):
    """SimVectorQuantizer parameters: codebook = normalize(embedding_proj(embedding.weight))."""

    def __init__(self, codebook_size, dim):
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, dim)
        self.embedding_proj = nn.Linear(dim, dim)


class Bottleneck(nn.Module):
    def __init__(self, input_dim, bottleneck_dim, output_dim, codebook_size):
        super().__init__()
        self.in_linear = nn.Linear(input_dim, bottleneck_dim)
        self.out_linear = nn.Linear(bottleneck_dim, output_dim)
        self.regularizer = SimVQ(codebook_size, bottleneck_dim)


class Decoder(nn.Module):
    """`self.decoder = Siglip2VisionModel(cfg)`: keys decoder.vision_model.*"""

    def __init__(self, **kw):
        super().__init__()
        self.vision_model = Siglip2VisionTower(**kw)


class TATok(nn.Module):
    """Built from a plain dict `cfg` (see tools/convert/tatok.py `architecture`):
    image_size, patch_size, hidden, heads, intermediate, layers, eps, select_layer_id,
    code_dim, codebook_size, decoder_hidden, decoder_heads, decoder_intermediate, decoder_layers,
    decoder_num_patches, decoder_eps."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        c = self.cfg
        self.scale_layer = ScaleLayer()
        self.encoder = SiglipVisionTower(c["hidden"], c["heads"], c["intermediate"], c["layers"],
                                         c["patch_size"], c["image_size"], c["eps"])
        self.encode_task_layer = nn.Sequential(nn.Linear(c["hidden"], c["hidden"]), nn.Tanh())
        self.bottleneck = Bottleneck(c["hidden"], c["code_dim"], c["code_dim"], c["codebook_size"])
        self.decoder = Decoder(in_features=c["code_dim"], hidden=c["decoder_hidden"], heads=c["decoder_heads"],
                               intermediate=c["decoder_intermediate"], layers=c["decoder_layers"],
                               num_patches=c["decoder_num_patches"], eps=c["decoder_eps"])
        self.decode_task_layer = nn.Sequential(nn.Linear(c["decoder_hidden"], c["decoder_hidden"]), nn.Tanh(),
                                               nn.Linear(c["decoder_hidden"], c["decoder_hidden"]))

    @property
    def grid(self):
        return self.cfg["image_size"] // self.cfg["patch_size"]

    # ---- encoding ---------------------------------------------------------------------------------------
    def preprocess(self, image_rgb):
        """uint8 [H,W,3] (or [B,H,W,3]) → [B,3,S,S]: to_tensor, scale_layer, then torchvision Resize((S,S)) on
        the tensor = bilinear, align_corners=False, antialias=False (TAR_SPEC §1.2)."""
        x = image_rgb if image_rgb.dim() == 4 else image_rgb.unsqueeze(0)
        x = x.permute(0, 3, 1, 2).float() / 255.0
        x = self.scale_layer(x)
        s = self.cfg["image_size"]
        if tuple(x.shape[-2:]) != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=False)
        return x

    def encode_features(self, pixel_values):
        """[B,3,S,S] in [-1,1] → hidden_states[select_layer_id], [B,g²,C]."""
        return self.encoder.hidden_state(pixel_values, self.cfg["select_layer_id"])

    def avg_pool(self, features, pool_scale):
        """Scale-adaptive pooling (§1.4): [B,g²,C] → [B,⌊g/s⌋²,C]; identity for s = 1."""
        if pool_scale == 1:
            return features
        b, n, c = features.shape
        g = int(round(math.sqrt(n)))
        grid = features.transpose(1, 2).reshape(b, c, g, g)
        pooled = F.avg_pool2d(grid, kernel_size=pool_scale, stride=pool_scale)
        return pooled.flatten(2).transpose(1, 2)

    def project(self, features):
        """encode_task_layer → bottleneck.in_linear → L2-normalise: the vector that is quantised."""
        return l2_normalize(self.bottleneck.in_linear(self.encode_task_layer(features)))

    def codebook(self):
        """C = normalize(E·Wᵀ + b), [K, codeDim]."""
        reg = self.bottleneck.regularizer
        return l2_normalize(reg.embedding_proj(reg.embedding.weight))

    def decode_table(self):
        """D = out_linear(C), [K, codeDim]: the rows the decoder graph consumes."""
        return self.bottleneck.out_linear(self.codebook())

    @staticmethod
    def nearest(codes, codebook):
        """Deterministic assignment: argmax cosine (both sides unit length); ties → lowest index."""
        sims = torch.matmul(codes, codebook.t())
        best = sims.max(dim=-1, keepdim=True).values
        index = torch.arange(codebook.shape[0], device=codes.device).expand_as(sims)
        return torch.where(sims == best, index, torch.full_like(index, codebook.shape[0])).min(dim=-1).values

    def encode(self, pixel_values, pool_scale=1):
        """pixel_values → (codes, indices) at one pool scale."""
        codes = self.project(self.avg_pool(self.encode_features(pixel_values), pool_scale))
        return codes, self.nearest(codes, self.codebook())

    # ---- decoding ---------------------------------------------------------------------------------------
    def decoder_positions(self, p):
        return self.decoder.vision_model.embeddings.resized_positions(p, p)

    def decode_rows(self, rows, positions):
        """rows [B,N,codeDim] (rows of D), positions [N,Cdec] → features [B,N,Cdec]."""
        return self.decode_task_layer(self.decoder.vision_model(rows, positions))

    def decode(self, indices):
        """decode_from_bottleneck (§1.7): indices [B,p²] → [B,p²,Cdec]."""
        p = int(round(math.sqrt(indices.shape[1])))
        rows = F.embedding(indices, self.decode_table())
        return self.decode_rows(rows, self.decoder_positions(p))


# ---- graph wrappers (what tools/convert/tatok.py exports) ----------------------------------------------------
class EncoderGraph(nn.Module):
    """pixel_values [B,3,S,S] → features [B,g²,C] (hidden_states[select_layer_id])."""

    def __init__(self, tatok):
        super().__init__()
        self.tatok = tatok

    def forward(self, pixel_values):
        return self.tatok.encode_features(pixel_values)


class ProjectGraph(nn.Module):
    """features [B,N,C] → codes [B,N,codeDim], unit length."""

    def __init__(self, tatok):
        super().__init__()
        self.tatok = tatok

    def forward(self, features):
        return self.tatok.project(features)


class DecoderGraph(nn.Module):
    """rows [B,N,codeDim], positions [N,Cdec] → features [B,N,Cdec]."""

    def __init__(self, tatok):
        super().__init__()
        self.tatok = tatok

    def forward(self, rows, positions):
        return self.tatok.decode_rows(rows, positions)
