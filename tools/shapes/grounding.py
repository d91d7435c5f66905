"""Dense grounding labels for the teacher: for every cell of the vision tower's patch grid, which object (if
any) covers it — its colour, shape and size as class indices, or "none" for background.

SigLIP2 adds location-aware captioning (LocCa) to the sigmoid loss so that its patch features say what is where;
this is the same signal at the scale of our world: the teacher's hidden_states[-2] learn to name the object
under each patch. Labels come from the scene's geometry (each object's own coverage mask, drawn exactly as
world.render draws it), not from the pixels. Pure numpy + PIL; cached under build/shapes/data/."""
import os
from typing import List

import numpy as np
from PIL import Image, ImageDraw

from tools.shapes import data, world

COLOURS = tuple(world.COLOURS)
SHAPES = world.SHAPES
SIZES = tuple(world.SIZES)
CLASSES = (len(COLOURS) + 1, len(SHAPES) + 1, len(SIZES) + 1)     # each head's classes, the last one "none"
NONE = tuple(k - 1 for k in CLASSES)                                 # each head's "none" class
MIN_COVER = 0.15               # share of a cell an object must cover to name it


def on_object(colour_classes):
    """Where a cell is covered by an object: its colour class (numpy or torch, any shape) is not "none"."""
    return colour_classes < NONE[0]


def coverage(thing: world.Thing, grid: int) -> np.ndarray:
    """float [grid, grid]: the share of each cell this thing covers, from a 4× mask box-filtered to the grid."""
    big = world.IMAGE_SIZE * world.SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    world.draw_thing(ImageDraw.Draw(mask), thing, 255)
    return np.asarray(mask.resize((grid, grid), Image.BOX), dtype=np.float32) / 255.0


def scene_labels(scene: world.Scene, grid: int) -> np.ndarray:
    """int8 [3, grid, grid]: colour, shape and size class of the object covering each cell (class count = none)."""
    out = np.array(NONE, dtype=np.int8).reshape(3, 1, 1).repeat(grid, 1).repeat(grid, 2)
    if not scene.things:
        return out
    cover = np.stack([coverage(t, grid) for t in scene.things])                  # [n, grid, grid]
    best = cover.argmax(0)
    for k, thing in enumerate(scene.things):
        cells = (best == k) & (cover[k] >= MIN_COVER)
        out[0][cells] = COLOURS.index(thing.colour)
        out[1][cells] = SHAPES.index(thing.shape)
        out[2][cells] = SIZES.index(thing.size)
    return out


def labels(split: str, grid: int) -> np.ndarray:
    """int8 [N, 3, grid, grid] for the split's scenes (computed once, then read from build/shapes/data/)."""
    path = os.path.join(data.stage_dir("data"), f"grounding_{split}_{data.SPLITS[split][0]}_g{grid}.npy")
    if not os.path.exists(path):
        scenes: List[world.Scene] = data.scene_list(split)
        np.save(path + ".tmp.npy", np.stack([scene_labels(s, grid) for s in scenes]))
        os.replace(path + ".tmp.npy", path)
    return np.load(path)
