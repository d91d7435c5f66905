"""Stage "llm" continued instead of started over: an existing Tar-Shapes LLM (the shipped one, recovered by
tools.shapes.recover) trained further on the image tokens the present TA-Tok stage wrote (e.g. after
tools.shapes.rebase_tatok), with phase b's task mix and per-sequence weighting at a lower rate, so that it learns
what changed in the tokens without losing what the GPU taught it. With --off-palette-share, that share of the
image-to-text examples shows the scene drawn off-palette (every object in a fill of no colour of the world, tokenised
by the present TA-Tok) and asks what can be answered without colour: where each shape is and what is at each place
is then seen apart from the colours that go with it in the training scenes. With --off-shape-share, that share of
the image-to-text examples shows an off-shape scene instead (world.off_shape_scene: the world's colours at every
place, every object of a shape the world does not have) and asks what can be answered without shape: the colour at
each place and the place of each colour. With --off-shape-t2i-share, that share of the text-to-image examples draws
an off-shape scene from its caption (its shape named, at the understanding scale): every colour is then drawn at
every place, red in the centre too, with no (colour, shape, place) triple of the world. With --view-share, that
share of the
other image-to-text examples reads the scene at a random one of chat's test-time views (the encoder's input moved
by a pixel, tools/convert/reference/pipeline.py VIEW_SHIFTS), all tokens then read afresh by the present TA-Tok.

Writes build/shapes/llm/ (the official folder) and done.json.

    python3 -m tools.shapes.finetune_llm --source DIR/llm [--off-palette-share S] [--view-share S] [--off-shape-share S]
        [--off-shape-t2i-share S] [--steps N] [--phase a|b]"""
import argparse
import os
import random

import numpy as np
import torch

from tools.convert.reference.pipeline import VIEW_SHIFTS, shifted_pixels
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, package, text, world
from tools.shapes.rebase_tatok import indices_of
from tools.shapes.recover import read_state
from tools.shapes.train_llm import (BATCH, LLM_ROPE_THETA, PHASES, UNDERSTANDING_SCALE, batch_stream, build_model,
                                    image_indices, mixed_example, tokenizer_folder, train, write_llm_folder)

STEPS, LR = 1000, 3e-4
SEED = 29
OFF_PALETTE_SEED = 5
OFF_SHAPE_SEED = 11
VIEW_BATCH = 500


def load_llm(source, vocab_size):
    """The LLM of an official folder, float32 (read as tools.shapes.recover reads it: without the vision tower)."""
    model = build_model(vocab_size, LLM_ROPE_THETA)
    model.load_state_dict(read_state("llm", source))
    return model


def understanding_tokens(images, tatok_path):
    """uint8 [N,64,64,3] → numpy int64 [N, p²]: the pictures as TA-Tok at `tatok_path` tokenises them at
    UNDERSTANDING_SCALE."""
    tatok = load_tatok(tatok_path)[0].eval()
    pixels = torch.from_numpy(np.stack(images))
    return indices_of(tatok, pixels, [UNDERSTANDING_SCALE])[UNDERSTANDING_SCALE].numpy().astype(np.int64)


def off_palette_tokens(scenes, tatok_path):
    """numpy int64 [N, p²]: the scenes drawn off-palette (world.render_off_palette, seeded), as TA-Tok at `tatok_path`
    tokenises them at UNDERSTANDING_SCALE."""
    rng = random.Random(OFF_PALETTE_SEED)
    return understanding_tokens([world.render_off_palette(scene, rng) for scene in scenes], tatok_path)


def off_shape_examples(count, tatok_path):
    """(count off-shape scenes (world.off_shape_scene, seeded), int64 [count, p²] their tokens as TA-Tok at
    `tatok_path` reads them at UNDERSTANDING_SCALE)."""
    rng = random.Random(OFF_SHAPE_SEED)
    scenes = [world.off_shape_scene(rng) for _ in range(count)]
    return scenes, understanding_tokens([world.render(scene) for scene in scenes], tatok_path)


@torch.no_grad()
def view_tokens(images, tatok_path):
    """The training scenes as TA-Tok at `tatok_path` reads them: ({scale: int64 [N, p²]}, int64 [N, V, p²] at
    UNDERSTANDING_SCALE, one row per test-time view, view 0 the picture itself)."""
    tatok = load_tatok(tatok_path)[0].eval()
    scales, views = {s: [] for s in text.SCALES}, []
    for start in range(0, len(images), VIEW_BATCH):
        pixel_values = tatok.preprocess(torch.from_numpy(images[start:start + VIEW_BATCH]))   # [b,3,S,S]
        for s in text.SCALES:
            scales[s].append(tatok.encode(pixel_values, s)[1])
        views.append(torch.stack([tatok.encode(shifted_pixels(pixel_values, shift), UNDERSTANDING_SCALE)[1]
                                  for shift in VIEW_SHIFTS], 1))                               # [b,V,p²]
    return ({s: torch.cat(v).numpy().astype(np.int64) for s, v in scales.items()},
            torch.cat(views).numpy().astype(np.int64))


def run(source, off_palette_share=0.0, seed=SEED, view_share=0.0, off_shape_share=0.0, steps=STEPS,
        phase=PHASES[-1][0], off_shape_t2i_share=0.0):
    folder = data.stage_dir("llm")
    if common.is_done(folder):
        print("llm: done already")
        return
    common.refuse_own_folder("--source", source, folder)
    common.setup(seed)
    clock = common.Clock("llm finetune")
    tok, _, vocab_size, _ = tokenizer_folder()
    model = load_llm(source, vocab_size).to(common.device())
    name, _, _, mix, weighting = next(p for p in PHASES if p[0] == phase)
    scenes = data.scene_list("train")
    indices, views = (view_tokens(data.images("train"), package.checkpoints()["tatok"]) if view_share
                      else (image_indices("train"), None))
    off_palette = off_palette_tokens(scenes, package.checkpoints()["tatok"]) if off_palette_share else None
    off_shape = (off_shape_examples(len(scenes), package.checkpoints()["tatok"])
                 if off_shape_share or off_shape_t2i_share else None)
    example = mixed_example(text.ChatSequences(tok), scenes, indices, mix, off_palette, off_palette_share, views,
                            view_share, off_shape, off_shape_share, off_shape_t2i_share)
    budget = common.step_budget(steps, "SHAPES_LLM_SECONDS")
    loss, steps = train(model, steps, LR, batch_stream(example, BATCH, seed), clock, weighting=weighting,
                        budget=budget)
    write_llm_folder(folder, model.cpu())
    common.mark_done(folder, {"source": os.path.relpath(source, data.ROOT), "steps": steps, "batch": BATCH,
                              "lr": LR, "mix_of_phase": name,
                              "off_palette_share": off_palette_share, "view_share": view_share,
                              "off_shape_share": off_shape_share, "off_shape_t2i_share": off_shape_t2i_share,
                              "seed": seed,
                              "final_loss": loss,
                              "minutes": clock.minutes()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the official LLM folder to continue from")
    parser.add_argument("--off-palette-share", type=float, default=0.0,
                        help="share of image-to-text examples asked of the scene drawn off-palette")
    parser.add_argument("--view-share", type=float, default=0.0,
                        help="share of the other image-to-text examples read at a random test-time view")
    parser.add_argument("--off-shape-share", type=float, default=0.0,
                        help="share of image-to-text examples asked of an off-shape scene")
    parser.add_argument("--off-shape-t2i-share", type=float, default=0.0,
                        help="share of text-to-image examples that draw an off-shape scene from its caption")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--phase", choices=[p[0] for p in PHASES], default=PHASES[-1][0],
                        help="the train_llm phase whose task mix and loss weighting the fine-tune takes")
    args = parser.parse_args(argv)
    run(args.source, args.off_palette_share, args.seed, args.view_share, args.off_shape_share, args.steps,
        args.phase, args.off_shape_t2i_share)


if __name__ == "__main__":
    main()
