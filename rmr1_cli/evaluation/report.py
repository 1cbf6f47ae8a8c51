"""An eval run's report: the terminal tables, report.md and its plots, all from metrics.json's numbers
(``evaluation/metrics.py`` lists its keys)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmr1_cli.console import console, grid_table
from rmr1_cli.data import write_text
from rmr1_cli.evaluation.rules.rm_bench import STYLES
from rmr1_cli.reports.formatting import markdown_table, percent


def _pct(value: float | None, ci: Sequence[float] | None = None) -> str:
    """A share in percent without the sign (the tables' headers carry it)."""
    return percent(value, ci, sign="")


def summary_rows(metrics: Mapping) -> list[list[str]]:
    """Headline, sections (and RM-Bench difficulty) as table rows: name, score [95% CI], n."""
    rows = [["headline", _pct(metrics["headline"], metrics.get("headline_ci")), metrics["n_units"]]]
    if metrics.get("n_tie_labels"):
        rows.append(
            ["agreement (3-way, ties included)", _pct(metrics["agreement"], metrics.get("agreement_ci")), ""]
        )
    if metrics["kind"] == "generative":  # a judge's accuracy means little without its swap agreement
        rows.append(
            ["swap agreement (both orders same pick)", _pct(metrics["diagnostics"]["swap_consistency"]), ""]
        )
    if metrics.get("n_skipped"):
        rows.append(
            [
                "skipped (too long; left out)",
                f"{metrics['n_skipped']} comparisons",
                metrics["n_skipped_units"],
            ]
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
    header += ["swap-consistent", "invalid", "cut off"] if generative else []
    rows = []
    for name, s in metrics["subsets"].items():
        row = [name, s["n"], _pct(s["accuracy"], s.get("accuracy_ci"))]
        row += [_pct(s.get("agreement"))] if ties else []
        row += [_pct(base["length_only"]["subsets"].get(name))]
        if generative:
            row += [_pct(s.get("swap_consistency")), _pct(s.get("invalid_rate")), s.get("cut_off", 0)]
        rows.append(row)
    return header, rows


def print_tables(metrics: Mapping, title: str) -> None:
    """The Rich tables on stderr: per subset, then sections and headline."""
    header, rows = subset_rows(metrics)
    grid_table(f"{title}: subsets (accuracy %)", header, rows)
    grid_table(f"{title}: {metrics['headline_rule']}", ["score", "% [95% CI]", "n"], summary_rows(metrics))
    for line in notes(metrics):
        console.print(line, highlight=False)
    d = metrics["diagnostics"]
    if metrics["kind"] == "generative":
        console.print(
            f"swap consistency {_pct(d['swap_consistency'])}% | invalid verdicts {_pct(d['invalid_rate'])}% | "
            f"cut off at max_new_tokens {metrics.get('n_cut_off', 0)} | P(verdict A) {_pct(d['position']['p_verdict_a'])}% | picks the longer answer "
            f"{_pct(d['prefers_longer'])}% | mean judgment {d['mean_judgment_tokens'] or 0:.0f} tokens",
            highlight=False,
        )


def notes(metrics: Mapping) -> list[str]:
    """One line each for what a reader must know beside the scores: the pair rule, cut inputs, files."""
    out = []
    if metrics.get("pair_rule") == "both_orders_must_agree":
        out.append("Pair rule: both orders must agree (a pair whose orders disagree counts wrong).")
    if metrics.get("n_cut_off"):
        out.append(
            f"{metrics['n_cut_off']} judge traces were cut off at generation.max_new_tokens (no final "
            "verdict: counted invalid); raise the budget if the judge thinks at length."
        )
    if metrics.get("n_truncated"):
        out.append(
            f"{metrics['n_truncated']} comparisons had inputs cut to fit the context "
            + (
                "(the prompt's start; answers kept)."
                if metrics["kind"] == "scalar"
                else "(answers shortened)."
            )
        )
    if metrics.get("empty_files"):
        out.append(
            f"Empty files skipped ({len(metrics['empty_files'])}): {', '.join(metrics['empty_files'])}."
        )
    if metrics.get("missing_files"):
        shown = ", ".join(metrics["missing_files"][:10]) + (
            " ..." if len(metrics["missing_files"]) > 10 else ""
        )
        out.append(f"Files of the official release not found ({len(metrics['missing_files'])}): {shown}.")
    return out


def plot_label(name: str, width: int = 40) -> str:
    """A subset name short enough for a plot's axis: the last path parts that fit.

    >>> plot_label("Pairwise_set/Helpfulness/Open QA/Personal Opinion and Advice")
    '.../Open QA/Personal Opinion and Advice'
    """
    if len(name) <= width:
        return name
    parts = name.split("/")
    kept = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + len(kept) + 5 > width:
            break
        kept = f"{part}/{kept}"
    return ("..." + ("/" if "/" in name else "") + kept)[: width + 4]


def plot_panels(metrics: Mapping) -> dict[str, list[str]]:
    """Plot file stem -> the sections it shows. A benchmark with two kinds of item (RMB: pairwise and
    Best-of-N) gets accuracy.png with the headline and sections, and one panel of subsets per kind."""
    sections = list(metrics["sections"])
    kinds = sorted({s.split("/")[0] for s in sections if "/" in s})
    if len(kinds) < 2:
        return {"accuracy": sections}
    panels = {"accuracy": sections}
    for kind in kinds:
        panels[f"accuracy_{kind.removesuffix('_set').lower()}"] = [s for s in sections if s.startswith(kind)]
    return panels


def write_plots(out_dir: Path, metrics: Mapping, title: str) -> list[Path]:
    from rmr1_cli.reports import plots

    base = metrics["baselines"]["length_only"]
    made = []
    panels = plot_panels(metrics)
    for stem, sections in panels.items():
        entries = []
        if stem == "accuracy":
            entries.append(
                {
                    "label": f"headline ({metrics['benchmark']})",
                    "value": metrics["headline"],
                    "ci": metrics.get("headline_ci"),
                    "baseline": base["headline"],
                    "strong": True,
                }
            )
        for name in sections:
            s = metrics["sections"][name]
            entries.append(
                {
                    "label": f"section {plot_label(name)}",
                    "value": s["score"],
                    "ci": s.get("score_ci"),
                    "baseline": base["sections"].get(name),
                    "strong": True,
                }
            )
        for name, s in metrics["subsets"].items():
            if (stem == "accuracy" and len(panels) > 1) or (
                stem != "accuracy" and s.get("section") not in sections
            ):
                continue
            entries.append(
                {
                    "label": plot_label(name),
                    "value": s["accuracy"],
                    "ci": s.get("accuracy_ci"),
                    "baseline": base["subsets"].get(name),
                }
            )
        panel = title if stem == "accuracy" else f"{title}: {stem.split('_', 1)[1]}"
        made.append(plots.plot_accuracy_bars(entries, out_dir / f"{stem}.png", panel))
    made += [
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
    lines += markdown_table(["score", "% [95% CI]", "n"], summary_rows(metrics))
    if notes(metrics):
        lines += [""] + [f"- {line}" for line in notes(metrics)]
    for domain, section in metrics["sections"].items():
        if "matrix" in section:  # RM-Bench: rows chosen style, columns rejected style
            styles = STYLES
            lines += [
                "",
                f"Style matrix, {domain} (row: chosen style, column: rejected style; above the diagonal = hard):",
                "",
            ]
            matrix_rows = [
                [f"chosen {styles[i]}"] + [_pct(v) for v in row] for i, row in enumerate(section["matrix"])
            ]
            lines += markdown_table(["%"] + [f"rejected {s}" for s in styles], matrix_rows)
    header, rows = subset_rows(metrics)
    lines += ["", "## Subsets", ""] + markdown_table(header, rows)
    lines += [
        "",
        "## Null baselines",
        "",
        "The same scoring rule (and pair rule) applied to judges that ignore content; the columns are the "
        "headline and the sections, the quantities reported above.",
        "",
    ]
    sections = list(metrics["sections"])
    base_rows = [
        [k, _pct(v["headline"])] + [_pct(v["sections"].get(s)) for s in sections]
        for k, v in metrics["baselines"].items()
    ]
    lines += markdown_table(["baseline", "headline %"] + [f"{s} %" for s in sections], base_rows)
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
            f"- judge traces cut off at generation.max_new_tokens: {d.get('cut_off', 0)} "
            f"({_pct(d.get('cut_off_rate'))}% of judgments)",
            f"- position: P(verdict A) {_pct(p['p_verdict_a'])}%; accuracy with the chosen answer as A "
            f"{_pct(p['accuracy_chosen_as_a'])}%, as B {_pct(p['accuracy_chosen_as_b'])}%",
            f"- mean judgment length: {d['mean_judgment_tokens'] or 0:.0f} tokens",
            "- accuracy by the judge's own task type: "
            + ", ".join(f"{t} {_pct(v['accuracy'])}% (n={v['n']})" for t, v in d["by_task_type"].items()),
        ]
    else:
        lines += [
            f"- mean score margin (chosen - rejected): {d['mean_margin'] or 0:.4f}; equal scores (counted "
            f"wrong): {_pct(d.get('tie_rate'))}%; inputs cut to fit: {_pct(d.get('truncated_rate'))}% "
            f"({d.get('truncated_ties', 0)} of them tied)"
        ]
    lines += ["", "Accuracy by length difference:", ""]
    lines += markdown_table(
        ["(chosen - rejected) / longer", "n", "accuracy % [95% CI]"],
        [[b["bucket"], b["n"], _pct(b["accuracy"], b["ci"])] for b in d["by_length"] if b["n"]],
    )
    if made:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in made]
    lines += ["", "Files: metrics.json (all numbers), results.jsonl (one row per comparison)"]
    if metrics["kind"] == "generative":
        lines[-1] += ", judgments.jsonl (every judge output, by key)"
    return write_text(out_dir / "report.md", "\n".join(lines) + "\n")
