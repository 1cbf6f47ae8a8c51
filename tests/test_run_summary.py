"""``rmr1 summary``: the headline of each stage from its metrics.json (values from real tiny runs)."""

from __future__ import annotations

import json

from rmr1_cli.reports.summary import collect, headline, print_summary

SYNTH = {
    "pairs_train": {"rows": 793, "chosen_longer_share": 0.9003783102143758},
    "pairs_test": {"rows": 199, "chosen_longer_share": 0.0},
    "traces_train": {"rows": 793},
}
DISTILL = {
    "tasks": 127,
    "first_pass": {"kept": 65, "rate": 0.5118110236220472},
    "second_pass": {"enabled": True, "tried": 62, "kept": 13, "rate": 0.20967741935483872},
    "kept": 78,
    "kept_rate": 0.6141732283464567,
}
REFINE = {"answers": 128, "verifiable_accuracy": 0.0078125, "selected": 127, "pairs": 127}
POLICY_EVAL = {
    "prompts": 100,
    "judges": {"judge": {"win_rate": 0.7, "wins": 40, "ties": 60, "losses": 0}},
    "verifiable": {"n": 100, "baseline_accuracy": 0.02, "policy_accuracy": 0.06},
}


def test_synth_shows_pair_counts_and_length_bias():
    assert headline("synth", SYNTH) == "pairs train/test: 793/199, chosen longer 90%/0%"


def test_distill_shows_kept_rate_and_both_passes():
    assert headline("distill", DISTILL) == "kept: 78/127 (61%; pass 1 51%, pass 2 21%)"


def test_distill_without_a_second_pass_rate_falls_back():
    gold = DISTILL | {"kept": 127, "kept_rate": 1.0, "second_pass": {"tried": 0, "rate": None}}
    assert headline("distill", gold) == "kept: 127/127 (100%)"


def test_refine_shows_bad_cases_to_pairs():
    assert headline("refine", REFINE) == "bad cases -> pairs: 127 of 128 answers -> 127 pairs"


def test_policy_eval_shows_win_rate_and_verifiable_accuracy():
    assert headline("policy-eval", POLICY_EVAL) == "win rate: 70% (W/T/L 40/60/0), verifiable acc 2% -> 6%"


def test_policy_eval_without_answers_shows_the_win_rate_only():
    no_answers = {k: v for k, v in POLICY_EVAL.items() if k != "verifiable"}
    assert headline("policy-eval", no_answers) == "win rate: 70% (W/T/L 40/60/0)"


def test_policy_eval_with_nothing_judged_shows_verifiable_accuracy():
    nothing_judged = POLICY_EVAL | {
        "judges": {"judge": {"win_rate": None, "wins": 0, "ties": 0, "losses": 0}}
    }
    assert headline("policy-eval", nothing_judged) == "verifiable acc: 2% -> 6%"


def test_grpo_adds_the_policy_eval_win_rate_when_it_ran():
    metrics = {"reward_first": 0.5, "reward_last": 0.78125}
    assert headline("grpo", metrics) == "reward first->last: 0.5 -> 0.7812"
    with_eval = metrics | {"policy_eval": POLICY_EVAL}
    assert headline("grpo", with_eval) == "reward first->last: 0.5 -> 0.7812, policy-eval win rate 70%"


def test_train_rm_scalar_shows_eval_accuracy_before_after():
    # method scalar with an eval_file: pairwise accuracy on it before and after training
    scalar = {
        "method": "scalar",
        "accuracy_first": 0.4375,
        "accuracy_last": 1.0,
        "heldout_before": {"accuracy": 0.84375, "n": 32},
        "heldout_after": {"accuracy": 0.0, "n": 32},
    }
    assert headline("train-rm", scalar) == "held-out acc before->after: 0.8438 -> 0"


def test_train_rm_scalar_without_eval_file_shows_training_accuracy():
    scalar = {"method": "scalar", "accuracy_first": 0.4375, "accuracy_last": 1.0}
    scalar |= {"heldout_before": None, "heldout_after": None}
    assert headline("train-rm", scalar) == "train-batch acc first->last: 0.4375 -> 1"


def test_train_rm_reasoning_prefers_held_out_accuracy_over_reward():
    reasoning = {
        "reward_first": 0.0,
        "reward_last": -0.5,
        "heldout_before": {"accuracy": 0.375},
        "heldout_after": {"accuracy": 0.4375},
    }
    assert headline("train-rm", reasoning) == "held-out acc before->after: 0.375 -> 0.4375"
    no_heldout = reasoning | {"heldout_before": None, "heldout_after": None}
    assert headline("train-rm", no_heldout) == "reward first->last: 0 -> -0.5"


def test_eval_shows_the_benchmark_headline_with_its_interval():
    rm_bench = {"headline": 0.49407, "headline_ci": [0.44593, 0.54], "accuracy": 0.5078}
    assert headline("eval", rm_bench) == "headline: 0.494 [0.446, 0.540]"
    assert headline("eval", {"accuracy": 0.5}) == "accuracy: 0.5"


def test_unknown_stage_or_missing_keys_show_a_dash():
    assert headline("eval-compare", {"anything": 1}) == "-"
    assert headline("synth", {"pairs_train": {"rows": "n/a"}}) == "-"


def test_collect_and_print_find_every_run(tmp_path):
    for name, stage, started, metrics in [
        ("b", "distill", "2026-01-02T00:00:00", DISTILL),
        ("a", "synth", "2026-01-01T00:00:00", SYNTH),
        ("c/policy-eval", "policy-eval", "2026-01-03T00:00:00", POLICY_EVAL),
    ]:
        folder = tmp_path / name
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(
            json.dumps({"stage": stage, "started": started, "seconds": 1.0})
        )
        (folder / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "manifest.json").write_text(json.dumps({"stage": "refine", "started": "2026-01-04"}))

    runs = collect(tmp_path)
    assert [r["stage"] for r in runs] == ["synth", "distill", "policy-eval", "refine"]
    assert runs[-1]["metrics"] == {}  # a run that stopped before metrics.json
    assert [headline(r["stage"], r["metrics"]) for r in print_summary(tmp_path)][-1] == "-"
