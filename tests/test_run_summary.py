"""``rmr1 summary``: the headline of each stage, read from the metrics.json of real (scripted) runs."""

from __future__ import annotations

import json
import shutil

import pytest

from rmr1_cli.reports.formatting import format_value
from rmr1_cli.reports.metrics import StageMetrics, read_stage_metrics
from rmr1_cli.reports.summary import collect, headline, print_summary


def _headlines(root) -> dict[str, str]:
    """Each run's headline by its folder (relative to ``root``)."""
    return {r["folder"].relative_to(root).as_posix(): headline(r["metrics"]) for r in collect(root)}


def _metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_model_free_stages_show_their_headline(runs):
    shown = _headlines(runs)
    synth = _metrics(runs / "synth")
    train, test = synth["pairs_train"], synth["pairs_test"]
    assert shown["synth"] == (
        f"pairs train/test: {train['rows']}/{test['rows']}, "
        f"chosen longer {train['chosen_longer_share']:.0%}/{test['chosen_longer_share']:.0%}"
    )
    assert shown["judge"] == f"accuracy: {format_value(_metrics(runs / 'judge')['accuracy'])}"
    round_1 = runs / "experiment" / "loop" / "round-1"
    distill = _metrics(round_1 / "distill")
    assert shown["experiment/loop/round-1/distill"] == (
        f"kept: {distill['kept']}/{distill['tasks']} ({distill['kept_rate']:.0%}; "
        f"pass 1 {distill['first_pass']['rate']:.0%}, pass 2 {distill['second_pass']['rate']:.0%})"
    )
    refine = _metrics(round_1 / "refine")
    assert shown["experiment/loop/round-1/refine"] == (
        f"bad cases -> pairs: {refine['selected']} of {refine['answers']} answers -> {refine['pairs']} pairs"
    )
    evaluation = _metrics(round_1 / "eval")
    low, high = evaluation["headline_ci"]
    assert (
        shown["experiment/loop/round-1/eval"]
        == f"headline: {evaluation['headline']:.3f} [{low:.3f}, {high:.3f}]"
    )


def test_missing_figures_fall_back_to_the_next_candidate(runs):
    distill = read_stage_metrics(runs / "experiment" / "loop" / "round-1" / "distill", "distill")
    no_second_pass = {**distill.values, "second_pass": {"enabled": False, "tried": 0, "rate": None}}
    assert headline(StageMetrics("distill", distill.path, no_second_pass)) == (
        f"kept: {distill['kept']}/{distill['tasks']} ({distill['kept_rate']:.0%})"
    )
    evaluation = read_stage_metrics(runs / "judge", "judge")
    no_accuracy = {**evaluation.values, "accuracy": None}  # nothing judged: the valid rate instead
    assert headline(StageMetrics("judge", evaluation.path, no_accuracy)).startswith("valid rate: ")
    eval_run = read_stage_metrics(runs / "experiment" / "eval" / "reasoning-test", "eval")
    no_interval = {**eval_run.values, "headline_ci": None}  # bootstrap=0
    assert headline(StageMetrics("eval", eval_run.path, no_interval)) == (
        f"headline: {format_value(eval_run['headline'])}"
    )


def test_unknown_stages_and_unfinished_runs_show_a_dash(runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs / "synth", root / "synth")
    shutil.copytree(runs / "judge", root / "judge")
    (root / "judge" / "metrics.json").unlink()  # a run that stopped before metrics.json
    manifest = json.loads((root / "synth" / "manifest.json").read_text())
    (root / "other").mkdir()
    (root / "other" / "manifest.json").write_text(json.dumps(manifest | {"stage": "eval-compare"}))

    shown = _headlines(root)
    assert shown["judge"] == "-" and shown["other"] == "-" and shown["synth"].startswith("pairs train/test")
    assert [r["stage"] for r in print_summary(root)] == [r["stage"] for r in collect(root)]


def test_runs_are_listed_oldest_first(runs, tmp_path):
    for name in ("synth", "judge"):
        shutil.copytree(runs / name, tmp_path / name)
    manifest = tmp_path / "judge" / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"started": "2000-01-01T00:00:00"}))
    assert [r["stage"] for r in collect(tmp_path)] == ["judge", "synth"]


@pytest.mark.slow
def test_trained_stages_show_their_headline(trained):
    shown = _headlines(trained)
    round_1 = trained / "experiment" / "loop" / "round-1"
    sft = _metrics(round_1 / "sft")
    assert shown["experiment/loop/round-1/sft"] == (
        f"loss first->last: {format_value(sft['loss_first'])} -> {format_value(sft['loss_last'])}"
    )
    rm = _metrics(round_1 / "train-rm")
    before, after = rm["heldout_before"]["accuracy"], rm["heldout_after"]["accuracy"]
    assert shown["experiment/loop/round-1/train-rm"] == (
        f"held-out acc before->after: {format_value(before)} -> {format_value(after)}"
    )
    grpo = _metrics(round_1 / "grpo")
    judge = grpo["policy_eval"]["judges"]["judge"]
    assert shown["experiment/loop/round-1/grpo"] == (
        f"reward first->last: {grpo['reward_first']:.4g} -> {grpo['reward_last']:.4g}, "
        f"policy-eval win rate {judge['win_rate']:.0%}"
    )
    verifiable = grpo["policy_eval"]["verifiable"]
    assert shown["experiment/loop/round-1/grpo/policy-eval"] == (
        f"win rate: {judge['win_rate']:.0%} (W/T/L {judge['wins']}/{judge['ties']}/{judge['losses']}), "
        f"verifiable acc {verifiable['baseline_accuracy']:.0%} -> {verifiable['policy_accuracy']:.0%}"
    )


@pytest.mark.slow
def test_trained_stages_fall_back_when_a_figure_is_missing(trained):
    round_1 = trained / "experiment" / "loop" / "round-1"
    rm = read_stage_metrics(round_1 / "train-rm", "train-rm")
    no_heldout = {**rm.values, "heldout_before": None, "heldout_after": None}
    assert headline(StageMetrics("train-rm", rm.path, no_heldout)) == (
        f"eval acc first->last: {format_value(rm['eval_accuracy_first'])} -> {format_value(rm['eval_accuracy_last'])}"
    )
    no_eval_file = {k: v for k, v in no_heldout.items() if not k.startswith("eval_accuracy")}
    assert headline(StageMetrics("train-rm", rm.path, no_eval_file)) == (
        f"train-batch acc first->last: {format_value(rm['accuracy_first'])} -> {format_value(rm['accuracy_last'])}"
    )
    evaluation = read_stage_metrics(round_1 / "grpo" / "policy-eval", "policy-eval")
    no_answers = {k: v for k, v in evaluation.values.items() if k != "verifiable"}
    assert headline(StageMetrics("policy-eval", evaluation.path, no_answers)).startswith("win rate: ")
    assert "verifiable" not in headline(StageMetrics("policy-eval", evaluation.path, no_answers))
    grpo = read_stage_metrics(round_1 / "grpo", "grpo")
    no_eval = {k: v for k, v in grpo.values.items() if k != "policy_eval"}
    assert headline(StageMetrics("grpo", grpo.path, no_eval)) == (
        f"reward first->last: {format_value(grpo['reward_first'])} -> {format_value(grpo['reward_last'])}"
    )
