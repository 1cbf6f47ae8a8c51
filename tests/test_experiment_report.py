"""rmr1 experiment-report over hand-written run folders: the concise test set, the judge ablation, the
policies' intervals, the GRPO diagnostics and a second experiment beside the first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmr1_cli.reports.experiment import (
    ablation_results,
    grpo_diagnostics,
    paired_accuracy,
    write_experiment_report,
)


def _write(path: Path, values: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(values))


def _eval(root: Path, folder: str, accuracy: float, swap: float | None = None, longer: float = 0.5) -> None:
    diagnostics = {"prefers_longer": longer, "invalid_rate": 0.0}
    if swap is not None:
        diagnostics["swap_consistency"] = swap
    _write(
        root / "eval" / folder,
        {
            "accuracy": accuracy,
            "accuracy_ci": [accuracy - 0.1, accuracy + 0.1],
            "n_comparisons": 10,
            "subsets": {"off_by_one": {"accuracy": accuracy}},
            "diagnostics": diagnostics,
        },
    )


def _policy(root: Path, name: str, before: list[bool], after: list[bool]) -> None:
    folder = root / "policy-eval" / name
    _write(
        folder,
        {
            "prompts": len(before),
            "judges": {"judge": {"win_rate": 0.6, "win_rate_se": 0.05}},
            "verifiable": {
                "n": len(before),
                "baseline_accuracy": sum(before) / len(before),
                "policy_accuracy": sum(after) / len(after),
            },
            "length": {"baseline_mean_tokens": 14.0, "policy_mean_tokens": 15.0},
        },
    )
    rows = [
        {"id": f"p{i}", "baseline_correct": b, "policy_correct": a}
        for i, (b, a) in enumerate(zip(before, after, strict=True))
    ]
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    grpo = root / f"grpo-{name}"
    _write(
        grpo,
        {
            "global_step": 4,
            "reward_trend": {"first": 0.25, "last": 0.75},
            "reward_length_trend_corr": 0.1,
            "diagnostics": {
                "completions/mean_length": {"first": 12.0, "last": 13.0, "mean": 12.5},
                "judge/swap_flip_rate": {"mean": 0.125},
                "hacking/verifiable_agreement": {"mean": 0.875},
            },
        },
    )
    log = [{"step": s, "rewards/verifiable_reward/mean": v} for s, v in enumerate([0.0, 0.5, 0.5, 1.0])]
    (grpo / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))


@pytest.fixture
def smol(tmp_path: Path) -> Path:
    root = tmp_path / "experiment-smol"
    for prefix, test, concise, swap in [
        ("plain", 0.2, 0.5, 0.1),
        ("sft", 0.6, 0.7, 0.6),
        ("sft-solve", 0.4, 0.55, 0.3),
        ("reasoning", 0.9, 0.85, 0.8),
    ]:
        _eval(root, f"{prefix}-test", test, swap)
        _eval(root, f"{prefix}-test-concise", concise, swap)
    _eval(root, "scalar-test", 0.0, None, longer=1.0)
    _eval(root, "scalar-test-concise", 0.5)
    # 10 prompts: 4 right before; after, 3 more right and 1 broken -> 6 right
    before = [True] * 4 + [False] * 6
    after = [True, True, True, False] + [True, True, True] + [False] * 3
    _policy(root, "reasoning", before, after)
    return root


def test_paired_accuracy_by_hand():
    out = paired_accuracy([True, False, False, True, False], [True, True, False, False, True])
    assert out["accuracy_change"] == pytest.approx(0.2)  # 3/5 - 2/5
    assert (out["improved"], out["worsened"]) == (2, 1)
    assert out["mcnemar_p"] == 1.0  # 2 * P(X <= 1), X ~ Bin(3, 1/2) = 2 * 4/8, capped at 1
    lo, hi = out["accuracy_change_ci"]
    assert lo <= 0.2 <= hi and -1 <= lo and hi <= 1
    everything = paired_accuracy([False] * 8, [True] * 8)
    assert everything["accuracy_change_ci"] == [1.0, 1.0] and everything["mcnemar_p"] == pytest.approx(
        2 / 2**8
    )
    assert everything["accuracy_before_ci"] == [0.0, 0.0] and everything["accuracy_after_ci"] == [1.0, 1.0]
    assert paired_accuracy([], []) == {}
    # seeded: the same inputs give the same interval
    assert paired_accuracy([True, False] * 5, [True] * 10) == paired_accuracy([True, False] * 5, [True] * 10)


def test_ablation_rows_follow_the_eval_folders(smol):
    rows = ablation_results(smol)
    assert [r["folder"] for r in rows] == ["plain", "sft", "sft-solve", "reasoning", "scalar"]
    best = rows[3]
    assert (best["test_accuracy"], best["concise_accuracy"]) == (0.9, 0.85)
    assert best["swap_consistency"] == best["concise_swap_consistency"] == 0.8
    assert rows[4]["swap_consistency"] is None and best["own_solution_correct"] is None  # no judgments here


def test_no_ablation_without_its_judges(tmp_path):
    _eval(tmp_path, "reasoning-test", 0.5, 0.5)
    assert ablation_results(tmp_path) == []


def test_grpo_diagnostics_read_the_metrics_and_the_log(smol):
    (run,) = grpo_diagnostics(smol)
    assert (run["reward_first"], run["reward_last"], run["steps"]) == (0.25, 0.75, 4)
    assert (run["length_first"], run["length_last"]) == (12.0, 13.0)
    assert run["judge/swap_flip_rate"] == 0.125 and run["hacking/verifiable_agreement"] == 0.875
    assert run["judge/tie_rate"] is None
    # 4 logged steps: a quarter is one step
    assert (run["verifiable_first_quarter"], run["verifiable_last_quarter"]) == (0.0, 1.0)


def test_report_with_a_run_beside_it(smol, tmp_path):
    tiny = tmp_path / "experiment"
    _eval(tiny, "reasoning-test", 0.356, 0.4)
    _eval(tiny, "scalar-test", 0.39, None)
    results = write_experiment_report(smol, beside=tiny)
    (policy,) = results["policies"]
    assert (policy["accuracy_before"], policy["accuracy_after"]) == (0.4, 0.6)
    assert (policy["improved"], policy["worsened"], policy["accuracy_change"]) == (3, 1, pytest.approx(0.2))
    assert results["beside"]["name"] == "experiment"
    assert [r["rm"] for r in results["beside"]["reward_models"]] == [
        "reasoning RM (SFT + RLVR)",
        "scalar RM (Bradley-Terry)",
    ]
    text = (smol / "results.md").read_text()
    assert text.startswith("# make experiment-smol: results")
    assert "## (1b) What the judge needs: the ablation" in text
    assert "### Reward-hacking diagnostics of each GRPO run" in text
    lines = text.splitlines()
    # the smol RM row, then the tiny one, told apart by the run column
    assert any(
        line.startswith("| this run | reasoning RM (SFT + RLVR) | 90.0% [80.0, 100.0] | 85.0% [75.0, 95.0] |")
        for line in lines
    )
    assert any(
        line.startswith("| experiment | reasoning RM (SFT + RLVR) | 35.6% [25.6, 45.6] | - |")
        for line in lines
    )
    assert any("+20.0 pts" in line and "(+3 / -1, p=0.625)" in line for line in lines)  # 2 * 5/16


def test_report_says_when_the_run_beside_is_missing(smol, tmp_path):
    results = write_experiment_report(smol, beside=tmp_path / "nowhere")
    assert results["beside"] == {"name": "nowhere", "root": str(tmp_path / "nowhere"), "missing": True}
    assert "No `nowhere` results on this machine" in (smol / "results.md").read_text()


def test_trace_steps_by_hand(tmp_path):
    """Two judgments of one pair (7 + 5: 12 right, 13 wrong). AB: a perfect trace. BA: the judge copies
    answer A's result as its solution (13), marks both consistently with it, then names B anyway."""
    from rmr1_cli.reports.traces import trace_steps

    pair = {
        "id": "p1",
        "prompt": "What is 7 + 5?",
        "chosen": "We get 7 + 5 = 12. The answer is 12.",
        "rejected": "We get 7 + 5 = 13. The answer is 13.",
        "answer": "12",
        "subset": "off_by_one",
    }
    bench = tmp_path / "pairs.jsonl"
    bench.write_text(json.dumps(pair) + "\n")
    run = tmp_path / "eval"
    run.mkdir()
    (run / "recipe.yaml").write_text(f"benchmark:\n  path: {bench}\n")
    perfect = (
        "<type>Reasoning</type><solution> We get 7 + 5 = 12. The answer is 12.</solution> <eval>A: <quote_A> 7 + 5 "
        "= 12</quote_A> gives 12, the solution 12: matches. B: <quote_B> 7 + 5 = 13</quote_B> gives 13, the "
        "solution 12: differs.</eval><answer>[[A]]</answer>"
    )
    copied = (
        "<type>Reasoning</type><solution> We get 7 + 5 = 13. The answer is 13.</solution> <eval>A: <quote_A> 7 + 5 "
        "= 13</quote_A> gives 13, the solution 13: matches. B: <quote_B> 7 + 5 = 12</quote_B> gives 12, the "
        "solution 13: matches.</eval><answer>[[B]]</answer>"
    )
    (run / "judgments.jsonl").write_text(
        json.dumps({"key": "k1", "text": perfect}) + "\n" + json.dumps({"key": "k2", "text": copied}) + "\n"
    )
    judgments = [
        {"key": "k1", "order": "AB", "picked": "chosen"},
        {"key": "k2", "order": "BA", "picked": "chosen"},
    ]
    (run / "results.jsonl").write_text(json.dumps({"id": "pairs:p1", "judgments": judgments}) + "\n")
    steps = trace_steps(run)
    # solution: 1 of 2; read: both right in both; marks: 2/2, then 1/2 (B "matches" 12 vs 13 is wrong);
    # follows: the first names its one "matches"; the second marked two, so it follows nothing
    # read from the marks: the first names A (the right answer, shown first); the second marks both;
    # copies: the one judgment with the wrong answer shown first (BA) took its result as its solution
    assert steps == {
        "solution": 0.5,
        "copies_wrong_a": 1.0,
        "read": 1.0,
        "mark": 0.75,
        "follows": 0.5,
        "verdict": 1.0,
        "from_marks": 0.5,
    }
    assert trace_steps(tmp_path / "nothing") is None


def test_cli_takes_the_run_beside(smol, tmp_path):
    from typer.testing import CliRunner

    from rmr1_cli.cli import app

    tiny = tmp_path / "experiment"
    _eval(tiny, "scalar-test", 0.39, None)
    result = CliRunner().invoke(app, ["experiment-report", str(smol), "--beside", str(tiny)])
    assert result.exit_code == 0, result.output
    assert json.loads((smol / "results.json").read_text())["beside"]["name"] == "experiment"
    alone = CliRunner().invoke(app, ["experiment-report", str(smol)])
    assert alone.exit_code == 0 and json.loads((smol / "results.json").read_text())["beside"] is None
