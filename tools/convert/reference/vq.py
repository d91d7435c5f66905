"""Torch reference of the LlamaGen VQ-16 image decoder (TAR_SPEC §4), written from the spec.

Parameter names are the official state-dict keys (`quantize.embedding.weight`, `post_quant_conv.*`,
`decoder.conv_in.*`, `decoder.mid.{0,1,2}.*`, `decoder.conv_blocks.{i}.res.{j}.*`,
`decoder.conv_blocks.{i}.attn.{j}.*`, `decoder.conv_blocks.{i}.upsample.conv.*`, `decoder.norm_out.*`,
`decoder.conv_out.*`). The encoder, quant_conv and quantize.codebook_used are not part of it (not needed to
decode).

Export-friendly: GroupNorm written by hand (ReduceMean), attention by MatMul/Softmax, nearest x2 upsampling
by Reshape/Expand (no Resize), no data-dependent control flow. Everything between the convolutions is computed
channels-last ([B,H,W,C]) and turned back to NCHW only at each convolution's input: onnxruntime's WebGPU
provider runs convolutions channels-last and cancels the transposes it adds there against ours, where
channels-first reshapes would cost two transposes of the whole activation per GroupNorm.

The graph `vq/decoder.onnx` (VQDecodeCodes): codes [B,h,w] int64 -> image [B,3,f*h,f*w], f = 2^(levels-1),
values ~[-1,1]: gather rows of normalize(embedding) -> [B,codeDim,h,w] -> post_quant_conv -> decoder.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_GROUPS = 32   # LlamaGen's Normalize(): nn.GroupNorm(num_groups=32, eps=1e-6, affine=True)
GN_EPS = 1e-6


def to_channels_last(x):
    """[B,C,H,W] -> [B,H,W,C]."""
    return x.permute(0, 2, 3, 1)


def to_channels_first(x):
    """[B,H,W,C] -> [B,C,H,W]."""
    return x.permute(0, 3, 1, 2)


class GroupNorm(nn.Module):
    """nn.GroupNorm(NUM_GROUPS, c, eps=GN_EPS), computed channels-last: the statistics over [B,HW,G,C/G] (a
    group is C/G adjacent channels at every pixel, as in NCHW), the affine on the channel axis. The result is
    GroupNorm's; the layout is so that onnxruntime's channels-last convolutions need no transposes around it."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        b, _, h, w = x.shape
        c = self.weight.shape[0]                 # a constant of the graph, not read from x
        g = to_channels_last(x).reshape(b, -1, NUM_GROUPS, c // NUM_GROUPS)     # [B,HW,G,C/G]
        mean = g.mean(dim=(1, 3), keepdim=True)
        d = g - mean
        var = (d * d).mean(dim=(1, 3), keepdim=True)
        g = (d / torch.sqrt(var + GN_EPS)).reshape(b, h, w, c)                  # [B,H,W,C]
        return to_channels_first(g * self.weight + self.bias)


def swish(x):
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = GroupNorm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = GroupNorm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.has_shortcut = cin != cout
        if self.has_shortcut:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.has_shortcut:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = GroupNorm(c)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)
        self.scale = float(c) ** -0.5

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.norm(x)
        q = to_channels_last(self.q(n)).reshape(b, -1, c)     # [B,HW,C]
        k = to_channels_last(self.k(n)).reshape(b, -1, c)     # [B,HW,C]
        v = to_channels_last(self.v(n)).reshape(b, -1, c)     # [B,HW,C]
        attn = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * self.scale, dim=-1)   # [B,HWq,HWk]
        out = to_channels_first(torch.matmul(attn, v).reshape(b, h, w, c))             # [B,C,H,W]
        return x + self.proj_out(out)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        b, c, h, w = x.shape
        x = to_channels_last(x).reshape(b, h, 1, w, 1, c).expand(b, h, 2, w, 2, c)   # nearest x2
        return self.conv(to_channels_first(x.reshape(b, h * 2, w * 2, c)))


class Decoder(nn.Module):
    """channels[i] = ch * ch_mult[i] (i in ch_mult order, i.e. highest resolution first)."""

    def __init__(self, z_channels, channels, num_res_blocks):
        super().__init__()
        levels = len(channels)
        block_in = channels[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = nn.ModuleList([ResnetBlock(block_in, block_in), AttnBlock(block_in), ResnetBlock(block_in, block_in)])
        self.conv_blocks = nn.ModuleList()
        for i_level in reversed(range(levels)):
            block = nn.Module()
            block.res = nn.ModuleList()
            block.attn = nn.ModuleList()
            block_out = channels[i_level]
            for _ in range(num_res_blocks + 1):
                block.res.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if i_level == levels - 1:
                    block.attn.append(AttnBlock(block_in))
            if i_level != 0:
                block.upsample = Upsample(block_in)
            self.conv_blocks.append(block)
        self.norm_out = GroupNorm(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, padding=1)

    def forward(self, z):
        h = self.conv_in(z)
        for m in self.mid:
            h = m(h)
        for block in self.conv_blocks:
            for i, res in enumerate(block.res):
                h = res(h)
                if len(block.attn) > 0:
                    h = block.attn[i](h)
            if hasattr(block, "upsample"):
                h = block.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class Quantize(nn.Module):
    def __init__(self, codebook_size, code_dim):
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, code_dim)


class VQDecoderModel(nn.Module):
    """The decoding half of LlamaGen's VQModel with the official key names."""

    def __init__(self, codebook_size, code_dim, z_channels, channels, num_res_blocks):
        super().__init__()
        self.channels = list(channels)
        self.quantize = Quantize(codebook_size, code_dim)
        self.post_quant_conv = nn.Conv2d(code_dim, z_channels, 1)
        self.decoder = Decoder(z_channels, channels, num_res_blocks)

    @property
    def downsample(self):
        return 2 ** (len(self.channels) - 1)

    def forward(self, codes):
        """codes [B,h,w] int64 -> image [B,3,f*h,f*w] (decode_code with L2-normalised codebook rows)."""
        table = F.normalize(self.quantize.embedding.weight, p=2, dim=-1)
        z = to_channels_first(table[codes])                    # [B,codeDim,h,w]
        return self.decoder(self.post_quant_conv(z))


def to_uint8_hwc(image):
    """Tar's post-processing (TAR_SPEC §4): x*0.5+0.5, clamp [0,1], *255, HWC, truncate to uint8."""
    return ((image * 0.5 + 0.5).clamp(0, 1) * 255).permute(0, 2, 3, 1).to(torch.uint8)
