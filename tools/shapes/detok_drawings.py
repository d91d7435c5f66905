"""The package's AR de-tokenizer drawing training scenes from their own TA-Tok tokens: the VQ codes it samples for
a scene's true tokens at the training pool scale, with the manifest's de-tokenizer sampling (its guidance and
temperature). These are the codes text-to-image hands the VQ decoder (a drawing, not the VQ encoder's reading of
the picture), paired with the picture they were drawn from; finetune_vq_decoder's --drawn-share trains on them.

Needs build/shapes/tatok/ta_tok.pth and build/shapes/ardtok/ar_dtok_shapes_64px.pth (tools.shapes.recover). The
drawing is cached in build/shapes/vq/ under a key of its inputs; not here: training, scoring."""
import json
import os

import numpy as np
import torch

from tools.convert import ardtok as ardtok_convert
from tools.convert.tatok import load_tatok
from tools.shapes import data, package
from tools.shapes.train_ardtok import CHECKPOINT, TRAIN_SCALE, fingerprint, sample_codes

BATCH = 64          # scenes drawn at once
PREFIX = "drawn_train_"


def sampling():
    """The package manifest's de-tokenizer sampling; sample_codes draws from the whole distribution, so a top-k or
    top-p that cuts it is refused rather than ignored."""
    with open(os.path.join(package.OUT, "manifest.json")) as f:
        settings = json.load(f)["sampling"]["detokenizer"]
    if settings.get("topK", 0) != 0 or settings.get("topP", 1.0) != 1.0:
        raise ValueError(f"detok_drawings draws without top-k / top-p; the manifest asks for {settings}")
    return settings


def paths():
    return {"tatok": os.path.join(data.stage_dir("tatok"), "ta_tok.pth"),
            "ardtok": os.path.join(data.stage_dir("ardtok"), CHECKPOINT)}


@torch.no_grad()
def draw(images, tatok_path, ardtok_path, seed):
    """uint8 [N,64,64,3] -> int16 [N,h,w]: one drawing per picture, from its TA-Tok tokens at TRAIN_SCALE; each
    batch of BATCH seeded by seed and its first picture's index."""
    tatok = load_tatok(tatok_path)[0].eval()
    model = ardtok_convert.build_checked(ardtok_path)[0].eval()
    settings = sampling()
    side = int(round(model.args.max_seq_len ** 0.5))
    out = []
    for start in range(0, len(images), BATCH):
        pixels = tatok.preprocess(torch.from_numpy(images[start:start + BATCH]))
        tokens = tatok.encode(pixels, TRAIN_SCALE)[1]                                    # [B,p²]
        cond = tatok.decode(tokens.long())                                               # [B,p²,C]
        generator = torch.Generator().manual_seed(seed * 1_000_003 + start)
        codes = sample_codes(model, cond, settings["cfgScale"], settings["temperature"], generator)  # [B,h·w]
        out.append(codes.reshape(-1, side, side).numpy().astype(np.int16))
    return np.concatenate(out)


def cached(count, seed):
    """draw() of the first `count` training pictures, read back from build/shapes/vq/ when the checkpoints, the
    count, the seed and the sampling are those it was drawn with."""
    files = paths()
    settings = sampling()
    key = fingerprint([files["tatok"], files["ardtok"]])[:12]
    name = f"{PREFIX}{key}-{count}-{seed}-{settings['cfgScale']}-{settings['temperature']}.npy"
    path = os.path.join(data.stage_dir("vq"), name)
    if os.path.exists(path):
        return np.load(path)
    drawn = draw(data.images("train")[:count], files["tatok"], files["ardtok"], seed)
    np.save(path + ".tmp.npy", drawn)
    os.replace(path + ".tmp.npy", path)
    return drawn
