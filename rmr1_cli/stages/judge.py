"""``rmr1 judge``: judge every pair of a file with a generative RM and write what it said.

Outputs in ``output_dir``:
    judgments.jsonl   every judge output (both orders, k samples), parsed; also the resume cache
    results.jsonl     one aggregated row per pair (P(chosen), outcome, swap consistency, ...)
    metrics.json      counts, valid rate, consistency, position preference, tokens, time
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import JudgeRecipe
from rmr1_cli.console import summary_table
from rmr1_cli.judging import engine as engine_module
from rmr1_cli.judging.records import summarize_pairs
from rmr1_cli.reports.formatting import percent
from rmr1_cli.run_dir import RunDir

# keys of metrics.json
METRICS = ("pairs", "accuracy", "valid_rate", "consistency", "cut_off", "outcomes", "engine")


def run(recipe: JudgeRecipe) -> Path:
    pairs = data.load_pairs(recipe.pairs_file, limit=recipe.limit)
    run_dir = RunDir.create("judge", recipe)
    run_dir.record_input("pairs_file", recipe.pairs_file)

    engine = engine_module.build_engine(
        recipe.judge, seed=recipe.seed, cache_path=run_dir.path / "judgments.jsonl"
    )
    results = engine.judge(pairs)
    engine.generator.close()
    data.write_jsonl(run_dir.path / "results.jsonl", (r.to_row() for r in results))

    stats = engine.stats.as_dict()
    metrics = summarize_pairs(results) | {"engine": stats}
    summary_table("rmr1 judge", summary_rows(metrics, stats) + [("output", run_dir.path)])
    return run_dir.finish(metrics)


def cut_off_cell(stats: dict) -> str:
    """Judgments that hit the new-token budget: a long thinker cut short reads as an invalid verdict."""
    n, total = stats.get("cut_off", 0), stats.get("judgments", 0)
    return f"{n} ({percent(n / total if total else None)})"


def summary_rows(metrics: dict, stats: dict) -> list[tuple[str, object]]:
    """The judge summary: what was judged, how much of it parsed, how biased and how fast."""
    rows = [
        ("pairs", metrics["pairs"]),
        (
            "judgments (generated / cached)",
            f"{stats['judgments']} ({stats['generated']} / {stats['cached']})",
        ),
        ("valid verdicts", f"{stats['valid']} ({percent(stats['valid_rate'])})"),
        ("cut off at max_new_tokens", cut_off_cell(stats)),
        ("chosen preferred", percent(metrics["accuracy"])),
        ("swap-consistent", percent(metrics["consistency"])),
        ("P(verdict = A)", percent(stats["p_verdict_a"])),
        ("skipped (too long) / truncated", f"{stats['skipped_too_long']} / {stats['truncated']}"),
        ("generated tokens", stats["tokens"]),
        (
            "time",
            f"{stats['seconds']:.1f} s ({stats['pairs_per_s'] or 0:.2f} pairs/s, "
            f"{stats['tokens_per_s'] or 0:.0f} tok/s)",
        ),
    ]
    if stats["invalid_reasons"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats["invalid_reasons"].items()))
        rows.insert(3, ("invalid (by reason)", reasons))
    if stats["retried"]:
        rows.insert(3, ("retried invalid", stats["retried"]))
    if stats["length_unchecked"]:
        rows.insert(-2, ("length unchecked (backend cannot count)", stats["length_unchecked"]))
    return rows
