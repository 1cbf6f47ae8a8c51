"""Comparing two eval runs of one benchmark from their files: McNemar per subset on right/wrong per
comparison, and paired-bootstrap intervals of every score's difference (``rmr1 eval-compare``)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

from rmr1_cli.console import grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError
from rmr1_cli.evaluation import stats as eval_stats
from rmr1_cli.evaluation.report import _pct
from rmr1_cli.evaluation.scoring import agrees, score_rows, unit_tables
from rmr1_cli.reports.formatting import markdown_table


def read_run(folder: str | Path) -> tuple[dict, list[dict]]:
    """A finished run's metrics.json and its result rows (results.jsonl)."""
    folder = Path(folder)
    metrics_file, results_file = folder / "metrics.json", folder / "results.jsonl"
    for file in (metrics_file, results_file):
        if not file.is_file():
            raise DataError(f"{file}: not found; give the output folder of an `rmr1 eval` run")
    metrics = json.loads(metrics_file.read_text())
    rows = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
    return metrics, rows


def compare_runs(dir_a: str | Path, dir_b: str | Path, *, resamples: int = 1000, seed: int = 0) -> dict:
    """Paired comparison of two runs on the same benchmark: McNemar per subset, differences with intervals.

    Only comparisons present in both runs are used. A comparison is right when the pick matches the gold
    label (three-way for tie labels), so McNemar sees a 2x2 table of right/wrong per run.
    """
    (metrics_a, rows_a), (metrics_b, rows_b) = read_run(dir_a), read_run(dir_b)
    name = metrics_a["benchmark"]
    if metrics_b["benchmark"] != name:
        raise DataError(
            f"{dir_a} is {name} but {dir_b} is {metrics_b['benchmark']}: compare runs of one benchmark"
        )
    by_id_b = {r["id"]: r for r in rows_b}
    shared_a = [r for r in rows_a if r["id"] in by_id_b]
    if not shared_a:
        raise DataError(f"{dir_a} and {dir_b} share no comparisons (different data or subsets?)")
    shared_b = [by_id_b[r["id"]] for r in shared_a]
    everywhere, shared = Counter(r["unit"] for r in rows_a), Counter(r["unit"] for r in shared_a)
    complete = {u for u, n in shared.items() if everywhere[u] == n}  # units whose comparisons are all in both
    shared_a = [r for r in shared_a if r["unit"] in complete]
    shared_b = [by_id_b[r["id"]] for r in shared_a]

    def mcnemar_table(pairs: list[tuple[Mapping, Mapping]]) -> dict:
        b = sum(agrees(x) and not agrees(y) for x, y in pairs)
        c = sum(agrees(y) and not agrees(x) for x, y in pairs)
        return {"n": len(pairs), "only_a_right": b, "only_b_right": c, "p_value": eval_stats.mcnemar(b, c)}

    score_a, score_b = score_rows(name, shared_a), score_rows(name, shared_b)
    tables_a, tables_b = unit_tables(name, shared_a), unit_tables(name, shared_b)
    diffs = (
        eval_stats.paired_difference(name, tables_a, tables_b, resamples=resamples, seed=seed)
        if resamples
        else {}
    )
    pairs_by_subset: dict[str, list] = defaultdict(list)
    for x, y in zip(shared_a, shared_b, strict=True):
        pairs_by_subset[x["subset"]].append((x, y))
    subsets = {}
    for subset, pairs in pairs_by_subset.items():
        a, b = score_a["subsets"][subset]["accuracy"], score_b["subsets"][subset]["accuracy"]
        subsets[subset] = {
            "a": a,
            "b": b,
            "difference": None if a is None or b is None else b - a,
            "difference_ci": diffs.get(("subsets", subset, "accuracy")),
            "mcnemar": mcnemar_table(pairs),
        }
    diff = (
        None
        if score_a["headline"] is None or score_b["headline"] is None
        else score_b["headline"] - score_a["headline"]
    )
    return {
        "benchmark": name,
        "a": str(dir_a),
        "b": str(dir_b),
        "headline": {
            "a": score_a["headline"],
            "b": score_b["headline"],
            "difference": diff,
            "difference_ci": diffs.get(("headline",)),
        },
        "mcnemar": mcnemar_table(list(zip(shared_a, shared_b, strict=True))),
        "subsets": subsets,
        "bootstrap": {"resamples": resamples, "seed": seed, "paired": True},
    }


def write_comparison(out_dir: Path, result: Mapping) -> Path:
    """compare.json + compare.md, and the table on the terminal."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "compare.json", result)
    header = ["subset", "n", "A %", "B %", "B - A [95% CI]", "only A right", "only B right", "McNemar p"]
    rows = []
    for name, s in [
        ("all", {**result["headline"], "mcnemar": result["mcnemar"]}),
        *result["subsets"].items(),
    ]:
        m = s["mcnemar"]
        diff = s["difference"]
        ci = s["difference_ci"]
        shown = (
            "-"
            if diff is None
            else f"{100 * diff:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else "")
        )
        rows.append(
            [
                name,
                m["n"],
                _pct(s["a"]),
                _pct(s["b"]),
                shown,
                m["only_a_right"],
                m["only_b_right"],
                f"{m['p_value']:.3g}",
            ]
        )
    grid_table(f"eval-compare: B = {result['b']} vs A = {result['a']} (all = headline)", header, rows)
    lines = [f"# {result['benchmark']}: B = `{result['b']}` vs A = `{result['a']}`", ""]
    lines += [
        "Row `all`: headline difference (paired bootstrap) and McNemar over every shared comparison.",
        "",
    ]
    lines += markdown_table(header, rows)
    return write_text(out_dir / "compare.md", "\n".join(lines) + "\n")
