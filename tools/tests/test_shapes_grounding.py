"""Tar-Shapes grounding labels (tools/shapes/grounding.py), the TA-Tok stage's single-token purity, the TA-Tok
probe's linear read-out and the chain diagnostic's per-code label odds, its probes and its object votes: labels
name the object under each cell from the scene's geometry, "none" elsewhere; purity counts what one code says; the
probes read separable classes and not noise, fitted on object patches only; a code's odds come from object patches
only; an object is read from its own cells."""
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from tools.shapes import grounding, world
from tools.shapes.chain_reading import code_log_probabilities, fit_probe, object_votes
from tools.shapes.probe_tatok import probe_accuracy
from tools.shapes.train_tatok import token_purity

NONE = grounding.NONE


class GroundingLabelsTest(unittest.TestCase):
    def test_a_large_centre_object_is_named_on_the_cells_it_covers_and_nowhere_else(self):
        thing = world.Thing("star", "blue", "large", "centre")
        labels = grounding.scene_labels(world.Scene("white", (thing,)), 6)               # [3,6,6]
        named = labels[0] != NONE[0]
        self.assertEqual(set(zip(*np.nonzero(named))), {(2, 2), (2, 3), (3, 2), (3, 3)})
        self.assertTrue((labels[0][named] == grounding.COLOURS.index("blue")).all())
        self.assertTrue((labels[1][named] == grounding.SHAPES.index("star")).all())
        self.assertTrue((labels[2][named] == grounding.SIZES.index("large")).all())
        for head in range(3):
            self.assertTrue((labels[head][~named] == NONE[head]).all())

    def test_each_object_keeps_its_own_cells(self):
        left = world.Thing("square", "red", "large", "left")
        right = world.Thing("circle", "green", "small", "right")
        labels = grounding.scene_labels(world.Scene("black", (left, right)), 6)
        colours = set(labels[0][:, :2].flatten()) - {NONE[0]}
        self.assertEqual(colours, {grounding.COLOURS.index("red")})
        self.assertEqual(set(labels[0][:, 4:].flatten()) - {NONE[0]}, {grounding.COLOURS.index("green")})
        self.assertEqual(set(labels[1][:, 4:].flatten()) - {NONE[1]}, {grounding.SHAPES.index("circle")})

    def test_a_sliver_below_the_minimum_cover_is_background(self):
        thing = world.Thing("circle", "red", "small", "top")
        cover = grounding.coverage(thing, 6)
        labels = grounding.scene_labels(world.Scene("gray", (thing,)), 6)
        self.assertTrue(((cover >= grounding.MIN_COVER) == (labels[0] != NONE[0])).all())
        self.assertTrue(((0 < cover) & (cover < grounding.MIN_COVER)).any())


class TokenPurityTest(unittest.TestCase):
    def test_purity_is_the_majority_share_per_code_on_object_patches(self):
        labels = np.full((1, 3, 1, 4), 0, dtype=np.int8)
        labels[0, 0, 0] = [0, 0, 1, NONE[0]]          # colours; the last patch is background
        labels[0, 1, 0] = [2, 2, 2, NONE[1]]          # shapes
        labels[0, 2, 0] = [0, 1, 0, NONE[2]]          # sizes
        indices = np.array([[5, 5, 5, 5]])            # one code for everything
        purity = token_purity(indices, labels)
        self.assertAlmostEqual(purity["colour"], 2 / 3)
        self.assertAlmostEqual(purity["shape"], 1.0)
        self.assertAlmostEqual(purity["size"], 2 / 3)
        self.assertAlmostEqual(token_purity(np.array([[1, 1, 2, 7]]), labels)["colour"], 1.0)

    def test_other_scenes_are_scored_by_the_majorities_counted_on_these(self):
        labels = np.full((1, 3, 1, 4), 0, dtype=np.int8)
        labels[0, 0, 0] = [0, 0, 1, NONE[0]]
        other = np.full((1, 3, 1, 3), 0, dtype=np.int8)
        other[0, 0, 0] = [0, 1, 1]                    # code 5 means colour 0 here; code 9 was never counted
        scored = token_purity(np.array([[5, 5, 5, 5]]), labels, scored=(np.array([[5, 5, 9]]), other))
        self.assertAlmostEqual(scored["colour"], 1 / 3)


class CodeLogProbabilitiesTest(unittest.TestCase):
    def test_odds_are_counted_on_object_patches_with_add_one_smoothing(self):
        shape = 1
        star, square = grounding.SHAPES.index("star"), grounding.SHAPES.index("square")
        codes = np.array([0, 0, 0, 1, 1, 1])
        labels = np.array([star, star, square, NONE[shape], NONE[shape], square])
        odds = np.exp(code_log_probabilities(codes, labels, vocabulary=3, head=shape))     # [3, shapes]
        classes = grounding.CLASSES[shape] - 1
        self.assertAlmostEqual(odds[0, star], 3 / (3 + classes))
        self.assertAlmostEqual(odds[0, square], 2 / (3 + classes))
        self.assertAlmostEqual(odds[1, square], 2 / (1 + classes))       # background patches are not counted
        np.testing.assert_allclose(odds[2], np.full(classes, 1 / classes))
        np.testing.assert_allclose(odds.sum(1), 1.0)


class ProbeAccuracyTest(unittest.TestCase):
    def test_a_linear_probe_reads_separable_classes_and_not_noise(self):
        generator = torch.Generator().manual_seed(0)
        labels = torch.randint(0, 3, (400,), generator=generator)
        separable = F.one_hot(labels, 3).float() * 5 + 0.1 * torch.randn(400, 3, generator=generator)
        self.assertEqual(probe_accuracy(separable, labels, 3), 1.0)
        self.assertLess(probe_accuracy(torch.randn(400, 3, generator=generator), labels, 3), 0.6)


class ChainProbeTest(unittest.TestCase):
    def test_the_chain_probe_is_fitted_on_object_patches_and_reads_separable_shapes(self):
        shape = 1
        rng = np.random.default_rng(0)
        labels = rng.integers(0, grounding.CLASSES[shape], 600)                  # "none" included
        rows = np.eye(grounding.CLASSES[shape])[labels] * 5 + 0.1 * rng.standard_normal((600, grounding.CLASSES[shape]))
        read = fit_probe(rows.astype(np.float32), labels, shape)
        on_object = labels < NONE[shape]
        log_probabilities = read(rows[on_object].astype(np.float32))              # [M, shapes]
        self.assertEqual(log_probabilities.shape[1], grounding.CLASSES[shape] - 1)
        np.testing.assert_allclose(np.exp(log_probabilities).sum(1), 1.0, rtol=1e-5)
        self.assertTrue((log_probabilities.argmax(1) == labels[on_object]).all())
        noise = rng.standard_normal((600, 4)).astype(np.float32)
        guess = fit_probe(noise, labels, shape)(noise).argmax(1)
        self.assertLess((guess[on_object] == labels[on_object]).mean(), 0.6)

    def test_an_object_is_read_from_its_own_cells_only(self):
        star = world.Thing("star", "blue", "large", "left")
        circle = world.Thing("circle", "red", "large", "right")
        scene = world.Scene("white", (star, circle))
        labels = grounding.scene_labels(scene, 6)                                  # [3,6,6]
        votes = []
        for head in range(2):
            classes = grounding.CLASSES[head] - 1
            truth = labels[head].reshape(-1)                                        # [36]
            cells = np.full((1, 36, classes), np.log(0.1 / (classes - 1)))
            cells[0, truth < NONE[head], truth[truth < NONE[head]]] = np.log(0.9)  # each object's cells say it
            cells[0, truth == NONE[head], 0] = 10.0                                 # background says class 0, loudly
            votes.append(cells)
        reading = object_votes(votes, [scene])                                   # {group: scores}
        self.assertEqual(sum(scores["shape_n"] for scores in reading.values()), 2)
        for scores in reading.values():
            self.assertEqual((scores["colour"], scores["shape"]), (1.0, 1.0))


if __name__ == "__main__":
    unittest.main()
