"""Stages "text_lm" and "llm": Tar-Shapes' Qwen2-architecture LLM.

text_lm: the LLM first learns the world's language alone (caption → canonical caption), so that its token
embeddings mean something; TA-Tok's codebook is built from those embeddings (E, frozen).
llm: the image tokens' embeddings start from TA-Tok's codebook (as Tar initialises them), then the whole model
trains on text-to-image, image-to-text (questions and descriptions) and image-to-image sequences in Tar's chat
template, at all three scales, with the loss on the assistant's side only.

Writes build/shapes/text_lm/text_lm.pt and build/shapes/llm/ (the official Tar LLM folder: config.json,
generation_config.json, bf16 safetensors shards, slow tokenizer files), each with done.json."""
import os

import numpy as np
import torch
import torch.nn.functional as F

from tools.convert.reference.qwen2 import Qwen2Config, Qwen2ForCausalLM
from tools.shapes import common, data, text, world
from tools.tiny.llm import folder_config, write_folder

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 96, 4, 4, 2, 288
MAX_POSITIONS = 256
# RoPE base: the text LM keeps Qwen2's 1e6; the LLM uses 100. With head dim 24 only ~4 of the 12 frequencies at
# 1e6 turn over within a 100-token sequence, so where an image token sits is hard to tell; at 100 (image-to-text
# only, 2,000 steps) held-out answers rose from 44% to 45.5% and "where is X" on training scenes from 19% to 50%.
TEXT_ROPE_THETA, LLM_ROPE_THETA = 1e6, 100.0
# Image-to-text samples carry their image at pool scale 1, the scale the engine encodes a chat image at
# (image-to-text only, 2,000 steps: 57% of held-out answers, against 45.5% with the scale drawn per sample).
UNDERSTANDING_SCALE = 1
TEXT_STEPS, BATCH, TEXT_LR = 300, 32, 2e-3
# (name, steps, peak lr, task mix, loss weighting). The loss is averaged over target tokens ("token") or first per
# sequence ("sequence"): with token averaging the 4–36 image tokens of a text-to-image sample outweigh a one-word
# answer, so the second, lower-rate cycle weighs every sample alike and leans towards understanding.
PHASES = (("a", 3000, 2e-3, (("t2i", 0.45), ("i2t", 0.50), ("i2i", 0.05)), "token"),
          ("b", 1500, 1e-3, (("t2i", 0.30), ("i2t", 0.65), ("i2i", 0.05)), "sequence"))
# On a GPU (SHAPES_DEVICE=cuda) the same phases run with GPU_BATCH samples a step, built by GPU_LOADERS worker
# processes, for as many steps as fit in SHAPES_LLM_SECONDS of wall-clock time (split between the phases as
# their CPU step counts are; common.step_budget). Eighth run, 260 s each, beside each other: batch 256 (4,547 +
# 1,611 steps) answered 76.5% of 200 held-out questions and drew 30 held-out prompts with colour 92%, shape 77%;
# batch 128 (5,005 + 2,444 steps) 74.5%, colour 88%, shape 61%.
GPU_BATCH, GPU_LOADERS = 256, 3
SEED = 23


def build_model(vocab_size, rope_theta):
    config = Qwen2Config(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                         num_key_value_heads=KV_HEADS, intermediate_size=INTERMEDIATE, rms_norm_eps=1e-6,
                         rope_theta=rope_theta, vocab_size=vocab_size, tie_word_embeddings=True,
                         max_position_embeddings=MAX_POSITIONS)
    model = Qwen2ForCausalLM(config)
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            continue
        if name.endswith("bias"):
            torch.nn.init.zeros_(p)
        else:
            torch.nn.init.normal_(p, std=0.02)
    return model


def padded(sequences):
    """[(ids, loss mask)] → ids int64 [B,T], loss mask float [B,T], attention int64 [B,T] (zero-padded)."""
    width = max(len(ids) for ids, _ in sequences)
    ids = torch.zeros(len(sequences), width, dtype=torch.int64)
    target_mask = torch.zeros(len(sequences), width)
    attention = torch.zeros(len(sequences), width, dtype=torch.int64)
    for row, (seq, mask) in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        target_mask[row, : len(mask)] = torch.tensor(mask, dtype=torch.float32)
        attention[row, : len(seq)] = 1
    return ids, target_mask, attention


def batch_loss(model, sequences, weighting="token"):
    """sequences: [(ids, loss mask)] → mean cross-entropy of the next token where the mask is 1, over all such
    tokens ("token") or per sequence first ("sequence")."""
    ids, target_mask, attention = padded(sequences)
    dev = model.model.embed_tokens.weight.device
    ids, target_mask, attention = ids.to(dev), target_mask.to(dev), attention.to(dev)
    width = ids.shape[1]
    positions = torch.arange(width, device=dev).unsqueeze(0).expand(len(sequences), width)
    logits = model(ids, attention, positions, *model.empty_past(len(sequences), dev))[0]   # [B,T,V]
    losses = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    weights = target_mask[:, 1:]                                                         # [B,T-1]
    if weighting == "sequence":
        weights = weights / weights.sum(dim=1, keepdim=True)
    weights = weights.reshape(-1)
    return (losses * weights).sum() / weights.sum()


def train(model, steps, lr, batches, clock, params=None, weighting="token", budget=None):
    """`steps` AdamW steps on the batches an iterator yields (lists of (ids, loss mask)); budget: a
    common.StepBudget that may shorten the schedule. → (final loss, steps taken)."""
    optimiser = torch.optim.AdamW(params or model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    budget = budget or common.StepBudget(steps)
    step = 0
    while step < budget.tick(step):
        total = budget.total
        for group in optimiser.param_groups:
            group["lr"] = common.cosine_lr(step, total, lr)
        loss = batch_loss(model, next(batches), weighting)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if step % 100 == 0 or step == total - 1:
            clock.log(f"step {step}/{total} loss {loss.item():.4f}")
        step += 1
    return loss.item(), step


def batch_stream(example, batch, seed):
    """Iterator of batches of `batch` samples from `example(rng)`: built in this process on CPU (one
    random.Random(seed)), or by GPU_LOADERS worker processes when training on a GPU (common.step_stream)."""
    return common.step_stream(lambda rng: [example(rng) for _ in range(batch)], seed,
                              GPU_LOADERS if common.on_gpu() else 0)


def as_typed(sentence, rng):
    """How people type: half the time a capital first letter, sometimes a full stop the world never writes."""
    if rng.random() < 0.5:
        sentence = sentence[0].upper() + sentence[1:]
    if sentence[-1] not in ".?" and rng.random() < 0.2:
        sentence += "."
    return sentence


def tokenizer_folder():
    folder = data.stage_dir("tokenizer")
    ids, vocab_size, base = text.write_tokenizer(folder)
    return folder, ids, vocab_size, base


def run_text_lm():
    folder = data.stage_dir("text_lm")
    if common.is_done(folder):
        print("text_lm: done already")
        return
    common.setup(SEED)
    clock = common.Clock("text_lm")
    tok, _, vocab_size, _ = tokenizer_folder()
    chat = text.ChatSequences(tok)
    scenes = data.scene_list("train")
    model = build_model(vocab_size, TEXT_ROPE_THETA).to(common.device())

    def example(rng):
        s = scenes[rng.randrange(len(scenes))]
        return chat.text_only(world.caption(s, rng), world.canonical_caption(s))

    loss, _ = train(model, TEXT_STEPS, TEXT_LR, batch_stream(example, BATCH, SEED), clock)
    model.cpu()
    common.save_atomic(model.state_dict(), os.path.join(folder, "text_lm.pt"))
    common.mark_done(folder, {"steps": TEXT_STEPS, "batch": BATCH, "final_loss": loss, "minutes": clock.minutes()})


def text_embeddings():
    """E: the text LM's embedding rows of the base (byte + merge) tokens, [K, HIDDEN]."""
    _, _, _, base = tokenizer_folder()
    state = torch.load(os.path.join(data.stage_dir("text_lm"), "text_lm.pt"))
    return state["model.embed_tokens.weight"][:base].clone()


def image_indices(split):
    """{scale: int64 [N, p²]} from the TA-Tok stage."""
    folder = data.stage_dir("tatok")
    return {s: np.load(os.path.join(folder, f"indices_{split}_s{s}.npy")).astype(np.int64) for s in text.SCALES}


def mixed_example(chat, scenes, indices, mix, off_palette=None, off_palette_share=0.0, views=None, view_share=0.0,
                  off_shape=None, off_shape_share=0.0, off_shape_t2i_share=0.0):
    """example(rng) → one training sequence of a task drawn by the mix ((kind, weight), ...): text-to-image or
    image-to-image at a random scale, or image-to-text at UNDERSTANDING_SCALE, on a random training scene; that
    share of the image-to-text ones is asked of the scene drawn off-palette instead (world.colourless_questions),
    and `view_share` of the others reads the scene at a random one of its test-time views; `off_shape_share` of the
    image-to-text ones is asked of an off-shape scene instead (world.shapeless_questions), and `off_shape_t2i_share`
    of the text-to-image ones draws an off-shape scene from its caption (world.caption, which names its shape) at
    UNDERSTANDING_SCALE.
    indices: {scale: int64 [N, p²]} image tokens of the scenes; off_palette: int64 [N, p²] at UNDERSTANDING_SCALE;
    views: int64 [N, V, p²] at UNDERSTANDING_SCALE (view 0 the picture itself); off_shape: (scenes, int64 [M, p²] at
    UNDERSTANDING_SCALE), off-shape scenes (world.off_shape_scene) and their tokens."""
    kinds, weights = zip(*mix)

    def example(rng):
        i = rng.randrange(len(scenes))
        scene, scale = scenes[i], rng.choice(text.SCALES)
        kind = rng.choices(kinds, weights)[0]
        if kind == "t2i" and off_shape_t2i_share and rng.random() < off_shape_t2i_share:
            j = rng.randrange(len(off_shape[0]))
            return chat.text_to_image(as_typed(world.caption(off_shape[0][j], rng), rng), off_shape[1][j],
                                      UNDERSTANDING_SCALE)
        if kind == "t2i":
            return chat.text_to_image(as_typed(world.caption(scene, rng), rng), indices[scale][i], scale)
        if kind == "i2i":
            return chat.image_to_image(indices[scale][i], scale)
        if off_shape_share and rng.random() < off_shape_share:
            j = rng.randrange(len(off_shape[0]))
            question, answer = rng.choice(world.shapeless_questions(off_shape[0][j]))
            return chat.image_to_text(off_shape[1][j], as_typed(question, rng), answer)
        if off_palette_share and rng.random() < off_palette_share:
            question, answer = rng.choice(world.colourless_questions(scene))
            return chat.image_to_text(off_palette[i], as_typed(question, rng), answer)
        question, answer = rng.choice(world.questions(scene, phrasings=1))
        if question == world.DESCRIBE[0]:
            question = rng.choice(world.DESCRIBE)
        seen = views[i, rng.randrange(views.shape[1])] if view_share and rng.random() < view_share else None
        return chat.image_to_text(indices[UNDERSTANDING_SCALE][i] if seen is None else seen, as_typed(question, rng),
                                  answer)

    return example


def write_llm_folder(folder, model):
    """The official Tar LLM folder (tokenizer files, config.json, bf16 shards) of `model` into `folder`."""
    ids, vocab_size, base = text.write_tokenizer(folder)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    config = folder_config(ids, vocab_size, hidden=HIDDEN, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
                           intermediate=INTERMEDIATE, image_tokens=base, max_positions=MAX_POSITIONS,
                           rope_theta=LLM_ROPE_THETA)
    write_folder(folder, ids, config, state)


def run_llm():
    folder = data.stage_dir("llm")
    if common.is_done(folder):
        print("llm: done already")
        return
    common.setup(SEED + 1)
    clock = common.Clock("llm")
    tok, _, vocab_size, base = tokenizer_folder()
    chat = text.ChatSequences(tok)
    scenes = data.scene_list("train")
    indices = image_indices("train")
    codebook = torch.load(os.path.join(data.stage_dir("tatok"), "codebook.pt"))             # [K, HIDDEN], unit rows
    model = build_model(vocab_size, LLM_ROPE_THETA)
    model.load_state_dict(torch.load(os.path.join(data.stage_dir("text_lm"), "text_lm.pt")))
    with torch.no_grad():
        table = model.model.embed_tokens.weight
        text_norm = table[:base].norm(dim=-1).mean()
        table[chat.image_base: chat.image_base + base] = codebook * text_norm
    model.to(common.device())
    loss, taken = None, {}
    batch, cpu_steps = (GPU_BATCH if common.on_gpu() else BATCH), sum(p[1] for p in PHASES)
    for number, (name, steps, lr, mix, weighting) in enumerate(PHASES):
        checkpoint = os.path.join(folder, f"phase_{name}.pt")
        if os.path.exists(checkpoint):
            model.load_state_dict(torch.load(checkpoint))
            clock.log(f"phase {name}: loaded {checkpoint}")
            continue
        budget = common.step_budget(steps, "SHAPES_LLM_SECONDS", share=steps / cpu_steps)
        loss, taken[name] = train(model, steps, lr, batch_stream(mixed_example(chat, scenes, indices, mix), batch,
                                                                 SEED + number), clock,
                                  weighting=weighting, budget=budget)
        common.save_atomic(model.state_dict(), checkpoint)
    write_llm_folder(folder, model)
    common.mark_done(folder, {"phases": [{"name": n, "steps": taken.get(n, k), "lr": r, "mix": dict(m), "loss": w}
                                         for n, k, r, m, w in PHASES],
                              "rope_theta": LLM_ROPE_THETA, "understanding_scale": UNDERSTANDING_SCALE,
                              "batch": batch, "device": str(common.device()), "final_loss": loss,
                              "minutes": clock.minutes()})


if __name__ == "__main__":
    import sys
    {"text_lm": run_text_lm, "llm": run_llm}[sys.argv[1]]()
