"""Where the objects of the held-out test scenes are lost along the understanding chain: each object's colour and
shape as read at three points, split by whether its (colour, shape, place) triple is held out and by its size —

- teacher: its grounding head, probabilities summed over the cells the object covers (train_teacher.object_reading);
- tatok_features, tatok_projected: linear probes (softmax regression, fitted on the training scenes' object patches)
  on TA-Tok's encoder features (hidden_states[select_layer_id]) and on the unit vector it quantises at pool scale 1,
  the object's cells voting by log-probability — what survives TA-Tok's encoder and head before the codebook;
- tokens: the scale-1 image tokens alone — each code's label counts over the object patches of the training scenes,
  the object's cells voting by log-probability (a reader that knows nothing of colour, place or other objects);
- llm: the LLM asked in words, greedy — "what shape is the {colour} object?" and "what colour is the {shape}?",
  where the scene's questions (world.questions) hold them, i.e. where they are unambiguous.

    /usr/bin/python3 -m tools.shapes.chain_reading [--llm build/shapes/llm]

A diagnostic for the model card, not a training stage. Needs build/shapes/teacher/teacher.pt (the package does not
hold the teacher: tools/shapes/shipped_teacher/about.json says where it comes from) and TA-Tok's
indices_test_s1.npy beside its ta_tok.pth (train_tatok.write_indices)."""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from tools.convert.reference.pipeline import Chooser, Sampling, llm_generate
from tools.convert.tatok import load_tatok
from tools.shapes import data, grounding, text, train_teacher, world
from tools.tiny.llm import load_reference

ATTRIBUTES = ("colour", "shape")
PROBE_STEPS, PROBE_BATCH, PROBE_LR, PROBE_SEED = 300, 4096, 1e-2, 0


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


def object_votes(cell_log_probabilities, scenes):
    """cell_log_probabilities: per attribute float [N, g², classes] for the N scenes → summary(): each object's
    cells vote by summed log-probability."""
    right = {}
    for attribute, log_probability in zip(ATTRIBUTES, cell_log_probabilities):
        for n, scene in enumerate(scenes):
            for thing in scene.things:
                cells = train_teacher.object_cells(thing)
                if cells.any():
                    guess = log_probability[n][cells].sum(0).argmax()
                    right.setdefault((group(thing), attribute), []).append(guess == truth(thing, attribute))
    return summary(right)


def token_reading(test_tokens, scenes):
    """test_tokens int [N, g²] at pool scale 1; code label counts from the training scenes' object patches."""
    train_tokens = np.load(os.path.join(data.stage_dir("tatok"), "indices_train_s1.npy")).astype(np.int64)
    labels = grounding.labels("train", train_teacher.GRID)                                   # [M,3,g,g]
    codes = train_tokens.reshape(-1)
    vocabulary = max(codes.max(), test_tokens.max()) + 1
    tables = [code_log_probabilities(codes, labels[:, head].reshape(-1), vocabulary, head)
              for head in range(len(ATTRIBUTES))]                                           # [V,classes] each
    return object_votes([table[test_tokens] for table in tables], scenes)


def fit_probe(rows, labels, head):
    """rows float [M, C], labels int [M] of one grounding head → a softmax regression on the standardised rows of
    the object patches (those whose label is not the head's "none"): rows [..., C] → log-probabilities [..., K]."""
    on_object = labels < grounding.NONE[head]
    x = torch.from_numpy(rows[on_object]).float()
    y = torch.from_numpy(labels[on_object].astype(np.int64))
    mean, std = x.mean(0), x.std(0) + 1e-6
    generator = torch.Generator().manual_seed(PROBE_SEED)
    linear = torch.nn.Linear(x.shape[1], grounding.CLASSES[head] - 1)
    with torch.no_grad():
        linear.weight.normal_(0, 0.01, generator=generator)
        linear.bias.zero_()
    optimiser = torch.optim.Adam(linear.parameters(), PROBE_LR)
    for _ in range(PROBE_STEPS):
        pick = torch.randint(0, len(x), (PROBE_BATCH,), generator=generator)
        loss = F.cross_entropy(linear((x[pick] - mean) / std), y[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def read(values):
        with torch.no_grad():
            return torch.log_softmax(linear((torch.from_numpy(values).float() - mean) / std), -1).numpy()
    return read


def probe_reading(train_rows, test_rows, scenes):
    """train_rows float [M, g², C] of the training scenes, test_rows [N, g², C] of `scenes` → summary() of linear
    probes fitted per attribute on the training scenes' object patches."""
    labels = grounding.labels("train", train_teacher.GRID)                                   # [M,3,g,g]
    flat = train_rows.reshape(-1, train_rows.shape[-1])
    probes = [fit_probe(flat, labels[:, head].reshape(-1), head) for head in range(len(ATTRIBUTES))]
    return object_votes([probe(test_rows) for probe in probes], scenes)


@torch.no_grad()
def tatok_rows(tatok, split):
    """TA-Tok's encoder features and the unit vectors it quantises at pool scale 1 for `split`'s images →
    (float [N, g², C], float [N, g², codeDim])."""
    images = torch.from_numpy(data.images(split))
    features, projected = [], []
    for start in range(0, len(images), 256):
        batch = tatok.encode_features(tatok.preprocess(images[start:start + 256]))           # [b,g²,C]
        features.append(batch.numpy())
        projected.append(tatok.project(tatok.avg_pool(batch, 1)).numpy())
    return np.concatenate(features), np.concatenate(projected)


def tatok_reading(scenes):
    tatok = load_tatok(os.path.join(data.stage_dir("tatok"), "ta_tok.pth"))[0].eval()
    (train_features, train_projected), (test_features, test_projected) = (tatok_rows(tatok, split)
                                                                          for split in ("train", "test"))
    return {"tatok_features": probe_reading(train_features, test_features, scenes),
            "tatok_projected": probe_reading(train_projected, test_projected, scenes)}


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
            **tatok_reading(scenes),
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
