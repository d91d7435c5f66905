"""common.step_stream, which feeds the LLM's batches and the teacher's steps: in-process on CPU (one
random.Random(seed)), and from loader workers on a GPU (each worker its own stream: distinct inputs, the same ones
on every run)."""
import random
import unittest

from tools.shapes import common, train_llm


def draw(rng):
    return rng.randrange(10**9)


def four(rng):
    return [draw(rng) for _ in range(4)]


def taken(stream, count):
    return [next(stream) for _ in range(count)]


class StepStreamTest(unittest.TestCase):
    def test_in_process_inputs_are_one_seeded_stream(self):
        rng = random.Random(23)
        self.assertEqual(taken(common.step_stream(four, 23, workers=0), 3), [four(rng) for _ in range(3)])

    def test_llm_batches_on_cpu_are_that_stream(self):
        rng = random.Random(23)
        self.assertEqual(taken(train_llm.batch_stream(draw, 4, seed=23), 3), [four(rng) for _ in range(3)])

    def test_workers_draw_distinct_repeatable_inputs(self):
        first = taken(common.step_stream(four, 23, workers=2), 6)
        self.assertEqual(taken(common.step_stream(four, 23, workers=2), 6), first)
        values = [v for batch in first for v in batch]
        self.assertEqual(len(set(values)), len(values))
        self.assertNotEqual(taken(common.step_stream(four, 24, workers=2), 6), first)


if __name__ == "__main__":
    unittest.main()
