"""Stage "llm" as a uniform model soup (Wortsman et al. 2022, "Model soups"): the element-wise mean of the weights
of several Tar-Shapes LLM folders, each fine-tuned from one and the same starting LLM (tools.shapes.finetune_llm
runs with different task shares or seeds), written as the official folder. Fine-tunes of one start stay in one
basin of the loss, so their mean is a model too; it averages away what each run learnt by chance, which on
held-out combinations is where the runs disagree.

It takes no training step and chooses nothing: every ingredient counts once. It refuses ingredients whose
config.json differ (different architectures or vocabularies cannot be averaged) and the folder it writes as an
ingredient.

Writes build/shapes/llm/ (the official folder) and done.json.

    python3 -m tools.shapes.soup_llm --ingredients DIR/llm DIR/llm [DIR/llm ...]"""
import argparse
import os

import torch

from tools.convert.llm import read_config
from tools.shapes import common, data
from tools.shapes.finetune_llm import load_llm
from tools.shapes.train_llm import write_llm_folder

MIN_INGREDIENTS = 2


def check_ingredients(ingredients, folder):
    """SystemExit unless there are at least MIN_INGREDIENTS folders, none of them `folder`, all of one config."""
    if len(ingredients) < MIN_INGREDIENTS:
        raise SystemExit(f"a soup needs at least {MIN_INGREDIENTS} ingredients, got {len(ingredients)}")
    for source in ingredients:
        common.refuse_own_folder("--ingredients", source, folder)
    first = read_config(ingredients[0])
    for source in ingredients[1:]:
        if read_config(source) != first:
            raise SystemExit(f"{source}/config.json differs from {ingredients[0]}/config.json: not one architecture")
    return first


def mean_model(ingredients, vocab_size):
    """The first ingredient's model (float32) holding the element-wise mean of every ingredient's weights."""
    models = [load_llm(source, vocab_size) for source in ingredients]
    soup = models[0]
    states = [m.state_dict() for m in models]
    soup.load_state_dict({key: torch.stack([s[key] for s in states]).mean(0) for key in states[0]})
    return soup


def run(ingredients):
    folder = data.stage_dir("llm")
    if common.is_done(folder):
        print("llm: done already")
        return
    config = check_ingredients(ingredients, folder)
    clock = common.Clock("llm soup")
    write_llm_folder(folder, mean_model(ingredients, config["vocab_size"]))
    common.mark_done(folder, {"soup_of": [os.path.relpath(source, data.ROOT) for source in ingredients],
                              "minutes": clock.minutes()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ingredients", nargs="+", required=True,
                        help="official LLM folders fine-tuned from one starting LLM")
    run(parser.parse_args(argv).ingredients)


if __name__ == "__main__":
    main()
