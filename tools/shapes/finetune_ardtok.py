"""Stage "ardtok" continued instead of started over: an existing de-tokenizer (the shipped one, recovered by
tools.shapes.recover) trained further with train_ardtok's loss on the present TA-Tok stage's tokens and the VQ
codes of the training images (after tools.shapes.recover_vq_encoder, which gives the recovered VQ its encoder
back), at a lower rate and without the condition warm-up, so that it learns what changed in the tokens without
losing what the GPU taught it.

The official checkpoint takes raw TA-Tok decoder features (train_ardtok folds its standardisation into clip_proj),
so the fine-tune feeds raw features, and condition dropout zeroes them, as inference does for CFG's other half.

Writes build/shapes/ardtok/: ar_dtok_shapes_64px.pth (official format) and done.json (train_ardtok's sample
figures on held-out test images, for the source and the result).

    python3 -m tools.shapes.finetune_ardtok --source DIR/ardtok/ar_dtok_shapes_64px.pth [--steps N]"""
import argparse
import os

import torch

from tools.convert import ardtok as ardtok_convert
from tools.shapes import common, data
from tools.shapes.train_ardtok import (CHECKPOINT, CLIP, CORRUPT, EVAL_IMAGES, SCALES, SEED, TRAIN_SCALE, batch_loss,
                                       batch_plan, batch_size, features, input_paths, load_inputs, new_optimizer,
                                       sample_figures, write_checkpoint)

STEPS, LR = 1500, 2e-4
RAW = (torch.tensor(0.0), torch.tensor(1.0))   # the identity standardiser: the checkpoint takes raw features


def train(model, cycle, codes, steps, clock):
    """AdamW (train_ardtok's groups) at a cosine from LR, every step's inputs corrupted at CORRUPT. cycle: condition
    rows [N,p²,condDim] of the training images at one pool scale each, taken in turn, step by step."""
    opt = new_optimizer(model)
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = common.cosine_lr(step, steps, LR, warmup=50)
        idx, drop, generator, _ = batch_plan(step, codes.shape[0], batch_size())
        loss = batch_loss(model, cycle[step % len(cycle)], codes, (idx, drop, generator, CORRUPT), RAW)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            clock.log(f"step {step}/{steps} loss {loss.item():.4f}")
    model.eval()


def begin(source, label):
    """The checks and set-up of a run that continues `source` in the "ardtok" stage → (its folder, a clock), or None
    when the stage is done already."""
    folder = data.stage_dir("ardtok")
    if os.path.realpath(source) == os.path.realpath(os.path.join(folder, CHECKPOINT)):
        raise SystemExit(f"--source {source} is the checkpoint this stage writes")
    if common.is_done(folder):
        print("ardtok: done already")
        return None
    common.setup(SEED)
    return folder, common.Clock(label)


def run(source, steps):
    started = begin(source, "ardtok finetune")
    if started is None:
        return
    folder, clock = started
    paths = input_paths()
    tatok, vq, _, codes = load_inputs(paths)
    train_feats = features(tatok, "train", TRAIN_SCALE, paths)                           # [N,p²,condDim]
    test_feats = {scale: features(tatok, "test", scale, paths)[:EVAL_IMAGES] for scale in SCALES}
    scenes = data.scene_list("test")[:EVAL_IMAGES]
    model, _ = ardtok_convert.build_checked(source)
    args = ardtok_convert.read_checkpoint(source)[1]
    before = sample_figures(model, vq, test_feats, codes["test"][:EVAL_IMAGES], scenes)[0]
    clock.log("the source's samples scored")
    train(model, [train_feats], codes["train"], steps, clock)
    write_checkpoint(os.path.join(folder, CHECKPOINT), model, args)
    after = sample_figures(model, vq, test_feats, codes["test"][:EVAL_IMAGES], scenes)[0]
    common.mark_done(folder, {"source": os.path.relpath(source, data.ROOT), "steps": steps, "lr": LR,
                              "batch": batch_size(), "corrupt": CORRUPT, "figures_source": before,
                              "figures": after, "minutes": clock.minutes()})
    clock.log(f"source {before}\nfine-tuned {after}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the official de-tokenizer checkpoint to continue from")
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args(argv)
    run(args.source, args.steps)


if __name__ == "__main__":
    main()
