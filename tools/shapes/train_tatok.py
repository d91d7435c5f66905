"""Stage "tatok": Tar-Shapes' text-aligned tokenizer (TAR_SPEC §1, the paper's §3.1) trained from the teacher.

TA-Tok = the teacher's vision tower (kept as the teacher's: ENCODER_LR_SHARE) → hidden_states[-2] → scale-adaptive
average pooling (scale 1, 2 or 3 per batch) → encode_task_layer → in_linear → L2-normalise → nearest row of the
text-aligned codebook C = normalize(E·Wᵀ + b), where E is the text LM's embedding table (frozen) and only W, b learn
(SimVQ) → straight-through → out_linear → a small SigLIP2-style ViT decoder → decode_task_layer, trained to
reconstruct the frozen teacher's hidden_states[-2] (pooled to the same scale): MSE + cosine distance, plus the
distance as the teacher's own grounding head reads both (KL between its per-patch colour / shape / size predictions
on the target and on the reconstruction). Without that last term the quantiser spent its few used codes on the
features' high-variance directions: single-token colour purity fell to 24% although the teacher's features name the
colour under a patch 99% of the time. The decoder's 6×6 position table is resized per scale with the same
antialiased bilinear resize the converter bakes in, here differentiably.

A second phase then trains the decoder side alone (out_linear, the decoder ViT, decode_task_layer) on the same
loss with the tokens fixed: the encoder and the codebook are frozen, so every token, and the LLM trained on them,
stays as the first phase left it. Its output is the AR de-tokenizer's condition, and after the joint phase the
teacher's grounding head read the right colour from it on only 64% of the object patches of training scenes
(46% on held-out ones), although a single token names its colour 91% of the time; the 1,000 decoder-only steps
take that to 90% / 78% (shape 71 → 81% / 56 → 59%; done.json's decoder_reading). Since the twenty-eighth session
the phase is 6,000 steps and sees off-shape and off-palette scenes beside the training images
(DECODER_OFF_SHAPE): held-out colour 88.9%, shape 96.6% (the tokens of the twenty-sixth session's TA-Tok).

Writes build/shapes/tatok/: ta_tok.pth in the official format ({"model": {"args", "sd"}}) with its teacher folder
siglip2-shapes/config.json, codebook.pt (C, for the LLM's image-token embeddings), indices_{split}_s{scale}.npy
(int16 [N, p²], computed by the converter's own loader on uint8 images), done.json."""
import json
import math
import os
import random

import numpy as np
import torch
import torch.nn.functional as F
from easydict import EasyDict

from tools.convert.reference.tatok import TATok
from tools.convert.tatok import load_tatok
from tools.shapes import common, data, grounding, text, world
from tools.shapes.train_llm import text_embeddings
from tools.shapes.train_teacher import GRID, VISION, VisionTower, pixels

TEACHER_FOLDER = "siglip2-shapes"
DECODER_LAYERS, DECODER_INTERMEDIATE = 2, 192
STEPS, BATCH, LR = 3000, 64, 1e-3
GPU_BATCH = 256   # the joint phase's batch on a GPU (train_jointly)
COMMITMENT = 0.25
GROUNDING_WEIGHT = 10.0
# The grounding heads' shares of that term (colour, shape, size; their mean is 1). Token purity on held-out scenes
# (a code's majority label counted on training scenes), colour / shape, with the encoder frozen on the shipped
# teacher, 3,000 CPU steps: (1.0, 1.5, 0.5) 91.3 / 96.1%, these 92.0 / 95.8%, (1.5, 1.0, 0.5) 94.7 / 94.4%; these
# read held-out small objects' colour and shape alike from the tokens (89.9 / 89.9%; docs/tar-shapes.md,
# "Twenty-sixth session"). With the encoder trained, (1.0, 1.5, 0.5) was chosen on a GPU (eighth run).
GROUNDING_HEAD_WEIGHTS = (1.25, 1.25, 0.5)
ENTROPY_WEIGHT, ENTROPY_TEMPERATURE = 0.03, 0.01
# The same entropy term again over the patches the teacher reads as an object: with the batch-wide term alone the
# codes went to background patches (80% of them) and one code served every colour of a shape's part (colour
# purity 41%); with this one 91%, shape 78% (1,000 steps).
OBJECT_ENTROPY_WEIGHT = 0.3
# The joint phase's learning rate for the encoder (the teacher's vision tower) against the rest's; 0 keeps it the
# teacher's, frozen (and skips its backward pass). Trained at the full rate (share 1, 3,000 CPU steps) the encoder
# forgot what the teacher knew of held-out small objects: a linear probe on its features read their shape 72.8%
# against the teacher's 91.2%, and the tokens 74.2% against 89.9% with it frozen.
ENCODER_LR_SHARE = 0.0
DECODER_STEPS, DECODER_LR = 6000, 5e-4
# Scenes beside the training images in the decoder phase (decoder_extra_images), tokenised as the stage's TA-Tok
# reads them: off-shape scenes (the world's colours at every place, on plus signs) and off-palette renders of
# training scenes. Neither shows a (colour, shape, place) triple of the world, held out or not, but together they show
# the decoder colours at places and on shapes that the training scenes never pair: trained on the training scenes
# alone it redrew held-out tokens in colours seen there (red in the centre as purple, small yellow triangles as
# green). The teacher's grounding head on the decoder's output, held-out colour: 1,000 steps on the training scenes
# 77.8%, 6,000 83.3%, 6,000 with these 88.9% (docs/tar-shapes.md, "Twenty-eighth session").
DECODER_OFF_SHAPE, DECODER_OFF_PALETTE, DECODER_EXTRA_SEED = 4000, 2000, 77
GPU_DECODER_BATCH = 256   # the decoder phase's batch on a GPU (refine_decoder)
DECODER_SCALES = (1, 1, 2, 3)  # drawn per batch: scale 1 (the de-tokenizer's) twice as often
TASK_LAYER_STD = 0.5          # pre-tanh spread of encode_task_layer at the start (see init_task_layer)
SEED = 31


def architecture(codebook_size, code_dim):
    v = VISION
    return {"image_size": v["image_size"], "patch_size": v["patch_size"], "hidden": v["hidden_size"],
            "heads": v["num_attention_heads"], "intermediate": v["intermediate_size"],
            "layers": v["num_hidden_layers"], "eps": v["layer_norm_eps"], "select_layer_id": -2,
            "code_dim": code_dim, "codebook_size": codebook_size, "decoder_hidden": v["hidden_size"],
            "decoder_heads": 12, "decoder_intermediate": DECODER_INTERMEDIATE, "decoder_layers": DECODER_LAYERS,
            "decoder_num_patches": GRID * GRID, "decoder_eps": 1e-6}


def official_args(codebook_size, code_dim):
    return EasyDict({
        "bottleneck": {"name": "bottleneck", "args": {
            "bottleneck_dim": code_dim, "norm": "none",
            "regularizer": {"name": "simvq", "args": {
                "codebook_size": codebook_size, "commitment_loss_weight": COMMITMENT, "codebook_loss_weight": 1.0,
                "entropy_loss_weight": ENTROPY_WEIGHT, "entropy_loss_temperature": ENTROPY_TEMPERATURE, "l2_normalized": True,
                "stochastic": False, "stochastic_temperature": 0.03, "top_k": 1, "top_k_prob": 0.5,
                "residual_weight": 0.0}}}},
        "bottleneck_token_num": GRID * GRID, "input_size": VISION["image_size"],
        "teacher": TEACHER_FOLDER, "ckpt_path": TEACHER_FOLDER, "pool_scale": 1, "rand_scale": True,
        "decoder_depth": DECODER_LAYERS,
    })


def positions(tatok, p):
    """Differentiable twin of Siglip2PatchEmbeddings.resized_positions: [p², Cdec]."""
    table = tatok.decoder.vision_model.embeddings.position_embedding.weight
    side = tatok.decoder.vision_model.embeddings.side
    grid = table.reshape(side, side, -1).permute(2, 0, 1).unsqueeze(0)                  # [1,C,side,side]
    resized = F.interpolate(grid, size=(p, p), mode="bilinear", align_corners=False, antialias=True)
    return resized.reshape(grid.shape[1], p * p).t()


def start_from_teacher(tatok, teacher_state):
    """TA-Tok's encoder := the teacher's vision tower up to the layers TA-Tok reads (no post_layernorm, no head)."""
    tatok.encoder.load_state_dict({k[len("encoder."):]: v for k, v in teacher_state.items()
                                   if k.startswith("encoder.") and not k.startswith(("encoder.post_layernorm.",
                                                                                      "encoder.head."))})


def teacher_features(teacher, x):
    """Frozen teacher's hidden_states[-2]: [B, g², C]."""
    with torch.no_grad():
        return teacher.encoder.hidden_state(x, -2)


def reconstruction_loss(decoded, target):
    """MSE + cosine distance between reconstructed and teacher features [B,p²,C]."""
    return F.mse_loss(decoded, target) + (1 - F.cosine_similarity(decoded, target, dim=-1)).mean()


def step_loss(tatok, teacher, x, scale):
    taught = teacher_features(teacher, x)                                                # [B,g²,C]
    # At share 0 the encoder is the teacher's (train_jointly checks): its features are the target's, run once.
    features = taught if ENCODER_LR_SHARE == 0 else tatok.encode_features(x)             # [B,g²,C]
    target = tatok.avg_pool(taught, scale)                                               # [B,p²,C]
    codes = tatok.project(tatok.avg_pool(features, scale))                               # [B,p²,D] unit
    codebook = tatok.codebook()                                                          # [K,D] unit
    similarity = codes @ codebook.t()                                                    # [B,p²,K]
    chosen = codebook[similarity.argmax(-1)]                                             # [B,p²,D]
    quantised = codes + (chosen - codes).detach()
    p = int(round(codes.shape[1] ** 0.5))
    decoded = tatok.decode_rows(tatok.bottleneck.out_linear(quantised), positions(tatok, p))
    reconstruction = reconstruction_loss(decoded, target)
    read_decoded, read_target = teacher.grounding(decoded), teacher.grounding(target).detach()     # [B,p²,ΣK]
    read = grounding_distance(read_decoded, read_target)
    vq = F.mse_loss(chosen, codes.detach()) + COMMITMENT * F.mse_loss(codes, chosen.detach())
    spread = ENTROPY_WEIGHT * entropy_penalty(similarity.flatten(0, 1))
    on_object = grounding.on_object(read_target[..., : grounding.CLASSES[0]].argmax(-1))          # [B,p²]
    if OBJECT_ENTROPY_WEIGHT and on_object.any():
        spread = spread + OBJECT_ENTROPY_WEIGHT * entropy_penalty(similarity[on_object])
    readings = (read_decoded.detach(), read_target)
    return reconstruction + GROUNDING_WEIGHT * read + vq + spread, reconstruction.item(), readings


def reading_agreement(read_decoded, read_target):
    """The teacher's grounding readings [B,p²,ΣK] of the reconstruction and of the target → per head (colour,
    shape, size) the share of patches where both name the same class."""
    return [(a.argmax(-1) == b.argmax(-1)).float().mean().item()
            for a, b in zip(read_decoded.split(grounding.CLASSES, -1), read_target.split(grounding.CLASSES, -1))]


def entropy_penalty(similarity):
    """The regulariser's entropy loss: each token's soft assignment sharp, the batch's spread over the codebook
    (without it the quantiser collapsed onto 9 of 436 codes). similarity [N,K] cosine."""
    p = F.softmax(similarity / ENTROPY_TEMPERATURE, dim=-1)                              # [N,K]
    per_token = -(p * torch.log(p + 1e-9)).sum(-1).mean()
    average = p.mean(0)
    return per_token + (average * torch.log(average + 1e-9)).sum()


def grounding_distance(logits, target_logits):
    """Mean over the grounding heads, weighted by GROUNDING_HEAD_WEIGHTS, of KL(teacher's reading of the target ‖
    its reading of the reconstruction); logits [B,p²,ΣK]."""
    pairs = zip(logits.split(grounding.CLASSES, -1), target_logits.split(grounding.CLASSES, -1))
    terms = [F.kl_div(F.log_softmax(a, -1), F.log_softmax(b, -1), log_target=True, reduction="none").sum(-1).mean()
             for a, b in pairs]
    return sum(w * t for w, t in zip(GROUNDING_HEAD_WEIGHTS, terms)) / len(terms)


def decode_indices(tatok, codebook, indices):
    """The decoder side alone: indices [B,p²] → reconstructed teacher features [B,p²,C]."""
    p = math.isqrt(indices.shape[1])
    return tatok.decode_rows(tatok.bottleneck.out_linear(codebook[indices]), positions(tatok, p))


def decoder_loss(tatok, teacher, codebook, x, indices, scale):
    """The first phase's reconstruction and grounding terms for fixed tokens indices [B,p²] of images x."""
    target = tatok.avg_pool(teacher_features(teacher, x), scale)                         # [B,p²,C]
    decoded = decode_indices(tatok, codebook, indices)                                   # [B,p²,C]
    reconstruction = reconstruction_loss(decoded, target)
    read = grounding_distance(teacher.grounding(decoded), teacher.grounding(target).detach())
    return reconstruction + GROUNDING_WEIGHT * read, reconstruction.item()


def decoder_side(tatok):
    return [*tatok.bottleneck.out_linear.parameters(), *tatok.decoder.parameters(),
            *tatok.decode_task_layer.parameters()]


def refine_decoder(tatok, teacher, images, indices, clock):
    """Second phase: DECODER_STEPS on decoder_loss, only the decoder side learning (on a GPU: GPU_DECODER_BATCH
    images a step, as many steps as fit in SHAPES_DECODER_SECONDS; common.step_budget).
    images uint8 [N,64,64,3] and indices {scale: [N,p²]} on the model's device. → steps taken."""
    for p in tatok.parameters():
        p.requires_grad_(False)
    params = decoder_side(tatok)
    for p in params:
        p.requires_grad_(True)
    with torch.no_grad():
        codebook = tatok.codebook()                                                      # [K,D], fixed
    optimiser = torch.optim.AdamW(params, lr=DECODER_LR, weight_decay=1e-4)
    rng = random.Random(SEED + 1)
    batch_size = GPU_DECODER_BATCH if common.on_gpu() else BATCH
    budget = common.step_budget(DECODER_STEPS, "SHAPES_DECODER_SECONDS")
    step = 0
    while step < budget.tick(step):
        total = budget.total
        for group in optimiser.param_groups:
            group["lr"] = common.cosine_lr(step, total, DECODER_LR)
        batch = torch.tensor([rng.randrange(len(images)) for _ in range(batch_size)], device=images.device)
        scale = rng.choice(DECODER_SCALES)
        loss, reconstruction = decoder_loss(tatok, teacher, codebook, pixels(images[batch]), indices[scale][batch],
                                            scale)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == total - 1:
            clock.log(f"decoder step {step}/{total} loss {loss.item():.4f} reconstruction {reconstruction:.4f}")
        step += 1
    return step


@torch.no_grad()
def decoder_reading(tatok, teacher, split, count=2000):
    """How often the teacher's grounding head names the right colour / shape / size from the decoder's output
    at scale 1, over the object patches of the split's first `count` scenes (labels from the scenes' geometry)."""
    dev = tatok.codebook().device
    indices = torch.from_numpy(np.load(os.path.join(data.stage_dir("tatok"), f"indices_{split}_s1.npy"))
                               .astype(np.int64))[:count].to(dev)                        # [N,g²]
    labels = torch.from_numpy(grounding.labels(split, GRID)[:count].astype(np.int64)).flatten(2).to(dev)  # [N,3,g²]
    heads = teacher.grounding(decode_indices(tatok, tatok.codebook(), indices)).split(grounding.CLASSES, -1)
    on_object = grounding.on_object(labels[:, 0])
    return {name: round((heads[k].argmax(-1)[on_object] == labels[:, k][on_object]).float().mean().item(), 4)
            for k, name in enumerate(("colour", "shape", "size"))}


@torch.no_grad()
def init_task_layer(tatok, features):
    """encode_task_layer (Linear → tanh) starts centred on the encoder's features and with TASK_LAYER_STD spread
    before the tanh. The grounded teacher's features have norm ~36 around a common mean of norm ~25; with the
    default init the tanh saturated on that mean, every token looked alike and the quantiser collapsed onto 9
    codes. features [N,C] from the encoder."""
    linear = tatok.encode_task_layer[0]
    centred = features - features.mean(0)
    torch.nn.init.normal_(linear.weight, std=TASK_LAYER_STD / (centred.pow(2).sum(-1).mean().sqrt().item()))
    linear.bias.copy_(-linear.weight @ features.mean(0))


def write_checkpoint(folder, tatok, teacher_state, args):
    os.makedirs(os.path.join(folder, TEACHER_FOLDER), exist_ok=True)
    with open(os.path.join(folder, TEACHER_FOLDER, "config.json"), "w") as f:
        json.dump({"model_type": "siglip", "architectures": ["SiglipModel"], "vision_config": VISION}, f, indent=2)
    sd = {k: v.detach().cpu().clone() for k, v in tatok.state_dict().items()}
    sd.update({k: v for k, v in teacher_state.items() if k.startswith(("encoder.post_layernorm.", "encoder.head."))})
    path = os.path.join(folder, "ta_tok.pth")
    common.save_atomic({"model": {"args": args, "sd": sd}}, path)
    return path


@torch.no_grad()
def encode_indices(model, images):
    """The converter's loaded TA-Tok `model` (on the stage's device) on uint8 images [N,64,64,3] → {scale: int64
    [N, p²]} on the CPU: one encoder pass per image, every pool scale."""
    dev = common.device()
    codebook = model.codebook()
    out = {scale: [] for scale in text.SCALES}
    for start in range(0, len(images), 256):
        features = model.encode_features(model.preprocess(images[start:start + 256].to(dev)))
        for scale in text.SCALES:
            out[scale].append(model.nearest(model.project(model.avg_pool(features, scale)), codebook).cpu())
    return {scale: torch.cat(rows).long() for scale, rows in out.items()}


def write_indices(folder, path):
    """Indices of every image at every scale, by the converter's loader (encode_indices); → the loaded model, on
    the CPU."""
    model = load_tatok(path)[0].to(common.device())
    for split in data.SPLITS:
        indices = encode_indices(model, torch.from_numpy(data.images(split)))
        for scale in text.SCALES:
            np.save(os.path.join(folder, f"indices_{split}_s{scale}.npy"), indices[scale].numpy().astype(np.int16))
    return model.cpu()


def decoder_extra_images(off_shape=None, off_palette=None):
    """uint8 [off_shape + off_palette, 64, 64, 3] (default DECODER_OFF_SHAPE, DECODER_OFF_PALETTE), seeded: first
    world.off_shape_scene renders, then world.render_off_palette renders of training scenes drawn at random."""
    off_shape = DECODER_OFF_SHAPE if off_shape is None else off_shape
    off_palette = DECODER_OFF_PALETTE if off_palette is None else off_palette
    rng = random.Random(DECODER_EXTRA_SEED)
    images = [world.render(world.off_shape_scene(rng)) for _ in range(off_shape)]
    if off_palette:
        scenes = data.scene_list("train")
        images += [world.render_off_palette(scenes[rng.randrange(len(scenes))], rng) for _ in range(off_palette)]
    return np.stack(images) if images else np.zeros((0, world.IMAGE_SIZE, world.IMAGE_SIZE, 3), np.uint8)


def token_purity(indices, labels, scored=None):
    """How much one image token says on its own, at scale 1 (a token per teacher patch): over the patches an
    object covers, the share whose colour / shape / size equals the majority label of the patches sharing their
    code. indices int [N, g²], labels int [N, 3, g, g] (grounding.scene_labels) → {attribute: share}.
    scored: (indices, labels) of other scenes (e.g. held-out ones), scored by the majorities counted here."""
    codes = indices.reshape(-1).astype(np.int64)
    on_object = grounding.on_object(labels[:, 0].reshape(-1))
    scored_codes, scored_labels = (codes, labels) if scored is None else \
        (scored[0].reshape(-1).astype(np.int64), scored[1])
    scored_on_object = grounding.on_object(scored_labels[:, 0].reshape(-1))
    vocabulary = max(codes.max(), scored_codes.max()) + 1
    out = {}
    for head, name in enumerate(("colour", "shape", "size")):
        label = labels[:, head].reshape(-1).astype(np.int64)
        table = np.zeros((vocabulary, grounding.CLASSES[head]), dtype=np.int64)                     # [codes, classes]
        np.add.at(table, (codes[on_object], label[on_object]), 1)
        majority = table.argmax(1)
        scored_label = scored_labels[:, head].reshape(-1).astype(np.int64)
        out[name] = float((majority[scored_codes] == scored_label)[scored_on_object].mean())
    return out


def run():
    folder = data.stage_dir("tatok")
    if common.is_done(folder):
        print("tatok: done already")
        return
    common.setup(SEED)
    clock = common.Clock("tatok")
    embeddings = text_embeddings()                                                       # E [K, D]
    teacher, teacher_state = frozen_teacher()
    tatok = TATok(architecture(embeddings.shape[0], embeddings.shape[1]))
    start_from_teacher(tatok, teacher_state)
    regulariser = tatok.bottleneck.regularizer
    regulariser.embedding.weight.data.copy_(embeddings)
    regulariser.embedding.weight.requires_grad_(False)
    images = torch.from_numpy(data.images("train"))
    joint, joint_figures = os.path.join(folder, "joint.pt"), os.path.join(folder, "joint.json")
    if os.path.exists(joint):
        tatok.load_state_dict(torch.load(joint))
        clock.log(f"joint phase: loaded {joint}")
    else:
        dev = common.device()
        steps = train_jointly(tatok.to(dev), teacher.to(dev), images.to(dev), clock)
        tatok.cpu()
        teacher.cpu()
        common.save_atomic(tatok.state_dict(), joint)
        with open(joint_figures, "w") as f:
            json.dump({"steps": steps, "batch": GPU_BATCH if common.on_gpu() else BATCH, "device": str(dev)}, f)
    tatok.eval()
    args = official_args(embeddings.shape[0], embeddings.shape[1])
    model = write_indices(folder, write_checkpoint(folder, tatok, teacher_state, args))
    with torch.no_grad():
        torch.save(model.codebook().detach().clone(), os.path.join(folder, "codebook.pt"))
    reading = {"joint": {split: decoder_reading(tatok, teacher, split) for split in ("train", "test")}}
    decoder_steps = decoder_phase(folder, tatok, teacher, teacher_state, images, args, reading, clock)
    used = {s: int(len(np.unique(np.load(os.path.join(folder, f"indices_train_s{s}.npy"))))) for s in text.SCALES}
    train_tokens = (np.load(os.path.join(folder, "indices_train_s1.npy")), grounding.labels("train", GRID))
    purity = token_purity(*train_tokens)
    held_out = token_purity(*train_tokens, scored=(np.load(os.path.join(folder, "indices_test_s1.npy")),
                                                   grounding.labels("test", GRID)))
    clock.log(f"codes used per scale {used}; single-token purity on object patches {purity}, "
              f"held-out scenes {held_out}")
    with open(joint_figures) as f:
        joint_phase = json.load(f)
    common.mark_done(folder, {"steps": joint_phase["steps"], "decoder_steps": decoder_steps,
                              "decoder_extra_images": [DECODER_OFF_SHAPE, DECODER_OFF_PALETTE],
                              "batch": joint_phase["batch"], "joint_device": joint_phase["device"],
                              "codes_used": used, "token_purity": purity, "token_purity_held_out": held_out,
                              "decoder_reading": reading, "minutes": clock.minutes()})


def decoder_phase(folder, tatok, teacher, teacher_state, images, args, reading, clock):
    """The second phase on the training images with the indices the first wrote, and decoder_extra_images with
    the indices ta_tok.pth (the first phase's tokens) gives them; then ta_tok.pth again and the teacher's reading
    of the refined decoder (into `reading`). → steps taken."""
    dev = common.device()
    extra = torch.from_numpy(decoder_extra_images())
    extra_indices = encode_indices(load_tatok(os.path.join(folder, "ta_tok.pth"))[0].to(dev), extra)
    clock.log(f"decoder phase: {len(images)} training images and {len(extra)} off-shape / off-palette ones")
    tatok.to(dev)
    teacher.to(dev)
    stored = {s: np.load(os.path.join(folder, f"indices_train_s{s}.npy")).astype(np.int64) for s in text.SCALES}
    indices = {s: torch.cat([torch.from_numpy(stored[s]), extra_indices[s]]).to(dev) for s in text.SCALES}
    steps = refine_decoder(tatok, teacher, torch.cat([images, extra]).to(dev), indices, clock)
    tatok.eval()
    write_checkpoint(folder, tatok, teacher_state, args)
    reading["decoder_refined"] = {split: decoder_reading(tatok, teacher, split) for split in ("train", "test")}
    clock.log(f"teacher's reading of the decoder's output on object patches {reading}")
    return steps


def rerun_decoder_phase():
    """`train_tatok decoder`: the second phase again from joint.pt on a finished stage (tokens, codebook and
    indices stay as they are), e.g. longer on a GPU; done.json's decoder figures are replaced."""
    folder = data.stage_dir("tatok")
    with open(common.done_path(folder)) as f:
        done = json.load(f)
    common.setup(SEED)
    clock = common.Clock("tatok decoder")
    embeddings = text_embeddings()
    teacher, teacher_state = frozen_teacher()
    tatok = TATok(architecture(embeddings.shape[0], embeddings.shape[1]))
    tatok.load_state_dict(torch.load(os.path.join(folder, "joint.pt")))
    tatok.eval()
    reading = {"joint": done["decoder_reading"]["joint"]}
    steps = decoder_phase(folder, tatok, teacher, teacher_state, torch.from_numpy(data.images("train")),
                          official_args(embeddings.shape[0], embeddings.shape[1]), reading, clock)
    common.mark_done(folder, {**done, "decoder_steps": steps, "decoder_batch": GPU_DECODER_BATCH if common.on_gpu()
                              else BATCH, "decoder_device": str(common.device()), "decoder_reading": reading,
                              "decoder_extra_images": [DECODER_OFF_SHAPE, DECODER_OFF_PALETTE]})


def frozen_teacher():
    teacher = VisionTower()
    teacher_state = torch.load(os.path.join(data.stage_dir("teacher"), "teacher.pt"))["vision"]
    teacher.load_state_dict(teacher_state)
    teacher.eval().requires_grad_(False)
    return teacher, teacher_state


def train_jointly(tatok, teacher, images, clock):
    """First phase: quantiser and decoder together on step_loss, the encoder at ENCODER_LR_SHARE of their rate (0:
    frozen) and E frozen. On a GPU: GPU_BATCH
    images a step, as many steps as fit in SHAPES_TATOK_SECONDS (common.step_budget).
    images uint8 [N,64,64,3] on the models' device. → steps taken."""
    tatok.encoder.requires_grad_(ENCODER_LR_SHARE > 0)
    if ENCODER_LR_SHARE == 0:
        with torch.no_grad():
            probe = pixels(images[:8])
            if not torch.allclose(tatok.encode_features(probe), teacher_features(teacher, probe), rtol=1e-4, atol=1e-5):
                raise ValueError("ENCODER_LR_SHARE is 0 but TA-Tok's encoder is not the teacher's "
                                 "(start_from_teacher)")
    optimiser = common.encoder_share_optimiser(tatok, ENCODER_LR_SHARE)
    rng = random.Random(SEED)
    with torch.no_grad():
        init_task_layer(tatok, tatok.encode_features(pixels(images[:256])).flatten(0, 1))
    batch_size = GPU_BATCH if common.on_gpu() else BATCH
    budget = common.step_budget(STEPS, "SHAPES_TATOK_SECONDS")
    step = 0
    while step < budget.tick(step):
        total = budget.total
        common.set_shared_lr(optimiser, common.cosine_lr(step, total, LR))
        batch = torch.tensor([rng.randrange(len(images)) for _ in range(batch_size)], device=images.device)
        loss, reconstruction, readings = step_loss(tatok, teacher, pixels(images[batch]), rng.choice(text.SCALES))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == total - 1:
            clock.log(f"step {step}/{total} loss {loss.item():.4f} reconstruction {reconstruction:.4f} teacher's "
                      "reading of the reconstruction = of the target (colour/shape/size, all patches) "
                      + "/".join(f"{a:.3f}" for a in reading_agreement(*readings)))
        step += 1
    return step


if __name__ == "__main__":
    import sys
    rerun_decoder_phase() if sys.argv[1:] == ["decoder"] else run()
