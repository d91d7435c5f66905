"""Tar-Shapes' tokenizer and chat sequences.

The tokenizer is a byte-level BPE learned on the world's own sentences (every word of the world ends up one
token), with Tar's added tokens after it (`<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, `<im_start>`, `<im_end>`,
`<S0..S2>`, `<I0..I{K-1}>`): the official slow-tokenizer files, written by tools/tiny/llm.py's writer. The
codebook size K equals the number of base (byte + merge) tokens, because TA-Tok's codebook is built from exactly
those rows of the LLM's embedding table (C = normalize(E·W), E frozen).

Sequences follow TAR_SPEC §2.3 (ChatML with the fixed system prompt): text-to-image, image-to-text and
image-to-image, as token ids plus a loss mask (1 on what the assistant says)."""
import functools
import os

from tools.convert.tokenizer import Encoder, build_tokenizer_json, bytes_to_unicode
from tools.shapes import world
from tools.tiny.llm import SYSTEM, learn_merges, write_tokenizer_files

MERGE_LIMIT = 1000
SCALES = (1, 2, 3)


def _corpus():
    return "\n".join([SYSTEM, world.vocabulary_text(), "draw this picture again"])


def write_tokenizer(folder):
    """Writes the slow tokenizer files into `folder` → (ids of added tokens, vocabulary size, K)."""
    corpus = _corpus()
    merges = len(learn_merges(corpus, MERGE_LIMIT))
    base = 256 + merges
    ids, vocab_size = write_tokenizer_files(folder, corpus, merges, base)
    return ids, vocab_size, base


class ChatSequences:
    """Token ids of Tar's chat formats for one LLM folder's tokenizer."""

    def __init__(self, folder):
        tokenizer = build_tokenizer_json(folder)
        self.encoder = Encoder(tokenizer)
        self.added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
        self.image_base = self.added["<I0>"]
        self.pad = self.added["<|endoftext|>"]
        self.im_end = self.added["<|im_end|>"]
        self.system = self.encode(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n")
        self.turn = self.encode("<|im_end|>\n<|im_start|>assistant\n")
        self.newline = self.encode("\n")
        self.pieces = {i: piece for piece, i in self.encoder.vocab.items()}
        self.byte_of = {ch: b for b, ch in bytes_to_unicode().items()}

    @functools.lru_cache(maxsize=None)
    def encode(self, text):
        return tuple(self.encoder.encode(text))

    def image(self, indices, scale):
        """`<im_start><S{s}>` + image tokens + `<im_end>` (the assistant's side, TAR_SPEC §2.3)."""
        return ((self.added["<im_start>"], self.added[f"<S{SCALES.index(scale)}>"])
                + tuple(self.image_base + int(k) for k in indices) + (self.added["<im_end>"],))

    def _chat(self, user, answer):
        prompt = self.system + tuple(user) + self.turn
        target = tuple(answer) + (self.im_end,)
        return list(prompt + target), [0] * len(prompt) + [1] * len(target)

    def text_to_image(self, caption, indices, scale):
        return self._chat(self.encode(caption), self.image(indices, scale))

    def image_to_text(self, indices, question, answer):
        user = tuple(self.image_base + int(k) for k in indices) + self.newline + self.encode(question)
        return self._chat(user, self.encode(answer))

    def image_to_image(self, indices, scale):
        user = tuple(self.image_base + int(k) for k in indices) + self.newline + self.encode("draw this picture again")
        return self._chat(user, self.image(indices, scale))

    def text_only(self, caption, answer):
        return self._chat(self.encode(caption), self.encode(answer))

    def t2i_prompt(self, caption, scale):
        """The inference prompt: template + `<im_start><S{s}>` (TAR_SPEC §2.3)."""
        return list(self.system + self.encode(caption) + self.turn
                    + (self.added["<im_start>"], self.added[f"<S{SCALES.index(scale)}>"]))

    def i2t_prompt(self, indices, question):
        user = tuple(self.image_base + int(k) for k in indices) + self.newline + self.encode(question)
        return list(self.system + user + self.turn)

    def decode(self, ids):
        """Text of the base-vocabulary ids (added tokens are dropped)."""
        data = bytes(self.byte_of[ch] for i in ids if i in self.pieces for ch in self.pieces[i])
        return data.decode("utf-8", errors="replace")
