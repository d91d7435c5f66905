"""Where the objects of the held-out test scenes are lost along the understanding chain: each object's colour and
shape as read at three points, split by whether its (colour, shape, place) triple is held out and by its size —

- teacher: its grounding head, probabilities summed over the cells the object covers (train_teacher.object_reading);
- tokens: the scale-1 image tokens alone — each code's label counts over the object patches of the training scenes,
  the object's cells voting by log-probability (a reader that knows nothing of colour, place or other objects);
- llm: the LLM asked in words, greedy — "what shape is the {colour} object?" and "what colour is the {shape}?",
  where the scene's questions (world.questions) hold them, i.e. where they are unambiguous.

    /usr/bin/python3 -m tools.shapes.chain_reading [--llm build/shapes/llm]

A diagnostic for the model card, not a training stage."""
import argparse
import json
import os

import numpy as np
import torch

from tools.convert.reference.pipeline import Chooser, Sampling, llm_generate
from tools.shapes import data, grounding, text, train_teacher, world
from tools.tiny.llm import load_reference

ATTRIBUTES = ("colour", "shape")


def group(thing):
    return f"{train_teacher.held_out_or_seen(thing)}/{thing.size}"


def truth(thing, attribute):
    return (grounding.COLOURS if attribute == "colour" else grounding.SHAPES).index(getattr(thing, attribute))


def summary(right):
    """{(group, attribute): [bool]} → {group: {attribute: accuracy, attribute + "_n": objects scored}}."""
    out = {}
    for (name, attribute), results in sorted(right.items()):
        out.setdefault(name, {}).update({attribute: round(float(np.mean(results)), 4), f"{attribute}_n": len(results)})
    return out


def teacher_reading():
    state = torch.load(os.path.join(data.stage_dir("teacher"), "teacher.pt"))
    vision = train_teacher.VisionTower()
    vision.load_state_dict(state["vision"])
    reading = train_teacher.object_reading(vision, group=group)
    objects = {}
    for scene in data.scene_list("test"):
        for thing in scene.things:
            objects[group(thing)] = objects.get(group(thing), 0) + 1
    return {name: {key: value for a in ATTRIBUTES for key, value in ((a, scores[a]), (f"{a}_n", objects[name]))}
            for name, scores in reading.items()}


def code_log_probabilities(codes, labels, vocabulary, head):
    """codes int [M], labels int [M] of one grounding head (its "none" class off objects) → float [vocabulary,
    classes]: log P(label | code) over the object patches, add-one smoothed."""
    labels = labels.astype(np.int64)
    on_object = labels < grounding.NONE[head]
    counts = np.ones((vocabulary, grounding.CLASSES[head] - 1))
    np.add.at(counts, (codes[on_object], labels[on_object]), 1)
    return np.log(counts / counts.sum(1, keepdims=True))


def token_reading(test_tokens, scenes):
    """test_tokens int [N, g²] at pool scale 1; code label counts from the training scenes' object patches."""
    train_tokens = np.load(os.path.join(data.stage_dir("tatok"), "indices_train_s1.npy")).astype(np.int64)
    labels = grounding.labels("train", train_teacher.GRID)                                   # [M,3,g,g]
    codes = train_tokens.reshape(-1)
    vocabulary = max(codes.max(), test_tokens.max()) + 1
    right = {}
    for head, attribute in enumerate(ATTRIBUTES):
        log_probability = code_log_probabilities(codes, labels[:, head].reshape(-1), vocabulary, head)
        for n, scene in enumerate(scenes):
            for thing in scene.things:
                cells = train_teacher.object_cells(thing)
                if cells.any():
                    guess = log_probability[test_tokens[n][cells]].sum(0).argmax()
                    right.setdefault((group(thing), attribute), []).append(guess == truth(thing, attribute))
    return summary(right)


@torch.no_grad()
def llm_reading(llm_folder, test_tokens, scenes):
    model = load_reference(llm_folder).eval()
    chat = text.ChatSequences(llm_folder)
    stop = (chat.im_end, chat.pad)
    right = {}
    for n, scene in enumerate(scenes):
        asked = dict(world.questions(scene, phrasings=1))
        for thing in scene.things:
            for attribute, question in (("shape", f"what shape is the {thing.colour} object?"),
                                        ("colour", f"what colour is the {thing.shape}?")):
                if question not in asked:
                    continue
                new = llm_generate(model, chat.i2t_prompt(test_tokens[n].tolist(), question), 8,
                                   Chooser(Sampling(0.0)), stop_ids=stop)
                answer = chat.decode([t for t in new if t not in stop]).split()
                right.setdefault((group(thing), attribute), []).append(getattr(thing, attribute) in answer)
    return summary(right)


def run(llm_folder):
    scenes = data.scene_list("test")
    test_tokens = np.load(os.path.join(data.stage_dir("tatok"), "indices_test_s1.npy")).astype(np.int64)
    return {"teacher": teacher_reading(),
            "tokens": token_reading(test_tokens, scenes),
            "llm": llm_reading(llm_folder, test_tokens, scenes)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default=os.path.join(data.WORK, "llm"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(run(args.llm), indent=1))


if __name__ == "__main__":
    main()
