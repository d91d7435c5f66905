"""Picks what the end-to-end tests ask of the embedded Tar-Shapes package, by a fixed rule rather than by hand, after
the package is retrained: the first held-out prompt of the evaluation set (in its order, `--objects` objects) and
the smallest seed that the model draws right at pool scale 1 (every object's colour, shape, size and place, as the
evaluator reads them), and the first held-out test scene whose question `--question` it answers right. Torch runs
the model (tools.shapes.torch_eval, drawing with the engine's own seeded random numbers, so a seed here is that seed
in the browser; the engine's draws are torch's token for token, docs/tar-shapes.md). Prints the constants of
tests/e2e/t2i.spec.ts (PROMPT, SEED, OBJECTS) and tests/e2e/chat.spec.ts (SCENE, FIRST_TITLE) as JSON. Not a
score: the model's accuracy is what `npm run eval:shapes` measures.

    /usr/bin/python3 -m tools.shapes.pick_e2e [--objects 2] [--prompts 40] [--seeds 8]
                                              [--question "what is on the right?"] [--scenes 100]"""
import argparse
import json
import sys

from tools.shapes import data, eval_set, evaluate, world

T2I_SCALE = 1


def pick_t2i(tar, objects, prompts, seeds):
    """→ {"prompt", "seed", "objects"} of the first held-out prompt with `objects` objects (of the first `prompts`
    of the evaluation set) and the smallest seed in 1..`seeds` drawn right, or None."""
    for item in eval_set.build(prompts, 0)["t2i"]:
        scene = world.Scene.from_json(item["scene"])
        if len(scene.things) != objects:
            continue
        for seed in range(1, seeds + 1):
            image = tar.imagine(item["prompt"], T2I_SCALE, seed).image
            if evaluate.score_image(scene, image)["all"] == 1.0:
                return {"prompt": item["prompt"], "seed": seed,
                        "objects": [{"colour": t.colour, "shape": t.shape, "size": t.size, "position": t.position}
                                    for t in scene.things]}
    return None


def pick_chat(tar, question, scenes):
    """→ {"scene", "question", "truth", "answer"} of the first test scene (of the first `scenes`; every test scene
    is held out) that has `question` and whose answer is right, or None."""
    pixels = data.images("test")
    for index, scene in enumerate(data.scene_list("test")[:scenes]):
        truth = dict(world.questions(scene, phrasings=1)).get(question)
        if truth is None:
            continue
        answer = tar.answer(pixels[index], question)
        if evaluate.score_answer(question, truth, answer):
            return {"scene": index, "question": question, "truth": truth, "answer": answer}
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--question", default="what is on the right?")
    parser.add_argument("--scenes", type=int, default=100)
    args = parser.parse_args(argv)
    from tools.shapes.torch_eval import TorchTar
    tar = TorchTar()
    picked = {"t2i": pick_t2i(tar, args.objects, args.prompts, args.seeds),
              "chat": pick_chat(tar, args.question, args.scenes)}
    json.dump(picked, sys.stdout, indent=1)
    print()
    return 0 if all(picked.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
