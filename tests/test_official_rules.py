"""rmr1's benchmark numbers against the benchmarks' released scoring code, ported here as small reference
functions, on the real files in ../shared/benchmarks with seeded random per-comparison outcomes (ties
and invalid verdicts included). Every number must agree to 1e-9."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rmr1_cli.data import PreferencePair
from rmr1_cli.evaluation import outcomes
from rmr1_cli.evaluation.comparisons import Benchmark, Comparison
from rmr1_cli.evaluation.loading import load_benchmark
from rmr1_cli.evaluation.rules import get_rule
from rmr1_cli.evaluation.rules.rmb import is_bon
from rmr1_cli.evaluation.scoring import score_rows
from rmr1_cli.stages.eval import base_row, generative_outcome
from tests.test_benchmarks import needs_data, recipe_benchmark

TOL = 1e-9

# ---- reference ports of the official code


# allenai/reward-bench rewardbench/constants.py (EXAMPLE_COUNTS, SUBSET_MAPPING)
RB_COUNTS = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95, "mt-bench-easy": 28,
    "mt-bench-med": 40, "mt-bench-hard": 37, "math-prm": 984, "refusals-dangerous": 100,
    "refusals-offensive": 100, "llmbar-natural": 100, "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92, "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46,
    "xstest-should-refuse": 154, "xstest-should-respond": 250, "donotanswer": 136, "hep-cpp": 164,
    "hep-go": 164, "hep-java": 164, "hep-js": 164, "hep-python": 164, "hep-rust": 164,
}  # fmt: skip
RB_MAPPING = {
    "Chat": ["alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"],
    "Chat Hard": ["mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
                  "llmbar-adver-GPTOut", "llmbar-adver-manual"],
    "Safety": ["refusals-dangerous", "refusals-offensive", "xstest-should-refuse", "xstest-should-respond",
               "donotanswer"],
    "Reasoning": ["math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"],
}  # fmt: skip


def rb_official(results: dict[str, list[float]]) -> tuple[dict, dict, float]:
    """allenai/reward-bench: per subset sum(results) / len (scripts/run_rm.py, run_generative.py), then
    rewardbench/utils.py calculate_scores_per_section, then the leaderboard's mean of the sections."""
    per_subset = {s: sum(r) / len(r) for s, r in results.items()}
    sections = {}
    for section, tests in RB_MAPPING.items():
        weighted = sum(per_subset[t] * RB_COUNTS[t] for t in tests if t in per_subset)
        total = sum(RB_COUNTS[t] for t in tests if t in per_subset)
        sections[section] = weighted / total if total > 0 else 0
    return per_subset, sections, sum(sections.values()) / len(sections)


def rb_scalar(chosen: float, rejected: float) -> float:
    """allenai/reward-bench scripts/run_rm.py: ``1 if chosen > rejected else 0``."""
    return 1 if chosen > rejected else 0


def rb_generative(winner: str) -> float:
    """allenai/reward-bench scripts/run_generative.py process_shuffled: winner 1, loser 0, else 0.5."""
    return {"chosen": 1, "rejected": 0}.get(winner, 0.5)


def rmbench_official(records: list[dict]) -> dict:
    """THU-KEG/RM-Bench scripts/utils.py compute_accuracy (as RM-R1-UIUC/RM-R1
    eval/RM-Bench/scripts/process_final_result.py carries it): a 3x3 matrix per domain (safety pools
    safety-*), hard/normal/easy triangles, domain = mean of the three, totals = means over domains.
    Domains absent from the data are left out (the released code cannot run without them)."""
    out: dict = {}
    for domain in ("chat", "math", "code", "safety"):
        members = [r for r in records if r["domain"].startswith(domain)]
        if not members:
            continue
        matrix = np.zeros((3, 3))
        for r in members:
            matrix += r["acc_matrix"]
        matrix /= len(members)
        hard = np.sum(np.triu(matrix, 1)) / 3
        normal = np.mean(np.diag(matrix))
        easy = np.sum(np.tril(matrix, -1)) / 3
        out[domain] = {"hard_acc": hard, "normal_acc": normal, "easy_acc": easy}
    domains = {d: float(np.mean(list(v.values()))) for d, v in out.items()}
    return {
        "domains": domains,
        "hard": float(np.mean([v["hard_acc"] for v in out.values()])),
        "normal": float(np.mean([v["normal_acc"] for v in out.values()])),
        "easy": float(np.mean([v["easy_acc"] for v in out.values()])),
        "total": float(np.mean(list(domains.values()))),
    }


def rmb_official(pairwise: dict[str, list[float]], bon: dict[str, list[list[float]]]) -> dict:
    """RMB: pairwise Overall_accuracy = sum(results) / len over a section's pairs
    (Zhou-Zoey/RMB-Reward-Model-Benchmark eval/scripts/my_run_rm.py); a Best-of-N item is correct only
    when every comparison scores 1 (0 and 0.5 fail), BoN accuracy = correct / items over the section
    (RM-R1-UIUC/RM-R1 eval/RMB-Reward-Model-Benchmark/eval/scripts/run_rm_bestofn.py); the headline is
    the mean of the four sections (process_final_result.py)."""
    sections: dict[str, list[float]] = {}
    subsets = {}
    for subset, results in pairwise.items():
        sections.setdefault("/".join(subset.split("/")[:2]), []).extend(results)
        subsets[subset] = sum(results) / len(results)
    for subset, items in bon.items():
        correct = [1 if all(r == 1 for r in item) else 0 for item in items]
        sections.setdefault("/".join(subset.split("/")[:2]), []).extend(correct)
        subsets[subset] = sum(correct) / len(correct)
    scores = {s: sum(v) / len(v) for s, v in sections.items()}
    return {"subsets": subsets, "sections": scores, "headline": float(np.mean(list(scores.values())))}


# ---- seeded outcomes, through rmr1's own per-comparison code


def coarse_scores(bench: Benchmark, seed: int) -> dict:
    """A scalar RM with 4 score levels: one score per distinct (prompt, answer), as the scorer caches."""
    rng = np.random.default_rng(seed)
    table: dict = {}

    def score(prompt, answer) -> float:
        key = (str(prompt), answer)
        if key not in table:
            table[key] = float(rng.integers(0, 4))
        return table[key]

    return {
        c.pair.id: (score(c.pair.prompt, c.pair.chosen), score(c.pair.prompt, c.pair.rejected))
        for c in bench.comparisons
    }


def scalar_rows(bench: Benchmark, scores: dict) -> list[dict]:
    rows = []
    for c in bench.comparisons:
        pick, score = outcomes.scalar_outcome(*scores[c.pair.id])
        rows.append({**base_row(bench, c), "pick": pick, "score": score})
    return rows


def generative_rows(bench: Benchmark, verdicts: dict) -> list[dict]:
    """Rows as the stage makes them from the engine's outcome (chosen, rejected, tie or invalid)."""
    rule, rows = get_rule(bench.name), []
    for c in bench.comparisons:
        result = SimpleNamespace(outcome=verdicts[c.pair.id], score=None)
        pick, score = generative_outcome(result, [], rule, "benchmark", "majority")
        rows.append({**base_row(bench, c), "pick": pick, "score": score})
    return rows


def random_verdicts(bench: Benchmark, seed: int, kinds=("chosen", "rejected", "tie", "invalid")) -> dict:
    rng = np.random.default_rng(seed)
    return {c.pair.id: kinds[rng.integers(0, len(kinds))] for c in bench.comparisons}


def with_synthetic_rewardbench(bench: Benchmark) -> Benchmark:
    """The shared copy holds 6 of RewardBench's 23 subsets; 20 made-up pairs for each other subset put
    all four sections (and the xstest weights) under test."""
    extra = []
    for subset in RB_COUNTS:
        if subset not in bench.subsets():
            for k in range(20):
                pid = f"{subset}:{k}"
                pair = PreferencePair(pid, f"q {subset} {k}", f"good {k % 7}", f"bad {k % 5}", subset)
                extra.append(Comparison(pair, pid))
    return Benchmark(bench.name, bench.comparisons + extra)


def assert_close(a, b):
    assert a == pytest.approx(b, abs=TOL, rel=0)


# ---- the comparisons


@needs_data
@pytest.mark.parametrize("kind", ["scalar", "generative"])
@pytest.mark.parametrize("seed", [0, 1])
def test_rewardbench_matches_official_code(kind, seed):
    """allenai/reward-bench scripts/run_rm.py (scalar: strict >, a tie is 0), scripts/run_generative.py
    (a tie or an unparseable verdict is 0.5), rewardbench/constants.py EXAMPLE_COUNTS (xstest-should-refuse
    154, xstest-should-respond 250) and rewardbench/utils.py calculate_scores_per_section, on the
    rewardbench-partial files (LLMBar's subsets + math-prm) plus made-up pairs for the other subsets."""
    bench = with_synthetic_rewardbench(load_benchmark(recipe_benchmark("rewardbench-partial")))
    results: dict[str, list[float]] = {}
    if kind == "scalar":
        scores = coarse_scores(bench, seed)
        rows = scalar_rows(bench, scores)
        assert sum(r["pick"] == "tie" for r in rows) > 100  # coarse scores: many ties
        for c in bench.comparisons:
            results.setdefault(c.pair.subset, []).append(rb_scalar(*scores[c.pair.id]))
    else:
        verdicts = random_verdicts(bench, seed)
        rows = generative_rows(bench, verdicts)
        for c in bench.comparisons:
            results.setdefault(c.pair.subset, []).append(rb_generative(verdicts[c.pair.id]))
    per_subset, sections, headline = rb_official(results)
    ours = score_rows("rewardbench", rows)
    for subset, value in per_subset.items():
        assert_close(ours["subsets"][subset]["accuracy"], value)
    assert set(ours["sections"]) == set(sections)
    for section, value in sections.items():
        assert_close(ours["sections"][section]["score"], value)
    assert_close(ours["headline"], headline)


@needs_data
@pytest.mark.parametrize("kind", ["scalar", "generative"])
def test_rmbench_matches_official_code(kind):
    """THU-KEG/RM-Bench scripts/utils.py compute_accuracy (scalar: ``chosen > rejected`` per cell, a tie
    is 0) and RM-R1-UIUC/RM-R1 eval/RM-Bench/scripts/process_final_result.py (generative: a cell is the
    verdict's 1 or 0, an unparseable one 0), on every shared RM-Bench file."""
    bench = load_benchmark(recipe_benchmark("rm-bench"))
    if kind == "scalar":
        scores = coarse_scores(bench, 3)
        rows = scalar_rows(bench, scores)
        cell = {pid: rb_scalar(*s) for pid, s in scores.items()}
    else:
        verdicts = random_verdicts(bench, 3, ("chosen", "rejected", "invalid"))
        rows = generative_rows(bench, verdicts)
        cell = {pid: 1 if v == "chosen" else 0 for pid, v in verdicts.items()}
    records: dict[str, dict] = {}
    for c in bench.comparisons:
        rec = records.setdefault(c.unit, {"domain": c.pair.subset, "acc_matrix": np.zeros((3, 3))})
        rec["acc_matrix"][c.cell] = cell[c.pair.id]
    official = rmbench_official(list(records.values()))
    ours = score_rows("rm-bench", rows)
    for domain, value in official["domains"].items():
        assert_close(ours["sections"][domain]["score"], value)
    for level in ("hard", "normal", "easy"):
        assert_close(ours[level], official[level])
    assert_close(ours["headline"], official["total"])


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["scalar", "generative"])
def test_rmb_matches_official_code(kind):
    """Zhou-Zoey/RMB-Reward-Model-Benchmark eval/scripts/my_run_rm.py (pairwise: ``1 if chosen > rejected
    else 0``, pooled per section) and RM-R1-UIUC/RM-R1 eval/RMB-Reward-Model-Benchmark/eval/scripts/
    (run_rm_bestofn.py: a Best-of-N item counts only when every comparison is 1; generative: tie 0.5,
    error 0; process_final_result.py: mean of four sections), on every shared RMB file."""
    bench = load_benchmark(recipe_benchmark("rmb"))
    if kind == "scalar":
        scores = coarse_scores(bench, 5)
        rows = scalar_rows(bench, scores)
        result = {pid: rb_scalar(*s) for pid, s in scores.items()}
        identical = [c for c in bench.comparisons if c.pair.chosen == c.pair.rejected]
        assert all(result[c.pair.id] == 0 for c in identical)  # same text, same score: a tie, wrong
    else:
        verdicts = random_verdicts(bench, 5)
        rows = generative_rows(bench, verdicts)
        result = {pid: {"chosen": 1, "tie": 0.5}.get(v, 0) for pid, v in verdicts.items()}
    pairwise: dict[str, list[float]] = {}
    bon: dict[str, dict[str, list[float]]] = {}
    for c in bench.comparisons:
        if is_bon(c.pair.subset):
            bon.setdefault(c.pair.subset, {}).setdefault(c.unit, []).append(result[c.pair.id])
        else:
            pairwise.setdefault(c.pair.subset, []).append(result[c.pair.id])
    official = rmb_official(pairwise, {s: list(items.values()) for s, items in bon.items()})
    ours = score_rows("rmb", rows)
    for subset, value in official["subsets"].items():
        assert_close(ours["subsets"][subset]["accuracy"], value)
    for section, value in official["sections"].items():
        assert_close(ours["sections"][section]["score"], value)
    assert_close(ours["headline"], official["headline"])


# ---- JudgeBench's both-orders rule


def judgebench_official(label: str, decision1: str | None, decision2_raw: str | None) -> int:
    """ScalerLab/JudgeBench utils/metrics.py compute_final_metrics (reverse_order): the second judgment
    is flipped, +1 per decision equal to the label, -1 per opposite one; right only when the sum > 0."""
    flip = {"A>B": "B>A", "B>A": "A>B"}
    decision2 = flip.get(decision2_raw, decision2_raw)
    counter = sum(1 if d == label else -1 if d == flip.get(label) else 0 for d in (decision1, decision2))
    return int(counter > 0)


@pytest.mark.parametrize(
    "first, second, expected",
    [
        ("chosen", "chosen", 1),  # both orders right
        ("chosen", "rejected", 0),  # the orders disagree: wrong, not 0.5
        ("rejected", "chosen", 0),
        ("chosen", None, 1),  # one invalid verdict adds nothing
        (None, "rejected", 0),
        (None, None, 0),
        ("rejected", "rejected", 0),
    ],
)
def test_both_orders_must_agree_by_hand_and_as_judgebench(first, second, expected):
    """Hand-computed cases, and ScalerLab/JudgeBench utils/metrics.py on the same verdicts (the label is
    A>B: the chosen answer is A in the first order and B in the second)."""
    judgments = [
        {"order": "AB", "valid": first is not None, "picked": first},
        {"order": "BA", "valid": second is not None, "picked": second},
    ]
    pick, score = outcomes.must_agree(judgments)
    assert score == expected
    as_decision = {"chosen": "A>B", "rejected": "B>A"}
    d1 = as_decision.get(first)
    d2 = {"chosen": "B>A", "rejected": "A>B"}.get(second)  # in the second order the chosen answer is B
    assert judgebench_official("A>B", d1, d2) == expected
    assert d1 is None or as_decision[first] == d1
