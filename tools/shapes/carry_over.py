"""The shipped LLM and de-tokenizer carried over onto a retrained TA-Tok, so that a TA-Tok trained anew by the recipe
(tools.shapes.train_tatok, whose tokens mean nothing to the shipped stages) can ship without training again from
nothing what came after it on a GPU.

llm: the LLM's image-token embedding rows (tied to its output head) start as the old rows averaged with the weights
     of how often each new code lies on the same patch as each old code over the training images (every pool scale);
     a code no training patch takes gets the row of the nearest used code in the new codebook. Then only those rows
     learn (EMBED_STEPS at EMBED_LR, phase b's task mix; the transformer stays as the GPU left it). The result is an
     official LLM folder, which tools.shapes.finetune_llm continues with every weight learning.
ardtok: the de-tokenizer's condition projection (clip_proj) composed with a ridge least-squares map from the new
     TA-Tok's decoder features to the old one's on the same training patches at the de-tokenizer's pool scale. The map
     has no bias, so zeros (CFG's unconditional half) stay zeros. The result is an official checkpoint, which
     tools.shapes.finetune_ardtok continues.

The new TA-Tok is the present stage's (data.stage_dir("tatok")); the old TA-Tok is the one the source stages were
trained on (after tools.shapes.recover: build/shapes/tatok/ta_tok.pth). Not a training stage of its own: it writes
only OUT and a carried.json beside it.

    python3 -m tools.shapes.carry_over llm --old-tatok OLD/ta_tok.pth --source OLD_LLM_DIR --out DIR
    python3 -m tools.shapes.carry_over ardtok --old-tatok OLD/ta_tok.pth --source OLD/ar_dtok_shapes_64px.pth
        --out FILE"""
import argparse
import json
import os

import numpy as np
import torch

from tools.convert import ardtok as ardtok_convert
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, text
from tools.shapes.finetune_llm import load_llm
from tools.shapes.rebase_tatok import indices_of
from tools.shapes.train_ardtok import TRAIN_SCALE, write_checkpoint
from tools.shapes.train_llm import (BATCH, PHASES, batch_stream, image_indices, mixed_example, tokenizer_folder,
                                    train, write_llm_folder)
from tools.tiny.llm import write_whole

EMBED_STEPS, EMBED_LR = 500, 2e-3
SEED = 43
ALIGNMENT_IMAGES = 4000   # training images whose patches fit the condition map
RIDGE = 1e-3              # of the Gram matrix's mean diagonal
DECODE_BATCH = 256


def cooccurrence(new, old, size):
    """new, old: int arrays of one shape (the codes two TA-Toks give the same patches) → float64 [size, size],
    entry [n, o] the patches where the new code is n and the old one o."""
    counts = np.zeros((size, size))
    np.add.at(counts, (np.asarray(new).ravel(), np.asarray(old).ravel()), 1)
    return counts


def carried_rows(counts, old_rows, new_codebook):
    """counts [K, K] (cooccurrence), old_rows [K, H] (the old codes' embedding rows), new_codebook [K, D] (unit rows)
    → [K, H]: a used new code's row is the old rows weighted by its counts; an unused one's is the row of the used
    code nearest it in the new codebook."""
    used = torch.from_numpy(counts.sum(1) > 0)
    if not used.any():
        raise ValueError("no new code lies on any patch: the two TA-Toks' codes were not read from the same images")
    shares = torch.from_numpy(counts[used.numpy()] / counts[used.numpy()].sum(1, keepdims=True)).to(old_rows)
    rows = torch.empty_like(old_rows)
    rows[used] = shares @ old_rows                                                          # [U, H]
    used_ids = torch.nonzero(used).squeeze(1)
    nearest = used_ids[(new_codebook @ new_codebook[used_ids].T).argmax(1)]                 # [K]
    rows[~used] = rows[nearest[~used]]
    return rows


def train_image_rows(model, rows, steps, lr, batches, clock, weighting):
    """AdamW on the embedding table's `rows` (a slice) alone: every other row of the table and every other weight
    stays as it was, exactly. → (final loss, steps taken)."""
    table = model.model.embed_tokens.weight
    kept = table.detach().clone()
    mask = torch.zeros_like(table)
    mask[rows] = 1
    hook = table.register_hook(lambda grad: grad * mask)
    others = [p for p in model.parameters() if p is not table]
    for p in others:
        p.requires_grad_(False)
    try:
        loss, taken = train(model, steps, lr, batches, clock, params=[table], weighting=weighting)
    finally:
        hook.remove()
        for p in others:
            p.requires_grad_(True)
    with torch.no_grad():
        table[mask == 0] = kept[mask == 0]
    return loss, taken


def ridge_map(x, y, ridge=RIDGE):
    """x [N, Cx], y [N, Cy] → a [Cx, Cy] minimising |x a − y|² + λ|a|², λ = ridge × xᵀx's mean diagonal."""
    gram = x.T @ x
    lam = ridge * gram.diagonal().mean()
    return torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=x.dtype), x.T @ y)


def compose_condition(projection, a):
    """projection: nn.Linear(C → dim), a [C, C] → the projection now takes x as it took x a (the checkpoint's
    cond_dim stays C, so both TA-Toks' decoders must be C wide)."""
    if tuple(a.shape) != (projection.in_features, projection.in_features):
        raise ValueError(f"a condition map {tuple(a.shape)} does not fit a projection from {projection.in_features}")
    with torch.no_grad():
        projection.weight.copy_(projection.weight @ a.T)                                    # [dim, C]


def explained(x, y, a):
    """The share of y's variance that x a explains."""
    return float(1 - ((x @ a - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


@torch.no_grad()
def decoded_patches(tatok, images, scale):
    """uint8 [N,64,64,3] → float [N·p², C]: TA-Tok's decoder features of its own tokens at `scale`."""
    indices = indices_of(tatok, images, [scale])[scale]                                     # [N,p²]
    return torch.cat([tatok.decode(chunk) for chunk in indices.split(DECODE_BATCH)]).flatten(0, 1)


def carry_llm(old_tatok, source, out):
    common.setup(SEED)
    clock = common.Clock("carry llm")
    tok, _, vocab_size, base = tokenizer_folder()
    chat = text.ChatSequences(tok)
    old = load_tatok(old_tatok)[0].eval()
    old_indices = indices_of(old, torch.from_numpy(data.images("train")), text.SCALES)
    new_indices = image_indices("train")
    counts = sum(cooccurrence(new_indices[s], old_indices[s].numpy(), base) for s in text.SCALES)
    model = load_llm(source, vocab_size)
    rows = slice(chat.image_base, chat.image_base + base)
    codebook = torch.load(os.path.join(data.stage_dir("tatok"), "codebook.pt"))            # [K, D], unit rows
    with torch.no_grad():
        model.model.embed_tokens.weight[rows] = carried_rows(counts, model.model.embed_tokens.weight[rows], codebook)
    clock.log("rows carried over")
    _, _, _, mix, weighting = PHASES[-1]
    example = mixed_example(chat, data.scene_list("train"), new_indices, mix)
    loss, steps = train_image_rows(model, rows, EMBED_STEPS, EMBED_LR, batch_stream(example, BATCH, SEED), clock,
                                   weighting)
    os.makedirs(out, exist_ok=True)
    write_llm_folder(out, model)
    used = counts.sum(1) > 0
    report = {"source": source, "old_tatok": old_tatok, "new_codes_used": int(used.sum()),
              "patches_on_the_new_codes_most_shared_old_code": float(counts.max(1).sum() / counts.sum()),
              "embed_steps": steps, "embed_lr": EMBED_LR, "final_loss": loss, "minutes": clock.minutes()}
    write_whole(os.path.join(out, "carried.json"), json.dumps(report, indent=1))


def carry_ardtok(old_tatok, source, out):
    common.setup(SEED)
    clock = common.Clock("carry ardtok")
    old = load_tatok(old_tatok)[0].eval()
    new = load_tatok(os.path.join(data.stage_dir("tatok"), "ta_tok.pth"))[0].eval()
    train_images = torch.from_numpy(data.images("train")[:ALIGNMENT_IMAGES])
    test_images = torch.from_numpy(data.images("test"))
    x, y = decoded_patches(new, train_images, TRAIN_SCALE), decoded_patches(old, train_images, TRAIN_SCALE)
    a = ridge_map(x, y)
    model, _ = ardtok_convert.build_checked(source)
    args = ardtok_convert.read_checkpoint(source)[1]
    compose_condition(model.clip_proj, a)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_checkpoint(out, model, args)
    report = {"source": source, "old_tatok": old_tatok, "alignment_images": ALIGNMENT_IMAGES, "ridge": RIDGE,
              "explained_train": explained(x, y, a),
              "explained_test": explained(decoded_patches(new, test_images, TRAIN_SCALE),
                                          decoded_patches(old, test_images, TRAIN_SCALE), a),
              "minutes": clock.minutes()}
    write_whole(os.path.join(os.path.dirname(os.path.abspath(out)), "carried.json"), json.dumps(report, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=("llm", "ardtok"))
    parser.add_argument("--old-tatok", required=True, help="the TA-Tok checkpoint the source was trained on")
    parser.add_argument("--source", required=True, help="the official LLM folder or de-tokenizer checkpoint")
    parser.add_argument("--out", required=True, help="where the carried-over LLM folder or checkpoint goes")
    args = parser.parse_args(argv)
    {"llm": carry_llm, "ardtok": carry_ardtok}[args.stage](args.old_tatok, args.source, args.out)


if __name__ == "__main__":
    main()
