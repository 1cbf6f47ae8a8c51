"""``rmr1 eval``: a reward model on a benchmark, scored by the benchmark's own rules, with intervals,
bias diagnostics and a report.

    benchmark files --(evaluation.loading.load_benchmark)--> comparisons
      --(judge engine, or scalar RM scores)--> one result row per comparison (results.jsonl)
      --(evaluation.metrics.build_metrics)--> metrics.json --(evaluation.report)--> report.md, plots

Generative judges go through the judge engine: every judgment is cached in judgments.jsonl, so a
stopped run resumes and a rerun is free. Comparisons with the same content (RMB's Best-of-N items reuse
pairwise pairs) are judged once. Scalar RMs score each distinct (prompt, answer) once (RM-Bench's 9
comparisons per prompt need 6 scores), cached in scores.jsonl.

``rmr1 eval-compare A B`` compares two finished runs (``compare``, ``evaluation/compare.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import EvalRecipe
from rmr1_cli.errors import ConfigError
from rmr1_cli.evaluation import compare as eval_compare
from rmr1_cli.evaluation import metrics as eval_metrics
from rmr1_cli.evaluation import outcomes
from rmr1_cli.evaluation import report as eval_report
from rmr1_cli.evaluation.comparisons import Benchmark, Comparison
from rmr1_cli.evaluation.loading import load_benchmark
from rmr1_cli.evaluation.rules import get_rule
from rmr1_cli.run_dir import RunDir

log = logging.getLogger(__name__)


# metrics.json; OPTIONAL_METRICS depend on the benchmark (``*_ci`` with bootstrap > 0, ``engine`` for a
# generative RM, ``macro`` for pairs, ``hard``/``normal``/``easy`` for rm-bench).
METRICS = (
    "benchmark", "kind", "headline", "headline_ci", "headline_rule", "n_comparisons", "n_units",
    "n_tie_labels", "pair_rule", "n_skipped", "n_skipped_units", "n_truncated", "n_cut_off", "accuracy", "agreement",
    "subsets", "sections", "missing_sections", "empty_files", "missing_files", "baselines", "diagnostics",
    "bootstrap", "model",
)  # fmt: skip
OPTIONAL_METRICS = (
    "accuracy_ci", "agreement_ci", "macro", "macro_ci", "missing_subsets", "hard", "hard_ci", "normal",
    "normal_ci", "easy", "easy_ci", "engine",
)  # fmt: skip


def run(recipe: EvalRecipe) -> Path:
    if not (recipe.judge.given if recipe.kind == "generative" else recipe.scalar_model.name_or_path):
        block = "judge.model" if recipe.kind == "generative" else "scalar_model"
        raise ConfigError(f"eval: {block}.name_or_path is empty (the kind={recipe.kind} RM to evaluate)")
    if recipe.benchmark.pair_rule == "both_orders_must_agree" and not (
        recipe.kind == "generative" and recipe.judge.both_orders
    ):
        raise ConfigError(
            "benchmark.pair_rule: both_orders_must_agree needs a generative judge with judge.both_orders=true"
        )
    bench = load_benchmark(recipe.benchmark, limit=recipe.limit, subsets=recipe.subsets)
    log.info("%s: %d comparisons in %d subsets", bench.name, len(bench.comparisons), len(bench.subsets()))
    run_dir = RunDir.create("eval", recipe)
    for name, path in bench.inputs.items():  # each file read, by content hash (hub ids by name)
        run_dir.record_input(f"benchmark:{name}", path.partition("::")[0])

    extra: dict = {}
    if recipe.kind == "generative":
        rows, extra["engine"] = judge_rows(recipe, bench, run_dir.path / "judgments.jsonl")
    else:
        rows = scalar_rows(recipe, bench, run_dir.path / "scores.jsonl")
    data.write_jsonl(run_dir.path / "results.jsonl", rows)

    metrics = eval_metrics.build_metrics(
        bench.name,
        rows,
        kind=recipe.kind,
        resamples=recipe.bootstrap,
        seed=recipe.seed,
        pair_rule=recipe.benchmark.pair_rule,
    )
    metrics["empty_files"], metrics["missing_files"] = bench.empty_files, bench.missing_files
    metrics["model"] = recipe.rm.name_or_path
    metrics.update(extra)
    model = "/".join(Path(recipe.rm.name_or_path).parts[-2:]) or recipe.rm.name_or_path
    title = f"{Path(recipe.output_dir).name} ({bench.name}) | {model} ({recipe.kind})"
    eval_report.write_report(run_dir.path, metrics, title, plots=recipe.plots)
    eval_report.print_tables(metrics, title)
    return run_dir.finish(metrics)


def content_key(c: Comparison) -> str:
    """Comparisons with the same prompt and answers are one judgment, whatever their ids."""
    return data.stable_id(c.pair.prompt, c.pair.chosen, c.pair.rejected)


def base_row(bench: Benchmark, c: Comparison) -> dict:
    """What every result row holds besides the RM's verdict: where the comparison sits in the rule."""
    return {
        "id": c.pair.id,
        "unit": c.unit,
        "subset": c.pair.subset,
        "section": get_rule(bench.name).section_of(c.pair.subset),
        "label": c.label,
        "cell": list(c.cell) if c.cell else None,
        "source_order": c.source_order,
        "len_chosen": len(c.pair.chosen),
        "len_rejected": len(c.pair.rejected),
    }


def judge_rows(recipe: EvalRecipe, bench: Benchmark, cache_path: Path) -> tuple[list[dict], dict]:
    """Judge each distinct comparison (both orders, k samples as the recipe says) and make the rows."""
    from dataclasses import replace

    from rmr1_cli.judging.engine import build_engine

    unique = {}
    for c in bench.comparisons:
        key = content_key(c)
        unique.setdefault(key, replace(c.pair, id=key))
    engine = build_engine(recipe.judge, seed=recipe.seed, cache_path=cache_path)
    try:
        results = {r.pair_id: r for r in engine.judge(list(unique.values()), description="evaluating")}
    finally:
        engine.generator.close()
    rule, pair_rule = get_rule(bench.name), recipe.benchmark.pair_rule
    rows = []
    for c in bench.comparisons:
        r = results[content_key(c)]
        judgments = [
            {
                "key": j.key,
                "order": j.order,
                "verdict": j.verdict,
                "picked": j.picked,
                "valid": j.valid,
                "reason": j.reason,
                "tokens": j.num_tokens,
                "cut_off": j.finish_reason == "length",  # stopped by max_new_tokens
            }
            for j in r.judgments or []
        ]
        pick, score = generative_outcome(r, judgments, rule, pair_rule, recipe.judge.aggregation)
        rows.append(
            {
                **base_row(bench, c),
                "score": score,
                "pick": pick,
                "skipped": r.outcome == "skipped",  # too long for the judge: left out of the scores
                "outcome": r.outcome,
                "p_chosen": r.p_chosen,
                "consistent": r.consistent,
                "n_valid": r.n_valid,
                "n_judgments": r.n_judgments,
                "task_type": r.task_type,
                "tokens": r.tokens,
                "truncated": bool(getattr(r, "truncated", False)),  # answers cut to fit the context
                "judgments": judgments,
            }
        )
    stats = engine.stats.as_dict()
    stats["distinct_pairs"] = len(unique)
    return rows, stats


def generative_outcome(result, judgments, rule, pair_rule: str, aggregation: str) -> tuple:
    """(pick, score) of one judged comparison under the benchmark's rule or both_orders_must_agree."""
    if result.outcome == "skipped":
        return None, 0.0
    if pair_rule == "both_orders_must_agree":
        return outcomes.must_agree(judgments)
    pick = result.outcome if result.outcome in ("chosen", "rejected", "tie") else None
    if aggregation == "mean" and pick is not None:
        return pick, result.score  # the share of judgments picking the chosen answer
    return pick, outcomes.generative_score(pick, rule)


def scalar_rows(recipe: EvalRecipe, bench: Benchmark, cache_path: Path) -> list[dict]:
    """Score each distinct (prompt, answer) once with the sequence classifier, then compare per pair."""
    from rmr1_cli.evaluation.scalar import ScalarScorer
    from rmr1_cli.models import model_identity

    identity = model_identity(recipe.scalar_model)

    def key(prompt, answer) -> str:
        return data.stable_id(identity, prompt, answer)

    with data.JsonlStore(cache_path, what="score") as store:  # resumable: scores append as they come
        items = {}
        for c in bench.comparisons:
            for answer in (c.pair.chosen, c.pair.rejected):
                k = key(c.pair.prompt, answer)
                if k not in store:
                    items.setdefault(k, (c.pair.prompt, answer))
        if items:
            log.info("scoring %d distinct answers (%d cached)", len(items), len(store))
            scorer = ScalarScorer(recipe.scalar_model, batch_size=recipe.batch_size)
            keys = list(items)
            for start in range(0, len(keys), 256):
                chunk = keys[start : start + 256]
                scored = scorer.score_and_flag([items[k] for k in chunk])
                store.append(
                    {"key": k, "score": s, "truncated": cut}
                    for k, (s, cut) in zip(chunk, scored, strict=True)
                )
        cached = {k: (row["score"], bool(row.get("truncated"))) for k, row in store.items()}
    rows = []
    for c in bench.comparisons:
        (chosen, cut_chosen) = cached[key(c.pair.prompt, c.pair.chosen)]
        (rejected, cut_rejected) = cached[key(c.pair.prompt, c.pair.rejected)]
        pick, score = outcomes.scalar_outcome(chosen, rejected)
        rows.append(
            {
                **base_row(bench, c),
                "score": score,
                "pick": pick,
                "score_chosen": chosen,
                "score_rejected": rejected,
                "truncated": cut_chosen or cut_rejected,  # the prompt was cut from the left to fit
            }
        )
    return rows


def compare(
    dir_a: str | Path, dir_b: str | Path, out_dir: str | Path | None = None, *, resamples: int = 1000
) -> Path:
    """``rmr1 eval-compare``: McNemar per subset and paired-bootstrap differences; writes compare.json/.md."""
    result = eval_compare.compare_runs(dir_a, dir_b, resamples=resamples)
    out = Path(out_dir) if out_dir else Path(dir_b) / f"compare-vs-{Path(dir_a).name}"
    eval_compare.write_comparison(out, result)
    return out
