"""The Tar LLM (TAR_SPEC §2): a Hugging Face Qwen2 folder → `llm/model.onnx` (KV-cached decoder graph),
`llm/tokenizer.json`, and the manifest's `llm` component (config, token ids, system prompt).

Input folder (TAR_SPEC §2.5): `config.json` (model_type "llava_qwen" or "qwen2", Qwen2 fields and Tar's token ids),
optional `generation_config.json`, `model.safetensors` or shards + `model.safetensors.index.json` (bf16/f16/f32),
tokenizer files (`tokenizer.json`, or the slow `vocab.json` + `merges.txt` + `added_tokens.json` +
`tokenizer_config.json` [+ `special_tokens_map.json`]).

Keys `model.vision_tower.*` (the TA-Tok tower that LLaVA-style training saves with the LLM) and
`*.rotary_emb.inv_freq` (a derived buffer older transformers versions saved) are skipped on purpose; every
other unknown key is an error, as is a missing key or a wrong shape.
"""
import os
import warnings

import torch

from .checks import load_checked
from .errors import ConversionError
from .files import read_json
from .reference.qwen2 import Qwen2Config, Qwen2ForCausalLM, Qwen2ForExport
from .safetensors_io import load_folder
from .tokenizer import token_ids, vocabulary_size, write_tokenizer

MODEL_TYPES = ("llava_qwen", "qwen2")
SKIPPED_PREFIXES = ("model.vision_tower.",)
SKIPPED_SUFFIXES = (".rotary_emb.inv_freq",)
SYSTEM_PROMPT = "You are a helpful assistant."
REQUIRED_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                   "intermediate_size", "rms_norm_eps", "rope_theta", "vocab_size", "max_position_embeddings")



def read_config(folder):
    if not os.path.isdir(folder):
        raise ConversionError(f"{folder}: the LLM must be a Hugging Face folder (config.json, safetensors, tokenizer "
                              "files), not a file")
    path = os.path.join(folder, "config.json")
    if not os.path.exists(path):
        raise ConversionError(f"{folder}: no config.json (not a Hugging Face model folder)")
    config = read_json(path, "config.json")
    if not isinstance(config, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    if config.get("model_type") not in MODEL_TYPES:
        raise ConversionError(f"{path}: model_type is {config.get('model_type')!r}, expected one of {list(MODEL_TYPES)}")
    missing = [k for k in REQUIRED_FIELDS if k not in config]
    if missing:
        raise ConversionError(f"{path}: missing Qwen2 field(s) {', '.join(missing)}")
    if config.get("rope_scaling"):
        raise ConversionError(f"{path}: rope_scaling {config['rope_scaling']} is not supported (plain RoPE only)")
    if config.get("use_sliding_window"):
        raise ConversionError(f"{path}: use_sliding_window is true; sliding-window attention is not supported")
    if config.get("hidden_act", "silu") != "silu":
        raise ConversionError(f"{path}: hidden_act {config['hidden_act']!r} is not supported (silu only)")
    if config["hidden_size"] % config["num_attention_heads"] and not config.get("head_dim"):
        raise ConversionError(f"{path}: hidden_size {config['hidden_size']} is not a multiple of num_attention_heads "
                              f"{config['num_attention_heads']}")
    if config["num_attention_heads"] % config["num_key_value_heads"]:
        raise ConversionError(f"{path}: num_attention_heads {config['num_attention_heads']} is not a multiple of "
                              f"num_key_value_heads {config['num_key_value_heads']}")
    return config


def model_config(config):
    return Qwen2Config(
        hidden_size=config["hidden_size"], num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"], num_key_value_heads=config["num_key_value_heads"],
        intermediate_size=config["intermediate_size"], rms_norm_eps=config["rms_norm_eps"],
        rope_theta=config["rope_theta"], vocab_size=config["vocab_size"],
        tie_word_embeddings=config.get("tie_word_embeddings", True),
        max_position_embeddings=config["max_position_embeddings"], head_dim=config.get("head_dim"))


def read_token_ids(folder, config, tokenizer):
    """The manifest's "tokens": Tar's ids from config.json, each cross-checked with the tokenizer; ChatML ids,
    eos and pad from the tokenizer files and generation_config.json."""
    where = os.path.join(folder, "config.json")
    ids = token_ids(tokenizer)

    def id_of(content):
        if content not in ids:
            raise ConversionError(f"{folder}: the tokenizer has no token {content!r}")
        return ids[content]

    def field(name):
        if not isinstance(config.get(name), int):
            raise ConversionError(f"{where}: no integer {name} (a Tar LLM config.json carries its token ids; "
                                  "TAR_SPEC §2.5)")
        return config[name]

    def same(name, value, content):
        actual = id_of(content)
        if actual != value:
            raise ConversionError(f"{where}: {name} says {content} is {value}, the tokenizer says {actual}")

    image_start_tag = field("image_start_tag_id")
    same("image_start_tag_id", image_start_tag, "<im_start>")
    image_end_tag = field("image_end_tag_id")
    same("image_end_tag_id", image_end_tag, "<im_end>")
    def token_range(kind, count_name):
        """(first id, count) of the `<kind>_start_token_id`…`<kind>_end_token_id` block; the count comes from
        `count_name` when given, and the end id, when given, must agree with it."""
        start, end = f"{kind}_start_token_id", f"{kind}_end_token_id"
        base = field(start)
        count = config[count_name] if isinstance(config.get(count_name), int) else field(end) - base + 1
        if end in config and config[end] != base + count - 1:
            raise ConversionError(f"{where}: {end} {config[end]} is not {start} {base} + {count_name} {count} - 1")
        return base, count

    scale_base, scale_count = token_range("scale", "num_scale_tokens")
    for s in range(scale_count):
        same("scale_start_token_id", scale_base + s, f"<S{s}>")
    image_base, image_count = token_range("image", "num_image_tokens")
    for k in range(image_count):
        if ids.get(f"<I{k}>") != image_base + k:
            same("image_start_token_id", image_base + k, f"<I{k}>")

    generation = {}
    path = os.path.join(folder, "generation_config.json")
    if os.path.exists(path):
        generation = read_json(path, "generation_config.json")
    tokenizer_config = {}
    path = os.path.join(folder, "tokenizer_config.json")
    if os.path.exists(path):
        tokenizer_config = read_json(path, "tokenizer_config.json")

    def content_of(value):
        return value.get("content") if isinstance(value, dict) else value

    eos = generation.get("eos_token_id")
    eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    if tokenizer_config.get("eos_token"):
        tokenizer_eos = id_of(content_of(tokenizer_config["eos_token"]))
        if tokenizer_eos not in eos:
            eos.append(tokenizer_eos)
    if not eos:
        raise ConversionError(f"{folder}: no eos token (generation_config.json eos_token_id or tokenizer_config.json "
                              "eos_token)")
    pad = None
    if tokenizer_config.get("pad_token"):
        pad = id_of(content_of(tokenizer_config["pad_token"]))
    if isinstance(generation.get("pad_token_id"), int):
        if pad is not None and pad != generation["pad_token_id"]:
            raise ConversionError(f"{folder}: generation_config.json pad_token_id {generation['pad_token_id']} differs "
                                  f"from tokenizer_config.json pad_token (id {pad})")
        pad = generation["pad_token_id"]
    if pad is None:
        pad = id_of("<|endoftext|>")
    tokens = {
        "imageStartTag": image_start_tag, "imageEndTag": image_end_tag,
        "scaleTokenBase": scale_base, "scaleTokenCount": scale_count,
        "imageTokenBase": image_base, "imageTokenCount": image_count,
        "imStart": id_of("<|im_start|>"), "imEnd": id_of("<|im_end|>"),
        "eos": eos, "pad": pad,
    }
    vocab = config["vocab_size"]
    for name, value in tokens.items():
        for v in value if isinstance(value, list) else [value]:
            if name.endswith("Count"):
                continue
            if not 0 <= v < vocab:
                raise ConversionError(f"{where}: token {name} = {v} is outside the vocabulary (vocab_size {vocab})")
    if image_base + image_count > vocab:
        raise ConversionError(f"{where}: image tokens end at {image_base + image_count - 1}, past vocab_size {vocab}")
    if vocabulary_size(tokenizer) > vocab:
        raise ConversionError(f"{where}: the tokenizer has ids up to {vocabulary_size(tokenizer) - 1}, past "
                              f"vocab_size {vocab} (embedding rows)")
    return tokens, generation


def load_weights(folder, reference, tied):
    """Reads the safetensors, skips what the spec says to skip, checks keys/shapes and loads `reference`."""
    state_dict = load_folder(folder)
    skipped = [k for k in state_dict if k.startswith(SKIPPED_PREFIXES) or k.endswith(SKIPPED_SUFFIXES)]
    for key in skipped:
        del state_dict[key]
    tower = sum(k.startswith(SKIPPED_PREFIXES) for k in skipped)
    if tower:
        print(f"llm: skipped {tower} model.vision_tower.* tensors on purpose (the TA-Tok tower LLaVA-style training "
              "saves with the LLM; the LLM does not use it)")
    if len(skipped) > tower:
        print(f"llm: skipped {len(skipped) - tower} *.rotary_emb.inv_freq buffers (derived from rope_theta)")
    if tied and "lm_head.weight" in state_dict:
        head = state_dict.pop("lm_head.weight")
        embed = state_dict.get("model.embed_tokens.weight")
        if embed is None or head.shape != embed.shape or not torch.equal(head, embed):
            raise ConversionError(f"{folder}: tie_word_embeddings is true but lm_head.weight (shape {list(head.shape)}) "
                                  "is not equal to model.embed_tokens.weight"
                                  + ("" if embed is None else f" (shape {list(embed.shape)})"))
    return load_checked(reference, state_dict, folder), skipped


def graph_names(layers):
    past, present = [], []
    for i in range(layers):
        past += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present += [f"present.{i}.key", f"present.{i}.value"]
    return ["input_ids", "attention_mask", "position_ids"] + past, ["logits"] + present


def export_inputs(config, batch=2, past=3, new=4):
    """Dummy inputs for tracing (sizes ≠ 1 so that no dimension is specialised)."""
    input_ids = torch.arange(batch * new, dtype=torch.int64).reshape(batch, new) % config.vocab_size
    attention_mask = torch.ones(batch, past + new, dtype=torch.int64)
    position_ids = torch.arange(past, past + new, dtype=torch.int64).repeat(batch, 1)
    pasts = [torch.randn(batch, config.num_key_value_heads, past, config.head_dim)
             for _ in range(2 * config.num_hidden_layers)]
    return (input_ids, attention_mask, position_ids, *pasts)


def export_model(writer, reference, relative="llm/model.onnx"):
    config = reference.config
    inputs, outputs = graph_names(config.num_hidden_layers)
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
               "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for name in inputs[3:]:
        dynamic[name] = {0: "batch", 2: "past_sequence"}
    for name in outputs[1:]:
        dynamic[name] = {0: "batch", 2: "total_sequence"}
    module = Qwen2ForExport(reference).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        return writer.export_onnx(relative, module, export_inputs(config), inputs, outputs, dynamic,
                                  keep_float32=("rope_cos", "rope_sin"),
                                  rms_norms=2 * config.num_hidden_layers + 1,        # two a layer, one final
                                  rotary_embeddings=2 * config.num_hidden_layers)    # q and k of each layer


def convert(writer, path):
    folder = os.path.abspath(path)
    config = read_config(folder)
    qwen = model_config(config)
    tokenizer, how = write_tokenizer(folder, writer.path("llm/tokenizer.json"))
    tokens, generation = read_token_ids(folder, config, tokenizer)
    reference = Qwen2ForCausalLM(qwen)
    reference, _ = load_weights(folder, reference, qwen.tie_word_embeddings)
    roles = export_model(writer, reference)
    files = {"model" + suffix: rel for suffix, rel in roles.items()}
    files["tokenizer"] = "llm/tokenizer.json"
    for ours, theirs in (("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"),
                         ("repetitionPenalty", "repetition_penalty")):
        if generation.get(theirs) is not None:
            writer.sampling["chat"][ours] = generation[theirs]
    writer.add_component("llm", {
        "hiddenSize": qwen.hidden_size, "layers": qwen.num_hidden_layers, "heads": qwen.num_attention_heads,
        "kvHeads": qwen.num_key_value_heads, "headDim": qwen.head_dim, "intermediateSize": qwen.intermediate_size,
        "rmsNormEps": qwen.rms_norm_eps, "ropeTheta": qwen.rope_theta, "vocabSize": qwen.vocab_size,
        "tieWordEmbeddings": qwen.tie_word_embeddings, "maxPositionEmbeddings": qwen.max_position_embeddings,
    }, files, tokens=tokens, systemPrompt=SYSTEM_PROMPT)
    print(f"llm: {qwen.num_hidden_layers} layers, vocab {qwen.vocab_size}, tokenizer.json {how}")
