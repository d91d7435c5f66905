"""train_llm's batch streams: in-process on CPU (one random.Random(seed), as before), and from loader workers on a
GPU (each worker its own stream: distinct batches, the same ones on every run)."""
import random
import unittest

import torch

from tools.shapes import train_llm


def example(rng):
    return rng.randrange(10**9)


def from_workers(seed, batches):
    loader = torch.utils.data.DataLoader(train_llm.Samples(example, 4, seed), batch_size=None, num_workers=2,
                                         collate_fn=lambda b: b)
    out, stream = [], iter(loader)
    for _ in range(batches):
        out.append(next(stream))
    return out


class BatchStreamTest(unittest.TestCase):
    def test_in_process_batches_are_one_seeded_stream(self):
        stream = train_llm.batch_stream(example, 4, seed=23)
        rng = random.Random(23)
        for _ in range(3):
            self.assertEqual(next(stream), [rng.randrange(10**9) for _ in range(4)])

    def test_workers_draw_distinct_repeatable_batches(self):
        first, again = from_workers(23, 6), from_workers(23, 6)
        self.assertEqual(first, again)
        values = [v for batch in first for v in batch]
        self.assertEqual(len(set(values)), len(values))
        self.assertNotEqual(from_workers(24, 6), first)


if __name__ == "__main__":
    unittest.main()
