"""Stage "package": the four trained checkpoints, in the official formats, converted by tools/convert exactly as
official Tar checkpoints are (no special cases) into public/models/tar-shapes/."""
import os
import sys

from tools.convert.__main__ import main as convert
from tools.shapes import data

MODEL_ID = "tar-shapes"
OUT = os.path.join(data.ROOT, "public", "models", MODEL_ID)


def checkpoints():
    return {"tatok": os.path.join(data.WORK, "tatok", "ta_tok.pth"),
            "llm": os.path.join(data.WORK, "llm"),
            "ardtok": os.path.join(data.WORK, "ardtok", "ar_dtok_shapes_64px.pth"),
            "vq": os.path.join(data.WORK, "vq", "vq_shapes.pt")}


def run():
    arguments = []
    for name, path in checkpoints().items():
        arguments += [f"--{name}", path]
    return convert(arguments + ["--out", OUT, "--model-id", MODEL_ID])


if __name__ == "__main__":
    sys.exit(run())
