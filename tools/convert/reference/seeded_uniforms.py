"""The engine's seeded uniform streams in Python, number for number: src/util/random.ts (xoshiro128**, seeded
through splitmix32) and src/pipeline/uniforms.ts (`imageUniforms`: one stream for the LLM's draws and one for
the de-tokenizer's, per image of a job). With them a torch run draws with exactly the uniforms the browser
engine uses for the same seed, so that the two sides' text-to-image samples can be compared one by one.

Pure Python integers; not a general-purpose generator."""
from typing import Callable, List, Tuple

MASK = 0xFFFFFFFF
DETOK_STREAM_XOR = 0x5BD1E995      # uniforms.ts: the de-tokenizer's seed is the LLM's XOR this
CANDIDATE_MIX = 0x9E3779B9         # uniforms.ts: self-check candidate c's seed is the image's XOR c times this
DRAWING_MIX = 0x85EBCA6B           # de-tokenizer drawing d's seed is the de-tokenizer's XOR d times this


def _splitmix32(seed: int) -> Callable[[], int]:
    state = seed & MASK

    def next_value():
        nonlocal state
        state = (state + 0x9E3779B9) & MASK
        z = state
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & MASK
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & MASK
        return z ^ (z >> 16)
    return next_value


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


class SeededRandom:
    """random.ts's SeededRandom: `next_uint32()` and `next()` (a uniform in [0, 1) with 32 bits)."""

    def __init__(self, seed: int):
        seeding = _splitmix32(seed)
        self.s = [seeding() for _ in range(4)]

    def next_uint32(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 9) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def next(self) -> float:
        return self.next_uint32() / 4294967296


def image_uniforms(seed: int, image: int, llm_count: int, detok_count: int,
                   candidate: int = 0, drawing: int = 0) -> Tuple[List[float], List[float]]:
    """The first `llm_count` uniforms of the LLM's stream and `detok_count` of the de-tokenizer's for image `image`
    of an imagine job seeded with `seed`, or for that image's self-check candidate `candidate` (uniforms.ts
    imageUniforms); with `drawing` d > 0, the de-tokenizer's stream of its d-th drawing of the same image tokens
    (drawing 0 is the de-tokenizer's own stream; imagine's `drawings`)."""
    base = ((seed + image) & MASK) ^ ((candidate * CANDIDATE_MIX) & MASK)
    llm = SeededRandom(base)
    detok = SeededRandom(base ^ DETOK_STREAM_XOR ^ ((drawing * DRAWING_MIX) & MASK))
    return [llm.next() for _ in range(llm_count)], [detok.next() for _ in range(detok_count)]
