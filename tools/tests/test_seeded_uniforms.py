"""The Python port of the engine's seeded uniforms gives the numbers src/util/random.ts and
src/pipeline/uniforms.ts give (pinned in tests/unit/random.spec.ts too)."""
import unittest

from tools.convert.reference.seeded_uniforms import SeededRandom, image_uniforms


class SeededUniformsTest(unittest.TestCase):
    def test_xoshiro_sequence(self):
        r = SeededRandom(42)
        self.assertEqual([r.next_uint32() for _ in range(6)],
                         [2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290])
        r = SeededRandom(0)
        self.assertEqual([r.next_uint32() for _ in range(3)], [3809008728, 1133695204, 53579671])

    def test_image_streams(self):
        llm, detok = image_uniforms(7, 0, 3, 2)
        self.assertEqual(llm, [0.23382771760225296, 0.5122324188705534, 0.4489145821426064])
        self.assertEqual(detok, [0.21170785161666572, 0.5337627022527158])

    def test_seed_wraps_at_32_bits(self):
        llm, detok = image_uniforms(0xFFFFFFFF, 1, 1, 1)
        self.assertEqual((llm, detok), ([0.8868539538234472], [0.9244732474908233]))

    def test_candidate_streams(self):
        self.assertEqual(image_uniforms(7, 2, 2, 1, candidate=0), image_uniforms(9, 0, 2, 1))
        self.assertEqual(image_uniforms(7, 2, 2, 1, candidate=3),
                         ([0.053092661779373884, 0.7388632278889418], [0.5699974005110562]))
        self.assertEqual(image_uniforms(0xFFFFFFFF, 1, 1, 1, candidate=5), ([0.5328990865964442], [0.3714929656125605]))

    def test_drawing_streams(self):
        llm, detok = image_uniforms(7, 2, 3, 4, candidate=1)
        self.assertEqual(image_uniforms(7, 2, 3, 4, candidate=1, drawing=0), (llm, detok))
        for drawing in (1, 2, 0xFFFF):
            other_llm, other_detok = image_uniforms(7, 2, 3, 4, candidate=1, drawing=drawing)
            self.assertEqual(other_llm, llm)
            self.assertNotEqual(other_detok, detok)
        self.assertNotEqual(image_uniforms(7, 2, 0, 4, drawing=1)[1], image_uniforms(7, 2, 0, 4, drawing=2)[1])
        self.assertEqual(image_uniforms(7, 2, 0, 2, drawing=1)[1], [0.35846717981621623, 0.6482973529491574])

    def test_uniforms_in_range(self):
        llm, detok = image_uniforms(123, 4, 5000, 5000)
        self.assertTrue(all(0 <= u < 1 for u in llm + detok))
        self.assertNotEqual(llm[:10], detok[:10])


if __name__ == "__main__":
    unittest.main()
