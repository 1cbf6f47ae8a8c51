"""The loop and experiment reports read the metrics the stages leave and tabulate them per round."""

from __future__ import annotations

import json

import pytest

from rmr1_cli.errors import DataError
from rmr1_cli.reports.experiment import write_experiment_report
from rmr1_cli.reports.loop import collect_rounds, write_loop_report


def _put(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _eval_metrics(accuracy, prefers_longer, subsets=None):
    return {
        "accuracy": accuracy,
        "accuracy_ci": [accuracy - 0.1, accuracy + 0.1],
        "n_comparisons": 120,
        "subsets": {name: {"accuracy": a} for name, a in (subsets or {}).items()},
        "diagnostics": {"prefers_longer": prefers_longer, "invalid_rate": 0.0},
    }


def _grpo_metrics(first, last, before, after, win):
    return {
        "reward_trend": {"first": first, "last": last},
        "reward_length_trend_corr": 0.1,
        "policy_eval": {
            "judges": {"judge": {"win_rate": win, "win_rate_se": 0.05}},
            "verifiable": {"n": 60, "baseline_accuracy": before, "policy_accuracy": after},
        },
    }


@pytest.fixture
def loop_dir(tmp_path):
    root = tmp_path / "loop"
    _put(root / "round-0" / "eval" / "metrics.json", _eval_metrics(0.40, 0.7))
    r1 = root / "round-1"
    _put(
        r1 / "refine" / "metrics.json",
        {"answers": 128, "selected": 50, "pairs": 48, "verifiable_accuracy": 0.6},
    )
    _put(r1 / "distill" / "metrics.json", {"written": 48, "kept_rate": 1.0})
    _put(
        r1 / "train-rm" / "metrics.json",
        {"heldout_before": {"accuracy": 0.4}, "heldout_after": {"accuracy": 0.5}},
    )
    _put(r1 / "eval" / "metrics.json", _eval_metrics(0.55, 0.5))
    _put(r1 / "grpo" / "metrics.json", _grpo_metrics(0.2, 0.4, 0.30, 0.45, 0.6))
    (root / "round-2" / "refine").mkdir(parents=True)  # a round still running: read, mostly empty
    return root


def test_rounds_are_read_in_order_with_their_figures(loop_dir):
    rounds = collect_rounds(loop_dir)
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert rounds[0]["rm_accuracy"] == 0.40 and "policy_accuracy_after" not in rounds[0]
    one = rounds[1]
    assert (one["bad_cases"], one["refined_pairs"], one["traces_kept"]) == (50, 48, 48)
    assert (one["policy_accuracy_before"], one["policy_accuracy_after"]) == (0.30, 0.45)
    assert (one["win_rate"], one["grpo_reward_first"], one["grpo_reward_last"]) == (0.6, 0.2, 0.4)
    assert rounds[2] == {"round": 2}


def test_loop_report_writes_table_json_and_plot(loop_dir):
    write_loop_report(loop_dir)
    table = (loop_dir / "loop.md").read_text()
    assert (
        "| 1 | 50 -> 48 | 48 | 55.0% [45.0, 65.0] | 50.0% | 0.200 -> 0.400 | 60.0% ± 5.0 | 30.0% -> 45.0% |"
        in table
    )
    assert json.loads((loop_dir / "loop.json").read_text())["rounds"][1]["rm_accuracy"] == 0.55
    assert (loop_dir / "loop.png").stat().st_size > 0


def test_loop_report_without_rounds_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no round-N folders"):
        collect_rounds(tmp_path)


def test_experiment_report_tabulates_both_rms_and_both_policies(tmp_path, loop_dir):
    root = tmp_path
    subsets = {"off_by_one": 0.2, "wrong_operator": 1.0}
    _put(root / "eval" / "reasoning-test" / "metrics.json", _eval_metrics(0.6, 0.4, subsets))
    _put(root / "eval" / "reasoning-test-iid" / "metrics.json", _eval_metrics(0.9, 0.9))
    _put(root / "eval" / "scalar-test" / "metrics.json", _eval_metrics(0.1, 0.9, subsets))
    _put(root / "eval" / "scalar-test-iid" / "metrics.json", _eval_metrics(0.95, 0.9))
    for name, after in (("reasoning", 0.5), ("scalar", 0.2)):
        _put(root / f"grpo-{name}" / "metrics.json", _grpo_metrics(0.1, 0.3, 0.3, after, 0.5))
        evaluation = _grpo_metrics(0, 0, 0.3, after, 0.5)["policy_eval"]
        evaluation["length"] = {"baseline_mean_tokens": 12.0, "policy_mean_tokens": 14.0}
        _put(root / "policy-eval" / name / "metrics.json", evaluation)
    _put(root / "synth" / "manifest.json", {"started": "2026-01-01", "git_commit": "abc123"})

    results = write_experiment_report(root)
    assert [r["rm"] for r in results["reward_models"]] == [
        "reasoning RM (SFT + RLVR)",
        "scalar RM (Bradley-Terry)",
    ]
    assert results["reward_models"][0]["by_error"] == subsets
    assert [(p["accuracy_before"], p["accuracy_after"]) for p in results["policies"]] == [
        (0.3, 0.5),
        (0.3, 0.2),
    ]
    assert len(results["loop_rounds"]) == 3 and results["commit"] == "abc123"
    text = (root / "results.md").read_text()
    assert (
        "| scalar RM (Bradley-Terry) | 10.0% [0.0, 20.0] | 95.0% [85.0, 105.0] | 90.0% | - | 20.0% | 100.0% |"
        in text
    )
    assert "30.0% -> 50.0% (n=60)" in text and "commit `abc123`" in text
    for png in ("rms.png", "policies.png"):
        assert (root / png).stat().st_size > 0


def test_solution_accuracy_reads_each_judgments_own_solution(tmp_path):
    from rmr1_cli.reports.experiment import solution_accuracy

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"id": "q1", "prompt": "What is 3 + 4?", "chosen": "7", "rejected": "8", "answer": "7"})
    )
    run = tmp_path / "eval"
    run.mkdir()
    (run / "recipe.yaml").write_text(f"benchmark:\n  path: {pairs}\n")
    texts = {
        "k1": "<solution> We get 3 + 4 = 7. The answer is 7.</solution><answer>[[A]]</answer>",
        "k2": "<solution> We get 3 + 4 = 8. The answer is 8.</solution><answer>[[B]]</answer>",
    }
    (run / "judgments.jsonl").write_text(
        "\n".join(json.dumps({"key": k, "text": t}) for k, t in texts.items())
    )
    (run / "results.jsonl").write_text(
        json.dumps({"id": "pairs:q1", "judgments": [{"key": "k1"}, {"key": "k2"}]})
    )
    assert solution_accuracy(run) == 0.5
    assert solution_accuracy(tmp_path / "missing") is None
