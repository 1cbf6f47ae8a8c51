"""``rmr1 summary DIR``: one table of every stage run found under a folder (what it produced, where).

It reads only the files each stage leaves (manifest.json, metrics.json), so it works on any mix of
runs, including ones made on another machine.
"""

from __future__ import annotations

import json
from pathlib import Path

from rmr1_cli.console import grid_table
from rmr1_cli.reports.formatting import format_value
from rmr1_cli.reports.metrics import STAGE_MODULES, StageMetrics, read_stage_metrics

# The figure worth showing per stage: candidates in order of preference, each (label, dotted keys in
# metrics.json, format). The first candidate whose keys are all present (not null) is shown. The format
# is a ``str.format`` pattern over the values in key order; ARROW joins them with " -> " instead. Each
# key's first part is one the stage declares (its module's METRICS or OPTIONAL_METRICS).
ARROW = None
_POLICY_EVAL = ("judges.judge.win_rate", "judges.judge.wins", "judges.judge.ties", "judges.judge.losses")
_VERIFIABLE = ("verifiable.baseline_accuracy", "verifiable.policy_accuracy")
HEADLINES = {
    "sft": [("loss first->last", ("loss_first", "loss_last"), ARROW)],
    "train-rm": [
        # reasoning: verdict accuracy of the judge engine on eval_file; scalar: pairwise accuracy on it
        ("held-out acc before->after", ("heldout_before.accuracy", "heldout_after.accuracy"), ARROW),
        ("reward first->last", ("reward_first", "reward_last"), ARROW),
        ("eval acc first->last", ("eval_accuracy_first", "eval_accuracy_last"), ARROW),
        # scalar without eval_file: RewardTrainer's accuracy on its own training batches
        ("train-batch acc first->last", ("accuracy_first", "accuracy_last"), ARROW),
    ],
    "judge": [("accuracy", ("accuracy",), ARROW), ("valid rate", ("engine.valid_rate",), ARROW)],
    "eval": [
        ("headline", ("headline", "headline_ci.0", "headline_ci.1"), "{0:.3f} [{1:.3f}, {2:.3f}]"),
        ("headline", ("headline",), ARROW),
        ("accuracy", ("accuracy",), ARROW),
    ],
    "grpo": [
        (
            "reward first->last",
            ("reward_first", "reward_last", "policy_eval.judges.judge.win_rate"),
            "{0:.4g} -> {1:.4g}, policy-eval win rate {2:.0%}",
        ),
        ("reward first->last", ("reward_first", "reward_last"), ARROW),
    ],
    "policy-eval": [
        (
            "win rate",
            _POLICY_EVAL + _VERIFIABLE,
            "{0:.0%} (W/T/L {1}/{2}/{3}), verifiable acc {4:.0%} -> {5:.0%}",
        ),
        ("win rate", _POLICY_EVAL, "{0:.0%} (W/T/L {1}/{2}/{3})"),
        ("verifiable acc", _VERIFIABLE, "{0:.0%} -> {1:.0%}"),
    ],
    "synth": [
        (
            "pairs train/test",
            (
                "pairs_train.rows",
                "pairs_test.rows",
                "pairs_train.chosen_longer_share",
                "pairs_test.chosen_longer_share",
            ),
            "{0}/{1}, chosen longer {2:.0%}/{3:.0%}",
        ),
        ("pairs train/test", ("pairs_train.rows", "pairs_test.rows"), "{0}/{1}"),
    ],
    "distill": [
        (
            "kept",
            ("kept", "tasks", "kept_rate", "first_pass.rate", "second_pass.rate"),
            "{0}/{1} ({2:.0%}; pass 1 {3:.0%}, pass 2 {4:.0%})",
        ),
        ("kept", ("kept", "tasks", "kept_rate"), "{0}/{1} ({2:.0%})"),
    ],
    "refine": [("bad cases -> pairs", ("selected", "answers", "pairs"), "{0} of {1} answers -> {2} pairs")],
}


def collect(root: str | Path) -> list[dict]:
    """Every run under ``root`` (a folder holding manifest.json), oldest first."""
    runs = []
    for manifest in Path(root).rglob("manifest.json"):
        folder = manifest.parent
        info = json.loads(manifest.read_text())
        stage = info.get("stage", "?")
        metrics = None
        if stage in STAGE_MODULES:
            metrics = read_stage_metrics(folder, stage)
        runs.append(
            {
                "folder": folder,
                "stage": stage,
                "started": info.get("started", ""),
                "seconds": info.get("seconds"),
                "metrics": metrics or StageMetrics(stage, folder / "metrics.json"),
            }
        )
    return sorted(runs, key=lambda r: r["started"])


def headline(metrics: StageMetrics) -> str:
    """The stage's most telling figure, e.g. ``loss first->last: 7.61 -> 1.02``; ``-`` when none is there.

    >>> def m(stage, **values):
    ...     return StageMetrics(stage, Path("metrics.json"), values)
    >>> headline(m("judge", accuracy=0.75)), headline(m("sft", loss_first=7.612, loss_last=1.0))
    ('accuracy: 0.75', 'loss first->last: 7.612 -> 1')
    >>> headline(m("eval", headline=0.494, headline_ci=[0.446, 0.54])), headline(m("refine"))
    ('headline: 0.494 [0.446, 0.540]', '-')
    """
    for label, keys, pattern in HEADLINES.get(metrics.stage, []):
        values = [metrics.get(k) for k in keys]
        if any(v is None for v in values):
            continue
        if pattern is ARROW:
            return f"{label}: " + " -> ".join(format_value(v) for v in values)
        try:
            return f"{label}: " + pattern.format(*values)
        except (TypeError, ValueError):  # a value of an unexpected type (a run from another version)
            continue
    return "-"


def print_summary(root: str | Path) -> list[dict]:
    runs = collect(root)
    rows = [[r["stage"], headline(r["metrics"]), r["seconds"], str(r["folder"])] for r in runs]
    grid_table(f"runs under {root}", ["stage", "result", "seconds", "output"], rows)
    return runs
