"""Tar end to end on the torch reference modules, with fixed uniforms instead of random draws, and a Python port
of the engine's token sampler (src/kernels/sample-reference.ts). Used for the pipeline goldens
(tools/tiny/pipeline.py); it is not a product path and holds no model numbers.

Sampler semantics (exactly those documented at the top of src/kernels/sample-reference.ts):
- per-token arithmetic in float32: c = f32(u + f32(s · f32(c − u))) with guidance, then x = f32(c · f32(1/T));
  accumulations (softmax sums, cumulative sums) in float64, summed in order;
- tokens outside [lo, hi) and tokens whose processed value is not finite are never drawn;
- conditional min-p (guidance only): with m the largest finite f32(c · f32(1/T)) of the conditional row in
  [lo, hi) (c when greedy; the lowest finite float32 when there is none), a token is never drawn unless its
  f32(c · f32(1/T)) ≥ f32(m + f32(ln minP));
- order: descending value, ties by ascending id ("ascending" for top-p is the exact reverse);
- top-k (0 < k < hi − lo): keep tokens whose value ≥ the k-th largest value (ties at it all kept);
- top-p: softmax over the kept tokens; drop those whose ascending cumulative probability ≤ 1 − p; the most
  probable token is always kept;
- draw: renormalise the kept tokens; the first (in order) whose cumulative probability exceeds u; the last kept
  token when rounding leaves none;
- temperature 0: greedy (largest value, ties → lowest id), after guidance and range.

Pipeline pieces (TAR_SPEC §0): `understand` (image → indices; `understand_views` for chat's test-time views),
`llm_generate` (prompt → tokens, KV-cached, one sampling decision per step; with an unconditional prompt beside it
for classifier-free guidance, or the prompts of further views whose log-probabilities are averaged), `detokenize`
(TA-Tok features → VQ codes with CFG, batch 2 with a zero condition), and the VQ decoder is called directly. Each sampling decision goes through a `Chooser`, which draws with the
next fixed uniform and records the logits it saw.
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import torch


@dataclass
class Sampling:
    temperature: float
    top_k: int = 0
    top_p: float = 1.0
    lo: int = 0
    hi: Optional[int] = None          # None: the whole vocabulary
    guidance: Optional[float] = None  # l = l_u + s (l_c − l_u) from two rows (conditional, unconditional)
    cond_min_p: Optional[float] = None  # with guidance: drop tokens below minP × the conditional best's probability


@dataclass
class Draw:
    id: int
    # Ascending cumulative probabilities after top-k at each kept token, in draw order (sample-reference's
    # topPSuffix) and the renormalised cumulative probabilities of the kept tokens (drawCumulative).
    suffix: List[float] = field(default_factory=list)
    cumulative: List[float] = field(default_factory=list)
    # Distances to the nearest decision boundary, for goldens that must survive ~1e-5 logit differences:
    # greedy top-1 minus top-2 value; top-k k-th minus (k+1)-th value; |suffix − (1 − p)|; |cumulative − u|.
    greedy_gap: float = float("inf")
    top_k_gap: float = float("inf")
    top_p_gap: float = float("inf")
    u_gap: float = float("inf")


def processed(settings, cond, uncond=None):
    """float32 [V] → the processed float32 values of [lo, hi) (NaN where never drawable), and their ids."""
    cond = np.asarray(cond, dtype=np.float32)
    hi = cond.shape[0] if settings.hi is None else settings.hi
    if not (0 <= settings.lo < hi <= cond.shape[0]):
        raise ValueError(f"token range [{settings.lo}, {hi}) is invalid for a vocabulary of {cond.shape[0]}")
    x = cond[settings.lo:hi]
    with np.errstate(invalid="ignore", over="ignore"):
        dropped = np.zeros(x.shape, dtype=bool)
        if settings.guidance is not None and settings.cond_min_p is not None:
            c = x if settings.temperature == 0 else x * np.float32(1.0 / settings.temperature)
            finite = c[np.isfinite(c)]
            best = finite.max() if finite.size else np.finfo(np.float32).min
            dropped = ~(c >= np.float32(best + np.float32(np.log(settings.cond_min_p))))
        if settings.guidance is not None:
            u = np.asarray(uncond, dtype=np.float32)[settings.lo:hi]
            x = u + np.float32(settings.guidance) * (x - u)
        if settings.temperature != 0:
            x = x * np.float32(1.0 / settings.temperature)
    x = np.where(np.isfinite(x) & ~dropped, x, np.float32(np.nan)).astype(np.float32)
    return x, np.arange(settings.lo, hi)


def sample_row(settings, cond, u, uncond=None):
    """One sampling decision over a logits row (and its unconditional row with guidance) → Draw."""
    if settings.temperature < 0 or not np.isfinite(settings.temperature):
        raise ValueError(f"temperature {settings.temperature} must be finite and ≥ 0")
    if not 0 < settings.top_p <= 1:
        raise ValueError(f"top-p {settings.top_p} must lie in (0, 1]")
    if not 0 <= u < 1:
        raise ValueError(f"uniform {u} is not in [0, 1)")
    x, ids = processed(settings, cond, uncond)
    finite = ~np.isnan(x)
    x, ids = x[finite], ids[finite]
    if x.size == 0:
        raise ValueError("no finite logit in the token range")
    order = np.lexsort((ids, -x))             # descending value, ties by ascending id
    x, ids = x[order].astype(np.float64), ids[order]
    if settings.temperature == 0:
        return Draw(int(ids[0]), greedy_gap=float(x[0] - x[1]) if x.size > 1 else float("inf"))
    span = (len(cond) if settings.hi is None else settings.hi) - settings.lo
    top_k = 0 if settings.top_k >= span else settings.top_k
    top_k_gap = float("inf")
    if 0 < top_k < x.size:
        threshold = x[top_k - 1]
        kept = x >= threshold
        top_k_gap = float(threshold - x[kept.sum()]) if kept.sum() < x.size else float("inf")
        x, ids = x[kept], ids[kept]
    weights = np.exp(x - x[0])
    z = np.cumsum(weights)[-1]
    probs = weights / z
    suffix = np.cumsum(probs[::-1])[::-1]     # ascending cumulative sums, in draw order
    keep = 1
    for i in range(len(probs) - 1, 0, -1):
        if suffix[i] > 1 - settings.top_p:
            keep = i + 1
            break
    top_p_gap = float(np.min(np.abs(suffix[1:] - (1 - settings.top_p)))) if settings.top_p < 1 and len(probs) > 1 else float("inf")
    z2 = np.cumsum(probs[:keep])[-1]
    cumulative = np.cumsum(probs[:keep] / z2)
    above = np.nonzero(cumulative > u)[0]
    chosen = int(ids[above[0]]) if above.size else int(ids[keep - 1])
    return Draw(chosen, suffix.tolist(), cumulative.tolist(), top_k_gap=top_k_gap, top_p_gap=top_p_gap,
                u_gap=float(np.min(np.abs(cumulative[:-1] - u))) if keep > 1 else float("inf"))


def move_off_boundary(u, cumulative, gap):
    """u, or the float32 middle of its cumulative interval when u lies within `gap` of an interval end."""
    edges = [0.0] + list(cumulative[:-1]) + [1.0]
    if all(abs(u - e) >= gap for e in edges[1:-1]):
        return u
    k = int(np.searchsorted(np.asarray(cumulative[:-1]), u, side="right"))
    return float(np.float32((edges[k] + edges[k + 1]) / 2))


class Chooser:
    """Draws with fixed uniforms (one per decision, taken in order; none for greedy), records the logits each
    decision saw and the uniforms used. Margins, so that logits a little off (another runtime) still give the
    same tokens: a uniform within `u_gap` of a cumulative boundary is moved to the middle of its token's interval
    (as a float32); a decision whose greedy or top-k margin (logit units) is below `logit_gap`, or whose top-p
    margin (probability) is below `p_gap`, is refused with a ValueError (the caller picks other inputs)."""

    def __init__(self, settings, uniforms=(), u_gap=0.0, logit_gap=0.0, p_gap=0.0):
        self.settings = settings
        self.uniforms = list(uniforms)
        self.u_gap, self.logit_gap, self.p_gap = u_gap, logit_gap, p_gap
        self.used, self.logits, self.ids, self.draws = [], [], [], []

    def __call__(self, cond, uncond=None):
        s = self.settings
        if s.temperature == 0:
            u = 0.0
        else:
            if len(self.used) >= len(self.uniforms):
                raise ValueError(f"ran out of uniforms after {len(self.used)} draws")
            u = self.uniforms[len(self.used)]
        draw = sample_row(s, cond, u, uncond)
        if self.u_gap > 0 and s.temperature != 0:
            moved = move_off_boundary(u, draw.cumulative, self.u_gap)
            if moved != u:
                u = moved
                draw = sample_row(s, cond, u, uncond)
        margins = {"greedy": (draw.greedy_gap, self.logit_gap), "top-k": (draw.top_k_gap, self.logit_gap),
                   "top-p": (draw.top_p_gap, self.p_gap), "u": (draw.u_gap, self.u_gap)}
        close = {k: v for k, (v, gap) in margins.items() if v < gap}
        if close:
            raise ValueError(f"decision {len(self.ids)} lies too close to a boundary: {close}")
        if s.temperature != 0:
            self.used.append(u)
        self.logits.append(np.asarray(cond, dtype=np.float32) if uncond is None
                           else np.stack([np.asarray(cond, np.float32), np.asarray(uncond, np.float32)]))
        self.ids.append(draw.id)
        self.draws.append(draw)
        return draw.id


@torch.no_grad()
def understand(tatok, image_rgb, pool_scale=1):
    """uint8 [H,W,3] → (pixel_values [1,3,S,S], indices [grid²]) with the reference TA-Tok."""
    pixel_values = tatok.preprocess(image_rgb)
    _, indices = tatok.encode(pixel_values, pool_scale)
    return pixel_values, indices[0]


def round_trip_agreement(tatok, image_rgb, indices, pool_scale):
    """How many of the drawn TA-Tok indices [N] (at pool_scale) TA-Tok reads back from the picture drawn of them,
    uint8 [H,W,3]: the same position, the same codebook entry."""
    _, read = understand(tatok, image_rgb, pool_scale)
    return int((read == torch.as_tensor(indices)).sum())


# Chat's test-time views (the engine's src/models/views.ts): (dy, dx) shifts of the encoder's input, in the order
# views are taken; a view's content moves by (dy, dx), the uncovered rows and columns repeating the nearest edge.
VIEW_SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def shifted_pixels(pixel_values, shift):
    """pixel_values [B,C,S,S] with the content moved by shift = (dy, dx), edges repeated."""
    dy, dx = shift
    s = pixel_values.shape[-1]
    rows = torch.clamp(torch.arange(s) - dy, 0, s - 1)
    cols = torch.clamp(torch.arange(s) - dx, 0, s - 1)
    return pixel_values[:, :, rows][:, :, :, cols]


@torch.no_grad()
def understand_views(tatok, image_rgb, views, pool_scale=1):
    """uint8 [H,W,3] → the indices [grid²] of each of the first `views` test-time views (view 0: the picture)."""
    pixel_values = tatok.preprocess(image_rgb)
    return [tatok.encode(shifted_pixels(pixel_values, shift), pool_scale)[1][0] for shift in VIEW_SHIFTS[:views]]


def mean_log_probs(rows):
    """Logits rows [R][V] → float32 [V]: the mean over rows of log_softmax (float64), as the engine's
    src/kernels/log-prob-mean.ts combines test-time views."""
    logits = torch.tensor(np.stack([np.asarray(r, np.float32) for r in rows])).double()
    return torch.log_softmax(logits, -1).mean(0).float().numpy()


@torch.no_grad()
def llm_generate(llm, prompt_ids, max_new_tokens, choose, stop_ids=(), unconditional_ids=None, views=()):
    """KV-cached generation with the Qwen2 reference: prefill the prompt, then one token per step; each new token
    is choose(logits of the last position [V]). Stops after max_new_tokens or a token in stop_ids (kept).
    With `unconditional_ids` (classifier-free guidance): a second sequence, prefilled with them, runs beside the
    first on its own cache; each token is choose(conditional logits [V], unconditional logits [V]) and is fed to
    both. With `views` (the prompts of further test-time views, not with guidance): each runs on its own cache
    and each token is choose(mean_log_probs of all the sequences' logits)."""
    if views and unconditional_ids is not None:
        raise ValueError("test-time views and guidance do not combine")
    streams = [_Stream(llm, ids) for ids in [prompt_ids, *views]]
    if unconditional_ids is not None:
        streams.append(_Stream(llm, unconditional_ids))
    new = []
    while True:
        rows = [stream.last_logits() for stream in streams]
        token = choose(mean_log_probs(rows)) if views else choose(*rows)
        new.append(token)
        if len(new) == max_new_tokens or token in stop_ids:
            return new
        for stream in streams:
            stream.feed(token)


@torch.no_grad()
def answer_log_prob(llm, prompt_ids, answer_ids):
    """log p(answer_ids | prompt_ids) under the Qwen2 reference, natural log, summed over the answer (the engine's
    LlmDecoder.answerLogProb, which imagine's self-check scores candidates by)."""
    ids = list(prompt_ids) + list(answer_ids)
    t, start = len(ids), len(prompt_ids)
    logits = llm(torch.tensor([ids]), torch.ones(1, t, dtype=torch.int64), torch.arange(t).unsqueeze(0),
                 *llm.empty_past(1))[0][0]                                       # [T, V]
    rows = torch.log_softmax(logits[start - 1:t - 1].double(), -1)                # [A, V]
    return float(rows.gather(1, torch.tensor(answer_ids)[:, None]).sum())


class _Stream:
    """One batch-1 sequence of the Qwen2 reference on its own KV cache."""

    def __init__(self, llm, prompt_ids):
        self.llm, self.length = llm, len(prompt_ids)
        self.out = llm(torch.tensor([prompt_ids]), torch.ones(1, self.length, dtype=torch.int64),
                       torch.arange(self.length).unsqueeze(0), *llm.empty_past(1))

    def last_logits(self):
        return self.out[0][0, -1].numpy()

    def feed(self, token):
        self.length += 1
        self.out = self.llm(torch.tensor([[token]]), torch.ones(1, self.length, dtype=torch.int64),
                            torch.tensor([[self.length - 1]]), *self.out[1:])


@torch.no_grad()
def detokenize(ardtok, features, choose):
    """AR-DTok with classifier-free guidance (TAR_SPEC §3.3-3.4): features [N, condDim] → maxSeqLen codes. Batch 2
    (row 0 conditional, row 1 zero condition) when choose guides: choose(cond_logits, uncond_logits) combines and
    draws, and the drawn token is fed to both rows; without guidance (the engine's cfgScale 1) the conditional row
    alone, choose(cond_logits)."""
    n = features.shape[0]
    rows = 1 if choose.settings.guidance is None else 2
    embeds = ardtok.clip_proj(torch.stack([features, torch.zeros_like(features)])[:rows])
    logits, past = ardtok.decode(embeds, torch.ones(rows, n, dtype=torch.int64),
                                 torch.arange(n).unsqueeze(0).repeat(rows, 1), ardtok.empty_past(rows))
    codes = []
    for step in range(ardtok.args.max_seq_len):
        last = logits[:, -1].numpy()
        codes.append(choose(*last))
        if step == ardtok.args.max_seq_len - 1:
            return codes
        x = ardtok.tok_embeddings(torch.tensor([[codes[-1]]] * rows))
        logits, past = ardtok.decode(x, torch.ones(rows, n + step + 1, dtype=torch.int64),
                                     torch.full((rows, 1), n + step, dtype=torch.int64), past)
