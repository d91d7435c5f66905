"""Two chat runs over the same held-out questions compared answer by answer: how many questions only the first
answers right, how many only the second, and the exact two-sided McNemar test of the difference (a sign test over
those discordant questions). For choosing between two LLMs on the same sets; it does not run any model.

    python3 -m tools.shapes.paired_chat --pair SET.json FIRST.json SECOND.json [--pair …]
        FIRST/SECOND: torch_eval outputs ({"answers": {item id: answer}}) over SET (eval_set write); several
        --pair pool their questions. Prints {"questions", "firstRight", "secondRight", "onlyFirst", "onlySecond",
        "p"}."""
import argparse
import json
import math
import sys
from typing import Dict, List, Tuple

from tools.convert.files import read_json
from tools.shapes import evaluate


def mcnemar_exact_p(only_first: int, only_second: int) -> float:
    """Exact two-sided McNemar p-value: the chance, under a fair coin over the discordant questions, of a split
    at least as uneven as the one seen."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_first, only_second) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare(pairs: List[Tuple[Dict, Dict[str, str], Dict[str, str]]]) -> Dict[str, float]:
    """pairs: [(evaluation set, first answers {id: answer}, second answers)] → the pooled comparison. Every
    question of every set must be answered by both runs."""
    counts = {"questions": 0, "firstRight": 0, "secondRight": 0, "onlyFirst": 0, "onlySecond": 0}
    for evaluation, first, second in pairs:
        for item in evaluation["chat"]:
            if item["id"] not in first or item["id"] not in second:
                raise KeyError(f"{item['id']} is not answered by both runs")
            a = evaluate.score_answer(item["question"], item["truth"], first[item["id"]])
            b = evaluate.score_answer(item["question"], item["truth"], second[item["id"]])
            counts["questions"] += 1
            counts["firstRight"] += a
            counts["secondRight"] += b
            counts["onlyFirst"] += a and not b
            counts["onlySecond"] += b and not a
    return dict(counts, p=mcnemar_exact_p(counts["onlyFirst"], counts["onlySecond"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs=3, action="append", required=True, metavar=("SET", "FIRST", "SECOND"))
    args = parser.parse_args(argv)
    pairs = [(read_json(s, "the evaluation set"), read_json(a, "the first run")["answers"],
              read_json(b, "the second run")["answers"]) for s, a, b in args.pair]
    json.dump(compare(pairs), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
