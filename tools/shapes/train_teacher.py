"""Stage "teacher": a SigLIP-style image–text model trained contrastively (sigmoid loss) on the world's images
and captions. Its vision tower — SiglipVisionTower with the official `encoder.*` key names, plus the
post-layernorm and MAP head SigLIP has — is what TA-Tok starts from and whose hidden_states[-2] TA-Tok's decoder
learns to reconstruct. The text tower only exists to train it.

Writes build/shapes/teacher/: teacher.pt ({"vision": state dict with encoder.* keys, "config": vision config}),
done.json."""
import os
import random

import torch
from torch import nn
import torch.nn.functional as F

from tools.convert.reference.siglip import Encoder, LayerNorm, SiglipVisionTower
from tools.shapes import common, data, text, world

VISION = {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4,
          "image_size": 48, "patch_size": 8, "num_channels": 3, "layer_norm_eps": 1e-6,
          "model_type": "siglip_vision_model"}
TEXT_LAYERS, TEXT_MAX = 2, 40
EMBED = 96
STEPS, BATCH, LR = 700, 96, 2e-3
SEED = 11


class MAPHead(nn.Module):
    """SiglipMultiheadAttentionPoolingHead: a learned probe attends over the tokens, then LN + MLP residual."""

    def __init__(self, hidden, heads, intermediate):
        super().__init__()
        self.probe = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.layernorm = LayerNorm(hidden, VISION["layer_norm_eps"])
        self.mlp = nn.Sequential()
        self.mlp.fc1 = nn.Linear(hidden, intermediate)
        self.mlp.fc2 = nn.Linear(intermediate, hidden)

    def forward(self, x):
        probe = self.probe.expand(x.shape[0], -1, -1)
        pooled = self.attention(probe, x, x, need_weights=False)[0]
        return (pooled + self.mlp.fc2(F.gelu(self.mlp.fc1(self.layernorm(pooled)), approximate="tanh")))[:, 0]


class VisionTower(nn.Module):
    """Keys: encoder.embeddings.*, encoder.encoder.layers.*, encoder.post_layernorm.*, encoder.head.*."""

    def __init__(self):
        super().__init__()
        v = VISION
        self.encoder = SiglipVisionTower(v["hidden_size"], v["num_attention_heads"], v["intermediate_size"],
                                         v["num_hidden_layers"], v["patch_size"], v["image_size"], v["layer_norm_eps"])
        self.encoder.post_layernorm = LayerNorm(v["hidden_size"], v["layer_norm_eps"])
        self.encoder.head = MAPHead(v["hidden_size"], v["num_attention_heads"], v["intermediate_size"])

    def forward(self, pixel_values):
        tokens = self.encoder.encoder(self.encoder.embeddings(pixel_values))        # [B,g²,C]
        return self.encoder.head(self.encoder.post_layernorm(tokens))               # [B,C]


class TextTower(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        h = VISION["hidden_size"]
        self.embed = nn.Embedding(vocab, h)
        self.positions = nn.Parameter(torch.randn(TEXT_MAX, h) * 0.02)
        self.encoder = Encoder(h, VISION["num_attention_heads"], VISION["intermediate_size"], TEXT_LAYERS, 1e-6)
        self.norm = LayerNorm(h, 1e-6)
        self.out = nn.Linear(h, EMBED)

    def forward(self, ids, mask):
        x = self.encoder(self.embed(ids) + self.positions[: ids.shape[1]])          # [B,T,C] (no padding mask:
        m = mask.unsqueeze(-1).float()                                               #  pads are masked in the pool)
        return self.out(self.norm((x * m).sum(1) / m.sum(1)))                        # [B,EMBED]


def pixels(images_uint8):
    """uint8 [B,64,64,3] → [B,3,48,48] in [-1,1]: TA-Tok's own preprocessing (bilinear squash, TAR_SPEC §1.2)."""
    x = images_uint8.permute(0, 3, 1, 2).float() / 127.5 - 1
    s = VISION["image_size"]
    return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=False)


def run():
    folder = data.stage_dir("teacher")
    if common.is_done(folder):
        print("teacher: done already")
        return
    common.setup(SEED)
    clock = common.Clock("teacher")
    tok_dir = data.stage_dir("tokenizer")
    text.write_tokenizer(tok_dir)
    chat = text.ChatSequences(tok_dir)
    images = torch.from_numpy(data.images("train"))
    scenes = data.scene_list("train")
    vision, language = VisionTower(), TextTower(len(chat.encoder.vocab) + len(chat.added))
    scale_bias = nn.Parameter(torch.tensor([2.3, -10.0]))                          # log t, b
    params = list(vision.parameters()) + list(language.parameters()) + [scale_bias]
    optimiser = torch.optim.AdamW(params, lr=LR, weight_decay=1e-4)
    rng = random.Random(SEED)
    for step in range(STEPS):
        for group in optimiser.param_groups:
            group["lr"] = common.cosine_lr(step, STEPS, LR)
        pick = [rng.randrange(len(scenes)) for _ in range(BATCH)]
        captions = [list(chat.encode(world.caption(scenes[i], rng)))[:TEXT_MAX] for i in pick]
        width = max(map(len, captions))
        ids = torch.tensor([c + [chat.pad] * (width - len(c)) for c in captions])
        mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in captions])
        img = F.normalize(vision(pixels(images[pick])), dim=-1)
        txt = F.normalize(language(ids, mask), dim=-1)
        logits = img @ txt.t() * scale_bias[0].exp() + scale_bias[1]
        labels = 2 * torch.eye(BATCH) - 1
        loss = -F.logsigmoid(labels * logits).sum() / BATCH
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == STEPS - 1:
            accuracy = (logits.argmax(1) == torch.arange(BATCH)).float().mean().item()
            clock.log(f"step {step} loss {loss.item():.3f} in-batch retrieval {accuracy:.2f}")
    common.save_atomic({"vision": vision.state_dict(), "config": VISION}, os.path.join(folder, "teacher.pt"))
    common.mark_done(folder, {"steps": STEPS, "batch": BATCH, "final_loss": loss.item(),
                              "retrieval_at_1": accuracy, "minutes": clock.minutes()})


if __name__ == "__main__":
    run()
