"""Where the Tar-Shapes pipeline keeps its work (build/shapes/, never committed) and the shared datasets:
the training and held-out test scenes and their rendered images, cached as .npy so every stage reads the
same pixels. SHAPES_TRAIN_SCENES sets how many training scenes there are (the recipe's 16,000 by default; the
scenes come from one seeded stream, so the first 16,000 are the same scenes at any count); the caches' names
carry the count."""
import json
import os

import numpy as np

from tools.shapes import world

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.environ.get("SHAPES_WORK", os.path.join(ROOT, "build", "shapes"))
SPLITS = {"train": (int(os.environ.get("SHAPES_TRAIN_SCENES", "16000")), 1), "test": (400, 1)}


def stage_dir(name: str) -> str:
    path = os.path.join(WORK, name)
    os.makedirs(path, exist_ok=True)
    return path


def scene_list(split: str):
    count, seed = SPLITS[split]
    return world.scenes(split, count, seed)


def images(split: str) -> np.ndarray:
    """uint8 [N, 64, 64, 3] for the split's scenes (rendered once, then read from build/shapes/)."""
    path = os.path.join(stage_dir("data"), f"images_{split}_{SPLITS[split][0]}.npy")
    if not os.path.exists(path):
        pixels = np.stack([world.render(s) for s in scene_list(split)])
        np.save(path + ".tmp.npy", pixels)
        os.replace(path + ".tmp.npy", path)
        with open(os.path.join(stage_dir("data"), f"scenes_{split}_{SPLITS[split][0]}.json"), "w") as f:
            json.dump([s.to_json() for s in scene_list(split)], f)
    return np.load(path)
