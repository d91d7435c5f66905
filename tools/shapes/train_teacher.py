"""Stage "teacher": a SigLIP-style image–text model trained contrastively (sigmoid loss) on the world's images
and captions, with SigLIP2's location-aware signal at our scale: a linear grounding head on hidden_states[-2]
names the colour, shape and size of the object under each patch (tools/shapes/grounding.py), so that the patch
features TA-Tok learns to reconstruct say what is where, not only the global pooled embedding. Its vision
tower — SiglipVisionTower with the official `encoder.*` key names, plus the post-layernorm and MAP head SigLIP
has — is what TA-Tok starts from and whose hidden_states[-2] TA-Tok's decoder learns to reconstruct. The text
tower only exists to train it.

On a GPU (SHAPES_DEVICE=cuda) the same steps, at the same batch, run for as many steps as fit in
SHAPES_TEACHER_SECONDS (common.step_budget), their inputs built by GPU_LOADERS worker processes. The same batch,
because what this teacher needs is optimiser steps: 4.3x the batch (256 captioned + 128 off-palette images) for
1,365 steps, about the samples of the 6,000-step CPU schedule, named held-out objects' shape 58.9% (seen 92.0%)
against 97.0% (100%).

Writes build/shapes/teacher/: teacher.pt ({"vision": state dict with encoder.* keys, "config": vision config}),
done.json."""
import os

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from tools.convert.reference.siglip import Encoder, LayerNorm, SiglipVisionTower
from tools.shapes import common, data, grounding, text, world

VISION = {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4,
          "image_size": 72, "patch_size": 12, "num_channels": 3, "layer_norm_eps": 1e-6,
          "model_type": "siglip_vision_model"}
GRID = VISION["image_size"] // VISION["patch_size"]                   # patches per side
TEXT_LAYERS, TEXT_MAX = 2, 40
EMBED = 96
STEPS, BATCH, LR = 6000, 64, 2e-3
GROUNDING_WEIGHT = 1.0
OFF_PALETTE_IMAGES = 32   # extra images a step, objects in off-palette fills, for the grounding term's shape and size
GPU_LOADERS = 6
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
    """Keys: encoder.embeddings.*, encoder.encoder.layers.*, encoder.post_layernorm.*, encoder.head.*, and the
    grounding head grounding.* (training only; the converter never sees it)."""

    def __init__(self):
        super().__init__()
        v = VISION
        self.encoder = SiglipVisionTower(v["hidden_size"], v["num_attention_heads"], v["intermediate_size"],
                                         v["num_hidden_layers"], v["patch_size"], v["image_size"], v["layer_norm_eps"])
        self.encoder.post_layernorm = LayerNorm(v["hidden_size"], v["layer_norm_eps"])
        self.encoder.head = MAPHead(v["hidden_size"], v["num_attention_heads"], v["intermediate_size"])
        self.grounding = nn.Sequential(LayerNorm(v["hidden_size"], v["layer_norm_eps"]),
                                       nn.Linear(v["hidden_size"], sum(grounding.CLASSES)))

    def forward(self, pixel_values):
        """→ pooled embedding [B,C], grounding logits [B,g²,colours+shapes+sizes (each with "none")]."""
        layers = self.encoder.encoder.layers
        selected = self.encoder.encoder(self.encoder.embeddings(pixel_values), len(layers) - 1)   # [B,g²,C]
        tokens = layers[-1](selected)                                                            # [B,g²,C]
        return self.encoder.head(self.encoder.post_layernorm(tokens)), self.grounding(selected)


def grounding_loss(logits, targets, coloured):
    """logits [B,g²,ΣK], targets int [B,3,g,g], coloured bool [B] (False: objects drawn in off-palette fills) →
    (loss, accuracies on the patches an object covers, colour on the coloured images only).
    Colour (with "none") is learned on every patch but the off-palette objects'; shape and size only where an
    object is, so that the many background patches do not drown the hardest signal."""
    heads = targets.flatten(2).long().unbind(1)                                                  # 3 × [B,g²]
    parts = logits.split(grounding.CLASSES, dim=-1)                                              # 3 × [B,g²,K]
    on_object = grounding.on_object(heads[0])                                                    # [B,g²]
    named = coloured[:, None].expand_as(on_object)                                               # [B,g²]
    losses, accuracies = [], []
    for head, (target, part) in enumerate(zip(heads, parts)):
        where = (named | ~on_object) if head == 0 else on_object
        scored = on_object & named if head == 0 else on_object
        losses.append(F.cross_entropy(part[where], target[where]))
        accuracies.append((part.argmax(-1) == target)[scored].float().mean().item())
    return sum(losses) / len(losses), accuracies


def step_inputs(chat, scenes, batch, off_palette):
    """make(rng) for common.step_stream: a step's `batch` scene indices, their caption ids int64 [B,T] and mask
    [B,T] (one of the world's phrasings each), `off_palette` more scene indices and their off-palette renders
    uint8 [X,64,64,3]."""
    def make(rng):
        pick = [rng.randrange(len(scenes)) for _ in range(batch)]
        captions = [list(chat.encode(world.caption(scenes[i], rng)))[:TEXT_MAX] for i in pick]
        width = max(map(len, captions))
        ids = torch.tensor([c + [chat.pad] * (width - len(c)) for c in captions])
        mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in captions])
        extra = [rng.randrange(len(scenes)) for _ in range(off_palette)]
        return pick, ids, mask, extra, off_palette_batch([scenes[i] for i in extra], rng)
    return make


def off_palette_batch(scenes, rng):
    """uint8 [B,64,64,3]: the scenes with every object in its own off-palette fill (world.render_off_palette), so
    that shape must be read from form alone — in the world's own colours a (colour, place) pair seen with only
    some shapes lets a teacher guess shape from colour and place, and it then misnames held-out objects."""
    return torch.from_numpy(np.stack([world.render_off_palette(s, rng) for s in scenes]))


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
    """uint8 [B,64,64,3] → [B,3,S,S] in [-1,1]: TA-Tok's own preprocessing (bilinear resize, TAR_SPEC §1.2). S = 72
    with 12 px patches keeps every source pixel on the 6×6 grid that pool scales 1/2/3 divide exactly (48 px with
    8 px patches blurred the small shapes: a teacher trained on them named the shape under an object patch 39%
    of the time on training scenes, chance being 25%)."""
    x = images_uint8.permute(0, 3, 1, 2).float() / 127.5 - 1
    s = VISION["image_size"]
    return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=False)


def in_batch_retrieval(logits):
    """logits [B,B] image × caption → the share of images whose own caption scores highest."""
    return (logits.argmax(1) == torch.arange(len(logits), device=logits.device)).float().mean().item()


def object_cells(thing):
    """bool [g²]: the patches an object covers enough to be named there (grounding.MIN_COVER)."""
    return grounding.coverage(thing, GRID).reshape(-1) >= grounding.MIN_COVER


def held_out_or_seen(thing):
    return "held_out" if thing.triple in world.HELD_OUT else "seen"


@torch.no_grad()
def object_reading(vision, split="test", group=held_out_or_seen):
    """How the grounding head names whole objects of `split`'s scenes (its probabilities summed over the cells each
    object covers): {group: {"colour", "shape", "size": accuracy}}, the objects grouped by `group(thing)` — by
    default whether their (colour, shape, place) triple is held out ("held_out") or not ("seen")."""
    scenes = data.scene_list(split)
    shown = torch.from_numpy(data.images(split)).to(next(vision.parameters()).device)
    _, dense = vision.eval()(pixels(shown))                                                       # [N,g²,ΣK]
    heads = [part.softmax(-1).cpu() for part in dense.split(grounding.CLASSES, dim=-1)]         # 3 × [N,g²,K]
    right = {}
    for n, scene in enumerate(scenes):
        for thing in scene.things:
            cells = torch.from_numpy(object_cells(thing))
            truth = (grounding.COLOURS.index(thing.colour), grounding.SHAPES.index(thing.shape),
                     grounding.SIZES.index(thing.size))
            results = right.setdefault(group(thing), [[], [], []])
            for head, (probabilities, answer) in enumerate(zip(heads, truth)):
                results[head].append(int(probabilities[n][cells].sum(0)[:-1].argmax()) == answer)
    return {name: {attribute: round(sum(r) / max(1, len(r)), 4)
                   for attribute, r in zip(("colour", "shape", "size"), results)}
            for name, results in sorted(right.items())}


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
    dev = common.device()
    images = torch.from_numpy(data.images("train")).to(dev)                      # uint8 [N,64,64,3]
    scenes = data.scene_list("train")
    targets = torch.from_numpy(grounding.labels("train", GRID)).to(dev)          # int8 [N,3,g,g]
    vision = VisionTower().to(dev)
    language = TextTower(len(chat.encoder.vocab) + len(chat.added)).to(dev)
    scale_bias = nn.Parameter(torch.tensor([2.3, -10.0], device=dev))            # log t, b
    params = list(vision.parameters()) + list(language.parameters()) + [scale_bias]
    optimiser = torch.optim.AdamW(params, lr=LR, weight_decay=1e-4)
    inputs = common.step_stream(step_inputs(chat, scenes, BATCH, OFF_PALETTE_IMAGES), SEED,
                                GPU_LOADERS if common.on_gpu() else 0)
    labels = 2 * torch.eye(BATCH, device=dev) - 1                                # [B,B]: +1 on the pairs
    coloured = torch.arange(BATCH + OFF_PALETTE_IMAGES, device=dev) < BATCH     # [B+X]: the world's own colours
    budget = common.step_budget(STEPS, "SHAPES_TEACHER_SECONDS")
    step = 0
    while step < budget.tick(step):
        total = budget.total
        for group in optimiser.param_groups:
            group["lr"] = common.cosine_lr(step, total, LR)
        pick, ids, mask, extra, recoloured = next(inputs)
        shown = torch.cat([images[pick], recoloured.to(dev)])                   # uint8 [B+X,64,64,3]
        pooled, dense = vision(pixels(shown))
        img = F.normalize(pooled[:BATCH], dim=-1)
        txt = F.normalize(language(ids.to(dev), mask.to(dev)), dim=-1)
        logits = img @ txt.t() * scale_bias[0].exp() + scale_bias[1]            # [B,B]
        contrastive = -F.logsigmoid(labels * logits).sum() / BATCH
        located, located_accuracy = grounding_loss(dense, targets[pick + extra], coloured)
        loss = contrastive + GROUNDING_WEIGHT * located
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == total - 1:
            clock.log(f"step {step}/{total} sigmoid loss {contrastive.item():.3f} in-batch retrieval "
                      f"{in_batch_retrieval(logits):.2f} "
                      f"grounding loss {located.item():.3f} colour/shape/size on object patches "
                      + "/".join(f"{a:.3f}" for a in located_accuracy))
        step += 1
    state = {k: v.detach().cpu() for k, v in vision.state_dict().items()}
    common.save_atomic({"vision": state, "config": VISION}, os.path.join(folder, "teacher.pt"))
    reading = object_reading(vision)
    clock.log(f"objects of the test scenes named by the grounding head: {reading}")
    common.mark_done(folder, {"steps": step, "batch": BATCH, "off_palette_images": OFF_PALETTE_IMAGES,
                              "device": str(dev), "final_sigmoid_loss": contrastive.item(),
                              "retrieval_at_1": in_batch_retrieval(logits), "final_grounding_loss": located.item(),
                              "grounding_accuracy": dict(zip(("colour", "shape", "size"), located_accuracy)),
                              "test_objects_named": reading,
                              "minutes": clock.minutes()})


if __name__ == "__main__":
    run()
