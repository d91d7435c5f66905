"""The Tar-Shapes evaluator: finds the coloured shapes in an image by deterministic image analysis, scores an image
against the scene its prompt was made from (GenEval-style, per attribute), and scores chat answers against the
world's truths.

Image analysis: the background is the dominant class of the border; every pixel is read as a blend of the
background and one palette colour (its coverage α of that colour); pixels covered more than half are object
pixels, cut into 8-connected components per colour (same-colour objects that touch are split where erosion
separates them). Each object is then measured on its coverage α around it, which blur and resizing keep: area
= Σα (size), centroid (position), and the k-fold symmetry |Σ α z^k| / area^(1 + k/2) for k = 3, 4, 5 (shape),
compared with the world's own renders.

Pure numpy + PIL; no torch, no scipy, no model. It knows the world's palette, geometry and vocabulary
(tools/shapes/world.py) and nothing else. `/usr/bin/python3 -m tools.shapes.evaluate --check` scores the
ground-truth renders of the test scenes, clean and degraded."""
import argparse
import functools
import io
import itertools
import json
import string
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageFilter

from tools.shapes import data, world

CANVAS = world.IMAGE_SIZE          # every image is analysed at 64 px; coordinates and areas are in 64 px units
BORDER = 2                         # width (px) of the border ring that decides the background
FOREGROUND = 0.5                   # a pixel belongs to an object when its coverage α exceeds this
MAX_RESIDUAL = 90.0                # RGB distance from every background→colour blend beyond which a pixel is no colour
MIN_AREA = 12                      # components of fewer pixels are specks
MIN_DEPTH = 2                      # ... and so are those gone after fewer 4-neighbour erosions (lines, fringes)
SPLIT_DEPTH = 2                    # a same-colour component splits where erosion leaves ≥ 2 parts at least this deep
CORE = 0.85                        # coverage of the solid part whose parts are the candidate objects
REACH = 3                          # px (Euclidean) around an object's pixels whose coverage still counts as its own
FOLDS = {"triangle": 3, "square": 4, "star": 5}   # the rotational symmetry that tells each non-circle apart
MIN_SYMMETRY = 0.4                 # fraction of its render's symmetry a shape must show; below it for all: circle

ATTRIBUTES = ("colour", "shape", "size", "position")
SYNONYMS = {"center": "centre", "middle": "centre", "grey": "gray", "color": "colour", "an": "a",
            "0": "zero", "1": "one", "2": "two", "3": "three"}
COUNTS = {"a": 1, "one": 1, "two": 2, "three": 3}

_NEIGHBOURS_4 = ((-1, 0), (1, 0), (0, -1), (0, 1))
_NEIGHBOURS_8 = _NEIGHBOURS_4 + ((-1, -1), (-1, 1), (1, -1), (1, 1))
_DISC = sorted(((dy, dx) for dy in range(-REACH, REACH + 1) for dx in range(-REACH, REACH + 1)
                if 0 < dy * dy + dx * dx <= REACH * REACH), key=lambda o: (o[0] ** 2 + o[1] ** 2, o))


# ---- pixels → background and coverage -------------------------------------------------------------------------
def _to_canvas(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3 or 4] of any size → float32 [64, 64, 3]."""
    image = np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[..., :3])
    if image.shape[:2] != (CANVAS, CANVAS):
        smaller = image.shape[0] < CANVAS or image.shape[1] < CANVAS
        image = np.asarray(Image.fromarray(image).resize((CANVAS, CANVAS),
                                                         Image.BILINEAR if smaller else Image.BOX))
    return image.astype(np.float32)


def _background(pixels: np.ndarray) -> Tuple[str, np.ndarray]:
    """pixels [64, 64, 3] → (the dominant background class of the border, its measured RGB [3])."""
    ring = np.ones((CANVAS, CANVAS), bool)
    ring[BORDER:-BORDER, BORDER:-BORDER] = False
    border = pixels[ring]                                                  # [R, 3]
    names = list(world.BACKGROUNDS)
    refs = np.array([world.BACKGROUNDS[n] for n in names], np.float32)     # [B, 3]
    nearest = np.argmin(((border[:, None] - refs[None]) ** 2).sum(-1), 1)  # [R]
    winner = int(np.bincount(nearest, minlength=len(names)).argmax())
    return names[winner], np.median(border[nearest == winner], 0)


def _coverage(pixels: np.ndarray, background: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Each pixel as a blend of the background and one palette colour → (labels int [64, 64]: the palette index
    of the best-fitting blend where its coverage exceeds FOREGROUND and its residual is small, else -1;
    coverage float [K, 64, 64]: α of each palette colour, in [0, 1])."""
    palette = np.array(list(world.COLOURS.values()), np.float32)           # [K, 3]
    p = pixels.reshape(-1, 3) - background                                 # [N, 3]
    d = palette - background                                               # [K, 3]
    dot, length2 = p @ d.T, (d * d).sum(1)                                 # [N, K], [K]
    alpha = np.clip(dot / length2, 0.0, 1.0)                               # [N, K]
    residual2 = (p * p).sum(1, keepdims=True) - 2 * alpha * dot + alpha ** 2 * length2  # [N, K]
    best = residual2.argmin(1)                                             # [N]
    rows = np.arange(len(p))
    keep = (alpha[rows, best] > FOREGROUND) & (residual2[rows, best] < MAX_RESIDUAL ** 2)
    labels = np.where(keep, best, -1).reshape(CANVAS, CANVAS)
    return labels, alpha.T.reshape(len(palette), CANVAS, CANVAS)


# ---- masks -----------------------------------------------------------------------------------------------------
def _shifted(array: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """array[y + dy, x + dx], `fill` outside."""
    h, w = array.shape
    out = np.full_like(array, fill)
    out[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)] = \
        array[max(dy, 0):h - max(-dy, 0), max(dx, 0):w - max(-dx, 0)]
    return out


def _majority(array: np.ndarray, outside) -> np.ndarray:
    """Each pixel takes the value that at least 3 of its 4 neighbours share, if any (isolated noise pixels and
    one-pixel holes go; lines between two regions stay)."""
    around = np.stack([_shifted(array, dy, dx, outside) for dy, dx in _NEIGHBOURS_4])  # [4, H, W]
    first, second = ((around == around[k]).sum(0) >= 3 for k in (0, 1))
    return np.where(first, around[0], np.where(second, around[1], array))


def _erode(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    for dy, dx in _NEIGHBOURS_4:
        out &= _shifted(mask, dy, dx, False)
    return out


def _depth(mask: np.ndarray) -> int:
    """Number of 4-neighbour erosions until the mask is empty."""
    depth = 0
    while mask.any():
        mask, depth = _erode(mask), depth + 1
    return depth


def _grow(labels: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Spread labels (int [H, W], -1 = none) over 8-neighbours through `within`, the lowest label winning ties."""
    none = np.iinfo(labels.dtype).max
    labels = np.where(labels >= 0, labels, none)
    while True:
        reach = labels.copy()
        for dy, dx in _NEIGHBOURS_8:
            reach = np.minimum(reach, _shifted(labels, dy, dx, none))
        grown = np.where(within & (labels == none), reach, labels)
        if np.array_equal(grown, labels):
            return np.where(labels == none, -1, labels)
        labels = grown


def _components(mask: np.ndarray) -> List[np.ndarray]:
    """8-connected components of a bool mask (depth-first search), in raster order of their first pixel."""
    h, w = mask.shape
    inside = mask.ravel()
    seen = np.zeros(inside.size, bool)
    out = []
    for start in np.flatnonzero(inside):
        if seen[start]:
            continue
        seen[start] = True
        stack, members = [int(start)], []
        while stack:
            p = stack.pop()
            members.append(p)
            y, x = divmod(p, w)
            for dy, dx in _NEIGHBOURS_8:
                ny, nx = y + dy, x + dx
                q = ny * w + nx
                if 0 <= ny < h and 0 <= nx < w and inside[q] and not seen[q]:
                    seen[q] = True
                    stack.append(q)
        component = np.zeros(inside.size, bool)
        component[members] = True
        out.append(component.reshape(h, w))
    return out


def _cores(mask: np.ndarray) -> List[np.ndarray]:
    """Erode a connected mask until it falls into ≥ 2 deep parts (touching objects of one colour) or stops
    splitting → one core per object."""
    current = mask
    while True:
        parts = [p for p in _components(_erode(current)) if _depth(p) >= SPLIT_DEPTH]
        if not parts:
            return [current]
        if len(parts) > 1:
            return [core for part in parts for core in _cores(part)]
        current = parts[0]


def _split(mask: np.ndarray, alpha: np.ndarray) -> List[np.ndarray]:
    """A connected same-colour mask and its coverage [64, 64] → one mask per object: the cores of its solidly
    covered part (blur fills the gap between touching objects only partly), each grown back over the pixels
    nearest it."""
    solid = _majority(alpha > CORE, False)                                 # [64, 64], noise holes filled
    cores = [core for part in _components(mask & solid) if _depth(part) >= SPLIT_DEPTH
             for core in _cores(part)]
    if len(cores) <= 1:
        return [mask]
    seeds = np.full(mask.shape, -1, np.int64)
    for index, core in enumerate(cores):
        seeds[core] = index
    labels = _grow(seeds, mask)
    return [labels == index for index in range(len(cores))]


def _nearest(labels: np.ndarray) -> np.ndarray:
    """Object numbers (int [64, 64], -1 = none) spread to every pixel within REACH (Euclidean, so a region keeps
    no grid symmetry) of an object, each pixel taking its nearest object."""
    out = labels.copy()
    for dy, dx in _DISC:
        shifted = _shifted(labels, dy, dx, -1)
        out = np.where((out < 0) & (shifted >= 0), shifted, out)
    return out


# ---- objects and their measurements ----------------------------------------------------------------------------
def _measure(image: np.ndarray) -> Tuple[str, List[Dict]]:
    """uint8 [H, W, 3] → (background name, objects {colour, area, centroid (x, y), symmetry [3], first}) in
    colour order then raster order; `first` is the flat index of an object's first pixel."""
    pixels = _to_canvas(image)
    background, reference = _background(pixels)
    labels, alpha = _coverage(pixels, reference)
    labels = _majority(labels, -1)
    colours = list(world.COLOURS)
    found = []                                                             # (palette index, mask [64, 64])
    for index in np.unique(labels[labels >= 0]):
        for component in _components(labels == index):
            if component.sum() >= MIN_AREA and _depth(component) >= MIN_DEPTH:
                found.extend((index, mask) for mask in _split(component, alpha[index]))
    numbers = np.full((CANVAS, CANVAS), -1)
    for number, (_, mask) in enumerate(found):
        numbers[mask] = number
    near = _nearest(numbers)                                               # [64, 64] object number or -1
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS] + 0.5                            # pixel centres
    objects = []
    for number, (index, mask) in enumerate(found):
        weight = np.where(near == number, alpha[index], 0.0)               # [64, 64]
        area = float(weight.sum())
        cx, cy = float((weight * xs).sum() / area), float((weight * ys).sum() / area)
        z = (xs - cx) + 1j * (ys - cy)                                     # [64, 64]
        symmetry = np.array([abs((weight * z ** k).sum()) / area ** (1 + k / 2) for k in FOLDS.values()])
        objects.append({"colour": colours[index], "area": area, "centroid": (cx, cy), "symmetry": symmetry,
                        "first": int(np.flatnonzero(mask.ravel())[0])})
    return background, objects


@functools.lru_cache(maxsize=None)
def _reference(shape: str, size: str) -> Dict:
    """The measurements (area, symmetry) of the world's own render of one such shape."""
    (measured,) = _measure(world.render(world.Scene("gray", (world.Thing(shape, "red", size, "centre"),))))[1]
    return measured


def _shape(symmetry: np.ndarray) -> str:
    """The shape whose symmetry the object shows most, relative to its render; a circle if none shows clearly."""
    strength = {s: symmetry[k] / _reference(s, "large")["symmetry"][k] for k, s in enumerate(FOLDS)}
    best = max(strength, key=strength.get)
    return best if strength[best] > MIN_SYMMETRY else "circle"


@functools.lru_cache(maxsize=1)
def _large_area() -> float:
    """The area above which an object is large, whatever its shape: midway (geometric mean) between the largest
    small and the smallest large render."""
    small = max(_reference(s, "small")["area"] for s in world.SHAPES)
    large = min(_reference(s, "large")["area"] for s in world.SHAPES)
    return float(np.sqrt(small * large))


def _position(centroid: Tuple[float, float]) -> str:
    return min(world.POSITIONS, key=lambda p: (world.POSITIONS[p][0] - centroid[0]) ** 2
               + (world.POSITIONS[p][1] - centroid[1]) ** 2)


def detect(image: np.ndarray) -> Tuple[str, List[Dict]]:
    """uint8 [H, W, 3] → (background name, objects {colour, shape, size, position, centroid (x, y), area}) in
    raster order of their first pixel; centroid and area (Σ coverage) in 64 px units."""
    background, measured = _measure(image)
    objects = []
    for m in sorted(measured, key=lambda o: o["first"]):
        objects.append({"colour": m["colour"], "shape": _shape(m["symmetry"]),
                        "size": "large" if m["area"] > _large_area() else "small",
                        "position": _position(m["centroid"]), "centroid": m["centroid"], "area": m["area"]})
    return background, objects


# ---- an image against its prompt -------------------------------------------------------------------------------
def _match(things, objects) -> List[Optional[Dict]]:
    """One-to-one assignment of scene things to detected objects with the most agreeing colours, shapes and
    positions (size breaks ties, then the order of the objects) → per thing its object or None."""
    def agreement(thing, obj):
        return sum(getattr(thing, a) == obj[a] for a in ("colour", "shape", "position")) \
            + 0.1 * (thing.size == obj["size"])

    ranked = [sorted(range(len(objects)), key=lambda i: (-agreement(t, objects[i]), i)) for t in things]
    useful = sorted({i for order in ranked for i in order[:len(things)]})  # some best assignment uses only these
    slots = useful + [None] * len(things)
    best, best_score = None, -1.0
    for choice in itertools.permutations(slots, len(things)):
        score = sum(agreement(t, objects[i]) for t, i in zip(things, choice) if i is not None)
        if score > best_score:
            best, best_score = choice, score
    return [None if i is None else objects[i] for i in best]


def score_image(scene: world.Scene, image: np.ndarray) -> Dict[str, float]:
    """Scores an image drawn for world.canonical_caption(scene) → {count: as many objects as the scene (0/1);
    colour, shape, size, position: fraction of the scene's things whose matched object has it right; object:
    fraction with all four right; all: the whole image right (0/1)}."""
    return _score(scene, detect(image)[1])


def _score(scene: world.Scene, objects: List[Dict]) -> Dict[str, float]:
    matched = _match(scene.things, objects)
    right = {a: [o is not None and o[a] == getattr(t, a) for t, o in zip(scene.things, matched)]
             for a in ATTRIBUTES}
    whole = [all(right[a][k] for a in ATTRIBUTES) for k in range(len(scene.things))]
    count = len(objects) == len(scene.things)
    out = {"count": float(count)}
    out.update({a: float(np.mean(right[a])) for a in ATTRIBUTES})
    out["object"] = float(np.mean(whole))
    out["all"] = float(count and all(whole))
    return out


def aggregate(items: List[Dict[str, float]]) -> Dict[str, float]:
    """Per-item score dicts → {key: mean over the items that have it} (booleans count 0/1)."""
    keys = list(dict.fromkeys(k for item in items for k in item))
    return {k: float(np.mean([float(item[k]) for item in items if k in item])) for k in keys}


# ---- chat answers ----------------------------------------------------------------------------------------------
def _words(text: str) -> List[str]:
    """Lower case, punctuation dropped, digits and spelling variants mapped to the world's words."""
    text = text.lower().translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return [SYNONYMS.get(w, w) for w in text.split()]


def parse_description(text: str) -> List[Dict[str, str]]:
    """A description in the world's words → objects {size, colour, shape, position: only those it says}.
    Reads "a large red circle on the left and a small blue square at the bottom", "two small red circles on the
    left and in the centre", "a red circle"; a colour before "background" and a place before "of" (a relation)
    describe no object."""
    words = _words(text) + [""]
    groups = []                                                            # {count, places, attributes}
    for w, following in zip(words, words[1:]):
        shape = w[:-1] if w.endswith("s") and w[:-1] in world.SHAPES else w
        attribute = ("size" if w in world.SIZES else "colour" if w in world.COLOURS and following != "background"
                     else "shape" if shape in world.SHAPES else None)
        starts = w in COUNTS or (attribute and (not groups or "shape" in groups[-1]["attributes"]))
        if starts:
            groups.append({"count": COUNTS.get(w, 1), "places": [], "attributes": {}})
        if attribute and groups:
            groups[-1]["attributes"][attribute] = shape if attribute == "shape" else w
        elif w in world.POSITIONS and following != "of" and groups:
            groups[-1]["places"].append(w)
    objects = []
    for group in (g for g in groups if g["attributes"]):
        places = group["places"] + [None] * (group["count"] - len(group["places"]))
        objects.extend(dict(group["attributes"], **({"position": p} if p else {})) for p in places)
    return objects


def _descriptions_agree(truth: List[Dict[str, str]], answer: List[Dict[str, str]]) -> bool:
    """As many objects, matched one-to-one, each answer object saying what its truth object says."""
    if len(truth) != len(answer):
        return False
    return any(all(all(a.get(k) == v for k, v in t.items()) for t, a in zip(truth, order))
               for order in itertools.permutations(answer))


def score_answer(question: str, truth: str, answer: str) -> bool:
    """A chat answer against the world's truth for `question`. One-word truths: the whole normalised answer is
    that word. Longer truths (descriptions, "a red circle"): both parsed into the world's objects and compared as
    sets (the answer may add what the truth leaves unsaid). The kind of truth, not the question, decides."""
    truth_words, answer_words = _words(truth), _words(answer)
    if len(truth_words) == 1:
        return answer_words == truth_words
    return _descriptions_agree(parse_description(truth), parse_description(answer))


# ---- the ground-truth check ------------------------------------------------------------------------------------
def _blur(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1)))


def _noise(image: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(int(image.sum()))
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=60)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _down_up(image: np.ndarray) -> np.ndarray:
    small = Image.fromarray(image).resize((CANVAS // 2, CANVAS // 2), Image.BOX)
    return np.asarray(small.resize((CANVAS, CANVAS), Image.BILINEAR))


DEGRADATIONS = {"clean": lambda image: image, "blur σ1": _blur, "noise σ8": _noise, "jpeg q60": _jpeg,
                "down-up 32": _down_up}


def check(images: np.ndarray, scenes: List[world.Scene]) -> Dict[str, Dict[str, float]]:
    """Per degradation, the aggregate scores of the ground-truth images, plus background accuracy."""
    out = {}
    for name, degrade in DEGRADATIONS.items():
        items = []
        for scene, image in zip(scenes, images):
            background, objects = detect(degrade(image))
            items.append(dict(_score(scene, objects), background=float(background == scene.background)))
        out[name] = aggregate(items)
    return out


def image_against_prompt(image: np.ndarray, prompt: str) -> Dict:
    """What the evaluator sees in `image` and whether it is what `prompt` asks for: as many objects as the prompt
    names, each with every attribute the prompt states (a relation's places are not checked)."""
    background, objects = detect(image)
    found = [{k: o[k] for k in ATTRIBUTES} for o in objects]
    return {"background": background, "objects": found,
            "matches_prompt": _descriptions_agree(parse_description(prompt), found)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="score the test split's ground-truth renders")
    parser.add_argument("--image", help="an image file to score against --prompt (prints JSON)")
    parser.add_argument("--prompt", help="the prompt the --image was drawn for")
    args = parser.parse_args()
    if args.image and args.prompt:
        with Image.open(args.image) as picture:
            print(json.dumps(image_against_prompt(np.asarray(picture.convert("RGB")), args.prompt)))
        return
    if not args.check:
        parser.print_help()
        return
    results = check(data.images("test"), data.scene_list("test"))
    keys = list(next(iter(results.values())))
    print(f"{'':12}" + "".join(f"{k:>11}" for k in keys))
    for name, scores in results.items():
        print(f"{name:12}" + "".join(f"{100 * scores[k]:10.2f}%" for k in keys))


if __name__ == "__main__":
    main()
