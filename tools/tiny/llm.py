"""A tiny random Tar LLM folder in the official layout (TAR_SPEC §2.5): config.json (model_type "llava_qwen",
Tar token ids), generation_config.json, two bf16 safetensors shards + model.safetensors.index.json (with a
`model.vision_tower.*` tensor the converter must skip), and the SLOW tokenizer files (vocab.json, merges.txt,
added_tokens.json, tokenizer_config.json, special_tokens_map.json; no tokenizer.json, so the converter builds it).

Sizes: hidden 64, 2 layers, 4 heads / 2 KV heads (head dim 16), intermediate 128, tied embeddings, vocabulary =
the tiny tokenizer: 256 byte tokens + learned merges + <|endoftext|> <|im_start|> <|im_end|> + <im_start>
<im_end> <S0..S2> <I0..I255> (256 = the tiny TA-Tok codebook).

Goldens (names = graph inputs/outputs with a step prefix):
  prompt.text (UTF-8 bytes, uint8), prompt.input_ids [T] int64: the text-to-image prompt of TAR_SPEC §2.3
  prefill.input.{input_ids,attention_mask,position_ids,past_key_values.{i}.{key,value}} (past has length 0)
  prefill.output.{logits,present.{i}.{key,value}}
  decode.input.* (one token <I7> after the prompt, past = prefill presents), decode.output.*
  batch.input.* / batch.output.*: batch of 2, second row left-padded (attention_mask 0, position 1 there)
"""
import json
import os
from collections import Counter

import torch

from tools.convert.llm import load_weights, model_config, read_config, read_token_ids
from tools.convert.reference.qwen2 import Qwen2ForCausalLM
from tools.convert.safetensors_io import save_file
from tools.convert.tokenizer import _PY_PATTERN, Encoder, build_tokenizer_json, bytes_to_unicode

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 64, 2, 4, 2, 128
IMAGE_TOKENS = 256
SCALE_TOKENS = 3
MERGES = 48
SYSTEM = "You are a helpful assistant."
PROMPT = "a red circle"
CORPUS = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
          "a red circle. a blue square on a white background. a photo of a cat and a dog in the garden. "
          "Describe the image. What is in the picture? The assistant answers the user."
          "<|im_end|>\n<|im_start|>assistant\n")


def t2i_prompt(prompt, scale=0):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n"
            f"<|im_start|>assistant\n<im_start><S{scale}>")


def learn_merges(text, count):
    """Plain byte-level BPE training (most frequent pair, ties by the pair's strings) on `text`."""
    byte_map = bytes_to_unicode()
    words = Counter()
    for special in ("<|im_start|>", "<|im_end|>"):
        text = text.replace(special, " ")
    for piece in _PY_PATTERN.findall(text):
        words[tuple(byte_map[b] for b in piece.encode("utf-8"))] += 1
    merges = []
    for _ in range(count):
        pairs = Counter()
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = Counter()
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    return merges


def write_tokenizer_files(folder, corpus=CORPUS, merge_count=MERGES, image_tokens=IMAGE_TOKENS):
    """Slow tokenizer files (byte-level BPE learned on `corpus`, then Tar's added tokens); returns the ids of the
    added tokens by content and the vocabulary size."""
    vocab = {}
    for ch in bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    merges = learn_merges(corpus, merge_count)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = []  # (content, special, normalized)
    added += [(t, True, False) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")]
    added += [(t, True, False) for t in ("<im_start>", "<im_end>")]          # add_tokens(special_tokens=True)
    added += [(f"<S{s}>", False, True) for s in range(SCALE_TOKENS)]        # add_tokens(special_tokens=False)
    added += [(f"<I{k}>", False, True) for k in range(image_tokens)]
    ids = {content: len(vocab) + i for i, (content, _, _) in enumerate(added)}
    write_whole(os.path.join(folder, "vocab.json"), json.dumps(vocab, ensure_ascii=False))
    write_whole(os.path.join(folder, "merges.txt"), "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    write_whole(os.path.join(folder, "added_tokens.json"), json.dumps(ids, indent=2))
    decoder = {str(ids[c]): {"content": c, "lstrip": False, "normalized": normalized, "rstrip": False,
                             "single_word": False, "special": special} for c, special, normalized in added}
    tokenizer_config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
                        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
                        "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
                        "model_max_length": 512, "pad_token": "<|endoftext|>", "split_special_tokens": False,
                        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    write_whole(os.path.join(folder, "tokenizer_config.json"), json.dumps(tokenizer_config, indent=2))
    special_map = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
                   "eos_token": {"content": "<|im_end|>", "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False},
                   "pad_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False}}
    write_whole(os.path.join(folder, "special_tokens_map.json"), json.dumps(special_map, indent=2))
    return ids, len(vocab) + len(added)


def write_whole(path, content):
    """Writes UTF-8 `content` to `path` through a file of this process's own, then renames it: a process reading
    the file while another rewrites it (Tar-Shapes stages side by side) sees the old or the new text whole."""
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(content)
    os.replace(partial, path)


def random_state_dict(vocab_size, seed):
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std):
        return torch.randn(*shape, generator=g) * std

    head_dim = HIDDEN // HEADS
    sd = {"model.embed_tokens.weight": randn(vocab_size, HIDDEN, std=0.5),
          "model.norm.weight": 1 + randn(HIDDEN, std=0.1)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = randn(HEADS * head_dim, HIDDEN, std=0.15)
        sd[p + "self_attn.q_proj.bias"] = randn(HEADS * head_dim, std=0.1)
        sd[p + "self_attn.k_proj.weight"] = randn(KV_HEADS * head_dim, HIDDEN, std=0.15)
        sd[p + "self_attn.k_proj.bias"] = randn(KV_HEADS * head_dim, std=0.1)
        sd[p + "self_attn.v_proj.weight"] = randn(KV_HEADS * head_dim, HIDDEN, std=0.15)
        sd[p + "self_attn.v_proj.bias"] = randn(KV_HEADS * head_dim, std=0.1)
        sd[p + "self_attn.o_proj.weight"] = randn(HIDDEN, HEADS * head_dim, std=0.15)
        sd[p + "mlp.gate_proj.weight"] = randn(INTERMEDIATE, HIDDEN, std=0.15)
        sd[p + "mlp.up_proj.weight"] = randn(INTERMEDIATE, HIDDEN, std=0.15)
        sd[p + "mlp.down_proj.weight"] = randn(HIDDEN, INTERMEDIATE, std=0.1)
        sd[p + "input_layernorm.weight"] = 1 + randn(HIDDEN, std=0.1)
        sd[p + "post_attention_layernorm.weight"] = 1 + randn(HIDDEN, std=0.1)
    return {k: v.to(torch.bfloat16) for k, v in sd.items()}


def write_weights(folder, state_dict, extra=None):
    """Two bf16 shards + model.safetensors.index.json, as transformers saves a sharded model."""
    keys = sorted(state_dict)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    extra = extra or {}
    weight_map = {}
    for name, names in shards.items():
        tensors = {k: state_dict[k] for k in names}
        if name.startswith("model-00002"):
            tensors.update(extra)
        save_file(tensors, os.path.join(folder, name), {"format": "pt"})
        weight_map.update({k: name for k in tensors})
    total = sum(t.numel() * t.element_size() for t in list(state_dict.values()) + list(extra.values()))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def folder_config(ids, vocab_size, hidden=HIDDEN, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
                  intermediate=INTERMEDIATE, image_tokens=IMAGE_TOKENS, max_positions=512, rope_theta=1000000.0):
    """config.json of a Tar LLM folder (model_type llava_qwen, Tar's token ids from `ids`)."""
    return {
        "architectures": ["LlavaQwenForCausalLM"], "model_type": "llava_qwen",
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "intermediate_size": intermediate, "hidden_act": "silu",
        "rms_norm_eps": 1e-6, "rope_theta": rope_theta, "rope_scaling": None, "vocab_size": vocab_size,
        "tie_word_embeddings": True, "max_position_embeddings": max_positions, "use_sliding_window": False,
        "sliding_window": max_positions, "max_window_layers": layers, "attention_dropout": 0.0,
        "torch_dtype": "bfloat16",
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "use_cache": True,
        "image_start_tag_id": ids["<im_start>"], "image_end_tag_id": ids["<im_end>"],
        "scale_start_token_id": ids["<S0>"], "scale_end_token_id": ids[f"<S{SCALE_TOKENS - 1}>"],
        "num_scale_tokens": SCALE_TOKENS, "image_start_token_id": ids["<I0>"],
        "image_end_token_id": ids[f"<I{image_tokens - 1}>"], "num_image_tokens": image_tokens,
        "num_new_tokens": 2 + SCALE_TOKENS + image_tokens,
        "mm_vision_tower": "ta_tok.pth", "mm_use_im_start_end": True, "mm_vision_select_layer": -2,
    }


def write_folder(folder, ids, config, state_dict):
    """config.json, generation_config.json and the bf16 shards (plus a vision-tower tensor, as the official
    folder has) of a Tar LLM folder whose tokenizer files are already written."""
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    generation = {"bos_token_id": ids["<|endoftext|>"], "pad_token_id": ids["<|endoftext|>"], "do_sample": True,
                  "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "repetition_penalty": 1.05,
                  "temperature": 0.7, "top_p": 0.8, "top_k": 20}
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(generation, f, indent=2)
    tower = {"model.vision_tower.vision_tower.scale_layer.shift": torch.full((1, 3, 1, 1), 0.5).to(torch.bfloat16)}
    write_weights(folder, {k: v.to(torch.bfloat16) for k, v in state_dict.items()}, tower)
    return folder


def write_checkpoint(folder, seed):
    os.makedirs(folder, exist_ok=True)
    ids, vocab_size = write_tokenizer_files(folder)
    return write_folder(folder, ids, folder_config(ids, vocab_size), random_state_dict(vocab_size, seed))


def load_reference(folder):
    config = read_config(folder)
    reference = Qwen2ForCausalLM(model_config(config))
    reference, _ = load_weights(folder, reference, reference.config.tie_word_embeddings)
    return reference


def _step(prefix, inputs, outputs, layers):
    names = ["input_ids", "attention_mask", "position_ids"]
    for i in range(layers):
        names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    out_names = ["logits"]
    for i in range(layers):
        out_names += [f"present.{i}.key", f"present.{i}.value"]
    result = {f"{prefix}.input.{n}": t.contiguous() for n, t in zip(names, inputs)}
    result.update({f"{prefix}.output.{n}": t.contiguous() for n, t in zip(out_names, outputs)})
    return result


def goldens(checkpoint_path):
    folder = checkpoint_path
    reference = load_reference(folder)
    tokenizer = build_tokenizer_json(folder)
    tokens, _ = read_token_ids(folder, read_config(folder), tokenizer)
    encoder = Encoder(tokenizer)
    text = t2i_prompt(PROMPT)
    ids = encoder.encode(text)
    layers = reference.config.num_hidden_layers
    t = len(ids)
    result = {"prompt.text": torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8),
              "prompt.input_ids": torch.tensor(ids, dtype=torch.int64)}
    with torch.no_grad():
        prefill = (torch.tensor([ids]), torch.ones(1, t, dtype=torch.int64), torch.arange(t).unsqueeze(0),
                   *reference.empty_past(1))
        out = reference(*prefill)
        result.update(_step("prefill", prefill, out, layers))
        decode = (torch.tensor([[tokens["imageTokenBase"] + 7]]), torch.ones(1, t + 1, dtype=torch.int64),
                  torch.tensor([[t]]), *out[1:])
        result.update(_step("decode", decode, reference(*decode), layers))
        other = encoder.encode(t2i_prompt("a dog", scale=2))
        pad = t - len(other)
        assert pad > 0
        batch_ids = torch.tensor([ids, [tokens["pad"]] * pad + other])
        mask = torch.ones(2, t, dtype=torch.int64)
        mask[1, :pad] = 0
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        batch = (batch_ids, mask, positions, *reference.empty_past(2))
        result.update(_step("batch", batch, reference(*batch), layers))
    return result
