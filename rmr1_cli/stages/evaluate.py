"""``rmr1 eval``: accuracy of a reward model on a preference benchmark, overall and per subset.

Outputs in ``output_dir``: judgments.jsonl (the resume cache), results.jsonl (one row per pair) and
metrics.json with ``accuracy`` and ``subsets.<name>.accuracy``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.artifacts import RunDir
from rmr1_cli.config import EvalRecipe
from rmr1_cli.console import grid_table
from rmr1_cli.errors import ConfigError
from rmr1_cli.judging import build_engine


def run(recipe: EvalRecipe) -> Path:
    if recipe.benchmark.name != "pairs" or recipe.kind != "generative":
        raise ConfigError("eval: only benchmark.name=pairs with kind=generative is available in this version")
    pairs = data.load_pairs(recipe.benchmark.path, fields=recipe.benchmark.fields or None)
    if recipe.subsets:
        pairs = [p for p in pairs if p.subset in recipe.subsets]
    if recipe.limit is not None:
        pairs = pairs[: recipe.limit]
    run_dir = RunDir.create("eval", recipe)
    run_dir.record_input("benchmark", recipe.benchmark.path)

    engine = build_engine(
        recipe.model,
        recipe.generation,
        recipe.judge,
        cache_path=run_dir.path / "judgments.jsonl",
        seed=recipe.seed,
    )
    results = engine.judge(pairs, description="evaluating")
    data.write_jsonl(run_dir.path / "results.jsonl", (r.to_row() for r in results))

    by_subset: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_subset[r.subset or "all"].append(r.score)
    subsets = {name: {"accuracy": sum(s) / len(s), "n": len(s)} for name, s in sorted(by_subset.items())}
    scores = [r.score for r in results]
    metrics = {
        "accuracy": sum(scores) / len(scores) if scores else None,
        "n": len(scores),
        "subsets": subsets,
        "engine": engine.stats.as_dict(),
    }
    rows = [[name, s["n"], s["accuracy"]] for name, s in subsets.items()]
    rows.append(["overall", metrics["n"], metrics["accuracy"]])
    grid_table(f"rmr1 eval: {recipe.benchmark.path}", ["subset", "pairs", "accuracy"], rows)
    return run_dir.finish(metrics)
