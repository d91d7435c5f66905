"""The VQ's decoding half (post_quant_conv and the decoder) trained further on the codes of the training images,
with the encoder and the codebook frozen, so that the codes keep their meaning (the AR de-tokenizer's targets are
unchanged) and only how they are drawn improves.

Needs build/shapes/vq/ with codes_{train,test}.npy (train_vq, or tools.shapes.recover_vq_encoder after
tools.shapes.recover). The loss is train_vq's (MSE + L1 on [-1, 1] pixels, object pixels weighted up), one cosine
cycle, on crops of the code grid (train_vq's, a quarter of the compute) for the same share of the steps as train_vq,
then on whole 64 px images. Writes OUT/vq_shapes.pt (official format, the source's encoder and codebook in it)
and OUT/done.json: the evaluator on the test images' reconstructions by the source and by the result, and, with
--codes and --set, on the pictures both draw from the same codes (e.g. codes the package drew for held-out prompts:
a paired comparison, the codes being equal).

With --drawn-share S, that share of each batch's pictures is paired instead with the codes the package's
de-tokenizer drew for it from its own TA-Tok tokens (detok_drawings, the first --drawn-scenes training pictures):
the codes text-to-image hands the decoder, whose shapes come out wobbly where the VQ encoder's codes are clean, so
the decoder learns to draw what they were drawn from. A drawing is only used when the source decoder's picture of
it shows the scene's objects in the right number, colours and places over the right background (what the codes
got wrong there is not the decoder's to mend).

    /usr/bin/python3 -m tools.shapes.finetune_vq_decoder --out DIR [--steps N] [--batch B] [--lr LR]
        [--shape-weight W] [--source CHECKPOINT] [--codes CODES.npy --set SET.json]... [--drawn-share S]
        [--drawn-scenes N]"""
import argparse
import json
import os
import time

import numpy as np
import torch

from tools.convert.vq import build_checked
from tools.shapes import common, data, detok_drawings, eval_set, evaluate
from tools.shapes.train_ardtok import scores
from tools.shapes.train_vq import (ARCH, CHECKPOINT, CODE_CELL, SETTINGS, build_model, crop_offsets, decode_all,
                                   pixel_weights, psnr, save_checkpoint, to_input)

LEARNED = ("post_quant_conv.", "decoder.")
DEFAULTS = {"steps": 2000, "batch": 16, "lr": 3e-4, "shape_weight": SETTINGS["shape_weight"], "seed": 11,
            "drawn_share": 0.0, "drawn_scenes": 8000}
BACKGROUND_PSNR_DB = 12.0   # a drawing's picture further than this from its scene's has the wrong background
ATTRIBUTES_DRAWN_RIGHT = ("count", "colour", "position")


def source_model(checkpoint):
    """train_vq's VQModel holding the checkpoint (encoder included); only the decoding half learns."""
    model = build_model(SETTINGS["seed"])
    model.load_state_dict(torch.load(checkpoint, map_location="cpu")["model"])
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(LEARNED))
    return model


def crop(x, weights, zq, generator):
    """The same random crop of train_vq's size from each image, its loss weights and its codes: x, weights
    [B,C,64,64], zq [B,h,w,D] -> [B,C,S,S], [B,S/f,S/f,D]."""
    size, side = SETTINGS["crop"], SETTINGS["crop"] // CODE_CELL
    offsets = crop_offsets(len(x), x.shape[-1], SETTINGS, generator).tolist()
    pixels = [(i * CODE_CELL, j * CODE_CELL) for i, j in offsets]
    return (torch.stack([a[:, i:i + size, j:j + size] for a, (i, j) in zip(x, pixels)]),
            torch.stack([w[:, i:i + size, j:j + size] for w, (i, j) in zip(weights, pixels)]),
            torch.stack([z[i:i + side, j:j + side] for z, (i, j) in zip(zq, offsets)]))


def usable_drawings(drawn_pictures, images, scenes):
    """Indices of the drawings whose pictures (uint8 [n,64,64,3], decoded by the source) show every object of their
    scene in the right number, colour and place over the background of its image (uint8 [n,64,64,3])."""
    largest_error = 255.0 ** 2 / 10 ** (BACKGROUND_PSNR_DB / 10)                  # mean squared, 8-bit levels
    keep = []
    for i, (scene, picture, image) in enumerate(zip(scenes, drawn_pictures, images)):
        scored = evaluate.score_image(scene, picture)
        error = np.mean((picture.astype(np.float64) - image) ** 2)
        if all(scored[a] == 1.0 for a in ATTRIBUTES_DRAWN_RIGHT) and error <= largest_error:
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def batch_pairs(images, codes, drawn, settings, generator):
    """One batch's picture indices [B] and their codes [B,h,w]: the VQ encoder's, or, for a drawn_share of the
    slots, a usable drawing's (drawn = (picture indices [n], their drawn codes [n,h,w]) or None)."""
    pick = torch.randint(len(images), (settings["batch"],), generator=generator).numpy()
    batch_codes = codes[pick]
    if drawn is not None:
        which, drawn_codes = drawn
        swap = (torch.rand(settings["batch"], generator=generator) < settings["drawn_share"]).numpy()
        chosen = torch.randint(len(which), (settings["batch"],), generator=generator).numpy()
        pick = np.where(swap, which[chosen], pick)
        batch_codes = np.where(swap[:, None, None], drawn_codes[chosen], batch_codes)
    return pick, batch_codes


def train(model, images, codes, settings, log_every=50, drawn=None):
    """Trains the decoding half on (codes [N,h,w] -> uint8 images [N,64,64,3]) pairs, and on drawn pairs when given
    (batch_pairs); -> per-step losses."""
    codebook = model.codebook().detach()                                       # [K, D]
    learned = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(learned, lr=settings["lr"])
    generator = torch.Generator().manual_seed(settings["seed"])
    losses = []
    model.train()
    for step in range(settings["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = common.cosine_lr(step, settings["steps"], settings["lr"], warmup=30)
        pick, batch_codes = batch_pairs(images, codes, drawn, settings, generator)
        x = to_input(images[pick])                                             # [B,3,64,64]
        weights = pixel_weights(x, settings["shape_weight"])                   # [B,1,64,64]
        zq = codebook[torch.from_numpy(batch_codes).long()]                    # [B,h,w,D]
        if step < SETTINGS["crop_until"] * settings["steps"]:
            x, weights, zq = crop(x, weights, zq, generator)
        recon = model.decode_z(zq)                                             # [B,3,S,S]
        error = (recon - x) ** 2 + SETTINGS["l1_weight"] * (recon - x).abs()
        loss = (error * weights).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0:
            print(f"step {step + 1}: loss {np.mean(losses[-log_every:]):.4f}", flush=True)
    return losses


def pictures(checkpoint, codes):
    """uint8 [N,64,64,3]: the converter's reference decoder (the module the package exports) on int codes [N,h,w]."""
    reference, _ = build_checked(checkpoint)
    return decode_all(reference.eval(), codes)


def figures_of(checkpoint, test_codes, test_images, held_out):
    """The evaluator on the test reconstructions and, if given, on the held-out prompts' pictures."""
    recon = pictures(checkpoint, test_codes)
    out = {"psnr_test_db": psnr(recon, test_images),
           "evaluator_on_test_reconstructions": scores(data.scene_list("test"), recon)}
    for name, (evaluation, codes) in held_out.items():
        drawn = pictures(checkpoint, codes)
        items = [(item["id"], 1, image) for item, image in zip(evaluation["t2i"], drawn)]
        scored = eval_set.score(evaluation, items, {})["t2i"]["1"]
        out.setdefault("held_out_prompts_from_the_same_codes", {})[name] = scored
    return out


def run(out, settings, source=None, codes_paths=(), set_paths=()):
    torch.set_num_threads(int(os.environ.get("SHAPES_THREADS", "1")))
    source_dir = data.stage_dir("vq")
    source = source or os.path.join(source_dir, CHECKPOINT)
    train_codes = np.load(os.path.join(source_dir, "codes_train.npy"))
    test_codes = np.load(os.path.join(source_dir, "codes_test.npy"))
    train_images, test_images = data.images("train"), data.images("test")
    held_out = {}
    for codes_path, set_path in zip(codes_paths, set_paths):
        with open(set_path) as f:
            evaluation = json.load(f)
        codes = np.load(codes_path)
        held_out[set_path] = ({"t2i": evaluation["t2i"][:len(codes)], "chat": []}, codes)
    drawn = None
    if settings["drawn_share"] > 0:
        count = settings["drawn_scenes"]
        drawings = detok_drawings.cached(count, settings["seed"])                            # [n,h,w]
        which = usable_drawings(pictures(source, drawings), train_images[:count], data.scene_list("train")[:count])
        print(f"{len(which)} of {count} drawings usable", flush=True)
        drawn = (which, drawings[which])
        settings = dict(settings, drawings_usable=len(which))
    model = source_model(source)
    started = time.time()
    losses = train(model, train_images, train_codes, settings, drawn=drawn)
    minutes = (time.time() - started) / 60
    os.makedirs(out, exist_ok=True)
    result = os.path.join(out, CHECKPOINT)
    save_checkpoint(model, result)
    figures = {"source": figures_of(source, test_codes, test_images, held_out),
               "finetuned": figures_of(result, test_codes, test_images, held_out),
               "final_loss_last50": float(np.mean(losses[-50:])), "minutes": minutes}
    print(json.dumps(figures, indent=1))
    common.mark_done(out, {"arch": ARCH, "settings": settings, "figures": figures})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    for name, value in DEFAULTS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--source", help="the checkpoint to start from (default: build/shapes/vq's, whose codes are "
                                             "used either way)")
    parser.add_argument("--codes", action="append", default=[],
                        help="int codes [N,h,w] to draw with both decoders (with a --set each; may repeat)")
    parser.add_argument("--set", action="append", default=[],
                        help="the eval_set set.json whose first N text-to-image items the codes draw")
    args = parser.parse_args(argv)
    if len(args.codes) != len(args.set):
        parser.error("each --codes goes with a --set")
    run(args.out, {name: getattr(args, name) for name in DEFAULTS}, args.source, args.codes, args.set)


if __name__ == "__main__":
    main()
