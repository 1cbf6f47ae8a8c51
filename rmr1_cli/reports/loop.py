"""``rmr1 loop-report DIR``: what each turn of the closed loop (``make loop``) changed.

A loop folder holds ``round-0/eval`` (the starting RM on the test pairs) and, per round r,
``round-r/{refine,distill,sft,train-rm,eval,grpo}``. This module reads only the metrics.json files
those stages leave and writes, into DIR: ``loop.json`` (one record per round), ``loop.md`` (the table)
and ``loop.png`` (RM test accuracy and policy verifiable accuracy per round).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rmr1_cli.console import grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError
from rmr1_cli.reports.formatting import arrow, format_value, markdown_table, percent
from rmr1_cli.reports.metrics import read_stage_metrics

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

# "traces kept" in this report and "kept" in ``rmr1 summary``: the traces that passed distill's checks.
TRACES_KEPT = "kept"


def round_record(folder: Path, number: int) -> dict[str, Any]:
    """The figures of one round folder (missing stages give None: a loop still running reads fine)."""
    record: dict[str, Any] = {"round": number}
    evaluation = read_stage_metrics(folder / "eval", "eval")
    if evaluation:
        record["rm_accuracy"] = evaluation["accuracy"]
        record["rm_accuracy_ci"] = evaluation.get("accuracy_ci")
        record["rm_prefers_longer"] = evaluation.get("diagnostics.prefers_longer")
        record["rm_invalid_rate"] = evaluation.get("diagnostics.invalid_rate")
        record["rm_pairs"] = evaluation.get("n_comparisons")
    refine = read_stage_metrics(folder / "refine", "refine")
    if refine:
        record["policy_answers"] = refine.get("answers")
        record["bad_cases"] = refine.get("selected")
        record["refined_pairs"] = refine.get("pairs")
        record["policy_train_accuracy"] = refine.get("verifiable_accuracy")
    distill = read_stage_metrics(folder / "distill", "distill")
    if distill:
        record["traces_kept"] = distill.get(TRACES_KEPT)
        record["traces_kept_rate"] = distill.get("kept_rate")
    train_rm = read_stage_metrics(folder / "train-rm", "train-rm")
    if train_rm:
        record["heldout_before"] = train_rm.get("heldout_before.accuracy")
        record["heldout_after"] = train_rm.get("heldout_after.accuracy")
    grpo = read_stage_metrics(folder / "grpo", "grpo")
    if grpo:
        record["grpo_reward_first"] = grpo.get("reward_trend.first")
        record["grpo_reward_last"] = grpo.get("reward_trend.last")
        record["reward_length_corr"] = grpo.get("reward_length_trend_corr")
        judges = grpo.get("policy_eval.judges") or {}
        if judges:
            first = next(iter(judges.values()))
            record["win_rate"] = first.get("win_rate")
            record["win_rate_se"] = first.get("win_rate_se")
        verifiable = grpo.get("policy_eval.verifiable")
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
        "traces": format_value(record.get("traces_kept")),
        "rm": percent(record.get("rm_accuracy"), record.get("rm_accuracy_ci")),
        "rm_prefers_longer": percent(record.get("rm_prefers_longer")),
        "grpo_reward": arrow(record.get("grpo_reward_first"), record.get("grpo_reward_last")),
        "win_rate": percent(record.get("win_rate"), se=record.get("win_rate_se")),
        "policy_accuracy": arrow(
            record.get("policy_accuracy_before"), record.get("policy_accuracy_after"), percent
        ),
    }


def rounds_table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The report's header and one row of cells per round (loop.md, the terminal, results.md)."""
    rows = []
    for record in records:
        cells = table_cells(record)
        rows.append([cells[key] for _, key in COLUMNS])
    return [label for label, _ in COLUMNS], rows


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
        *markdown_table(*rounds_table(records)),
        "",
    ]
    if plot:
        text += ["![RM and policy accuracy per round](loop.png)", ""]
    write_text(root / "loop.md", "\n".join(text))
    grid_table(f"rmr1 loop ({root})", *rounds_table(records))
    return records
