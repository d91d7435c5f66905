"""The Tar-Shapes teacher's grounding term and its off-palette images: an object drawn in an off-palette fill
teaches shape and size but never a colour, and covers exactly the pixels the world's own render gives it."""
import random
import unittest

import numpy as np
import torch

from tools.shapes import grounding, world
from tools.shapes.train_teacher import GRID, grounding_loss, off_palette_batch


def _scene():
    return world.Scene("gray", (world.Thing("star", "green", "large", "left"),
                                world.Thing("square", "orange", "small", "top")))


class GroundingLossTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        labels = torch.from_numpy(grounding.scene_labels(_scene(), GRID))[None].repeat(2, 1, 1, 1)   # [2,3,g,g]
        self.targets = labels
        self.logits = torch.randn(2, GRID * GRID, sum(grounding.CLASSES))                          # [2,g²,ΣK]
        self.on_object = grounding.on_object(labels[:, 0].flatten(1))                               # [2,g²]

    def _colour_changed_on_objects(self, sample):
        changed = self.logits.clone()
        colour = slice(0, grounding.CLASSES[0])
        changed[sample, self.on_object[sample], colour] += torch.randn_like(changed[sample, self.on_object[sample], colour]) * 5
        return changed

    def test_off_palette_objects_teach_no_colour(self):
        coloured = torch.tensor([True, False])
        base, _ = grounding_loss(self.logits, self.targets, coloured)
        off_palette, _ = grounding_loss(self._colour_changed_on_objects(1), self.targets, coloured)
        named, _ = grounding_loss(self._colour_changed_on_objects(0), self.targets, coloured)
        self.assertAlmostEqual(base.item(), off_palette.item(), places=5)
        self.assertNotAlmostEqual(base.item(), named.item(), places=3)

    def test_shape_is_taught_on_off_palette_objects(self):
        coloured = torch.tensor([True, False])
        changed = self.logits.clone()
        star = grounding.CLASSES[0] + grounding.SHAPES.index("star")
        changed[1, self.on_object[1], star] += 3.0
        self.assertNotAlmostEqual(grounding_loss(self.logits, self.targets, coloured)[0].item(),
                                  grounding_loss(changed, self.targets, coloured)[0].item(), places=3)


class RecolouredImagesTest(unittest.TestCase):
    def test_objects_keep_their_pixels_and_lose_their_colour(self):
        scene = _scene()
        recoloured = off_palette_batch([scene, scene], random.Random(3)).numpy()                  # [2,64,64,3]
        background = np.array(world.BACKGROUNDS[scene.background])
        drawn = (world.render(scene) != background).any(-1)                                        # [64,64]
        for image in recoloured:
            self.assertTrue(np.array_equal((image != background).any(-1), drawn))
            for thing in scene.things:
                x, y = world.POSITIONS[thing.position]
                centre = image[y + thing.dy, x + thing.dx]
                self.assertGreaterEqual(min(np.linalg.norm(centre - np.array(c)) for c in world.COLOURS.values()),
                                        world.OFF_PALETTE_DISTANCE - 1)
        self.assertFalse(np.array_equal(recoloured[0], recoloured[1]))


if __name__ == "__main__":
    unittest.main()
