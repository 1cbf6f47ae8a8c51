"""``rmr1 loop-report DIR``: what each turn of the closed loop (``make loop``) changed.

A loop folder holds ``round-0/eval`` (the starting RM on the test pairs) and, per round r,
``round-r/{refine,distill,sft,train-rm,eval,grpo}``. This module reads only the metrics.json files
those stages leave and writes, into DIR: ``loop.json`` (one record per round), ``loop.md`` (the table)
and ``loop.png`` (RM test accuracy and policy verifiable accuracy per round).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rmr1_cli.console import grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError

COLUMNS = [
    ("round", "round"),
    ("bad cases -> pairs", "refine"),
    ("traces kept", "traces"),
    ("RM test acc [95% CI]", "rm"),
    ("RM picks longer", "rm_prefers_longer"),
    ("GRPO reward first -> last", "grpo_reward"),
    ("policy win rate vs previous", "win_rate"),
    ("policy verifiable acc before -> after", "policy_accuracy"),
]


def read_metrics(path: Path) -> dict[str, Any] | None:
    """A stage's metrics.json, or None while the stage has not run (reports read unfinished runs)."""
    return json.loads(path.read_text()) if path.is_file() else None


def round_record(folder: Path, number: int) -> dict[str, Any]:
    """The figures of one round folder (missing stages give None: a loop still running reads fine)."""
    record: dict[str, Any] = {"round": number}
    evaluation = read_metrics(folder / "eval" / "metrics.json")
    if evaluation:
        record["rm_accuracy"] = evaluation["accuracy"]
        record["rm_accuracy_ci"] = evaluation.get("accuracy_ci")
        record["rm_prefers_longer"] = evaluation.get("diagnostics", {}).get("prefers_longer")
        record["rm_invalid_rate"] = evaluation.get("diagnostics", {}).get("invalid_rate")
        record["rm_pairs"] = evaluation.get("n_comparisons")
    refine = read_metrics(folder / "refine" / "metrics.json")
    if refine:
        record["policy_answers"] = refine.get("answers")
        record["bad_cases"] = refine.get("selected")
        record["refined_pairs"] = refine.get("pairs")
        record["policy_train_accuracy"] = refine.get("verifiable_accuracy")
    distill = read_metrics(folder / "distill" / "metrics.json")
    if distill:
        record["traces_kept"] = distill.get("written")
        record["traces_kept_rate"] = distill.get("kept_rate")
    train_rm = read_metrics(folder / "train-rm" / "metrics.json")
    if train_rm:
        record["heldout_before"] = (train_rm.get("heldout_before") or {}).get("accuracy")
        record["heldout_after"] = (train_rm.get("heldout_after") or {}).get("accuracy")
    grpo = read_metrics(folder / "grpo" / "metrics.json")
    if grpo:
        trend = grpo.get("reward_trend") or {}
        record["grpo_reward_first"] = trend.get("first")
        record["grpo_reward_last"] = trend.get("last")
        record["reward_length_corr"] = grpo.get("reward_length_trend_corr")
        policy_eval = grpo.get("policy_eval") or {}
        judges = policy_eval.get("judges") or {}
        if judges:
            first = next(iter(judges.values()))
            record["win_rate"] = first.get("win_rate")
            record["win_rate_se"] = first.get("win_rate_se")
        verifiable = policy_eval.get("verifiable")
        if verifiable:
            record["policy_accuracy_before"] = verifiable["baseline_accuracy"]
            record["policy_accuracy_after"] = verifiable["policy_accuracy"]
    return record


def collect_rounds(root: str | Path) -> list[dict[str, Any]]:
    """Every ``round-N`` folder under ``root``, in round order."""
    root = Path(root)
    numbered = []
    for folder in root.glob("round-*"):
        match = re.fullmatch(r"round-(\d+)", folder.name)
        if match and folder.is_dir():
            numbered.append((int(match.group(1)), folder))
    if not numbered:
        raise DataError(f"{root}: no round-N folders (run `make loop` first)")
    return [round_record(folder, n) for n, folder in sorted(numbered)]


def percent(value: float | None) -> str:
    """``0.4567 -> '45.7%'``; None -> '-'.

    >>> percent(0.4567), percent(None)
    ('45.7%', '-')
    """
    return "-" if value is None else f"{100 * value:.1f}%"


def with_ci(value: float | None, ci: list[float] | None) -> str:
    """A share with its interval, in percent.

    >>> with_ci(0.45, [0.4, 0.5]), with_ci(0.45, None), with_ci(None, [0.1, 0.2])
    ('45.0% [40.0, 50.0]', '45.0%', '-')
    """
    if value is None:
        return "-"
    return percent(value) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def with_se(value: float | None, se: float | None) -> str:
    """A share with its standard error, in percent.

    >>> with_se(0.7, 0.05), with_se(0.7, None)
    ('70.0% ± 5.0', '70.0%')
    """
    return percent(value) + ("" if se is None else f" ± {100 * se:.1f}")


def _arrow(first: Any, last: Any, pct: bool = False) -> str:
    """``first -> last`` (percentages or 3 decimals); '-' when either is missing.

    >>> _arrow(0.1, 0.25, pct=True), _arrow(0.5, 0.78125), _arrow(None, 1)
    ('10.0% -> 25.0%', '0.500 -> 0.781', '-')
    """
    if first is None or last is None:
        return "-"
    fmt = percent if pct else (lambda v: f"{v:.3f}")
    return f"{fmt(first)} -> {fmt(last)}"


def table_cells(record: dict[str, Any]) -> dict[str, str]:
    """One round as the report's text cells (shared by the terminal table and loop.md).

    >>> cells = table_cells({"round": 1, "bad_cases": 40, "refined_pairs": 38, "rm_accuracy": 0.5,
    ...                      "rm_accuracy_ci": [0.4, 0.6], "win_rate": 0.7, "win_rate_se": 0.05})
    >>> cells["refine"], cells["rm"], cells["win_rate"]
    ('40 -> 38', '50.0% [40.0, 60.0]', '70.0% ± 5.0')
    """
    refine = "-"
    if record.get("bad_cases") is not None:
        refine = f"{record['bad_cases']} -> {record.get('refined_pairs')}"
    return {
        "round": str(record["round"]),
        "refine": refine,
        "traces": "-" if record.get("traces_kept") is None else str(record["traces_kept"]),
        "rm": with_ci(record.get("rm_accuracy"), record.get("rm_accuracy_ci")),
        "rm_prefers_longer": percent(record.get("rm_prefers_longer")),
        "grpo_reward": _arrow(record.get("grpo_reward_first"), record.get("grpo_reward_last")),
        "win_rate": with_se(record.get("win_rate"), record.get("win_rate_se")),
        "policy_accuracy": _arrow(
            record.get("policy_accuracy_before"), record.get("policy_accuracy_after"), pct=True
        ),
    }


def markdown_table(records: list[dict[str, Any]]) -> str:
    header = [label for label, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in records:
        cells = table_cells(record)
        lines.append("| " + " | ".join(cells[key] for _, key in COLUMNS) + " |")
    return "\n".join(lines)


def plot_rounds(records: list[dict[str, Any]], out_png: Path, title: str) -> Path | None:
    """RM accuracy on the test pairs and the policy's verifiable accuracy, per round."""
    from rmr1_cli.reports.plots import pyplot

    rm = [(r["round"], r["rm_accuracy"], r.get("rm_accuracy_ci")) for r in records if "rm_accuracy" in r]
    policy = []
    for r in records:
        if r.get("policy_accuracy_after") is not None:
            if not policy:  # the starting policy is round r-1's accuracy
                policy.append((r["round"] - 1, r["policy_accuracy_before"]))
            policy.append((r["round"], r["policy_accuracy_after"]))
    if not rm and not policy:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if rm:
        xs, ys = [p[0] for p in rm], [p[1] for p in rm]
        errors = [
            [y - (ci[0] if ci else y) for _, y, ci in rm],
            [(ci[1] if ci else y) - y for _, y, ci in rm],
        ]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label="RM accuracy on test pairs")
    if policy:
        ax.plot(
            [p[0] for p in policy], [p[1] for p in policy], marker="s", label="policy verifiable accuracy"
        )
    ax.set_xlabel("round")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(sorted({p[0] for p in rm} | {p[0] for p in policy}))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def write_loop_report(root: str | Path) -> list[dict[str, Any]]:
    """Read every round under ``root``; write loop.json, loop.md and loop.png there; print the table."""
    root = Path(root)
    records = collect_rounds(root)
    write_json(root / "loop.json", {"rounds": records})
    plot = plot_rounds(records, root / "loop.png", f"rmr1 loop: {root}")
    text = [
        f"# Closed loop: {root}",
        "",
        "Round 0 is the starting RM (and policy). Each round r: refine (policy r-1 and RM r-1 find bad",
        "cases) -> traces -> SFT + RLVR = RM r -> policy GRPO with RM r -> policy-eval against policy r-1.",
        "",
        markdown_table(records),
        "",
    ]
    if plot:
        text += ["![RM and policy accuracy per round](loop.png)", ""]
    write_text(root / "loop.md", "\n".join(text))
    grid_table(
        f"rmr1 loop ({root})",
        [label for label, _ in COLUMNS],
        [[table_cells(r)[key] for _, key in COLUMNS] for r in records],
    )
    return records
