"""``rmr1 summary DIR``: one table of every stage run found under a folder (what it produced, where).

It reads only the files each stage leaves (manifest.json, metrics.json), so it works on any mix of
runs, including ones made on another machine.
"""

from __future__ import annotations

import json
from pathlib import Path

from rmr1_cli.console import grid_table

# The figure worth showing per stage, as (label, key in metrics.json) in order of preference.
HEADLINES = {
    "sft": [("loss first->last", ("loss_first", "loss_last"))],
    "train-rm": [
        ("held-out acc before->after", ("heldout_before.accuracy", "heldout_after.accuracy")),
        ("reward first->last", ("reward_first", "reward_last")),
    ],
    "judge": [("accuracy", ("accuracy",)), ("valid rate", ("engine.valid_rate",))],
    "eval": [("accuracy", ("accuracy",)), ("headline", ("headline",))],
    "grpo": [("reward first->last", ("reward_first", "reward_last"))],
}


def collect(root: str | Path) -> list[dict]:
    """Every run under ``root`` (a folder holding manifest.json), oldest first."""
    runs = []
    for manifest in Path(root).rglob("manifest.json"):
        folder = manifest.parent
        info = json.loads(manifest.read_text())
        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        runs.append(
            {
                "folder": folder,
                "stage": info.get("stage", "?"),
                "started": info.get("started", ""),
                "seconds": info.get("seconds"),
                "metrics": metrics,
            }
        )
    return sorted(runs, key=lambda r: r["started"])


def _lookup(metrics: dict, dotted: str):
    node = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def headline(stage: str, metrics: dict) -> str:
    """The stage's most telling figure, e.g. ``loss first->last: 7.61 -> 1.02``.

    >>> headline("judge", {"accuracy": 0.75})
    'accuracy: 0.75'
    >>> headline("sft", {"loss_first": 7.612, "loss_last": 1.0})
    'loss first->last: 7.612 -> 1'
    """
    for label, keys in HEADLINES.get(stage, []):
        values = [_lookup(metrics, k) for k in keys]
        if all(v is not None for v in values):
            return f"{label}: " + " -> ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
    return "-"


def print_summary(root: str | Path) -> list[dict]:
    runs = collect(root)
    rows = [[r["stage"], headline(r["stage"], r["metrics"]), r["seconds"], str(r["folder"])] for r in runs]
    grid_table(f"runs under {root}", ["stage", "result", "seconds", "output"], rows)
    return runs
