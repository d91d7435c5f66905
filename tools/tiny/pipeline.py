"""The end-to-end pipeline golden of the tiny package (tests/fixtures/goldens/pipeline.safetensors, component
"pipeline"): the torch reference modules loaded from the tiny checkpoints (the same files make_tiny converts),
run through tools/convert/reference/pipeline.py with fixed uniforms.

    understanding: an image (37×50, squashed to the TA-Tok input) → indices at pool scale 1
    chat:          system + user turn "<I..>×grid² \\n QUESTION" → greedy (temperature 0) text tokens
    chat, views:   the same, the picture read at CHAT_VIEWS test-time views, greedy on their mean log-probabilities
    text-to-image: t2i prompt ending <im_start><S{pool_scale-1}> → grid² image tokens (LLM, image range only,
                   fixed uniforms) → codebook indices → TA-Tok decoder features → AR-DTok (CFG, zero condition,
                   own uniforms) → maxSeqLen VQ codes → VQ decoder → uint8 image

Uniforms are float32 values (what safetensors can hold exactly) from a seeded generator; one lying within U_GAP of
a cumulative boundary is moved to the middle of its token's interval, and every decision keeps its greedy / top-k
margins above LOGIT_GAP and its top-p margin above P_GAP (else generation stops with an error), so an
implementation whose logits are within ~1e-4 of these draws the same tokens.
Golden names: see GOLDEN_NAMES and docs/engine.md "Pipeline goldens"."""
import numpy as np
import torch

from tools.convert.ardtok import build_checked as build_ardtok
from tools.convert.llm import read_config, read_token_ids
from tools.convert.package import DEFAULT_SAMPLING
from tools.convert.reference.pipeline import Chooser, Sampling, detokenize, llm_generate, understand, understand_views
from tools.convert.reference.vq import to_uint8_hwc
from tools.convert.tatok import load_tatok
from tools.convert.tokenizer import Encoder, build_tokenizer_json
from tools.convert.vq import build_checked as build_vq
from tools.tiny.llm import PROMPT, SYSTEM, load_reference, t2i_prompt

POOL_SCALE = 2             # text-to-image grid: floor(8 / 2)² = 16 image tokens (prompt ends <S1>)
UNDERSTAND_SCALE = 1       # understanding uses pool scale 1 (TAR_SPEC §1.4)
LLM_TOP_K = 20             # the manifest's 1200 would keep every one of the 256 tiny image tokens
CHAT_NEW_TOKENS = 8
CHAT_VIEWS = 5
QUESTION = "Describe the image."
IMAGE_HW = (37, 50)
MARGINS = {"u_gap": 2e-3, "logit_gap": 5e-4, "p_gap": 2e-4}
SEED = 2024

GOLDEN_NAMES = (
    "understand.image_rgb", "understand.pool_scale", "understand.pixel_values", "understand.indices",
    "chat.prompt_text", "chat.prompt_ids", "chat.temperature", "chat.max_new_tokens", "chat.logits", "chat.new_ids",
    "chat_views.views", "chat_views.indices", "chat_views.mean_log_probs", "chat_views.new_ids",
    "t2i.prompt", "t2i.prompt_text", "t2i.prompt_ids", "t2i.pool_scale", "t2i.temperature", "t2i.top_k",
    "t2i.top_p", "t2i.token_range", "t2i.uniforms", "t2i.logits", "t2i.token_ids", "t2i.indices", "t2i.features",
    "detok.cfg_scale", "detok.temperature", "detok.top_k", "detok.top_p", "detok.uniforms", "detok.logits",
    "detok.cfg_logits", "detok.codes", "vq.image", "vq.image_uint8",
)


def test_image():
    """A smooth 37×50 RGB picture (gradients and a disc) with seeded noise, uint8 [H,W,3]."""
    h, w = IMAGE_HW
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    disc = (((y - 18) ** 2 + (x - 30) ** 2) < 100).float()
    rgb = torch.stack([x / w * 200 + 40 * disc, y / h * 180, 120 + 100 * disc], dim=-1)
    noise = torch.randint(-12, 13, (h, w, 3), generator=torch.Generator().manual_seed(SEED)).float()
    return (rgb + noise).clamp(0, 255).to(torch.uint8)


def uniforms(count, seed):
    return torch.rand(count, generator=torch.Generator().manual_seed(seed)).tolist()   # float32 values


def text_bytes(text):
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def scalar(value, dtype):
    return torch.tensor([value], dtype=dtype)


@torch.no_grad()
def chat_prompt_text(indices):
    """The understanding prompt: the picture's image tokens, then the question."""
    image_text = "".join(f"<I{k}>" for k in indices.tolist())
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{image_text}\n{QUESTION}<|im_end|>\n"
            "<|im_start|>assistant\n")


def goldens(checkpoints, margins=None):
    """checkpoints: {component: path} as written by tools/tiny/<component>.py write_checkpoint."""
    tatok, tatok_arch, _ = load_tatok(checkpoints["tatok"])
    llm = load_reference(checkpoints["llm"])
    tokenizer = build_tokenizer_json(checkpoints["llm"])
    tokens, _ = read_token_ids(checkpoints["llm"], read_config(checkpoints["llm"]), tokenizer)
    encoder = Encoder(tokenizer)
    ardtok, _ = build_ardtok(checkpoints["ardtok"])
    vq, _ = build_vq(checkpoints["vq"])
    margins = MARGINS if margins is None else margins
    out = {}

    # understanding: image → indices
    image = test_image()
    pixel_values, indices = understand(tatok, image, UNDERSTAND_SCALE)
    out.update({"understand.image_rgb": image, "understand.pool_scale": scalar(UNDERSTAND_SCALE, torch.int64),
                "understand.pixel_values": pixel_values, "understand.indices": indices})

    # chat: the understanding prompt (image tokens then the question), greedy
    chat_text = chat_prompt_text(indices)
    chat_ids = encoder.encode(chat_text)
    chat = Chooser(Sampling(temperature=0.0), **margins)
    new_ids = llm_generate(llm, chat_ids, CHAT_NEW_TOKENS, chat, stop_ids=tuple(tokens["eos"]))
    out.update({"chat.prompt_text": text_bytes(chat_text), "chat.prompt_ids": torch.tensor(chat_ids),
                "chat.temperature": scalar(0.0, torch.float32), "chat.max_new_tokens": scalar(CHAT_NEW_TOKENS, torch.int64),
                "chat.logits": torch.from_numpy(np.stack(chat.logits)), "chat.new_ids": torch.tensor(new_ids)})

    # chat with test-time views: each view's prompt on its own cache, greedy on the mean log-probabilities
    seen = understand_views(tatok, image, CHAT_VIEWS, UNDERSTAND_SCALE)
    view_prompts = [encoder.encode(chat_prompt_text(read)) for read in seen]
    views = Chooser(Sampling(temperature=0.0), **margins)
    view_ids = llm_generate(llm, view_prompts[0], CHAT_NEW_TOKENS, views, stop_ids=tuple(tokens["eos"]), views=view_prompts[1:])
    out.update({"chat_views.views": scalar(CHAT_VIEWS, torch.int64), "chat_views.indices": torch.stack(seen),
                "chat_views.mean_log_probs": torch.from_numpy(np.stack(views.logits)), "chat_views.new_ids": torch.tensor(view_ids)})

    # text-to-image: prompt → image tokens → indices
    grid = tatok_arch["image_size"] // tatok_arch["patch_size"] // POOL_SCALE
    t2i_text = t2i_prompt(PROMPT, scale=POOL_SCALE - 1)
    t2i_ids = encoder.encode(t2i_text)
    base, count = tokens["imageTokenBase"], tokens["imageTokenCount"]
    t2i = DEFAULT_SAMPLING["textToImage"]
    llm_sampling = Sampling(temperature=t2i["temperature"], top_k=LLM_TOP_K, top_p=t2i["topP"], lo=base, hi=base + count)
    llm_choose = Chooser(llm_sampling, uniforms(grid * grid, SEED + 1), **margins)
    token_ids = llm_generate(llm, t2i_ids, grid * grid, llm_choose)
    image_indices = torch.tensor(token_ids) - base
    features = tatok.decode(image_indices.unsqueeze(0))[0]
    out.update({"t2i.prompt": text_bytes(PROMPT), "t2i.prompt_text": text_bytes(t2i_text),
                "t2i.prompt_ids": torch.tensor(t2i_ids), "t2i.pool_scale": scalar(POOL_SCALE, torch.int64),
                "t2i.temperature": scalar(llm_sampling.temperature, torch.float32),
                "t2i.top_k": scalar(llm_sampling.top_k, torch.int64), "t2i.top_p": scalar(llm_sampling.top_p, torch.float32),
                "t2i.token_range": torch.tensor([base, base + count]),
                "t2i.uniforms": torch.tensor(llm_choose.used, dtype=torch.float32),
                "t2i.logits": torch.from_numpy(np.stack(llm_choose.logits)), "t2i.token_ids": torch.tensor(token_ids),
                "t2i.indices": image_indices, "t2i.features": features})

    # de-tokenizer: features → VQ codes (CFG with a zero condition), then pixels
    detok = DEFAULT_SAMPLING["detokenizer"]
    detok_sampling = Sampling(temperature=detok["temperature"], top_k=detok["topK"], top_p=detok["topP"],
                              guidance=detok["cfgScale"])
    detok_choose = Chooser(detok_sampling, uniforms(ardtok.args.max_seq_len, SEED + 2), **margins)
    codes = detokenize(ardtok, features, detok_choose)
    side = int(round(len(codes) ** 0.5))
    logits = np.stack(detok_choose.logits)                                       # [steps, 2, V]
    cfg = logits[:, 1] + np.float32(detok_sampling.guidance) * (logits[:, 0] - logits[:, 1])
    pixels = vq(torch.tensor(codes).reshape(1, side, side))
    out.update({"detok.cfg_scale": scalar(detok_sampling.guidance, torch.float32),
                "detok.temperature": scalar(detok_sampling.temperature, torch.float32),
                "detok.top_k": scalar(detok_sampling.top_k, torch.int64),
                "detok.top_p": scalar(detok_sampling.top_p, torch.float32),
                "detok.uniforms": torch.tensor(detok_choose.used, dtype=torch.float32),
                "detok.logits": torch.from_numpy(logits), "detok.cfg_logits": torch.from_numpy(cfg),
                "detok.codes": torch.tensor(codes), "vq.image": pixels, "vq.image_uint8": to_uint8_hwc(pixels)[0]})
    assert tuple(sorted(out)) == tuple(sorted(GOLDEN_NAMES)), sorted(set(out) ^ set(GOLDEN_NAMES))
    return {k: v.contiguous() for k, v in out.items()}
