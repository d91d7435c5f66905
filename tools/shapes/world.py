"""The Tar-Shapes world: seeded scenes of 1–3 flat shapes on a plain background, rendered to 64×64 RGB, with
captions in several phrasings, question–answer pairs, and a held-out set of (colour, shape, position) triples
that never appear in training scenes.

Pure Python + numpy + PIL; no torch. Everything is a function of a seed: `scenes(split, count, seed)` always
returns the same scenes, and `render(scene)` the same pixels."""
import math
import random
from dataclasses import dataclass, asdict, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
SUPERSAMPLE = 4

SHAPES = ("circle", "square", "triangle", "star")
OFF_SHAPES = ("cross",)       # drawn only in off-shape training scenes (off_shape_scene); never named in words
COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 225),
    "yellow": (240, 210, 40), "purple": (150, 60, 190), "orange": (245, 140, 30),
}
BACKGROUNDS = {"white": (240, 240, 240), "black": (25, 25, 25), "gray": (128, 128, 128)}
SIZES = {"small": 6.0, "large": 9.5}          # radius in pixels of the 64 px image
POSITIONS = {"centre": (32, 32), "left": (13, 32), "right": (51, 32), "top": (32, 13), "bottom": (32, 51)}
NUMBERS = ("zero", "one", "two", "three")
JITTER = 1

HELD_OUT_SEED = 2025
HELD_OUT_COUNT = 18


def _held_out_triples():
    triples = [(c, s, p) for c in COLOURS for s in SHAPES for p in POSITIONS]
    return frozenset(random.Random(HELD_OUT_SEED).sample(triples, HELD_OUT_COUNT))


HELD_OUT = _held_out_triples()


@dataclass(frozen=True)
class Thing:
    shape: str
    colour: str
    size: str
    position: str
    dx: int = 0
    dy: int = 0

    @property
    def triple(self) -> Tuple[str, str, str]:
        return (self.colour, self.shape, self.position)


@dataclass(frozen=True)
class Scene:
    background: str
    things: Tuple[Thing, ...]

    def to_json(self):
        return {"background": self.background, "things": [asdict(t) for t in self.things]}

    @staticmethod
    def from_json(data):
        return Scene(data["background"], tuple(Thing(**t) for t in data["things"]))

    @property
    def held_out(self) -> bool:
        return any(t.triple in HELD_OUT for t in self.things)

    @property
    def identical(self) -> bool:
        """More than one thing, all of one colour, shape and size (a counting scene)."""
        return len(self.things) > 1 and len({(t.colour, t.shape, t.size) for t in self.things}) == 1


def _sample_scene(rng: random.Random) -> Scene:
    count = rng.choices((1, 2, 3), weights=(4, 4, 2))[0]
    places = rng.sample(list(POSITIONS), count)
    if count > 1 and rng.random() < 0.25:
        shape, colour, size = rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(list(SIZES))
        kinds = [(shape, colour, size)] * count
    else:
        kinds = [(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(list(SIZES))) for _ in places]
    things = tuple(Thing(s, c, z, p, rng.randint(-JITTER, JITTER), rng.randint(-JITTER, JITTER))
                   for (s, c, z), p in zip(kinds, places))
    return Scene(rng.choice(list(BACKGROUNDS)), things)


def scenes(split: str, count: int, seed: int) -> List[Scene]:
    """`count` scenes of `split` ("train": no held-out triple anywhere; "test": at least one held-out thing)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    rng = random.Random(f"{split}:{seed}")
    out = []
    while len(out) < count:
        scene = _sample_scene(rng)
        if scene.held_out == (split == "test"):
            out.append(scene)
    return out


# ---- rendering -----------------------------------------------------------------------------------------------
def _polygon(thing: Thing, scale: float):
    cx, cy = POSITIONS[thing.position]
    cx, cy = (cx + thing.dx) * scale, (cy + thing.dy) * scale
    r = SIZES[thing.size] * scale
    if thing.shape == "square":
        h = r * 0.86
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if thing.shape == "triangle":
        return [(cx, cy - r * 1.05), (cx + r * 1.05, cy + r * 0.8), (cx - r * 1.05, cy + r * 0.8)]
    if thing.shape == "cross":
        arm, reach = r * 0.38, r * 1.1
        return [(cx - arm, cy - reach), (cx + arm, cy - reach), (cx + arm, cy - arm), (cx + reach, cy - arm),
                (cx + reach, cy + arm), (cx + arm, cy + arm), (cx + arm, cy + reach), (cx - arm, cy + reach),
                (cx - arm, cy + arm), (cx - reach, cy + arm), (cx - reach, cy - arm), (cx - arm, cy - arm)]
    if thing.shape == "star":
        points = []
        for k in range(10):
            radius = r * 1.15 if k % 2 == 0 else r * 0.5
            angle = -np.pi / 2 + k * np.pi / 5
            points.append((cx + radius * np.cos(angle), cy + radius * np.sin(angle)))
        return points
    return None


def draw_thing(draw: ImageDraw.ImageDraw, thing: Thing, fill) -> None:
    """Draws `thing` filled with `fill` on a canvas SUPERSAMPLE times the image size."""
    polygon = _polygon(thing, SUPERSAMPLE)
    if polygon is None:
        cx, cy = POSITIONS[thing.position]
        cx, cy, r = (cx + thing.dx) * SUPERSAMPLE, (cy + thing.dy) * SUPERSAMPLE, SIZES[thing.size] * SUPERSAMPLE
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon(polygon, fill=fill)


OFF_PALETTE_DISTANCE = 80   # RGB distance an off-palette fill keeps from every colour and background of the world


def off_palette_fill(rng: random.Random) -> Tuple[int, int, int]:
    """A random RGB far from every colour and background of the world: an object drawn in it has a shape, size
    and place but no colour the world names, so no (colour, shape, place) triple — held out or not — is shown."""
    named = (*COLOURS.values(), *BACKGROUNDS.values())
    while True:
        rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if min(math.dist(rgb, c) for c in named) >= OFF_PALETTE_DISTANCE:
            return rgb


def render_off_palette(scene: Scene, rng: random.Random) -> np.ndarray:
    """`scene` rendered with each thing in its own off_palette_fill: its shapes, sizes and places, no colour."""
    return render(scene, [off_palette_fill(rng) for _ in scene.things])


def off_shape_scene(rng: random.Random) -> Scene:
    """A scene of the world's colours, sizes, places and backgrounds whose every thing has a shape of OFF_SHAPES:
    it shows colours at places (red in the centre too, which no training scene does) but no (colour, shape, place)
    triple of the world — held out or not. The mirror of render_off_palette, asked shapeless_questions."""
    scene = _sample_scene(rng)
    return Scene(scene.background, tuple(replace(t, shape=rng.choice(OFF_SHAPES)) for t in scene.things))


def render(scene: Scene, fills: Optional[Sequence[Tuple[int, int, int]]] = None) -> np.ndarray:
    """→ uint8 [64, 64, 3], drawn at 4× and box-filtered down (soft edges, flat interiors). `fills`: one RGB per
    thing instead of its colour (see off_palette_fill)."""
    big = IMAGE_SIZE * SUPERSAMPLE
    image = Image.new("RGB", (big, big), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(image)
    for k, thing in enumerate(scene.things):
        draw_thing(draw, thing, fills[k] if fills is not None else COLOURS[thing.colour])
    return np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX), dtype=np.uint8)


# ---- language ------------------------------------------------------------------------------------------------
WHERE = {"centre": "in the centre", "left": "on the left", "right": "on the right", "top": "at the top",
         "bottom": "at the bottom"}
RELATIONS = {("top", "centre"): "above", ("top", "bottom"): "above", ("centre", "bottom"): "above",
             ("bottom", "centre"): "below", ("bottom", "top"): "below", ("centre", "top"): "below",
             ("left", "centre"): "to the left of", ("left", "right"): "to the left of",
             ("centre", "right"): "to the left of", ("right", "centre"): "to the right of",
             ("right", "left"): "to the right of", ("centre", "left"): "to the right of"}
ORDER = ("top", "left", "centre", "right", "bottom")


def _noun(thing: Thing, with_size: bool, article: str = "a") -> str:
    words = ([thing.size] if with_size else []) + [thing.colour, thing.shape]
    if article == "a" and words[0][0] in "aeiou":
        article = "an"
    return " ".join([article] + words)


def _reading_order(scene: Scene) -> List[Thing]:
    return sorted(scene.things, key=lambda t: ORDER.index(t.position))


def canonical_caption(scene: Scene) -> str:
    """The one phrasing used for descriptions and evaluation prompts: sizes, colours, shapes, places."""
    things = _reading_order(scene)
    if scene.identical:
        t = things[0]
        places = " and ".join(WHERE[x.position] for x in things)
        return f"{NUMBERS[len(things)]} {t.size} {t.colour} {t.shape}s {places}"
    return " and ".join(f"{_noun(t, True)} {WHERE[t.position]}" for t in things)


def caption(scene: Scene, rng: random.Random) -> str:
    """One of several phrasings (sizes, background and place sometimes left out; relations for pairs)."""
    things = _reading_order(scene)
    with_size = rng.random() < 0.6
    if scene.identical and rng.random() < 0.7:
        t = things[0]
        body = f"{NUMBERS[len(things)]} {(t.size + ' ') if with_size else ''}{t.colour} {t.shape}s"
        if rng.random() < 0.5:
            body += " " + " and ".join(WHERE[x.position] for x in things)
    elif len(things) == 2 and (things[0].position, things[1].position) in RELATIONS and rng.random() < 0.5:
        a, b = rng.sample(things, 2)
        body = f"{_noun(a, with_size)} {RELATIONS[(a.position, b.position)]} {_noun(b, with_size)}"
    else:
        parts = [f"{_noun(t, with_size)} {WHERE[t.position]}" for t in things]
        if rng.random() < 0.3:
            parts = [f"{WHERE[t.position]} {_noun(t, with_size)}" for t in things]
        body = " and ".join(parts)
    if rng.random() < 0.4:
        body += f" on a {scene.background} background"
    template = rng.choice(("{}", "{}", "a picture of {}", "draw {}", "an image of {}"))
    return template.format(body)


DESCRIBE = ("describe the image.", "what is in the picture?", "what do you see?", "describe this picture.")


def questions(scene: Scene, phrasings: int = len(DESCRIBE)) -> List[Tuple[str, str]]:
    """Every question this scene answers unambiguously, with its one-word (or caption) answer; the request for a
    description in its first `phrasings` phrasings."""
    qa = [("how many objects are there?", NUMBERS[len(scene.things)]),
          ("what colour is the background?", scene.background)]
    qa += [(d, canonical_caption(scene)) for d in DESCRIBE[:phrasings]]
    by_shape = {s: [t for t in scene.things if t.shape == s] for s in SHAPES}
    by_colour = {c: [t for t in scene.things if t.colour == c] for c in COLOURS}
    for t in scene.things:
        if len(by_shape[t.shape]) == 1:
            qa.append((f"what colour is the {t.shape}?", t.colour))
        if len(by_colour[t.colour]) == 1:
            qa.append((f"what shape is the {t.colour} object?", t.shape))
        if len([u for u in scene.things if (u.colour, u.shape) == (t.colour, t.shape)]) == 1:
            qa.append((f"where is the {t.colour} {t.shape}?", t.position))
        qa.append((f"what is {WHERE[t.position]}?", f"{_noun(t, False)}"))
    return qa


def colourless_questions(scene: Scene) -> List[Tuple[str, str]]:
    """Questions this scene answers unambiguously without naming a colour or answering with one (how many, where
    is the {shape}, what shape is the object at a place): a training task for scenes drawn off-palette
    (render_off_palette), where the answer can only come from shapes and places; the evaluator does not ask them."""
    qa = [("how many objects are there?", NUMBERS[len(scene.things)])]
    for t in scene.things:
        if len([u for u in scene.things if u.shape == t.shape]) == 1:
            qa.append((f"where is the {t.shape}?", t.position))
        qa.append((f"what shape is the object {WHERE[t.position]}?", t.shape))
    return qa


def shapeless_questions(scene: Scene) -> List[Tuple[str, str]]:
    """Questions this scene answers unambiguously without naming a shape or answering with one (how many, what
    colour is the background, where is the {colour} object, what colour is the object at a place): a training task
    for off_shape_scene, where the answer can only come from colours and places; the evaluator does not ask them."""
    qa = [("how many objects are there?", NUMBERS[len(scene.things)]),
          ("what colour is the background?", scene.background)]
    for t in scene.things:
        if len([u for u in scene.things if u.colour == t.colour]) == 1:
            qa.append((f"where is the {t.colour} object?", t.position))
        qa.append((f"what colour is the object {WHERE[t.position]}?", t.colour))
    return qa


def vocabulary_text() -> str:
    """Every word the world can say, for the tokenizer's merges."""
    rng = random.Random("vocabulary")
    lines = []
    for scene in scenes("train", 400, 99):
        lines.append(caption(scene, rng))
        lines.extend(f"{q} {a}" for q, a in questions(scene, phrasings=1))
    return "\n".join(lines)
