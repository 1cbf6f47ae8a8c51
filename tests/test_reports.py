"""What the reports share: the metrics each stage declares, the one way to read them, the formatting.

Reports read metrics.json only through ``reports.metrics``; these tests hold the stages to the keys
they declare (``METRICS`` always written, ``OPTIONAL_METRICS`` sometimes) on real (scripted) runs, and
check that every key a report reads is one of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from rmr1_cli.errors import DataError
from rmr1_cli.reports import experiment, loop, metrics, summary
from rmr1_cli.reports.formatting import markdown_table, rich_table
from rmr1_cli.reports.metrics import STAGE_MODULES, StageMetrics, declared_keys, read_stage_metrics

STAGES_DIR = Path(metrics.__file__).parents[1] / "stages"


def _runs_by_stage(root) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for manifest in sorted(root.rglob("manifest.json")):
        stage = json.loads(manifest.read_text())["stage"]
        found.setdefault(stage, []).append(manifest.parent)
    return found


# ---- the declarations ------------------------------------------------------------------------------


def test_every_stage_module_declares_its_metrics():
    modules = {p.stem for p in STAGES_DIR.glob("*.py") if p.stem != "__init__"}
    assert set(STAGE_MODULES.values()) == modules
    for stage in STAGE_MODULES:
        always, optional = declared_keys(stage)
        assert all(isinstance(k, str) for k in always + optional), stage
        assert len(set(always)) == len(always) and not set(always) & set(optional), stage


def _check_written(stage: str, folder: Path, *, exact: bool) -> None:
    always, optional = declared_keys(stage)
    written = set(json.loads((folder / "metrics.json").read_text()))
    assert set(always) <= written, (folder, set(always) - written)
    if exact:  # no trainer series: every key it writes is declared
        assert written <= set(always + optional), (folder, written - set(always + optional))


def test_model_free_stages_write_what_they_declare(runs):
    found = _runs_by_stage(runs)
    assert {"synth", "judge", "eval", "refine", "distill"} <= set(found)
    for stage, folders in found.items():
        for folder in folders:
            _check_written(stage, folder, exact=True)


@pytest.mark.slow
def test_trained_stages_write_what_they_declare(trained):
    found = _runs_by_stage(trained)
    assert {"sft", "train-rm", "grpo", "policy-eval"} <= set(found)
    for stage, folders in found.items():
        for folder in folders:
            _check_written(stage, folder, exact=stage not in ("sft", "train-rm", "grpo"))
    grpo = json.loads((found["grpo"][0] / "metrics.json").read_text())
    assert {"policy_eval", "judge", "reward_first", "loss_first"} <= set(grpo)  # optional, set in this recipe


# ---- every key a report reads is declared ---------------------------------------------------------


def test_summary_headlines_read_declared_keys():
    for stage, candidates in summary.HEADLINES.items():
        always, optional = declared_keys(stage)
        for _, keys, _ in candidates:
            for key in keys:
                assert key.split(".")[0] in always + optional, (stage, key)


def _reports_reading(root: Path, tmp_path: Path, monkeypatch) -> set[tuple[str, str]]:
    """Run the summary, loop and experiment reports over a copy of ``root``; the (stage, key) they read."""
    copy = shutil.copytree(root, tmp_path / "runs")
    read: set[tuple[str, str]] = set()
    real_get = StageMetrics.get

    def get(self, key, default=None):
        read.add((self.stage, key))
        return real_get(self, key, default)

    monkeypatch.setattr(StageMetrics, "get", get)
    summary.print_summary(copy)
    loop.write_loop_report(copy / "experiment" / "loop")
    experiment.write_experiment_report(copy / "experiment")
    for stage, key in read:
        always, optional = declared_keys(stage)
        assert key.split(".")[0] in always + optional, (stage, key)
    return read


def test_reports_read_only_declared_keys(runs, tmp_path, monkeypatch):
    read = _reports_reading(runs, tmp_path, monkeypatch)
    assert {
        ("distill", "kept"),
        ("eval", "accuracy"),
        ("refine", "selected"),
        ("synth", "pairs_train.rows"),
    } <= read


@pytest.mark.slow
def test_reports_read_only_declared_keys_of_trained_stages(trained, tmp_path, monkeypatch):
    read = _reports_reading(trained, tmp_path, monkeypatch)
    expected = {("grpo", "policy_eval.judges"), ("policy-eval", "verifiable.policy_accuracy")}
    assert expected | {("train-rm", "heldout_before.accuracy"), ("sft", "loss_first")} <= read


# ---- reading ---------------------------------------------------------------------------------------


def test_a_key_the_stage_does_not_declare_is_an_error_naming_file_and_key(runs):
    distill = read_stage_metrics(runs / "experiment" / "loop" / "round-1" / "distill", "distill")
    with pytest.raises(DataError, match=r"distill/metrics.json: a report reads 'traces'.*rmr1 distill"):
        distill.get("traces")


def test_required_and_optional_reads(runs):
    evaluation = read_stage_metrics(runs / "experiment" / "eval" / "reasoning-test", "eval")
    assert evaluation.get("headline_ci.1") == evaluation["headline_ci"][1]  # dotted: into lists by index
    assert evaluation.get("diagnostics.no_such_figure") is None
    assert evaluation.get("hard") is None  # declared (rm-bench only), absent here
    with pytest.raises(DataError, match=r"reasoning-test/metrics.json: no 'hard'"):
        evaluation["hard"]
    assert read_stage_metrics(runs / "not-run-yet", "eval") is None


# ---- formatting ------------------------------------------------------------------------------------


def test_markdown_and_rich_tables_show_the_same_cells():
    header, rows = ["name", "share", "n"], [["a", 0.123456, 3], ["b|c", None, 10]]
    assert markdown_table(header, rows) == [
        "| name | share | n |",
        "|---|---|---|",
        "| a | 0.1235 | 3 |",
        "| b\\|c | - | 10 |",
    ]
    console = Console(record=True, width=80)
    console.print(rich_table("t", header, rows))
    lines = console.export_text().splitlines()
    for cells in (["a", "0.1235", "3"], ["b|c", "-", "10"]):
        line = next(line for line in lines if f" {cells[0]} " in line)
        assert [c.strip() for c in line.strip("│ ").split("│")] == cells
