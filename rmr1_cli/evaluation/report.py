"""From an eval run's result rows to its metrics, diagnostics, report.md, plots and terminal tables.

Everything here reads the rows ``stages/evaluate.py`` writes to results.jsonl (one per comparison), so a
report can be rebuilt, and two runs compared, from the files alone.

metrics.json keys (stable; ``*_ci`` is the 95% bootstrap interval [lo, hi] of the key it follows):

- ``benchmark``, ``kind`` (generative|scalar), ``headline`` (+ ``headline_ci``) and ``headline_rule``
- ``accuracy`` (+ci): over all non-tie comparisons; ``agreement`` (+ci): three-way, ties included
- ``n_comparisons``, ``n_units``, ``n_tie_labels``
- ``sections.<name>``: ``score`` (+ci), ``subsets``; RM-Bench adds ``hard``/``normal``/``easy`` (+ci)
  and ``matrix`` (3x3, rows chosen style); RMB adds ``macro`` (mean over its scenarios)
- ``hard``/``normal``/``easy`` (+ci): RM-Bench, mean over the domains present
- ``subsets.<name>``: ``accuracy`` (+ci), ``agreement``, ``n`` (units), ``n_comparisons``, ``section``,
  and for generative runs ``swap_consistency``, ``invalid_rate``, ``mean_judgment_tokens``
- ``missing_sections`` (and ``missing_subsets`` for RewardBench): parts of the benchmark not evaluated
- ``baselines.{length_only,position_only,first_listed}``: ``headline``, ``accuracy``, ``sections.<name>``,
  ``subsets.<name>``
  (the same scoring rule applied to a judge that always picks the longer answer / always says A /
  always picks the answer the file lists first)
- ``diagnostics``: ``by_length`` (buckets of relative length difference with accuracy, ci, n),
  ``prefers_longer``, ``chosen_longer``; generative: ``swap_consistency``, ``invalid_rate``,
  ``invalid_reasons``, ``no_verdict_rate``, ``truncated_rate`` (answers cut to fit), ``position`` (``p_verdict_a``, ``accuracy_chosen_as_a``,
  ``accuracy_chosen_as_b``), ``by_task_type``, ``mean_judgment_tokens``; scalar: ``mean_margin``
- ``bootstrap``: ``resamples``, ``level``, ``seed``, ``unit``
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmr1_cli.console import console, grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError
from rmr1_cli.evaluation import benchmarks
from rmr1_cli.evaluation import stats as eval_stats

UNITS = {"pairs": "pair", "rewardbench": "pair", "rm-bench": "prompt", "rmb": "pair (BoN: item)"}
LENGTH_EDGES = (-1.0, -0.5, -0.2, -0.05, 0.05, 0.2, 0.5, 1.0)
LEVEL = 0.95


# ----------------------------------------------------------------------------------------------------
# Metrics


def build_metrics(
    name: str, rows: Sequence[Mapping], *, kind: str, resamples: int = 1000, seed: int = 0
) -> dict:
    """Point estimates with bootstrap intervals, baselines and diagnostics (see the module notes)."""
    tables = benchmarks.unit_tables(name, rows)
    means, counts = benchmarks.column_means(tables)
    point = benchmarks.aggregate(name, means, counts)
    if resamples > 0:
        eval_stats.attach_intervals(point, eval_stats.bootstrap(name, tables, resamples=resamples, seed=seed))
    by_subset: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        by_subset[row["subset"]].append(row)
    for subset, entry in point["subsets"].items():
        entry["n"] = counts[subset]
        entry["n_comparisons"] = len(by_subset[subset])
        entry["section"] = benchmarks.section_of(name, subset)
        if kind == "generative":
            entry.update(judge_stats(by_subset[subset]))
    head = {
        "benchmark": name,
        "kind": kind,
        "headline": point.pop("headline"),
        "headline_ci": point.pop("headline_ci", None),
        "headline_rule": benchmarks.HEADLINE_RULES[name],
        "n_comparisons": len(rows),
        "n_units": sum(counts.values()),
        "n_tie_labels": sum(r.get("label") == "tie" for r in rows),
    }
    rng = np.random.default_rng(seed)
    return {
        **head,
        **point,
        "baselines": baselines(name, rows, kind),
        "diagnostics": diagnostics(rows, kind, rng),
        "bootstrap": {"resamples": resamples, "level": LEVEL, "seed": seed, "unit": UNITS[name]},
    }


def judge_stats(rows: Sequence[Mapping]) -> dict:
    """Swap consistency, invalid-verdict rate and judgment length over some generative rows."""
    judgments = list(_unique_judgments(rows).values())
    consistent = [r["consistent"] for r in rows if r.get("consistent") is not None]
    return {
        "swap_consistency": _share(consistent),
        "invalid_rate": _share([not j["valid"] for j in judgments]),
        "mean_judgment_tokens": float(np.mean([j["tokens"] for j in judgments])) if judgments else None,
    }


def _unique_judgments(rows: Sequence[Mapping]) -> dict[str, Mapping]:
    """Judgments by key: comparisons that share a judged pair (RMB BoN vs pairwise) count it once."""
    return {j["key"]: j for r in rows for j in r.get("judgments") or []}


def _share(flags: Sequence[bool]) -> float | None:
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def baselines(name: str, rows: Sequence[Mapping], kind: str) -> dict:
    """The benchmark's own scoring rule applied to judges that look only at length or position."""

    def longer(row: Mapping) -> str:
        diff = row["len_chosen"] - row["len_rejected"]
        return "chosen" if diff > 0 else "rejected" if diff < 0 else "tie"

    def always_a(row: Mapping) -> str:
        orders = {j["order"] for j in row.get("judgments") or []}
        return "tie" if len(orders) != 1 else "chosen" if orders == {"AB"} else "rejected"

    def first_listed(row: Mapping) -> str:
        return "rejected" if row.get("source_order") == "rejected_first" else "chosen"

    rules = {"length_only": longer}
    if kind == "generative":
        rules["position_only"] = always_a
    if all(r.get("source_order") for r in rows if r.get("label") != "tie"):
        rules["first_listed"] = first_listed
    out = {}
    for label, pick in rules.items():
        picked = [
            {**r, "pick": p, "score": {"chosen": 1.0, "tie": 0.5}.get(p, 0.0)}
            for r in rows
            for p in [pick(r)]
        ]
        scores = benchmarks.score_rows(name, picked)
        out[label] = {
            "headline": scores["headline"],
            "accuracy": scores["accuracy"],
            "sections": {s: v["score"] for s, v in scores["sections"].items()},
            "subsets": {s: v["accuracy"] for s, v in scores["subsets"].items()},
        }
    return out


def diagnostics(rows: Sequence[Mapping], kind: str, rng: np.random.Generator) -> dict:
    counted = [r for r in rows if r.get("label") != "tie"]
    out: dict[str, Any] = {"by_length": length_buckets(counted, rng)}
    decisive = [
        r for r in counted if r.get("pick") in ("chosen", "rejected") and r["len_chosen"] != r["len_rejected"]
    ]
    out["prefers_longer"] = _share(
        [(r["pick"] == "chosen") == (r["len_chosen"] > r["len_rejected"]) for r in decisive]
    )
    out["chosen_longer"] = _share([r["len_chosen"] > r["len_rejected"] for r in counted])
    if kind == "scalar":
        margins = [r["score_chosen"] - r["score_rejected"] for r in counted]
        out["mean_margin"] = float(np.mean(margins)) if margins else None
        return out
    out.update(judge_stats(rows))
    judgments = list(_unique_judgments(rows).values())
    valid = [j for j in judgments if j["valid"]]
    out["invalid_reasons"] = dict(Counter(j["reason"] for j in judgments if not j["valid"]).most_common())
    out["no_verdict_rate"] = _share([r.get("pick") is None for r in rows])
    out["truncated_rate"] = _share([bool(r.get("truncated")) for r in rows])
    as_a = [
        j["picked"] == "chosen" for r in counted for j in r["judgments"] if j["valid"] and j["order"] == "AB"
    ]
    as_b = [
        j["picked"] == "chosen" for r in counted for j in r["judgments"] if j["valid"] and j["order"] == "BA"
    ]
    out["position"] = {
        "p_verdict_a": _share([j["verdict"] == "A" for j in valid]),
        "accuracy_chosen_as_a": _share(as_a),
        "accuracy_chosen_as_b": _share(as_b),
    }
    by_type: dict[str, list[float]] = defaultdict(list)
    for r in counted:
        by_type[r.get("task_type") or "none"].append(r["score"])
    out["by_task_type"] = {
        t: {"accuracy": float(np.mean(v)), "n": len(v)} for t, v in sorted(by_type.items())
    }
    return out


def length_buckets(rows: Sequence[Mapping], rng: np.random.Generator) -> list[dict]:
    """Accuracy by relative length difference (chosen - rejected) / longer, in fixed buckets.

    >>> rows = [{"len_chosen": 10, "len_rejected": 1, "score": 1.0}, {"len_chosen": 1, "len_rejected": 10, "score": 0.0}]
    >>> [(b["bucket"], b["n"], b["accuracy"]) for b in length_buckets(rows, np.random.default_rng(0)) if b["n"]]
    [('-100%..-50%', 1, 0.0), ('+50%..+100%', 1, 1.0)]
    """
    scores: list[list[float]] = [[] for _ in LENGTH_EDGES[:-1]]
    for r in rows:
        rel = (r["len_chosen"] - r["len_rejected"]) / max(r["len_chosen"], r["len_rejected"], 1)
        index = next(i for i in range(len(scores)) if rel < LENGTH_EDGES[i + 1] or i == len(scores) - 1)
        scores[index].append(r["score"])
    out = []
    for i, values in enumerate(scores):
        lo, hi = LENGTH_EDGES[i], LENGTH_EDGES[i + 1]
        ci = eval_stats.mean_interval(values, rng)
        out.append(
            {
                "bucket": f"{lo:+.0%}..{hi:+.0%}",
                "lo": lo,
                "hi": hi,
                "n": len(values),
                "accuracy": float(np.mean(values)) if values else None,
                "ci": list(ci) if ci else None,
            }
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Report: report.md, plots, terminal tables


def _pct(value: float | None, ci: Sequence[float] | None = None) -> str:
    if value is None:
        return "-"
    text = f"{100 * value:.1f}"
    return f"{text} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else text


def summary_rows(metrics: Mapping) -> list[list[str]]:
    """Headline, sections (and RM-Bench difficulty) as table rows: name, score [95% CI], n."""
    rows = [["headline", _pct(metrics["headline"], metrics.get("headline_ci")), metrics["n_units"]]]
    if metrics.get("n_tie_labels"):
        rows.append(
            ["agreement (3-way, ties included)", _pct(metrics["agreement"], metrics.get("agreement_ci")), ""]
        )
    for level in ("hard", "normal", "easy"):
        if metrics.get(level) is not None:
            rows.append([level, _pct(metrics[level], metrics.get(f"{level}_ci")), ""])
    for name, section in metrics["sections"].items():
        n = sum(metrics["subsets"][s]["n"] for s in section["subsets"])
        rows.append([name, _pct(section["score"], section.get("score_ci")), n])
    if metrics.get("missing_sections"):
        rows.append(["missing", ", ".join(metrics["missing_sections"]), ""])
    return rows


def subset_rows(metrics: Mapping) -> tuple[list[str], list[list[Any]]]:
    base = metrics["baselines"]
    generative = metrics["kind"] == "generative"
    ties = bool(metrics.get("n_tie_labels"))
    header = ["subset", "n", "accuracy [95% CI]"] + (["agreement"] if ties else []) + ["length-only"]
    header += ["swap-consistent", "invalid"] if generative else []
    rows = []
    for name, s in metrics["subsets"].items():
        row = [name, s["n"], _pct(s["accuracy"], s.get("accuracy_ci"))]
        row += [_pct(s.get("agreement"))] if ties else []
        row += [_pct(base["length_only"]["subsets"].get(name))]
        if generative:
            row += [_pct(s.get("swap_consistency")), _pct(s.get("invalid_rate"))]
        rows.append(row)
    return header, rows


def print_tables(metrics: Mapping, title: str) -> None:
    """The Rich tables on stderr: per subset, then sections and headline."""
    header, rows = subset_rows(metrics)
    grid_table(f"{title}: subsets (accuracy %)", header, rows)
    grid_table(f"{title}: {metrics['headline_rule']}", ["score", "% [95% CI]", "n"], summary_rows(metrics))
    d = metrics["diagnostics"]
    if metrics["kind"] == "generative":
        console.print(
            f"swap consistency {_pct(d['swap_consistency'])}% | invalid verdicts {_pct(d['invalid_rate'])}% | "
            f"P(verdict A) {_pct(d['position']['p_verdict_a'])}% | picks the longer answer "
            f"{_pct(d['prefers_longer'])}% | mean judgment {d['mean_judgment_tokens'] or 0:.0f} tokens",
            highlight=False,
        )


def write_plots(out_dir: Path, metrics: Mapping, title: str) -> list[Path]:
    from rmr1_cli.reports import plots

    base = metrics["baselines"]["length_only"]
    entries = [
        {
            "label": f"headline ({metrics['benchmark']})",
            "value": metrics["headline"],
            "ci": metrics.get("headline_ci"),
            "baseline": base["headline"],
            "strong": True,
        }
    ]
    for name, s in metrics["sections"].items():
        entries.append(
            {
                "label": f"section {name}",
                "value": s["score"],
                "ci": s.get("score_ci"),
                "baseline": base["sections"].get(name),
                "strong": True,
            }
        )
    for name, s in metrics["subsets"].items():
        entries.append(
            {
                "label": name,
                "value": s["accuracy"],
                "ci": s.get("accuracy_ci"),
                "baseline": base["subsets"].get(name),
            }
        )
    made = [
        plots.plot_accuracy_bars(entries, out_dir / "accuracy.png", title),
        plots.plot_length_buckets(
            metrics["diagnostics"]["by_length"],
            out_dir / "length.png",
            f"{title}: accuracy vs length difference",
        ),
    ]
    matrices = {d: s["matrix"] for d, s in metrics["sections"].items() if "matrix" in s}
    if matrices:
        made.append(plots.plot_style_matrices(matrices, out_dir / "styles.png", f"{title}: style matrix"))
    return [p for p in made if p is not None]


def write_report(out_dir: Path, metrics: Mapping, title: str, *, plots: bool = True) -> Path:
    """report.md (and the PNG plots it shows) in the run folder."""
    made = write_plots(out_dir, metrics, title) if plots else []
    d = metrics["diagnostics"]
    lines = [
        f"# {title}",
        "",
        f"Benchmark `{metrics['benchmark']}`, {metrics['kind']} RM, {metrics['n_comparisons']} comparisons in "
        f"{metrics['n_units']} units ({metrics['bootstrap']['unit']}); intervals: 95% bootstrap over units "
        f"({metrics['bootstrap']['resamples']} resamples).",
        "",
        f"**Headline: {_pct(metrics['headline'], metrics.get('headline_ci'))}** ({metrics['headline_rule']}).",
        "",
    ]
    small = [name for name, s in metrics["subsets"].items() if s["n"] < 10]
    if small and metrics["bootstrap"]["resamples"]:
        lines += [
            f"Caution: {len(small)} subset(s) have fewer than 10 units; their intervals understate the "
            "uncertainty (one unit gives a zero-width interval). Run without `limit` for real intervals.",
            "",
        ]
    if metrics.get("missing_sections"):
        lines += [
            f"Not evaluated (missing from the data or the run): {', '.join(metrics['missing_sections'])}.",
            "",
        ]
    lines += _md_table(["score", "% [95% CI]", "n"], summary_rows(metrics))
    for domain, section in metrics["sections"].items():
        if "matrix" in section:  # RM-Bench: rows chosen style, columns rejected style
            styles = benchmarks.RMBENCH_STYLES
            lines += [
                "",
                f"Style matrix, {domain} (row: chosen style, column: rejected style; above the diagonal = hard):",
                "",
            ]
            matrix_rows = [
                [f"chosen {styles[i]}"] + [_pct(v) for v in row] for i, row in enumerate(section["matrix"])
            ]
            lines += _md_table(["%"] + [f"rejected {s}" for s in styles], matrix_rows)
    header, rows = subset_rows(metrics)
    lines += ["", "## Subsets", ""] + _md_table(header, rows)
    lines += ["", "## Null baselines", "", "The same scoring rule applied to judges that ignore content.", ""]
    base_rows = [[k, _pct(v["headline"]), _pct(v["accuracy"])] for k, v in metrics["baselines"].items()]
    lines += _md_table(["baseline", "headline %", "accuracy %"], base_rows)
    lines += ["", "## Diagnostics", ""]
    lines += [
        f"- picks the longer answer: {_pct(d['prefers_longer'])}% of decisive verdicts "
        f"(the chosen answer is the longer one in {_pct(d['chosen_longer'])}% of pairs)"
    ]
    if metrics["kind"] == "generative":
        p = d["position"]
        lines += [
            f"- swap consistency: {_pct(d['swap_consistency'])}%; invalid verdicts: {_pct(d['invalid_rate'])}% "
            f"({', '.join(f'{k}: {v}' for k, v in d['invalid_reasons'].items()) or 'none'}); pairs without any "
            f"valid verdict: {_pct(d['no_verdict_rate'])}%; pairs whose answers were cut to fit the context: "
            f"{_pct(d.get('truncated_rate'))}%",
            f"- position: P(verdict A) {_pct(p['p_verdict_a'])}%; accuracy with the chosen answer as A "
            f"{_pct(p['accuracy_chosen_as_a'])}%, as B {_pct(p['accuracy_chosen_as_b'])}%",
            f"- mean judgment length: {d['mean_judgment_tokens'] or 0:.0f} tokens",
            "- accuracy by the judge's own task type: "
            + ", ".join(f"{t} {_pct(v['accuracy'])}% (n={v['n']})" for t, v in d["by_task_type"].items()),
        ]
    else:
        lines += [f"- mean score margin (chosen - rejected): {d['mean_margin']:.4f}"]
    lines += ["", "Accuracy by length difference:", ""]
    lines += _md_table(
        ["(chosen - rejected) / longer", "n", "accuracy % [95% CI]"],
        [[b["bucket"], b["n"], _pct(b["accuracy"], b["ci"])] for b in d["by_length"] if b["n"]],
    )
    if made:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in made]
    lines += ["", "Files: metrics.json (all numbers), results.jsonl (one row per comparison)"]
    if metrics["kind"] == "generative":
        lines[-1] += ", judgments.jsonl (every judge output, by key)"
    return write_text(out_dir / "report.md", "\n".join(lines) + "\n")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return "-" if v is None else str(v).replace("|", "\\|")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


# ----------------------------------------------------------------------------------------------------
# Comparing two runs


def read_run(folder: str | Path) -> tuple[dict, list[dict]]:
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
        b = sum(benchmarks.agrees(x) and not benchmarks.agrees(y) for x, y in pairs)
        c = sum(benchmarks.agrees(y) and not benchmarks.agrees(x) for x, y in pairs)
        return {"n": len(pairs), "only_a_right": b, "only_b_right": c, "p_value": eval_stats.mcnemar(b, c)}

    score_a, score_b = benchmarks.score_rows(name, shared_a), benchmarks.score_rows(name, shared_b)
    tables_a, tables_b = benchmarks.unit_tables(name, shared_a), benchmarks.unit_tables(name, shared_b)
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
    lines += _md_table(header, rows)
    return write_text(out_dir / "compare.md", "\n".join(lines) + "\n")
