"""Stage "tatok" another way: TA-Tok's encoder side trained anew on the present teacher to give the tokens of an
existing TA-Tok (the shipped one, recovered by tools.shapes.recover), so that the LLM and the de-tokenizer trained
on those tokens stay valid as they are.

Why: a teacher that reads held-out objects better (6,000 steps: shape 97.0% against the shipped teacher's 78.5%)
is only worth something downstream if the tokens follow it, and retraining TA-Tok from it in full gives new
tokens, which the LLM and the de-tokenizer must then learn again (CPU-trained they are far weaker than the
GPU-trained ones). Here the codebook (C, hence every token's meaning to the LLM), out_linear and the decoder are
the source's, frozen; the encoder is the new teacher's (frozen unless --encoder-lr-share), encode_task_layer
starts from the source's read through a ridge least-squares map of the teacher's features onto the source
encoder's, in_linear as the source's, and they learn to give the source's quantised vector and token on every patch
of the training scenes at every pool scale (cosine distance + cross-entropy over the cosine similarities to C). On
training scenes the source's tokens are what the LLM was taught; on held-out scenes, where the source's encoder
misreads shapes, the student reads with the new teacher's features instead.

Measured (docs/tar-shapes.md, twelfth session): on the 6,000-step teacher it gives the source's token on only a
third of the patches; under the shipped LLM shape answers rise, background and position answers fall as much.

Writes build/shapes/tatok/: ta_tok.pth (official format), codebook.pt, indices_{split}_s{scale}.npy, done.json
(agreement with the source's tokens per split and scale; single-token purity of both on held-out scenes).

    python3 -m tools.shapes.rebase_tatok --source build/shapes-recovered/tatok/ta_tok.pth"""
import argparse
import copy
import os
import random

import numpy as np
import torch
import torch.nn.functional as F
from easydict import EasyDict

from tools.convert.tatok import load_tatok, read_checkpoint
from tools.shapes import common, data, grounding, text
from tools.shapes.train_tatok import frozen_teacher, token_purity, write_checkpoint, write_indices
from tools.shapes.train_teacher import GRID, pixels

STEPS, BATCH, LR = 2000, 64, 3e-4
# The encoder's learning rate against the head's; 0 freezes it (the teacher's own reading, which generalises).
ENCODER_LR_SHARE = 0.0
TEMPERATURE = 0.005      # on cosine similarities: near-ties among codes count
CODE_WEIGHT = 10.0       # of the cosine distance to the source's quantised vector
AGREEMENT_IMAGES = 2000  # training scenes over which agreement with the source is reported
RIDGE = 0.01
ALIGNMENT_IMAGES = 1000  # training scenes whose patches fit the map from the teacher's features to the source's
SEED = 37
TRAINED = ("encoder.", "encode_task_layer.", "bottleneck.in_linear.")


@torch.no_grad()
def tokens_of(model, images, scales, batch=256):
    """images uint8 [N,64,64,3] → {scale: (codes float [N,p²,D] unit, indices int64 [N,p²])}: what the model
    quantises and the nearest codes."""
    codebook = model.codebook()
    out = {scale: ([], []) for scale in scales}
    for start in range(0, len(images), batch):
        features = model.encode_features(model.preprocess(images[start:start + batch]))
        for scale in scales:
            codes = model.project(model.avg_pool(features, scale))
            out[scale][0].append(codes)
            out[scale][1].append(model.nearest(codes, codebook))
    return {scale: (torch.cat(codes), torch.cat(indices)) for scale, (codes, indices) in out.items()}


def indices_of(model, images, scales):
    return {scale: indices for scale, (_, indices) in tokens_of(model, images, scales).items()}


def student_of(source, teacher_state, images):
    """The source with the teacher's encoder and the source's encode_task_layer read through the least-squares
    linear map from the teacher's features to the source encoder's (so that the student starts near the source's
    tokens); only the parameters `learns` names learn."""
    student = copy.deepcopy(source).train()
    student.encoder.load_state_dict({k[len("encoder."):]: v for k, v in teacher_state.items()
                                     if k.startswith("encoder.") and not k.startswith(("encoder.post_layernorm.",
                                                                                        "encoder.head."))})
    with torch.no_grad():
        x = pixels(images[:ALIGNMENT_IMAGES])
        mine = student.encode_features(x).flatten(0, 1)                                        # [N·g², C]
        theirs = source.encode_features(x).flatten(0, 1)                                       # [N·g², C]
        linear = student.encode_task_layer[0]
        weight, bias = ridge_map(mine, theirs)                                                 # theirs ≈ mine·Wᵀ + b
        linear.bias.copy_(linear.weight @ bias + linear.bias)
        linear.weight.copy_(linear.weight @ weight)
    for name, p in student.named_parameters():
        p.requires_grad_(learns(name, student.cfg))
    return student


def ridge_map(x, y):
    """Least squares y ≈ x·Wᵀ + b with a ridge of RIDGE × the features' mean variance, so that directions the
    teacher's features barely use get no large weights (a step of the encoder would swing them). x [N,C], y [N,C']
    → (W [C',C], b [C'])."""
    x, y = x.double(), y.double()
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc, yc = x - mean_x, y - mean_y
    gram = xc.t() @ xc
    ridge = RIDGE * gram.diagonal().mean()
    weight = torch.linalg.solve(gram + ridge * torch.eye(len(gram), dtype=gram.dtype), xc.t() @ yc).t()
    return weight.float(), (mean_y - weight @ mean_x).float()


def learns(name, cfg):
    """Whether a student parameter learns: TRAINED ones, except the encoder when ENCODER_LR_SHARE is 0 and the
    encoder layers after the one TA-Tok reads."""
    if name.startswith("encoder.") and ENCODER_LR_SHARE == 0:
        return False
    kept = cfg["select_layer_id"] % (cfg["layers"] + 1)                                   # layers hidden_states[id] runs
    unused = tuple(f"encoder.encoder.layers.{i}." for i in range(kept, cfg["layers"]))
    return name.startswith(TRAINED) and not name.startswith(unused)


def token_loss(student, codebook, x, targets, scale):
    """targets: the source's (codes [B,p²,D] unit, indices int64 [B,p²]). Cosine distance to the source's code
    plus cross-entropy of its token under cosine/TEMPERATURE; → (loss, agreement)."""
    target_codes, target_indices = targets
    codes = student.project(student.avg_pool(student.encode_features(x), scale))             # [B,p²,D] unit
    logits = codes @ codebook.t() / TEMPERATURE                                                # [B,p²,K]
    loss = F.cross_entropy(logits.flatten(0, 1), target_indices.flatten()) + \
        CODE_WEIGHT * (1 - (codes * target_codes).sum(-1)).mean()
    return loss, (logits.argmax(-1) == target_indices).float().mean().item()


def train(student, images, targets, clock):
    """images uint8 [N,64,64,3]; targets {scale: (codes [N,p²,D], indices int64 [N,p²])}. → steps taken."""
    optimiser = common.encoder_share_optimiser(student, ENCODER_LR_SHARE)
    with torch.no_grad():
        codebook = student.codebook()                                                          # [K,D], frozen
    rng = random.Random(SEED)
    budget = common.step_budget(STEPS, "SHAPES_REBASE_SECONDS")
    step = 0
    while step < budget.tick(step):
        common.set_shared_lr(optimiser, common.cosine_lr(step, budget.total, LR))
        scale = rng.choice(text.SCALES)
        batch = torch.tensor([rng.randrange(len(images)) for _ in range(BATCH)])
        loss, agreement = token_loss(student, codebook, pixels(images[batch]),
                                     tuple(t[batch] for t in targets[scale]), scale)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == budget.total - 1:
            clock.log(f"step {step}/{budget.total} scale {scale} loss {loss.item():.4f} agreement {agreement:.3f}")
        step += 1
    return step


def agreement(model, source_indices, images):
    mine = indices_of(model, images, text.SCALES)
    return {scale: float((mine[scale] == source_indices[scale]).float().mean()) for scale in text.SCALES}


def purity(indices_train, indices_test):
    """Single-token purity at scale 1 on held-out scenes, majorities counted on the training scenes."""
    return token_purity(indices_train, grounding.labels("train", GRID),
                        scored=(indices_test, grounding.labels("test", GRID)))


def run(source_path):
    folder = data.stage_dir("tatok")
    if common.is_done(folder):
        print("tatok: done already")
        return
    common.setup(SEED)
    clock = common.Clock("tatok rebase")
    source = load_tatok(source_path)[0]
    args = EasyDict(read_checkpoint(source_path)[0])
    teacher_state = frozen_teacher()[1]
    images = {split: torch.from_numpy(data.images(split)) for split in data.SPLITS}
    targets = tokens_of(source, images["train"], text.SCALES)
    clock.log("the source's tokens of every training scene computed")
    student = student_of(source, teacher_state, images["train"])
    steps = train(student, images["train"], targets, clock)
    student.eval()
    model = write_indices(folder, write_checkpoint(folder, student, teacher_state, args))
    with torch.no_grad():
        torch.save(model.codebook().detach().clone(), os.path.join(folder, "codebook.pt"))
    source_test = indices_of(source, images["test"], text.SCALES)
    figures = {
        "agreement_with_source": {
            "train": agreement(model, {s: t[1][:AGREEMENT_IMAGES] for s, t in targets.items()},
                               images["train"][:AGREEMENT_IMAGES]),
            "test": agreement(model, source_test, images["test"])},
        "token_purity_held_out": {
            "source": purity(targets[1][1].numpy(), source_test[1].numpy()),
            "rebased": purity(np.load(os.path.join(folder, "indices_train_s1.npy")),
                              np.load(os.path.join(folder, "indices_test_s1.npy")))},
    }
    clock.log(f"{figures}")
    common.mark_done(folder, {"source": os.path.relpath(source_path, data.ROOT), "steps": steps, "batch": BATCH,
                              "encoder_lr_share": ENCODER_LR_SHARE, "temperature": TEMPERATURE,
                              "code_weight": CODE_WEIGHT, **figures,
                              "minutes": clock.minutes()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the ta_tok.pth whose tokens to keep")
    parser.add_argument("--encoder-lr-share", type=float, default=ENCODER_LR_SHARE,
                        help="the encoder's learning rate against the head's (0: frozen)")
    args = parser.parse_args(argv)
    globals()["ENCODER_LR_SHARE"] = args.encoder_lr_share
    run(args.source)


if __name__ == "__main__":
    main()
