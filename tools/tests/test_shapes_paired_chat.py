"""tools.shapes.paired_chat: the discordant counts and the exact McNemar p-value, over small hand-made sets."""
import unittest

from tools.shapes import paired_chat


def question(item_id, truth):
    return {"id": item_id, "question": "what colour is the circle?", "truth": truth}


class PairedChatTest(unittest.TestCase):
    def test_exact_p_values(self):
        self.assertEqual(paired_chat.mcnemar_exact_p(0, 0), 1.0)
        self.assertAlmostEqual(paired_chat.mcnemar_exact_p(3, 0), 0.25)          # 2 · (1/2)³
        self.assertAlmostEqual(paired_chat.mcnemar_exact_p(5, 1), 2 * 7 / 64)    # 2 · (1 + 6) / 2⁶
        self.assertEqual(paired_chat.mcnemar_exact_p(2, 2), 1.0)
        self.assertEqual(paired_chat.mcnemar_exact_p(1, 5), paired_chat.mcnemar_exact_p(5, 1))

    def test_counts_pool_the_sets_and_score_each_answer(self):
        first_set = {"chat": [question("chat-0", "red"), question("chat-1", "blue"), question("chat-2", "green")]}
        second_set = {"chat": [question("chat-0", "yellow")]}
        result = paired_chat.compare([
            (first_set, {"chat-0": "Red.", "chat-1": "blue", "chat-2": "red"},
             {"chat-0": "red", "chat-1": "green", "chat-2": "red"}),
            (second_set, {"chat-0": "yellow"}, {"chat-0": "orange"}),
        ])
        self.assertEqual(result, {"questions": 4, "firstRight": 3, "secondRight": 1, "onlyFirst": 2,
                                  "onlySecond": 0, "p": 0.5})

    def test_a_question_one_run_did_not_answer_is_refused(self):
        evaluation = {"chat": [question("chat-0", "red"), question("chat-1", "blue")]}
        with self.assertRaises(KeyError):
            paired_chat.compare([(evaluation, {"chat-0": "red", "chat-1": "blue"}, {"chat-0": "red"})])


if __name__ == "__main__":
    unittest.main()
