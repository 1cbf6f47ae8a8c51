"""Scores from result rows, by the benchmark's own rule (pure: rows in, numbers out; no torch).

A result row is one comparison with ``subset``, ``unit``, ``label`` (chosen|tie), ``score`` (1 chosen
wins, 0 loses; a tie or no verdict as the benchmark's rule says, ``outcomes.py``), ``pick`` (chosen,
rejected, tie or None for no valid verdict), ``cell`` (RM-Bench) and ``skipped`` (too long to judge:
its whole unit is left out of every score and counted in metrics.json), so a run's metrics can be
recomputed from its results.jsonl:

    rows -> unit_tables: per subset, one row of numbers per resampling unit
         -> aggregate:   subset, section and headline scores from the units' column means

The bootstrap (``evaluation/stats.py``) resamples units and calls ``aggregate`` again, so each interval
follows exactly the rule that gave the point estimate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rmr1_cli.evaluation.rule import PAIR_COLUMNS, ratio
from rmr1_cli.evaluation.rules import get_rule


@dataclass
class UnitTable:
    """One subset's resampling units: a row of numbers per unit (columns depend on the rule)."""

    columns: tuple[str, ...]
    units: list[str]
    values: list[list[float]]


def unit_tables(name: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, UnitTable]:
    """Per subset, per unit: the rule's own columns, then the pair columns every rule shares."""
    rule = get_rule(name)
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[row["subset"]][row["unit"]].append(row)
    tables = {}
    for subset, units in grouped.items():
        values, kept = [], []
        for unit, members in units.items():
            if any(m.get("skipped") for m in members):
                continue
            counted = [m for m in members if m.get("label", "chosen") != "tie"]
            shared = [
                float(sum(m["score"] for m in counted)),
                float(len(counted)),
                float(sum(agrees(m) for m in members)),
                float(len(members)),
            ]
            values.append(rule.unit_values(subset, unit, members) + shared)
            kept.append(unit)
        if kept:
            tables[subset] = UnitTable(rule.columns(subset) + PAIR_COLUMNS, kept, values)
    return tables


def agrees(row: Mapping[str, Any]) -> bool:
    """Three-way agreement with the gold label (a tie label needs a tie pick)."""
    return row.get("pick") == ("tie" if row.get("label") == "tie" else "chosen")


def column_means(tables: Mapping[str, UnitTable]) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Each subset's column means and unit count (the inputs of ``aggregate``)."""
    means, counts = {}, {}
    for subset, table in tables.items():
        n = len(table.values)
        counts[subset] = n
        means[subset] = {c: sum(v[k] for v in table.values) / n for k, c in enumerate(table.columns)}
    return means, counts


def aggregate(name: str, means: Mapping[str, Mapping[str, float]], counts: Mapping[str, int]) -> dict:
    """Subset, section and headline scores from per-subset column means and unit counts.

    >>> m = {"math-prm": {"pair_correct": 1.0, "pair_n": 1.0, "agree": 1.0, "pairs": 1.0},
    ...      "hep-go": {"pair_correct": 0.0, "pair_n": 1.0, "agree": 0.0, "pairs": 1.0}}
    >>> round(aggregate("rewardbench", m, {"math-prm": 4, "hep-go": 4})["sections"]["Reasoning"]["score"], 4)
    0.8571
    """
    rule = get_rule(name)
    total = {c: sum(counts[s] * means[s][c] for s in means) for c in PAIR_COLUMNS}
    out: dict[str, Any] = {
        "accuracy": ratio(total["pair_correct"], total["pair_n"]),
        "agreement": ratio(total["agree"], total["pairs"]),
        "subsets": {},
        "sections": {},
    }
    for subset, m in means.items():
        entry: dict[str, Any] = {
            "accuracy": ratio(m["pair_correct"], m["pair_n"]),
            "agreement": ratio(m["agree"], m["pairs"]),
        }
        rule.score_subset(subset, m, entry)
        out["subsets"][subset] = entry
    rule.score_sections(out, means, counts)
    return out


def score_rows(name: str, rows: Iterable[Mapping[str, Any]]) -> dict:
    """The point estimates for a run's result rows (``aggregate`` of ``unit_tables``)."""
    means, counts = column_means(unit_tables(name, rows))
    return aggregate(name, means, counts)
