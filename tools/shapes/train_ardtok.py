"""Tar-Shapes stage: the AR de-tokenizer (TAR_SPEC §3, LLAMA-ABS `clip_cond`) trained from scratch on CPU.

It learns p(VQ codes | TA-Tok decoder features). Sequence = clip_proj(features) of the image's TA-Tok tokens at
pool scale 1 (6² prefix rows on the Tar-Shapes TA-Tok), then the VQ codes in raster order, teacher-forced;
cross-entropy on the code positions only. Condition dropout (the features replaced by zeros, as the
unconditional half of classifier-free guidance is built at inference) trains the branch CFG needs. The forward
pass is the converter's `kv_decode` with an empty past (one prefill over the whole sequence, positions 0.., mask
of ones, causal), so the browser engine runs exactly the computation trained here.

Training sees one pool scale. LLAMA-ABS feeds code j at absolute position T+j, T the prefix length, so with the
scale drawn per sample (2:1:1, as the paper's appendix E) one position meant a different place in the picture at
each scale. Trained on scale 1 alone, it drew true tokens after 1,000 steps (of a 3,000-step schedule) at
position 72% / colour 38%, where the mixed-scale model after 3,000 steps drew 62% / 33%. Scales 2 and 3 are
still run and scored, as tokens it was not trained on. The position table starts with a 2-D sinusoid of where
each row is in the picture (a prefix row at its TA-Tok cell's centre, the row that predicts code j at code j's
cell's centre) added to the random init, so that a code and the condition rows over the same place start alike:
after 1,000 steps (of a 1,500-step schedule) position 91%, colour 37%.

Two things push the model to read its condition (trained without them it did not: teacher-forced accuracy
74.0% with the condition, 73.4% without, samples' backgrounds of a random colour; with them 73.8% against 72.9%
and samples somewhat closer to their tokens, docs/tar-shapes.md). The condition rows are standardised per
channel over the training set while training (the TA-Tok decoder's features share a mean of norm ~20 against a
spread of ~1 per channel), and the standardisation is folded into clip_proj when the checkpoint is written, so
the checkpoint takes raw features as the official one does; condition dropout zeroes the *raw* features before
the standardisation, because raw zeros are what inference feeds the unconditional half of CFG. And a fraction
of the teacher-forced input codes is replaced by random codes (the targets stay), so that the next code cannot
be read off its neighbours alone: all of them at first, falling to 20% over the first 600 steps, so that the
model learns to draw from the condition before it learns to copy its neighbours (1,000 steps of a 1,500-step
schedule, 48 test images from true tokens: colour 48% against 37% with 20% throughout, object 13% against 7%).

Inputs (other stages, under build/shapes/): vq/codes_{train,test}.npy (int [N,h,w]), vq/vq_shapes.pt,
tatok/ta_tok.pth, tatok/indices_train_s1.npy and indices_test_s{1,2,3}.npy (int [N,p²]). The model's cond_dim,
prefix length, vocabulary and sequence length are read from them; its size and the recipe are the constants below.
Outputs in build/shapes/ardtok/: features_*.npy (TA-Tok decoder features, a cache), state.pt (resume point),
ar_dtok_shapes_64px.pth (official format: {"model": {"name", "args", "sd"}}), samples.png (columns: 16 test
images; rows: original, VQ reconstruction of the true codes, CFG-4 samples at pool scales 1, 2, 3) and, last,
done.json (settings and figures). Not here: training the VQ or TA-Tok, the conversion, the shape evaluator.

    /usr/bin/python3 -m tools.shapes.train_ardtok            # train (resumes), evaluate, sample
    /usr/bin/python3 -m tools.shapes.train_ardtok --steps 40 # a shorter schedule (a new run)
"""
import argparse
import hashlib
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tools.convert import ardtok as ardtok_convert
from tools.convert import vq as vq_convert
from tools.convert.reference.ardtok import ARDTok, ModelArgs, kv_decode
from tools.convert.reference.vq import to_uint8_hwc
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, evaluate

# ---- the model (registry name; args n_layer/n_head/dim override the registry sizes) ----------------------------
NAME = "llama-abs-S"
DIM, LAYERS, HEADS, MULTIPLE_OF = 128, 3, 4, 32
COND_DROPOUT = 0.1
CORRUPT = 0.2              # fraction of teacher-forced input codes replaced by random codes while training
CONDITION_WARMUP = 600     # steps over which that fraction falls linearly from 1 (the condition alone) to CORRUPT
SCALES = (1, 2, 3)        # the pool scales scored after training
TRAIN_SCALE = 1
POSITION_AMPLITUDE, POSITION_FREQUENCIES = 0.1, 8   # the 2-D sinusoid added to abs_pe's init (per channel)
# ---- training ----------------------------------------------------------------------------------------------
SEED = 7
BATCH = 16
STEPS = 3000
# On a GPU (SHAPES_DEVICE=cuda): GPU_BATCH samples a step, for as many steps as fit in SHAPES_ARDTOK_SECONDS of
# wall-clock time (common.step_budget).
GPU_BATCH = 64
LR = 1e-3               # peak of common.cosine_lr (100 warm-up steps, then cosine to 0)
WEIGHT_DECAY, BETAS, CLIP = 0.05, (0.9, 0.95), 1.0
INIT_STD = 0.02
SAVE_EVERY = 100
LOG_EVERY = 25
# ---- evaluation -------------------------------------------------------------------------------------------
CFG_SCALE, TEMPERATURE = 4.0, 1.0
EVAL_IMAGES = 64          # test images sampled per pool scale for the sample figures
SHOWN = 16                # of which the first SHOWN go into samples.png
CHECKPOINT = "ar_dtok_shapes_64px.pth"


def input_paths(train_scales=(TRAIN_SCALE,)):
    vq, tatok = os.path.join(data.WORK, "vq"), os.path.join(data.WORK, "tatok")
    paths = {"vq": os.path.join(vq, "vq_shapes.pt"), "tatok": os.path.join(tatok, "ta_tok.pth")}
    for split, scales in (("train", train_scales), ("test", SCALES)):
        paths[f"codes_{split}"] = os.path.join(vq, f"codes_{split}.npy")
        for scale in scales:
            paths[f"indices_{split}_s{scale}"] = os.path.join(tatok, f"indices_{split}_s{scale}.npy")
    return paths


def fingerprint(files):
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def batch_size():
    return GPU_BATCH if common.on_gpu() else BATCH


def settings(steps):
    return {"name": NAME, "dim": DIM, "layers": LAYERS, "heads": HEADS, "multiple_of": MULTIPLE_OF,
            "cond_dropout": COND_DROPOUT, "train_scale": TRAIN_SCALE, "seed": SEED,
            "position_init": {"amplitude": POSITION_AMPLITUDE, "frequencies": POSITION_FREQUENCIES},
            "corrupt": CORRUPT, "condition_warmup": CONDITION_WARMUP,
            "condition": "standardised; dropout zeroes the raw features", "batch": batch_size(),
            "steps": steps, "lr": LR, "weight_decay": WEIGHT_DECAY, "betas": list(BETAS), "clip": CLIP,
            "init_std": INIT_STD}


def model_args(tatok, vq_arch, codes):
    """Official ModelArgs fields; training uses no dropout, and the args say so."""
    return {"n_layer": LAYERS, "n_head": HEADS, "dim": DIM, "multiple_of": MULTIPLE_OF, "norm_eps": 1e-5,
            "model_type": "clip_cond", "cond_dim": tatok.cfg["decoder_hidden"], "vocab_size": vq_arch["codebook_size"],
            "cls_token_num": tatok.grid ** 2, "max_seq_len": codes.shape[1], "use_fixed_pe": False,
            "class_dropout_prob": COND_DROPOUT, "token_dropout_p": 0.0, "resid_dropout_p": 0.0,
            "ffn_dropout_p": 0.0}


def load_codes(path, vocab):
    """int [N,h,w] -> int64 [N, h*w] raster order."""
    codes = torch.from_numpy(np.load(path).astype(np.int64))
    if codes.min() < 0 or codes.max() >= vocab:
        raise ValueError(f"{path}: codes outside [0, {vocab})")
    return codes.flatten(1)


def load_inputs(paths):
    """input_paths() → (TA-Tok, VQ decoder reference, its arch, {split: int64 [N, h·w] codes})."""
    tatok = load_tatok(paths["tatok"])[0]
    vq, vq_arch = vq_convert.build_checked(paths["vq"])
    codes = {split: load_codes(paths[f"codes_{split}"], vq_arch["codebook_size"]) for split in ("train", "test")}
    return tatok, vq, vq_arch, codes


@torch.no_grad()
def features(tatok, split, scale, paths):
    """float32 [N, p², decoderHidden] = tatok.decode(indices), cached under a name keyed by its inputs."""
    key = fingerprint([paths["tatok"], paths[f"indices_{split}_s{scale}"]])[:12]
    folder = data.stage_dir("ardtok")
    prefix = f"features_{split}_s{scale}_"
    path = os.path.join(folder, f"{prefix}{key}.npy")
    if not os.path.exists(path):
        for stale in (n for n in os.listdir(folder) if n.startswith(prefix)):
            os.remove(os.path.join(folder, stale))
        indices = torch.from_numpy(np.load(paths[f"indices_{split}_s{scale}"]).astype(np.int64))  # [N,p²]
        dev = common.device()
        tatok.to(dev)
        rows = [tatok.decode(chunk.to(dev)).cpu().numpy() for chunk in indices.split(256)]
        np.save(path + ".tmp.npy", np.concatenate(rows))
        os.replace(path + ".tmp.npy", path)
    return torch.from_numpy(np.load(path))


def condition_standardiser(feats):
    """[N,p²,C] training condition rows → (mean [C], std [C]) over every row."""
    rows = feats.reshape(-1, feats.shape[-1])                                             # [R,C]
    return rows.mean(0), rows.std(0).clamp_min(1e-6)


def standardise(rows, standardiser):
    """[..., C] condition rows → (rows − mean) / std."""
    mean, std = standardiser
    return (rows - mean) / std


@torch.no_grad()
def fold_standardiser(model, standardiser):
    """clip_proj trained on (x − mean)/std → the same map on raw x: W' = W/std (per input channel),
    b' = b − W'·mean."""
    mean, std = standardiser
    weight = model.clip_proj.weight / std                                                 # [dim,C]
    model.clip_proj.bias -= weight @ mean
    model.clip_proj.weight.copy_(weight)


def place_embedding(y, x, dim):
    """[dim]: sin/cos of y and x (in picture widths, 0..1) at POSITION_FREQUENCIES angular frequencies from π to
    16π, scaled by POSITION_AMPLITUDE, zero-padded. Two places' embeddings have the largest dot product when the
    places coincide."""
    waves = []
    for k in range(POSITION_FREQUENCIES):
        w = math.pi * 2 ** (4 * k / (POSITION_FREQUENCIES - 1))
        waves += [math.sin(w * y), math.cos(w * y), math.sin(w * x), math.cos(w * x)]
    return F.pad(torch.tensor(waves) * POSITION_AMPLITUDE, (0, dim - len(waves)))


def spatial_positions(cond_grid, code_grid, dim):
    """abs_pe rows [T+M-1, dim] for a T = cond_grid² prefix: row t < T at prefix cell t's centre; row T-1+j (which
    predicts code j; j ≥ 1) at code j's cell's centre (row T-1 keeps its prefix cell)."""
    t, m = cond_grid ** 2, code_grid ** 2
    rows = torch.zeros(t + m - 1, dim)
    for i in range(t):
        rows[i] = place_embedding((i // cond_grid + 0.5) / cond_grid, (i % cond_grid + 0.5) / cond_grid, dim)
    for j in range(1, m):
        rows[t - 1 + j] = place_embedding((j // code_grid + 0.5) / code_grid, (j % code_grid + 0.5) / code_grid, dim)
    return rows


def new_model(args, cond_grid):
    """Random init (norms 1, biases and the head 0, the rest N(0, INIT_STD²)) plus spatial_positions on abs_pe."""
    torch.manual_seed(SEED)
    model = ARDTok(ModelArgs(**args))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif name == "output.weight" or name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, INIT_STD)
        model.abs_pe[0] += spatial_positions(cond_grid, math.isqrt(args["max_seq_len"]), args["dim"])
    return model


def new_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() == 2]
    rest = [p for p in model.parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}],
                             lr=LR, betas=BETAS)


def _generator(stream, k):
    return torch.Generator().manual_seed((SEED * 100 + stream) * 1_000_000 + k)


def batch_plan(step, n_train, batch=BATCH):
    """Sample indices [batch], condition-dropout flags [batch], the generator and rate of the input-code corruption
    of one step: a function of (SEED, step) alone, so a resumed run takes the same batches (one fixed permutation per
    epoch)."""
    idx = []
    while len(idx) < batch:
        epoch, offset = divmod(step * batch + len(idx), n_train)
        perm = torch.randperm(n_train, generator=_generator(1, epoch))
        idx += perm[offset:offset + batch - len(idx)].tolist()
    drop = torch.rand(batch, generator=_generator(2, step)) < COND_DROPOUT
    return torch.tensor(idx), drop, _generator(4, step), corruption_rate(step)


def corruption_rate(step):
    """The fraction of input codes replaced at a step: 1 at step 0 (every code must come from the condition),
    falling linearly to CORRUPT at CONDITION_WARMUP, then CORRUPT."""
    return CORRUPT + (1.0 - CORRUPT) * max(0.0, 1.0 - step / CONDITION_WARMUP)


def corrupted(codes, vocab, generator, rate):
    """codes [B,M] with a `rate` fraction replaced by uniformly drawn codes (drawn on the CPU generator)."""
    replace = torch.rand(codes.shape, generator=generator) < rate
    drawn = torch.randint(0, vocab, codes.shape, generator=generator)
    return torch.where(replace.to(codes.device), drawn.to(codes.device), codes)


def teacher_forced_logits(model, cond, codes, inputs=None):
    """cond [B,N,condDim] (zeros = unconditional), codes [B,M] -> logits [B,M,vocab], row j predicting code j.
    Sequence [clip_proj(cond); tok_embeddings(inputs[:, :-1])] at positions 0..N+M-2, mask of ones; the inputs
    are the codes themselves unless given."""
    inputs = codes if inputs is None else inputs
    b, n = cond.shape[:2]
    x = torch.cat([model.clip_proj(cond), model.tok_embeddings(inputs[:, :-1])], dim=1)   # [B,N+M-1,dim]
    t = x.shape[1]
    mask = torch.ones(b, t, dtype=torch.int64, device=x.device)
    positions = torch.arange(t, device=x.device).unsqueeze(0).repeat(b, 1)              # [B,N+M-1]
    logits, _ = kv_decode(model, x, mask, positions, model.empty_past(b, x.device))       # [B,N+M-1,vocab]
    return logits[:, n - 1:]


def batch_loss(model, feats, codes, plan, standardiser):
    """Mean cross-entropy over the batch's code positions. feats: the training scale's rows [N,p²,condDim]."""
    idx, drop, corruption, rate = plan
    idx = idx.to(feats.device)
    keep = (~drop).float()[:, None, None].to(feats.device)                                # [B,1,1]
    cond = standardise(feats[idx] * keep, standardiser)                                   # [B,p²,condDim]
    target = codes[idx]                                                                   # [B,M]
    inputs = corrupted(target, model.args.vocab_size, corruption, rate)
    logits = teacher_forced_logits(model, cond, target, inputs)                           # [B,M,vocab]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def train(model, opt, state, feats, codes, standardiser, steps, stop_after, state_path):
    """Trains from state["step"]; on a GPU with a time budget the schedule may end before `steps` (a budgeted run
    does not resume: its schedule's length is only known once it has started). state["steps"]: the length run."""
    n_train = codes.shape[0]
    budget = common.step_budget(steps, "SHAPES_ARDTOK_SECONDS") if state["step"] == 0 else common.StepBudget(steps)
    model.train()
    start = logged = time.time()
    running = []
    step = state["step"]
    while step < budget.tick(step):
        total = budget.total
        end = total if stop_after is None else min(total, stop_after)
        if step >= end:
            break
        for group in opt.param_groups:
            group["lr"] = common.cosine_lr(step, total, LR)
        loss = batch_loss(model, feats, codes, batch_plan(step, n_train, batch_size()), standardiser)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        running.append(loss.detach())
        step = done = step + 1
        if done % LOG_EVERY == 0 or done == end:
            mean = torch.stack(running).mean().item()
            state["losses"].append([done, mean])
            print(f"step {done}/{total} loss {mean:.4f} "
                  f"({(time.time() - logged) / len(running):.3f} s/step)", flush=True)
            logged, running = time.time(), []
        if done % SAVE_EVERY == 0 or done == end:
            state["train_seconds"] += time.time() - start
            start = time.time()
            state["step"], state["steps"] = done, total
            save_state(state_path, state, model, opt)
    model.eval()


def save_state(path, state, model, opt):
    common.save_atomic({**state, "model": model.state_dict(), "optimizer": opt.state_dict()}, path)


def start_or_resume(path, args, run_key, cond_grid):
    model = new_model(args, cond_grid).to(common.device())
    opt = new_optimizer(model)
    state = {"step": 0, "train_seconds": 0.0, "losses": [], "run_key": run_key}
    if os.path.exists(path):
        saved = torch.load(path, map_location=common.device())
        if saved["run_key"] == run_key:
            model.load_state_dict(saved.pop("model"))
            opt.load_state_dict(saved.pop("optimizer"))
            state = saved
            print(f"resuming at step {state['step']}", flush=True)
        else:
            print("state.pt is from other inputs or settings: starting over", flush=True)
    return model, opt, state


def write_checkpoint(path, model, args):
    """Official format, then loaded back through the converter's own loader and compared."""
    sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    common.save_atomic({"model": {"name": NAME, "args": args, "sd": sd}}, path)
    loaded, name = ardtok_convert.build_checked(path)
    same = all(torch.equal(loaded.state_dict()[k], v) for k, v in sd.items())
    if name != NAME or not same:
        raise RuntimeError(f"{path}: build_checked does not give back the trained model")


@torch.no_grad()
def sample_codes(model, cond, cfg_scale, temperature, generator):
    """cond [B,N,condDim] -> codes [B,M] (TAR_SPEC §3.4): batch [cond; zeros], one prefill, then one token per
    step; l = l_u + s·(l_c − l_u), softmax(l/T), multinomial; the token goes to both halves. At s = 1 that is l_c,
    so the unconditional half is not run."""
    b, n = cond.shape[:2]
    dev = cond.device
    halves = 1 if cfg_scale == 1 else 2
    x = model.clip_proj(torch.cat([cond, torch.zeros_like(cond)][:halves]))             # [hB,N,dim]
    past = model.empty_past(halves * b, dev)
    out = []
    for j in range(model.args.max_seq_len):
        total = n + j
        mask = torch.ones(halves * b, total, dtype=torch.int64, device=dev)
        positions = torch.arange(total - x.shape[1], total, device=dev).unsqueeze(0).repeat(halves * b, 1)
        logits, past = model.decode(x, mask, positions, past)
        last = logits[:, -1]                                                             # [hB,vocab]
        guided = last if halves == 1 else last[b:] + cfg_scale * (last[:b] - last[b:])   # [B,vocab]
        probs = torch.softmax(guided / temperature, dim=-1).cpu()                        # the generator's device
        token = torch.multinomial(probs, 1, generator=generator).to(dev)                  # [B,1]
        out.append(token)
        x = model.tok_embeddings(token.repeat(halves, 1))                                # [hB,1,dim]
    return torch.cat(out, dim=1)


@torch.no_grad()
def teacher_forcing_figures(model, feats, codes):
    out = {}
    for scale in SCALES:
        cond = feats[scale]
        row = {}
        for label, c in (("", cond), ("_unconditional", torch.zeros_like(cond))):
            logits = torch.cat([teacher_forced_logits(model, a, b) for a, b in zip(c.split(100), codes.split(100))])
            row["accuracy" + label] = (logits.argmax(-1) == codes).float().mean().item()
            row["loss" + label] = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1)).item()
        out[f"s{scale}"] = row
    return out


@torch.no_grad()
def decode_images(vq, codes):
    """codes [B,M] -> uint8 [B,H,W,3] through the VQ decoder (the converter's reference)."""
    side = math.isqrt(codes.shape[1])
    return to_uint8_hwc(torch.cat([vq(c.cpu().view(-1, side, side)) for c in codes.split(32)])).numpy()


def scores(scenes, images):
    """The Tar-Shapes evaluator's per-attribute scores of images against the scenes they should show."""
    return evaluate.aggregate([evaluate.score_image(scene, image) for scene, image in zip(scenes, images)])


def _fit(images, size):
    """Resizes [B,H,W,3] to size×size when the VQ decoder's output size differs from the images'."""
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(i).resize((size, size), Image.BILINEAR)) for i in images])


def drawn_at_scale(model, vq, cond, scenes, cfg, scale):
    """cond [B,N,condDim] of the scenes at one pool scale → (sampled codes [B,M], their pictures uint8 [B,H,W,3],
    the evaluator's scores), drawn at `cfg` with the scale's fixed random stream."""
    sampled = sample_codes(model, cond, cfg, TEMPERATURE, _generator(3, scale))
    images = decode_images(vq, sampled)
    return sampled, images, scores(scenes, images)


def sample_figures(model, vq, feats, codes, scenes):
    """Samples the test images per scale at CFG_SCALE and at 1 (no guidance); token match with the true codes and
    the evaluator's scores of the decoded images (the VQ reconstruction of the true codes is the ceiling).
    -> figures, the CFG_SCALE images per scale and the reconstructions (for samples.png)."""
    truth = decode_images(vq, codes)
    figures = {"vq_reconstruction": scores(scenes, truth)}
    shown = {}
    for cfg in (CFG_SCALE, 1.0):
        rows = {}
        for scale in SCALES:
            sampled, images, figures_s = drawn_at_scale(model, vq, feats[scale], scenes, cfg, scale)
            rows[f"s{scale}"] = {"token_match": (sampled.cpu() == codes).float().mean().item(), **figures_s}
            if cfg == CFG_SCALE:
                shown[scale] = images[:SHOWN]
        figures[f"samples_cfg{cfg:g}"] = rows
    return figures, shown, truth[:SHOWN]


def write_samples_png(path, originals, truth, shown):
    size = truth.shape[1]
    rows = [_fit(originals, size), truth] + [shown[s] for s in SCALES]
    gap = 2
    sheet = np.full((len(rows) * (size + gap), SHOWN * (size + gap), 3), 255, dtype=np.uint8)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            sheet[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = image
    Image.fromarray(sheet).save(path)


def run(steps=STEPS, stop_after=None, force=False):
    """Trains (resuming state.pt when its inputs and settings match), then writes the checkpoint, figures and
    samples. stop_after: save and return after that step, without evaluating (how tests interrupt a run)."""
    common.setup(SEED)
    out = data.stage_dir("ardtok")
    paths = input_paths()
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        raise SystemExit("missing inputs (train the VQ and TA-Tok stages first):\n  " + "\n  ".join(missing))
    run_key = {"inputs": fingerprint(paths.values()), "settings": settings(steps)}
    done_path = os.path.join(out, "done.json")
    if os.path.exists(done_path) and not force and stop_after is None:
        with open(done_path) as f:
            done = json.load(f)
        if done["run_key"] == run_key:
            print(f"{done_path}: already done with these inputs and settings", flush=True)
            return done
    tatok, vq, vq_arch, codes = load_inputs(paths)
    args = model_args(tatok, vq_arch, codes["train"])
    dev = common.device()
    train_feats = features(tatok, "train", TRAIN_SCALE, paths).to(dev)                   # [N,p²,condDim]
    test_feats = {scale: features(tatok, "test", scale, paths).to(dev) for scale in SCALES}

    state_path = os.path.join(out, "state.pt")
    model, opt, state = start_or_resume(state_path, args, run_key, tatok.grid // TRAIN_SCALE)
    standardiser = condition_standardiser(train_feats)
    train(model, opt, state, train_feats, codes["train"].to(dev), standardiser, steps, stop_after, state_path)
    if stop_after is not None:
        return None
    fold_standardiser(model, standardiser)
    write_checkpoint(os.path.join(out, CHECKPOINT), model, args)
    n = min(EVAL_IMAGES, codes["test"].shape[0])
    scenes = data.scene_list("test")[:n]
    figures = {"teacher_forcing_test": teacher_forcing_figures(model, test_feats, codes["test"].to(dev))}
    sampled, shown, truth = sample_figures(model, vq, {s: f[:n] for s, f in test_feats.items()},
                                           codes["test"][:n], scenes)
    figures.update(sampled)
    write_samples_png(os.path.join(out, "samples.png"), data.images("test")[:SHOWN], truth, shown)
    done = {"run_key": run_key, "args": args, "checkpoint": CHECKPOINT, "steps_run": state.get("steps", steps),
            "device": str(dev), "train_seconds": round(state["train_seconds"]),
            "final_train_loss": state["losses"][-1][1], "losses": state["losses"], "figures": figures,
            "eval": {"cfg_scale": CFG_SCALE, "temperature": TEMPERATURE, "images_per_scale": n},
            "torch": torch.__version__, "threads": torch.get_num_threads()}
    with open(done_path + ".tmp", "w") as f:
        json.dump(done, f, indent=1)
    os.replace(done_path + ".tmp", done_path)
    print(json.dumps(figures, indent=1), flush=True)
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps (the cosine schedule's length)")
    parser.add_argument("--force", action="store_true", help="evaluate and sample again even when done.json matches")
    a = parser.parse_args()
    run(a.steps, force=a.force)


if __name__ == "__main__":
    main()
