"""Stage "ardtok" continued by best-of-K self-distillation (CPU): the source de-tokenizer (the shipped one, recovered
by tools.shapes.recover) draws up to K pictures of each training scene from the scene's true TA-Tok tokens, at the
package's guidance; the evaluator keeps the first it scores right in every attribute against that training scene
(never a held-out one); the source is then trained on its own right drawings. The targets are codes the model
itself chose, so, unlike the recovered VQ encoder's codes (finetune_ardtok), they agree with what it learnt among
the VQ's many equivalent codes for one picture. The same targets can be taught under the coarser pool scales'
condition rows (`--scales 1,1,2,3`: the cycle of scales, step by step), which the source never saw in training.

Not a new recipe stage: it needs a trained de-tokenizer, and what it adds is only what the evaluator can check.

Writes build/shapes/ardtok/: ar_dtok_shapes_64px.pth (official format), targets.npz (kept scene indices, codes
[n, h·w], keyed by the source, the VQ, the TA-Tok tokens and the drawing's settings: a later run with the same key
reads them back instead of drawing again) and done.json (how many scenes were kept, and the sample figures on
held-out test images at every scale, for the source and the result).

    python3 -m tools.shapes.distill_ardtok --source DIR/ardtok/ar_dtok_shapes_64px.pth
        [--scenes N] [--candidates K] [--steps S] [--scales 1,1,2,3] [--workers W]"""
import argparse
import multiprocessing
import os

import numpy as np
import torch

from tools.convert import ardtok as ardtok_convert
from tools.convert import vq as vq_convert
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, evaluate, package
from tools.shapes.finetune_ardtok import begin, train
from tools.shapes.train_ardtok import (CHECKPOINT, EVAL_IMAGES, SCALES, TEMPERATURE, TRAIN_SCALE, decode_images,
                                       drawn_at_scale, features, fingerprint, input_paths, sample_codes,
                                       write_checkpoint)

SCENES, CANDIDATES, STEPS = 6000, 3, 1000
BATCH = 64                     # scenes drawn at once
TARGETS = "targets.npz"


def guidance():
    return package.SAMPLING["detokenizer"]["cfgScale"]


def right(scene, image):
    """True when the evaluator finds every object of the scene, each right in every attribute."""
    return evaluate.score_image(scene, image)["all"] == 1.0


def _draw_part(job):
    """One worker's share: (source path, VQ path, condition rows [n,p²,C], their scenes, their scene indices, K,
    scenes drawn at once) → (kept scene indices [k], their codes [k, h·w], pictures drawn). Each batch's k-th
    drawing is seeded by its first waiting scene's index, so the result does not depend on how scenes are split."""
    source, vq_path, cond, scenes, indices, candidates, batch = job
    torch.set_num_threads(1)
    model = ardtok_convert.build_checked(source)[0].eval()
    vq = vq_convert.build_checked(vq_path)[0]
    kept, codes, drawn = [], [], 0
    for start in range(0, len(scenes), batch):
        waiting = list(range(start, min(start + batch, len(scenes))))
        for k in range(candidates):
            if not waiting:
                break
            generator = torch.Generator().manual_seed(int(indices[waiting[0]]) * candidates + k)
            sampled = sample_codes(model, cond[waiting], guidance(), TEMPERATURE, generator)      # [w, h·w]
            images = decode_images(vq, sampled)
            drawn += len(waiting)
            still = []
            for row, (i, image) in enumerate(zip(waiting, images)):
                if right(scenes[i], image):
                    kept.append(int(indices[i]))
                    codes.append(sampled[row])
                else:
                    still.append(i)
            waiting = still
    codes = torch.stack(codes) if codes else torch.zeros(0, model.args.max_seq_len, dtype=torch.int64)
    return kept, codes, drawn


def draw_targets(source, vq_path, cond, scenes, candidates, workers):
    """cond [N,p²,C] at the training scale, scenes [N] → (kept scene indices int64 [k], codes int64 [k, h·w],
    pictures drawn). Workers split the scenes in contiguous parts of whole batches; one worker runs in this
    process."""
    bounds = np.linspace(0, len(scenes), workers + 1).astype(int)
    bounds = [b - b % BATCH if b < len(scenes) else b for b in bounds]
    jobs = [(source, vq_path, cond[a:b], scenes[a:b], np.arange(a, b), candidates, BATCH)
            for a, b in zip(bounds, bounds[1:]) if b > a]
    if len(jobs) == 1:
        parts = [_draw_part(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            parts = pool.map(_draw_part, jobs)
    kept = torch.tensor([i for part in parts for i in part[0]], dtype=torch.int64)
    codes = torch.cat([part[1] for part in parts])
    return kept, codes, sum(part[2] for part in parts)


def targets(source, paths, cond, scenes, candidates, workers):
    """draw_targets, kept in the stage folder's TARGETS under a key of its inputs and read back from there when
    the key matches (so runs that differ only in how they train share one drawing)."""
    files = [source, paths["vq"], paths["tatok"], paths[f"indices_train_s{TRAIN_SCALE}"]]
    key = f"{fingerprint(files)}-{len(scenes)}-{candidates}-{BATCH}-{guidance()}-{TEMPERATURE}"
    path = os.path.join(data.stage_dir("ardtok"), TARGETS)
    if os.path.exists(path):
        saved = np.load(path)
        if str(saved["key"]) == key:
            return (torch.from_numpy(saved["scenes"]), torch.from_numpy(saved["codes"].astype(np.int64)),
                    int(saved["drawn"]))
    kept, codes, drawn = draw_targets(source, paths["vq"], cond, scenes, candidates, workers)
    np.savez(path + ".tmp.npz", key=key, scenes=kept.numpy(), codes=codes.numpy().astype(np.int16), drawn=drawn)
    os.replace(path + ".tmp.npz", path)
    return kept, codes, drawn


def figures(model, vq, test_feats, scenes):
    """The evaluator's scores of pictures drawn from the held-out test images' true tokens, at every pool scale, at
    the package's guidance."""
    return {f"s{scale}": drawn_at_scale(model, vq, test_feats[scale], scenes, guidance(), scale)[2]
            for scale in SCALES}


def run(source, scenes_count, candidates, steps, cycle, workers):
    started = begin(source, "ardtok distill")
    if started is None:
        return
    folder, clock = started
    train_scales = sorted({TRAIN_SCALE, *cycle})      # the drawing is always from the training scale's rows
    paths = input_paths(train_scales)
    tatok = load_tatok(paths["tatok"])[0]
    train_feats = {scale: features(tatok, "train", scale, paths)[:scenes_count] for scale in train_scales}
    test_feats = {scale: features(tatok, "test", scale, paths)[:EVAL_IMAGES] for scale in SCALES}
    train_scenes = data.scene_list("train")[:scenes_count]
    test_scenes = data.scene_list("test")[:EVAL_IMAGES]
    kept, codes, drawn = targets(source, paths, train_feats[TRAIN_SCALE], train_scenes, candidates, workers)
    clock.log(f"{len(kept)} of {len(train_scenes)} scenes kept, {drawn} pictures drawn")
    if len(kept) == 0:
        raise SystemExit("no drawing of any training scene was right: nothing to learn from")
    model = ardtok_convert.build_checked(source)[0]
    args = ardtok_convert.read_checkpoint(source)[1]
    vq = vq_convert.build_checked(paths["vq"])[0]
    before = figures(model.eval(), vq, test_feats, test_scenes)
    clock.log(f"source {before}")
    train(model, [train_feats[scale][kept] for scale in cycle], codes, steps, clock)
    write_checkpoint(os.path.join(folder, CHECKPOINT), model, args)
    after = figures(model, vq, test_feats, test_scenes)
    common.mark_done(folder, {"source": os.path.relpath(source, data.ROOT), "scenes": len(train_scenes),
                              "candidates": candidates, "kept": len(kept), "drawn": drawn, "steps": steps,
                              "scale_cycle": cycle, "guidance": guidance(), "figures_source": before,
                              "figures": after, "minutes": clock.minutes()})
    clock.log(f"source {before}\ndistilled {after}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the official de-tokenizer checkpoint to continue from")
    parser.add_argument("--scenes", type=int, default=SCENES, help="training scenes drawn (the first N)")
    parser.add_argument("--candidates", type=int, default=CANDIDATES, help="pictures drawn at most per scene")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--scales", default=str(TRAIN_SCALE), help="pool scales taught in turn, e.g. 1,1,2,3")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SHAPES_THREADS", "2")))
    args = parser.parse_args(argv)
    cycle = [int(s) for s in args.scales.split(",")]
    if any(s not in SCALES for s in cycle):
        parser.error(f"--scales: each of {cycle} must be one of {SCALES}")
    run(args.source, args.scenes, args.candidates, args.steps, cycle, args.workers)


if __name__ == "__main__":
    main()
