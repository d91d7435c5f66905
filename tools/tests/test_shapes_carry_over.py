"""tools/shapes/carry_over's parts: the co-occurrence count, the carried embedding rows (a weighted mean of the old
rows; unused codes take their nearest used code's), the embedding-only phase (nothing but the image rows moves),
the ridge map and the composed condition projection (zeros stay zeros). On small random tensors and a small Qwen2;
not a test of what the carried-over stages score."""
import unittest

import numpy as np
import torch

from tools.shapes import carry_over, common
from tools.shapes.train_llm import build_model


class CooccurrenceTest(unittest.TestCase):
    def test_counts_patches_by_new_and_old_code(self):
        new = np.array([[0, 0, 1], [2, 0, 1]])
        old = np.array([[3, 3, 1], [1, 2, 1]])
        counts = carry_over.cooccurrence(new, old, 4)
        self.assertEqual(counts.shape, (4, 4))
        self.assertEqual(counts[0, 3], 2)
        self.assertEqual(counts[0, 2], 1)
        self.assertEqual(counts[1, 1], 2)
        self.assertEqual(counts[2, 1], 1)
        self.assertEqual(counts.sum(), new.size)


class CarriedRowsTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.old_rows = torch.randn(4, 6)
        self.codebook = torch.nn.functional.normalize(torch.randn(4, 5), dim=1)

    def test_rows_are_the_old_rows_weighted_by_shared_patches(self):
        counts = np.zeros((4, 4))
        counts[0, 2] = 5                  # new 0 always on old 2
        counts[1, 0], counts[1, 3] = 3, 1  # new 1: three quarters old 0, a quarter old 3
        counts[2, 1] = 1
        counts[3, 1] = 2
        rows = carry_over.carried_rows(counts, self.old_rows, self.codebook)
        torch.testing.assert_close(rows[0], self.old_rows[2])
        torch.testing.assert_close(rows[1], 0.75 * self.old_rows[0] + 0.25 * self.old_rows[3])

    def test_an_unused_code_takes_its_nearest_used_codes_row(self):
        codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]])
        counts = np.zeros((4, 4))
        counts[0, 0], counts[1, 1] = 1, 1  # codes 2 and 3 unused: 2 nearest 1, 3 nearest 0
        rows = carry_over.carried_rows(counts, self.old_rows, codebook)
        torch.testing.assert_close(rows[2], self.old_rows[1])
        torch.testing.assert_close(rows[3], self.old_rows[0])

    def test_no_used_code_is_refused(self):
        with self.assertRaisesRegex(ValueError, "no new code"):
            carry_over.carried_rows(np.zeros((4, 4)), self.old_rows, self.codebook)


class ImageRowsPhaseTest(unittest.TestCase):
    def test_only_the_image_rows_move(self):
        common.setup(0)
        vocab, rows = 40, slice(24, 40)
        model = build_model(vocab, 100.0)
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        rng = np.random.default_rng(0)

        def batches():
            while True:
                yield [(torch.from_numpy(rng.integers(0, vocab, 12)), torch.ones(12)) for _ in range(3)]

        carry_over.train_image_rows(model, rows, 3, 1e-2, batches(), common.Clock("test"), "token")
        after = model.state_dict()
        table = "model.embed_tokens.weight"
        self.assertFalse(torch.equal(after[table][rows], before[table][rows]))
        torch.testing.assert_close(after[table][:rows.start], before[table][:rows.start], rtol=0, atol=0)
        for name, value in before.items():
            if name != table and name != "lm_head.weight":
                torch.testing.assert_close(after[name], value, rtol=0, atol=0, msg=name)
        self.assertTrue(all(p.requires_grad for p in model.parameters()))


class ConditionMapTest(unittest.TestCase):
    def test_ridge_map_recovers_a_linear_relation(self):
        torch.manual_seed(1)
        x, a = torch.randn(500, 8, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64)
        fitted = carry_over.ridge_map(x, x @ a, ridge=1e-9)
        torch.testing.assert_close(fitted, a)
        self.assertAlmostEqual(carry_over.explained(x, x @ a, fitted), 1.0, places=6)

    def test_composed_projection_reads_x_as_the_old_one_read_x_a(self):
        torch.manual_seed(2)
        projection, a = torch.nn.Linear(5, 7), torch.randn(5, 5)
        old = torch.nn.Linear(5, 7)
        old.load_state_dict(projection.state_dict())
        carry_over.compose_condition(projection, a)
        x = torch.randn(3, 4, 5)
        torch.testing.assert_close(projection(x), old(x @ a))
        torch.testing.assert_close(projection(torch.zeros(1, 5)), old(torch.zeros(1, 5)))

    def test_a_map_of_another_width_is_refused(self):
        with self.assertRaisesRegex(ValueError, "does not fit"):
            carry_over.compose_condition(torch.nn.Linear(5, 7), torch.randn(8, 5))


if __name__ == "__main__":
    unittest.main()
