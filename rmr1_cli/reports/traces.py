"""What a reasoning judge's traces got right, step by step, read back from an eval run's files.

A synthetic-domain judge (``loop/arithmetic.gold_trace``) solves the question, reads each answer's
result, marks it against its solution and gives a verdict. These readers take one eval folder (its
recipe, ``results.jsonl`` and ``judgments.jsonl``, and the benchmark file it names) and measure each
step, so a report can say which step is the weakest instead of only the final accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path


def solution_accuracy(eval_dir: Path) -> float | None:
    """Share of a generative RM's judgments whose own <solution> reaches the pair's exact answer.

    It separates the two steps of a reasoning judge: solving (this figure) and marking each answer
    against the solution (the accuracy). Reads the eval folder's results, judgments and recipe.
    """
    checks = [right for _, right in _solution_checks(eval_dir)]
    return sum(checks) / len(checks) if checks else None


def solution_accuracy_by_error(eval_dir: Path) -> dict[str, float]:
    """``solution_accuracy`` per error type (the pairs' subset): which kind of pair the solving fails on."""
    by: dict[str, list[bool]] = {}
    for subset, right in _solution_checks(eval_dir):
        by.setdefault(subset, []).append(right)
    return {name: sum(v) / len(v) for name, v in sorted(by.items())}


def _judged(eval_dir: Path) -> list[tuple[dict, dict, str]]:
    """(pair row of the benchmark file, judgment entry of results.jsonl, judgment text) for every
    judgment of a generative eval run; [] when its files (or the benchmark file) are not there."""
    import yaml

    recipe_file, results_file = eval_dir / "recipe.yaml", eval_dir / "results.jsonl"
    judgments_file = eval_dir / "judgments.jsonl"
    if not (recipe_file.is_file() and results_file.is_file() and judgments_file.is_file()):
        return []
    source = Path(yaml.safe_load(recipe_file.read_text())["benchmark"]["path"])
    if not source.is_file():
        return []
    pairs = {}
    for line in source.read_text().splitlines():
        row = json.loads(line)
        pairs[row["id"]] = row
    texts = {}
    for line in judgments_file.read_text().splitlines():
        record = json.loads(line)
        texts[record["key"]] = record["text"]
    out = []
    for line in results_file.read_text().splitlines():
        row = json.loads(line)
        pair = pairs.get(row["id"].split(":", 1)[-1])
        if pair is None or pair.get("answer") is None:
            continue
        for judgment in row["judgments"]:
            out.append((pair, judgment, texts.get(judgment["key"], "")))
    return out


def _solution_checks(eval_dir: Path) -> list[tuple[str, bool]]:
    """(pair subset, own solution right) for every judgment of a generative eval run; [] for none."""
    from rmr1_cli.judging.verdicts import parse_judgment
    from rmr1_cli.rewards.verifiable import answer_matches

    checks = []
    for pair, _, text in _judged(eval_dir):
        solution = parse_judgment(text).solution
        checks.append((pair.get("subset", ""), bool(solution) and answer_matches(solution, pair["answer"])))
    return checks


_MARK = re.compile(
    r"<quote_([AB])>.*?</quote_\1> gives (-?\d+|nothing), the solution (-?\d+): (matches|differs)"
)
_VERDICT = re.compile(r"\[\[([AB])\]\]")


def trace_steps(eval_dir: Path) -> dict[str, float] | None:
    """How often each step of a synthetic-domain judge trace (``arithmetic.gold_trace``) is right, over
    the judgments of one eval run: ``solution`` (its own solution reaches the pair's answer, as in
    ``solution_accuracy``),
    ``read`` (the result it gives for each answer is that answer's final value), ``mark`` (each
    "matches"/"differs" agrees with the two numbers it sets side by side), ``follows`` (the verdict
    names the one answer it marked "matches"), ``verdict`` (the verdict picks the right answer), and
    ``copies_wrong_a``: of the judgments whose answer A is the wrong one, the share whose own solution
    reaches A's (wrong) result: a solution copied from the first answer shown, not computed; and
    ``from_marks``: how often the verdict would be right if it were read from the marks
    (``judging/verdicts.marks_verdict``: the one answer marked "matches"; none or both marked counts
    wrong), the same judgments re-read, not a new run (an eval with ``judge.verdict_rule=marks``). The
    weakest step is the lowest. None for a run without judgments.

    Per judgment, ``read`` and ``mark`` are the share of its two answers (a step not written counts
    wrong).
    """
    from rmr1_cli.judging.verdicts import marks_verdict, parse_judgment
    from rmr1_cli.loop.arithmetic import final_value
    from rmr1_cli.rewards.verifiable import answer_matches

    judged = _judged(eval_dir)
    if not judged:
        return None
    totals = dict.fromkeys(("solution", "read", "mark", "follows", "verdict", "from_marks"), 0.0)
    # judgments whose answer A is the wrong one, and of them those whose solution is A's result
    wrong_first = copied_first = 0
    for pair, judgment, text in judged:
        chosen_first = judgment.get("order", "AB") == "AB"
        shown = {
            "A": pair["chosen"] if chosen_first else pair["rejected"],
            "B": pair["rejected"] if chosen_first else pair["chosen"],
        }
        solution = re.search(r"<solution>(.*?)</solution>", text, re.S)
        totals["solution"] += bool(solution) and answer_matches(solution.group(1), pair["answer"])
        if not chosen_first:
            wrong_first += 1
            a_result = final_value(shown["A"]) or ""
            copied_first += bool(solution) and answer_matches(solution.group(1), a_result)
        marks = {slot: (given, against, mark) for slot, given, against, mark in _MARK.findall(text)}
        totals["read"] += sum(marks.get(s, ("",))[0] == final_value(shown[s]) for s in "AB") / 2
        totals["mark"] += sum((g == a) == (m == "matches") for g, a, m in marks.values()) / 2
        from_marks, _ = marks_verdict(parse_judgment(text).evaluation)
        verdict = _VERDICT.findall(text)
        totals["follows"] += bool(verdict) and from_marks is not None and verdict[-1] == from_marks
        totals["verdict"] += judgment.get("picked") == "chosen"
        totals["from_marks"] += from_marks == ("A" if chosen_first else "B")
    steps = {step: value / len(judged) for step, value in totals.items()}
    steps["copies_wrong_a"] = copied_first / wrong_first if wrong_first else None
    return steps
