"""tools/shapes/torch_eval.py's --codes-out and --drawings: the kept pictures' VQ codes come back in the set's order,
one grid per prompt, and asking for them at more than one scale is refused; the drawings' round-trip agreements
are reported per picture, and a drawing count out of range is refused. The model is a stand-in (the real pipeline's
numbers are checked against the engine by eval:shapes); the scoring is eval_set's own."""
import json
import os
import tempfile
import unittest
from unittest import mock

import numpy as np

from tools.shapes import eval_set, torch_eval, world


class StandIn:
    """Draws each prompt's scene right; its codes say which seed drew them."""

    def __init__(self):
        self.scenes = {item["prompt"]: world.Scene.from_json(item["scene"]) for item in eval_set.build(3, 0)["t2i"]}

    def imagine(self, prompt, scale, seed, candidates=None, drawings=None):
        return torch_eval.Picture(world.render(self.scenes[prompt]), [seed], np.full((4, 4), seed, np.int64), None,
                                  list(range(drawings)) if drawings else None)


class TorchEvalCodesTest(unittest.TestCase):
    def test_codes_come_back_in_the_sets_order(self):
        with tempfile.TemporaryDirectory() as out, mock.patch.object(torch_eval, "TorchTar", StandIn):
            eval_set.write(out, 3, 0)
            codes_path = os.path.join(out, "codes.npy")
            torch_eval.main(["--set", os.path.join(out, "set.json"), "--out", os.path.join(out, "scores.json"),
                             "--scales", "1", "--codes-out", codes_path])
            codes = np.load(codes_path)
            with open(os.path.join(out, "scores.json")) as f:
                scores = json.load(f)
        np.testing.assert_array_equal(codes, np.arange(3)[:, None, None] * np.ones((1, 4, 4), np.int64))
        self.assertEqual(scores["t2i"]["1"]["all"], 1.0)
        self.assertEqual(scores["draws"], {"t2i-0-s1": [0], "t2i-1-s1": [1], "t2i-2-s1": [2]})

    def test_round_trip_agreements_are_kept_with_drawings(self):
        with tempfile.TemporaryDirectory() as out, mock.patch.object(torch_eval, "TorchTar", StandIn):
            evaluation = eval_set.write(out, 2, 0)
            scores, _ = torch_eval.run(evaluation, out, scales=[1], drawings=3)
            plain, _ = torch_eval.run(evaluation, out, scales=[1])
        self.assertEqual(scores["roundTrip"], {"t2i-0-s1": [0, 1, 2], "t2i-1-s1": [0, 1, 2]})
        self.assertNotIn("roundTrip", plain)

    def test_drawings_out_of_range_are_refused(self):
        for drawings in ("0", str(torch_eval.MAX_DRAWINGS + 1)):
            with self.assertRaises(SystemExit), mock.patch("sys.stderr"):
                torch_eval.main(["--set", "set.json", "--out", "scores.json", "--drawings", drawings])

    def test_codes_at_two_scales_are_refused(self):
        with self.assertRaises(SystemExit), mock.patch("sys.stderr"):
            torch_eval.main(["--set", "set.json", "--out", "scores.json", "--scales", "1,2", "--codes-out", "c.npy"])


if __name__ == "__main__":
    unittest.main()
