"""``rmr1 judge``: judge every pair of a file with a generative RM and write what it said.

Outputs in ``output_dir``:
    judgments.jsonl   every judge output (both orders, k samples), parsed; also the resume cache
    results.jsonl     one aggregated row per pair (P(chosen), outcome, swap consistency, ...), in input
                      order, appended chunk by chunk (``chunk_size`` pairs): a killed run keeps its rows
    metrics.json      counts, valid rate, consistency, position preference, tokens, time

The file is read twice, one row at a time: once to check every row before a model loads, once to
judge. Memory holds one chunk, the cache's index and a hash per pair id, whatever the file's length.
Under ``torchrun``/``accelerate launch`` each rank judges its shard into its own files and rank 0
merges them into the files above (``judging/sharding.py``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rmr1_cli import config
from rmr1_cli.config import JudgeRecipe
from rmr1_cli.console import summary_table
from rmr1_cli.data.loading import iter_pairs
from rmr1_cli.judging import engine as engine_module
from rmr1_cli.judging import sharding
from rmr1_cli.judging.records import PairSummary
from rmr1_cli.judging.results_log import ResultsLog
from rmr1_cli.reports.formatting import percent
from rmr1_cli.run_dir import RunDir

# keys of metrics.json
METRICS = ("pairs", "accuracy", "valid_rate", "consistency", "cut_off", "outcomes", "engine")


def run(recipe: JudgeRecipe) -> Path:
    shard = sharding.Shard.from_env()
    total = sum(1 for _ in iter_pairs(recipe.pairs_file, limit=recipe.limit))  # every row checked
    run_dir = RunDir.create("judge", recipe)
    if run_dir.main:
        run_dir.record_input("pairs_file", recipe.pairs_file)
    out = run_dir.path
    if shard.parallel:
        # what the ranks of one launch agree on; how they chunk and wait does not change any result
        same_results = replace(recipe, chunk_size=1, merge_timeout_s=0.0)
        launch = sharding.launch_fingerprint(config.dump_yaml(same_results), recipe.pairs_file)
        sharding.clear_marker(out, shard)

    engine = engine_module.build_engine(
        sharding.on_rank_device(recipe.judge, shard),
        seed=recipe.seed,
        cache_path=out / shard.name("judgments.jsonl"),
        expected_pairs=shard.size(total),
    )
    summary = PairSummary()
    pairs = shard.take(iter_pairs(recipe.pairs_file, limit=recipe.limit, checked=True))
    try:
        with ResultsLog(out / shard.name("results.jsonl")) as results_file:
            for results in engine.judge_stream(pairs, recipe.chunk_size):
                results_file.extend(r.to_row() for r in results)
                for result in results:
                    summary.add(result)
    finally:
        engine.generator.close()
        if engine.cache is not None:
            engine.cache.close()
    stats = engine.stats.as_dict()

    if shard.parallel:
        sharding.write_marker(out, shard, summary, stats, launch)
        if shard.rank != 0:
            return run_dir.finish({})  # rank 0 writes the metrics of the whole launch
        markers = sharding.wait_for_ranks(out, shard.world, launch, recipe.merge_timeout_s)
        sharding.merge_results(out, shard.world, total)
        summary = PairSummary()
        for marker in markers:
            summary.merge(PairSummary.from_json(marker["summary"]))
        stats = sharding.merge_engine_stats([marker["engine"] for marker in markers])

    metrics = summary.as_dict() | {"engine": stats}
    rows = summary_rows(metrics, stats)
    if shard.parallel:
        rows.insert(1, ("ranks", shard.world))
    summary_table("rmr1 judge", rows + [("output", out)])
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
