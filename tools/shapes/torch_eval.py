"""Scores of the Tar-Shapes pipeline in torch, over the held-out evaluation set (tools/shapes/eval_set.py): the
converter's own reference modules loaded from the trained checkpoints (the very files the package was converted
from), generating with the sampling settings of the package's manifest, and the engine's sampler semantics
(tools/convert/reference/pipeline.py). The browser engine's scores (npm run eval:shapes) are compared with these.

    python3 -m tools.shapes.torch_eval --set DIR/set.json --out scores.json [--images DIR] [--candidates N]
        [--scales 1,2,3] [--views N] [--codes-out CODES.npy] [--drawings K]

Settings: text-to-image as the manifest says (LLM temperature/top-k/top-p over the image tokens, guided against the
empty prompt by its cfgScale, with its cfgMinP filter when set, when that is not 1; then the de-tokenizer's CFG scale,
its cfgMinP filter likewise, and temperature), drawing with the engine's own uniforms for seed = the prompt's index in
the set (tools/convert/reference/seeded_uniforms.py), as eval:shapes seeds the engine: the two sides then draw the
same image tokens wherever their logits agree to float precision, and the scores hold the tokens drawn ("draws",
TA-Tok codebook indices per "<id>-s<scale>") for a one-by-one comparison; with self-check candidates (the manifest's
`candidates`, or --candidates), every candidate drawn with the engine's candidate streams and read back as the
engine's imagine does, the kept one scored and every candidate's score in "selfCheck"; chat greedy (temperature 0),
stopping at <|im_end|> or 48 tokens, from the mean log-probabilities of the picture's test-time views (the manifest's
chat `views`, or --views) as the engine's chat reads them. --codes-out (one scale) saves the VQ codes of every kept
picture, int [N,h,w] in the set's order, for finetune_vq_decoder's paired comparison (--codes). --drawings K (the
engine's imagine `drawings`; default: the manifest's sampling.detokenizer.drawings, else 1): the de-tokenizer draws
each candidate's image tokens K times (drawing d > 0 from its own seeded stream, seeded_uniforms' `drawing`), TA-Tok
reads each picture back at the tokens' pool scale, and the drawing whose reading agrees with the most drawn tokens is
kept (first of equals); the agreements go into "roundTrip"."""
import argparse
import json
import os
import sys
from typing import List, NamedTuple, Optional

import numpy as np
import torch
from PIL import Image

from tools.convert.ardtok import build_checked as build_ardtok
from tools.convert.reference.pipeline import (Chooser, Sampling, answer_log_prob, detokenize, llm_generate,
                                              round_trip_agreement, understand, understand_views, VIEW_SHIFTS)
from tools.convert.reference.seeded_uniforms import image_uniforms
from tools.convert.reference.vq import to_uint8_hwc
from tools.convert.tatok import load_tatok
from tools.convert.vq import build_checked as build_vq
from tools.shapes import eval_set, package, text
from tools.tiny.llm import load_reference

CHAT_MAX_TOKENS = 48
NEGATIVE_PROMPT = ""  # the engine's default: prompt guidance against the template with an empty user message
UNDERSTAND_SCALE = 1
MAX_DRAWINGS = 16


class Picture(NamedTuple):
    """One kept picture of imagine: uint8 [H,W,3], the TA-Tok indices the LLM drew [N], the VQ codes kept [h,w],
    the self-check's scores of every candidate (or None) and the round-trip agreement of every de-tokenizer drawing
    of the kept candidate (or None)."""
    image: np.ndarray
    tokens: List[int]
    codes: np.ndarray
    self_check: Optional[List[float]]
    round_trip: Optional[List[int]]


class TorchTar:
    def __init__(self):
        paths = package.checkpoints()
        self.tatok, self.tatok_arch, _ = load_tatok(paths["tatok"])
        self.llm = load_reference(paths["llm"])
        self.ardtok, _ = build_ardtok(paths["ardtok"])
        self.vq, _ = build_vq(paths["vq"])
        self.chat = text.ChatSequences(paths["llm"])
        with open(os.path.join(package.OUT, "manifest.json")) as f:
            self.sampling = json.load(f)["sampling"]
        self.codebook_size = self.tatok_arch["codebook_size"]

    def grid(self, scale):
        return self.tatok_arch["image_size"] // self.tatok_arch["patch_size"] // scale

    @torch.no_grad()
    def imagine(self, prompt, scale, seed, candidates=None, drawings=None):
        """→ Picture: the first image of an engine job seeded `seed`; with candidates > 1 (default: the manifest's),
        the candidate the self-check scores highest, as the engine's imagine keeps; with drawings > 1 (default: the
        manifest's), each candidate's image tokens drawn that many times by the de-tokenizer and the drawing TA-Tok
        reads back as the most of those tokens kept."""
        t2i = self.sampling["textToImage"]
        candidates = t2i.get("candidates", 1) if candidates is None else candidates
        drawings = self.sampling["detokenizer"].get("drawings", 1) if drawings is None else drawings
        drawn = [self._draw(prompt, scale, seed, c, drawings) for c in range(candidates)]
        if candidates == 1:
            return drawn[0]
        answer = list(self.chat.encode(prompt)) + [self.chat.im_end]
        scores = []
        for picture in drawn:
            _, read = understand(self.tatok, torch.from_numpy(picture.image), UNDERSTAND_SCALE)
            question = self.chat.i2t_prompt(read.tolist(), t2i["selfCheckQuestion"])
            scores.append(answer_log_prob(self.llm, question, answer))
        best = int(np.argmax(scores))                                                   # first of equals
        return drawn[best]._replace(self_check=scores)

    def _draw(self, prompt, scale, seed, candidate, drawings):
        s, d = self.sampling["textToImage"], self.sampling["detokenizer"]
        count = self.grid(scale) ** 2
        base = self.chat.image_base
        llm_uniforms, _ = image_uniforms(seed, 0, count, 0, candidate)
        guided = s["cfgScale"] != 1.0
        choose = Chooser(Sampling(s["temperature"], s["topK"], s["topP"], lo=base, hi=base + self.codebook_size,
                                  guidance=s["cfgScale"] if guided else None,
                                  cond_min_p=s.get("cfgMinP") if guided else None), llm_uniforms)
        unconditional = self.chat.t2i_prompt(NEGATIVE_PROMPT, scale) if guided else None
        tokens = llm_generate(self.llm, self.chat.t2i_prompt(prompt, scale), count, choose,
                              unconditional_ids=unconditional)
        indices = torch.tensor(tokens) - base                                          # [N]
        features = self.tatok.decode(indices.unsqueeze(0))[0]                          # [N, Cdec]
        side = int(round(self.ardtok.args.max_seq_len ** 0.5))
        detok_guidance = d["cfgScale"] if d["cfgScale"] != 1.0 else None                # the engine's: scale 1 is no guidance
        pictures = []
        for drawing in range(drawings):
            _, uniforms = image_uniforms(seed, 0, 0, self.ardtok.args.max_seq_len, candidate, drawing)
            detok = Chooser(Sampling(d["temperature"], d["topK"], d["topP"], guidance=detok_guidance,
                                     cond_min_p=d.get("cfgMinP") if detok_guidance else None), uniforms)
            grid = torch.tensor(detokenize(self.ardtok, features, detok)).reshape(1, side, side)  # [1,h,w]
            pictures.append((to_uint8_hwc(self.vq(grid))[0].numpy(), grid[0].numpy()))
        if drawings == 1:
            image, codes = pictures[0]
            return Picture(image, indices.tolist(), codes, None, None)
        agreements = [round_trip_agreement(self.tatok, torch.from_numpy(image), indices, scale)
                      for image, _ in pictures]
        image, codes = pictures[int(np.argmax(agreements))]                              # first of equals
        return Picture(image, indices.tolist(), codes, None, agreements)

    @torch.no_grad()
    def answer(self, image, question, views=None):
        """Greedy answer; with views > 1 (default: the manifest's chat views, else 1), read from the mean
        log-probabilities of the picture's test-time views, as the engine's chat does."""
        views = self.sampling["chat"].get("views", 1) if views is None else views
        prompts = [self.chat.i2t_prompt(indices.tolist(), question)
                   for indices in understand_views(self.tatok, torch.from_numpy(image), views, UNDERSTAND_SCALE)]
        stop = (self.chat.im_end, self.chat.pad)
        new = llm_generate(self.llm, prompts[0], CHAT_MAX_TOKENS, Chooser(Sampling(0.0)), stop_ids=stop,
                           views=prompts[1:])
        return self.chat.decode([t for t in new if t not in stop]).strip()


def run(evaluation, base, images_out=None, candidates=None, scales=text.SCALES, views=None, drawings=None):
    torch.set_num_threads(int(os.environ.get("SHAPES_THREADS", "1")))
    tar = TorchTar()
    t2i, draws, codes, self_check, round_trip = [], {}, [], {}, {}
    for seed, item in enumerate(evaluation["t2i"]):
        for scale in scales:
            key = f"{item['id']}-s{scale}"
            picture = tar.imagine(item["prompt"], scale, seed, candidates, drawings)
            draws[key] = picture.tokens
            codes.append(picture.codes)
            if picture.self_check is not None:
                self_check[key] = picture.self_check
            if picture.round_trip is not None:
                round_trip[key] = picture.round_trip
            t2i.append((item["id"], scale, picture.image))
            if images_out:
                os.makedirs(images_out, exist_ok=True)
                Image.fromarray(picture.image).save(os.path.join(images_out, f"{item['id']}-s{scale}.png"))
    answers = {}
    for item in evaluation["chat"]:
        image = np.array(Image.open(os.path.join(base, item["image"])).convert("RGB"))
        answers[item["id"]] = tar.answer(image, item["question"], views)
    scores = eval_set.score(evaluation, t2i, answers)
    scores["answers"] = answers
    scores["draws"] = draws
    if self_check:
        scores["selfCheck"] = self_check
    if round_trip:
        scores["roundTrip"] = round_trip
    return scores, np.stack(codes) if codes else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--images")
    parser.add_argument("--candidates", type=int, help="self-check candidates per image (default: the manifest's)")
    parser.add_argument("--scales", default=",".join(map(str, text.SCALES)), help="pool scales to draw at")
    parser.add_argument("--views", type=int, help="chat's test-time views per picture (default: the manifest's)")
    parser.add_argument("--codes-out", help="save the kept pictures' VQ codes, int [N,h,w] (one scale only)")
    parser.add_argument("--drawings", type=int,
                        help="de-tokenizer drawings per image tokens, the one TA-Tok reads back best kept "
                             "(default: the manifest's)")
    args = parser.parse_args(argv)
    scales = [int(x) for x in args.scales.split(",")]
    if args.candidates is not None and args.candidates < 1 or not set(scales) <= set(text.SCALES):
        parser.error(f"--candidates must be ≥ 1 and --scales among {text.SCALES}")
    if args.views is not None and not 1 <= args.views <= len(VIEW_SHIFTS):
        parser.error(f"--views must lie in [1, {len(VIEW_SHIFTS)}]")
    if args.drawings is not None and not 1 <= args.drawings <= MAX_DRAWINGS:
        parser.error(f"--drawings must lie in [1, {MAX_DRAWINGS}]")
    if args.codes_out and len(scales) != 1:
        parser.error("--codes-out needs a single --scales")
    with open(args.set) as f:
        evaluation = json.load(f)
    scores, codes = run(evaluation, os.path.dirname(os.path.abspath(args.set)), args.images, args.candidates, scales,
                        args.views, args.drawings)
    if args.codes_out:
        np.save(args.codes_out, codes)
    with open(args.out, "w") as f:
        json.dump(scores, f, indent=1)
    json.dump({k: v for k, v in scores.items() if k not in ("answers", "draws", "selfCheck", "roundTrip")}, sys.stdout,
              indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
