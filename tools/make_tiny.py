"""`npm run make-tiny`: writes tiny random checkpoints in the official formats (tools/tiny/<component>.py),
converts them with tools.convert into the tiny package (public/models/tiny/), and stores the torch
reference's golden outputs for fixed inputs (tests/fixtures/goldens/<component>.safetensors).

Each tools/tiny/<component>.py provides:
    write_checkpoint(folder, seed) -> path of the checkpoint (file or folder) in the official format
    goldens(checkpoint_path) -> {name: tensor}: fixed inputs ("input.*") and reference outputs ("output.*")
With every component, tools/tiny/pipeline.py also writes the end-to-end golden (pipeline.safetensors).
"""
import argparse
import importlib
import os
import tempfile

import torch

from tools.convert.__main__ import COMPONENTS
from tools.convert.goldens import save_goldens
from tools.convert.package import PackageWriter, override_sampling
from tools.tiny import pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Over Tar's sampling defaults: a question for imagine's self-check, so that the tests can ask for candidates.
SAMPLING = {"textToImage": {"selfCheckQuestion": "Describe the image."}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "public", "models", "tiny"))
    parser.add_argument("--goldens", default=os.path.join(ROOT, "tests", "fixtures", "goldens"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--only", nargs="*", choices=COMPONENTS, default=list(COMPONENTS))
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    os.makedirs(args.goldens, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, PackageWriter(args.out, "tar-tiny-random") as writer:
        override_sampling(writer.sampling, SAMPLING)
        checkpoints = {}
        for name in args.only:
            tiny = importlib.import_module(f"tools.tiny.{name}")
            checkpoint = checkpoints[name] = tiny.write_checkpoint(os.path.join(work, name), args.seed)
            importlib.import_module(f"tools.convert.{name}").convert(writer, checkpoint)
            save_goldens(os.path.join(args.goldens, f"{name}.safetensors"), tiny.goldens(checkpoint), name)
            print(f"{name}: checkpoint, package component and goldens written")
        if set(checkpoints) == set(COMPONENTS):
            save_goldens(os.path.join(args.goldens, "pipeline.safetensors"), pipeline.goldens(checkpoints), "pipeline")
            print("pipeline: end-to-end goldens written")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
