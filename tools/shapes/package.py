"""Stage "package": the four trained checkpoints, in the official formats, converted by tools/convert exactly as
official Tar checkpoints are (no special cases) into public/models/tar-shapes/."""
import json
import os
import sys

from tools.convert.__main__ import main as convert
from tools.shapes import data, world

MODEL_ID = "tar-shapes"
OUT = os.path.join(data.ROOT, "public", "models", MODEL_ID)
# Over Tar's own sampling defaults. The de-tokenizer: guided at 2 (Tar's 4) with conditional min-p 0.3 (Tar has no
# filter; without it guidance adds stray objects: from 64 held-out scenes' true tokens CFG 4 drew count 16% against 89%
# at CFG 1). Unguided (the package until the twenty-eighth session) it drew small shapes as blobs: after the LLM (the
# twenty-seventh session's TA-Tok decoder and de-tokenizer), on 400 held-out prompts in torch at 36 tokens, shape 87.3 →
# 91.7%, count 90.5 → 92.25%, whole object 76.4 → 79.8%, colour 87.2 → 87.5%; on 200 other prompts shape 87.2 → 92.5%,
# count 91.5 → 95.0%, whole object 75.3 → 80.7% (guidance 3: no better; 1.5 with min-p 0.1: shape 90.4%). Greedy chat
# without a repetition penalty: the answers are one to a dozen words of a closed vocabulary, and greedy decoding is how
# every chat score of docs/tar-shapes.md was measured. The LLM's image tokens at temperature 0.7 instead of Tar's 1
# (top-p 0.95 and top-k as Tar): on 400 held-out prompts colour 81.8 → 84.1%, shape 73.9 → 77.0%, size 93.7 → 97.1%,
# whole object 59.2 → 64.0%, count 88.3% at both (0.5: colour up, count and shape down). Then guided against the empty
# prompt at 2 (Tar does not guide its LLM) with conditional min-p 0.3: at 0.1 the LLM carried onto the recipe's TA-Tok
# (tools.shapes.carry_over, twenty-seventh session) drew extra objects; on the same 400, count 86.8 → 90.5%, shape 84.2
# → 87.3%, whole object 73.7 → 76.4%, colour 87.5 → 87.2% (0.5: no better; guidance 3: no better). Chat reads each
# picture at 5 test-time views (Tar: 1): the 28th session's LLM, 800 held-out questions 87.4% at 1 view, 90.4% at 5
# (32 right only at 5, 8 only at 1; McNemar p = 0.0002), 800 other questions (`eval_set write --chat-from 400`)
# 88.5% and 89.0% (17 against 13, p = 0.58); all 1,600: 88.0 → 89.7% (49 against 21, p = 0.001). The answers take about
# 4× longer on software WebGPU.
SAMPLING = {"textToImage": {"temperature": 0.7, "cfgScale": 2.0, "cfgMinP": 0.3, "candidates": 1,
                            "selfCheckQuestion": world.DESCRIBE[0]},
            "detokenizer": {"cfgScale": 2.0, "cfgMinP": 0.3},
            "chat": {"temperature": 0.0, "repetitionPenalty": 1.0, "views": 5}}


def checkpoints():
    return {"tatok": os.path.join(data.WORK, "tatok", "ta_tok.pth"),
            "llm": os.path.join(data.WORK, "llm"),
            "ardtok": os.path.join(data.WORK, "ardtok", "ar_dtok_shapes_64px.pth"),
            "vq": os.path.join(data.WORK, "vq", "vq_shapes.pt")}


def convert_checkpoints(paths, out):
    """tools/convert on {component: official checkpoint} into the package folder `out`, with this model's id and
    sampling; → its exit code."""
    arguments = [item for name, path in paths.items() for item in (f"--{name}", path)]
    return convert(arguments + ["--out", out, "--model-id", MODEL_ID, "--sampling", json.dumps(SAMPLING)])


def run():
    return convert_checkpoints(checkpoints(), OUT)


if __name__ == "__main__":
    sys.exit(run())
