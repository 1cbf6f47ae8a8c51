"""The loop and experiment reports, over the metrics.json files of real (scripted) stage runs."""

from __future__ import annotations

import json
import shutil

import pytest

from rmr1_cli.errors import DataError
from rmr1_cli.reports.experiment import write_experiment_report
from rmr1_cli.reports.formatting import percent
from rmr1_cli.reports.loop import collect_rounds, write_loop_report
from rmr1_cli.reports.summary import collect, headline
from rmr1_cli.reports.traces import solution_accuracy


@pytest.fixture()
def experiment(runs, tmp_path):
    """A copy of the experiment folder the reports may write into."""
    return shutil.copytree(runs / "experiment", tmp_path / "experiment")


def _metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_rounds_are_read_in_order_with_their_figures(experiment):
    loop = experiment / "loop"
    (loop / "round-2" / "refine").mkdir(parents=True)  # a round still running: read, mostly empty
    rounds = collect_rounds(loop)
    assert [r["round"] for r in rounds] == [0, 1, 2]
    start = _metrics(loop / "round-0" / "eval")
    assert (rounds[0]["rm_accuracy"], rounds[0]["rm_accuracy_ci"]) == (
        start["accuracy"],
        start["accuracy_ci"],
    )
    assert "policy_accuracy_after" not in rounds[0]
    refine, distill = _metrics(loop / "round-1" / "refine"), _metrics(loop / "round-1" / "distill")
    one = rounds[1]
    assert (one["bad_cases"], one["refined_pairs"]) == (refine["selected"], refine["pairs"])
    assert (one["traces_kept"], one["traces_kept_rate"]) == (distill["kept"], distill["kept_rate"])
    assert one["rm_prefers_longer"] == _metrics(loop / "round-1" / "eval")["diagnostics"]["prefers_longer"]
    assert rounds[2] == {"round": 2}


def test_loop_report_writes_table_json_and_plot(experiment):
    loop = experiment / "loop"
    write_loop_report(loop)
    refine, evaluation = _metrics(loop / "round-1" / "refine"), _metrics(loop / "round-1" / "eval")
    kept = _metrics(loop / "round-1" / "distill")["kept"]
    rm = percent(evaluation["accuracy"], evaluation["accuracy_ci"])
    longer = percent(evaluation["diagnostics"]["prefers_longer"])
    row = f"| 1 | {refine['selected']} -> {refine['pairs']} | {kept} | {rm} | {longer} | - | - | - |"
    assert row in (loop / "loop.md").read_text().splitlines()
    assert json.loads((loop / "loop.json").read_text())["rounds"][1]["rm_accuracy"] == evaluation["accuracy"]
    assert (loop / "loop.png").stat().st_size > 0


def test_summary_and_loop_report_count_the_same_traces_kept(runs):
    """Both read distill's ``kept`` (checked traces), not ``written`` (after balancing the labels)."""
    distill = _metrics(runs / "experiment" / "loop" / "round-1" / "distill")
    assert distill["kept"] != distill["written"]  # the fixture balances labels, so the two differ
    shown = {r["folder"].name: headline(r["metrics"]) for r in collect(runs) if r["stage"] == "distill"}
    assert shown["distill"].startswith(f"kept: {distill['kept']}/")
    assert collect_rounds(runs / "experiment" / "loop")[1]["traces_kept"] == distill["kept"]


def test_loop_report_without_rounds_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no round-N folders"):
        collect_rounds(tmp_path)


def test_a_metrics_file_without_a_figure_the_report_needs_names_file_and_key(experiment):
    path = experiment / "loop" / "round-0" / "eval" / "metrics.json"
    metrics = json.loads(path.read_text())
    del metrics["accuracy"]  # as a run from another rmr1 version might have it
    path.write_text(json.dumps(metrics))
    with pytest.raises(DataError, match=rf"{path}: no 'accuracy'"):
        collect_rounds(experiment / "loop")


def test_experiment_report_tabulates_the_rms_and_the_loop(experiment):
    results = write_experiment_report(experiment)
    assert [r["rm"] for r in results["reward_models"]] == [
        "reasoning RM (SFT)",
        "reasoning RM (SFT + RLVR)",
        "scalar RM (Bradley-Terry)",
    ]
    assert results["policies"] == []  # no GRPO run yet
    test = _metrics(experiment / "eval" / "scalar-test")
    iid = _metrics(experiment / "eval" / "scalar-test-iid")
    scalar = results["reward_models"][2]
    assert scalar["by_error"] == {name: s["accuracy"] for name, s in sorted(test["subsets"].items())}
    assert (scalar["test_accuracy"], scalar["iid_accuracy"]) == (test["accuracy"], iid["accuracy"])
    assert len(results["loop_rounds"]) == 2 and results["commit"] == _newest_commit(experiment)

    cells = [
        "scalar RM (Bradley-Terry)",
        percent(test["accuracy"], test["accuracy_ci"]),
        "-",  # no concise test pairs in this folder
        percent(iid["accuracy"], iid["accuracy_ci"]),
        percent(test["diagnostics"].get("swap_consistency")) + " / -",  # no concise test: no second figure
        percent(test["diagnostics"]["prefers_longer"]),
        percent(scalar["own_solution_correct"]),
        *(percent(a) for a in scalar["by_error"].values()),
    ]
    text = (experiment / "results.md").read_text()
    assert "| " + " | ".join(cells) + " |" in text.splitlines()
    assert "## (3) One more loop round" in text
    assert (experiment / "rms.png").stat().st_size > 0 and not (experiment / "policies.png").exists()


def _newest_commit(root):
    found = [json.loads(m.read_text()) for m in root.rglob("manifest.json")]
    newest = max(found, key=lambda info: info.get("started", ""))
    commit = newest.get("git_commit")
    if commit and newest.get("git_dirty"):
        commit += " (with uncommitted changes)"
    return commit


def test_solution_accuracy_reads_each_judgments_own_solution(runs):
    # the scripted judges write the reply they pick as their solution: the shorter reply is the
    # right one on synth's test pairs, the longer one never is
    assert solution_accuracy(runs / "experiment" / "eval" / "reasoning-test") == 1.0
    assert solution_accuracy(runs / "experiment" / "eval" / "scalar-test") == 0.0
    assert solution_accuracy(runs / "missing") is None


@pytest.mark.slow
def test_reports_show_grpo_and_the_policies(trained, tmp_path):
    experiment = shutil.copytree(trained / "experiment", tmp_path / "experiment")
    results = write_experiment_report(experiment)
    evaluation = _metrics(experiment / "policy-eval" / "reasoning")
    grpo = _metrics(experiment / "grpo-reasoning")
    policy = results["policies"][0]
    verifiable, judge = evaluation["verifiable"], evaluation["judges"]["judge"]
    assert (policy["accuracy_before"], policy["accuracy_after"], policy["prompts"]) == (
        verifiable["baseline_accuracy"],
        verifiable["policy_accuracy"],
        verifiable["n"],
    )
    assert (policy["reward_first"], policy["reward_last"]) == (
        grpo["reward_trend"]["first"],
        grpo["reward_trend"]["last"],
    )
    text = (experiment / "results.md").read_text()
    before = percent(verifiable["baseline_accuracy"], policy.get("accuracy_before_ci"))
    assert f"| GRPO, reasoning RM reward | {before} -> " in text
    assert (experiment / "policies.png").stat().st_size > 0

    rounds = write_loop_report(experiment / "loop")
    one = rounds[1]
    assert (one["win_rate"], one["win_rate_se"]) == (judge["win_rate"], judge["win_rate_se"])
    rm = _metrics(experiment / "loop" / "round-1" / "train-rm")
    assert (one["heldout_before"], one["heldout_after"]) == (
        rm["heldout_before"]["accuracy"],
        rm["heldout_after"]["accuracy"],
    )
    row = next(
        line
        for line in (experiment / "loop" / "loop.md").read_text().splitlines()
        if line.startswith("| 1 |")
    )
    assert row.endswith(
        f" | {percent(judge['win_rate'], se=judge['win_rate_se'])} | "
        f"{percent(verifiable['baseline_accuracy'])} -> {percent(verifiable['policy_accuracy'])} |"
    )
