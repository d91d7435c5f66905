"""Where a trained TA-Tok loses what the image shows: linear probes for the colour and shape of the object under
each patch (tools/shapes/grounding.py labels, object patches only, pool scale 1) at each step of TA-Tok's
encoding — the encoder's hidden_states[-2], the task layer (tanh), the unit vector z that is quantised, and the
codebook row it is quantised to. Least squares on one half of the patches, accuracy on the other half.

    /usr/bin/python3 -m tools.shapes.probe_tatok [--checkpoint build/shapes/tatok/ta_tok.pth] [--scenes 1500]

A diagnostic for the model card, not a training stage."""
import argparse
import json
import os

import torch
import torch.nn.functional as F

from tools.convert.tatok import load_tatok
from tools.shapes import data, grounding


def probe_accuracy(x, labels, classes):
    """x [N,D], labels int [N] → accuracy on the second half of a least-squares fit on the first half."""
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    half = len(x) // 2
    weights = torch.linalg.lstsq(x[:half], F.one_hot(labels[:half], classes).float()).solution
    return float(((x[half:] @ weights).argmax(1) == labels[half:]).float().mean())


@torch.no_grad()
def run(checkpoint, scenes):
    model, _, _ = load_tatok(checkpoint)
    images = torch.from_numpy(data.images("train")[:scenes])
    grid = model.grid
    labels = torch.from_numpy(grounding.labels("train", grid)[:scenes]).long().flatten(2)    # [N,3,g²]
    features = model.encode_features(model.preprocess(images))                                 # [N,g²,C]
    task = model.encode_task_layer(features)
    z = model.project(features)                                                                # [N,g²,D] unit
    codebook = model.codebook()
    quantised = codebook[model.nearest(z, codebook)]
    on_object = grounding.on_object(labels[:, 0])                                              # [N,g²]
    out = {}
    for name, x in (("features", features), ("task_layer", task), ("z", z), ("quantised", quantised)):
        rows = x[on_object]                                                                    # [M,·]
        out[name] = {attribute: probe_accuracy(rows, labels[:, head][on_object], grounding.CLASSES[head] - 1)
                     for head, attribute in enumerate(("colour", "shape", "size"))}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=os.path.join(data.WORK, "tatok", "ta_tok.pth"))
    parser.add_argument("--scenes", type=int, default=1500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(run(args.checkpoint, args.scenes), indent=1))


if __name__ == "__main__":
    main()
