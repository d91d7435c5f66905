"""Stage "llm" continued instead of started over: an existing Tar-Shapes LLM (the shipped one, recovered by
tools.shapes.recover) trained further on the image tokens the present TA-Tok stage wrote (e.g. after
tools.shapes.rebase_tatok), with phase b's task mix and per-sequence weighting at a lower rate, so that it learns
what changed in the tokens without losing what the GPU taught it.

Writes build/shapes/llm/ (the official folder) and done.json.

    python3 -m tools.shapes.finetune_llm --source DIR/llm"""
import argparse
import os

from tools.shapes import common, data, text
from tools.shapes.recover import read_state
from tools.shapes.train_llm import (BATCH, LLM_ROPE_THETA, PHASES, batch_stream, build_model, image_indices,
                                    mixed_example, tokenizer_folder, train, write_llm_folder)

STEPS, LR = 1000, 3e-4
SEED = 29


def load_llm(source, vocab_size):
    """The LLM of an official folder, float32 (read as tools.shapes.recover reads it: without the vision tower)."""
    model = build_model(vocab_size, LLM_ROPE_THETA)
    model.load_state_dict(read_state("llm", source))
    return model


def run(source):
    folder = data.stage_dir("llm")
    if common.is_done(folder):
        print("llm: done already")
        return
    if os.path.realpath(source) == os.path.realpath(folder):
        raise SystemExit(f"--source {source} is the folder this stage writes")
    common.setup(SEED)
    clock = common.Clock("llm finetune")
    tok, _, vocab_size, _ = tokenizer_folder()
    model = load_llm(source, vocab_size).to(common.device())
    name, _, _, mix, weighting = PHASES[-1]
    example = mixed_example(text.ChatSequences(tok), data.scene_list("train"), image_indices("train"), mix)
    budget = common.step_budget(STEPS, "SHAPES_LLM_SECONDS")
    loss, steps = train(model, STEPS, LR, batch_stream(example, BATCH, SEED), clock, weighting=weighting,
                        budget=budget)
    write_llm_folder(folder, model.cpu())
    common.mark_done(folder, {"source": os.path.relpath(source, data.ROOT), "steps": steps, "batch": BATCH,
                              "lr": LR, "mix_of_phase": name, "final_loss": loss, "minutes": clock.minutes()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="the official LLM folder to continue from")
    run(parser.parse_args(argv).source)


if __name__ == "__main__":
    main()
