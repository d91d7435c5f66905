"""The held-out evaluation set of Tar-Shapes and the scoring of a run over it.

    python3 -m tools.shapes.eval_set write --out DIR [--t2i N] [--chat N] [--t2i-from I] [--chat-from J]
        → DIR/set.json (text-to-image prompts, chat questions with their truths) and DIR/images/*.png;
          --t2i-from I: the prompts of test scenes I.. (past the data's 400 the same generator goes on, so
          `--t2i-from 400 --t2i 200` gives 200 other held-out prompts, for checking a choice made on the first);
          --chat-from J: the questions about test scenes J.. (`--chat-from 400 --chat 400`: 400 other questions)
    python3 -m tools.shapes.eval_set score --set DIR/set.json --run RUN.json
        → prints the scores JSON of a run: RUN.json = {"t2i": [{"id", "scale", "image": PNG path}],
          "chat": [{"id", "answer"}]}
    python3 -m tools.shapes.eval_set compare --run RUN.json --images DIR
        → prints how the run's pictures differ from DIR/<id>-s<scale>.png (torch_eval's, drawn with the same
          uniforms): {"n", "compared", "withinOneLevel", "maxLevelDifference"}

Every item comes from the held-out test scenes (each holds at least one (colour, shape, position) triple that no
training scene has). Prompts are world.canonical_caption(scene); questions are those world.questions(scene)
answers unambiguously, two per scene, chosen by a seeded generator. Pure Python + numpy + PIL."""
import argparse
import json
import os
import random
import sys

import numpy as np
from PIL import Image

from tools.shapes import evaluate, world
from tools.shapes.data import SPLITS

SEED = 77


def later_scenes(start, count):
    """Test scenes start.. start+count-1 of the test split's generator (past the data's own, it goes on)."""
    _, seed = SPLITS["test"]
    return world.scenes("test", start + count, seed)[start:]


def build(t2i_count, chat_count, t2i_from=0, chat_from=0):
    rng = random.Random(SEED)
    prompted = later_scenes(t2i_from, t2i_count)
    t2i = [{"id": f"t2i-{i}", "prompt": world.canonical_caption(s), "scene": s.to_json()}
           for i, s in enumerate(prompted)]
    chat = []
    asked = later_scenes(chat_from, (chat_count + 1) // 2)   # two questions a scene
    for i, scene in enumerate(asked, start=chat_from):
        for question, truth in rng.sample(world.questions(scene, phrasings=1), 2):
            chat.append({"id": f"chat-{len(chat)}", "image": f"images/test-{i}.png", "scene": scene.to_json(),
                         "question": question, "truth": truth})
        if len(chat) >= chat_count:
            break
    return {"t2i": t2i, "chat": chat[:chat_count]}


def write(out, t2i_count, chat_count, t2i_from=0, chat_from=0):
    evaluation = build(t2i_count, chat_count, t2i_from, chat_from)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    for item in evaluation["chat"]:
        scene = world.Scene.from_json(item["scene"])
        Image.fromarray(world.render(scene)).save(os.path.join(out, item["image"]))
    with open(os.path.join(out, "set.json"), "w") as f:
        json.dump(evaluation, f, indent=1)
    return evaluation


def score(evaluation, t2i_images, chat_answers):
    """t2i_images: [(item id, scale, uint8 image)]; chat_answers: {item id: answer} → scores dict."""
    prompts = {item["id"]: item for item in evaluation["t2i"]}
    by_scale = {}
    for item_id, scale, image in t2i_images:
        scene = world.Scene.from_json(prompts[item_id]["scene"])
        by_scale.setdefault(str(scale), []).append(evaluate.score_image(scene, image))
    t2i = {scale: dict(evaluate.aggregate(items), n=len(items)) for scale, items in sorted(by_scale.items())}
    kinds = {}
    for item in evaluation["chat"]:
        if item["id"] not in chat_answers:
            continue
        right = evaluate.score_answer(item["question"], item["truth"], chat_answers[item["id"]])
        kind = question_kind(item["question"])
        kinds.setdefault(kind, []).append(right)
        kinds.setdefault("all", []).append(right)
    chat = {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in sorted(kinds.items())}
    return {"t2i": t2i, "chat": chat}


def _picture(path):
    """uint8 [H,W,3] of a PNG."""
    return np.asarray(Image.open(path).convert("RGB"))


def compare(run_t2i, base, other_dir):
    """How far each picture of a run (paths relative to `base`) is from the same item's picture in `other_dir`, in
    8-bit levels: the share of pictures that agree within one level everywhere and the largest difference seen."""
    differences = []
    for r in run_t2i:
        other = os.path.join(other_dir, f"{r['id']}-s{r['scale']}.png")
        if os.path.exists(other):
            mine = _picture(os.path.join(base, r["image"])).astype(np.int16)
            theirs = _picture(other).astype(np.int16)
            differences.append(int(np.abs(mine - theirs).max()) if mine.shape == theirs.shape else 255)
    return {"n": len(run_t2i), "compared": len(differences),
            "withinOneLevel": sum(d <= 1 for d in differences) / len(differences) if differences else None,
            "maxLevelDifference": max(differences, default=None)}


def _images(run, base):
    return [(r["id"], r["scale"], _picture(os.path.join(base, r["image"]))) for r in run["t2i"]]


def question_kind(question):
    for kind, start in (("count", "how many"), ("background", "what colour is the background"),
                        ("colour", "what colour"), ("shape", "what shape"), ("position", "where"),
                        ("describe", "describe"), ("what-is-where", "what is")):
        if question.startswith(start):
            return kind
    return "other"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("--out", required=True)
    w.add_argument("--t2i", type=int, default=24)
    w.add_argument("--chat", type=int, default=60)
    w.add_argument("--t2i-from", type=int, default=0, help="the first test scene prompted")
    w.add_argument("--chat-from", type=int, default=0, help="the first test scene asked about")
    s = sub.add_parser("score")
    s.add_argument("--set", required=True)
    s.add_argument("--run", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--run", required=True)
    c.add_argument("--images", required=True)
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.out, args.t2i, args.chat, args.t2i_from, args.chat_from)
        return 0
    with open(args.run) as f:
        run = json.load(f)
    base = os.path.dirname(os.path.abspath(args.run))
    if args.command == "compare":
        json.dump(compare(run["t2i"], base, args.images), sys.stdout, indent=1)
        return 0
    with open(args.set) as f:
        evaluation = json.load(f)
    answers = {r["id"]: r["answer"] for r in run["chat"]}
    json.dump(score(evaluation, _images(run, base), answers), sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
