"""Statistics for evaluation results: bootstrap intervals and the paired McNemar test (numpy, no torch).

The bootstrap resamples a benchmark's *units* (pairs; RM-Bench prompts, so the 9 style comparisons of a
prompt move together; Best-of-N items) with replacement inside each subset, so every subset keeps its
size, and recomputes every score with the benchmark's own rule (``benchmarks.aggregate``). The interval
is the percentile interval of those replicates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rmr1_cli.benchmarks import UnitTable, aggregate

Path_ = tuple[str, ...]


def resampled_means(
    tables: Mapping[str, UnitTable], resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per subset, ``resamples`` bootstrap replicates of its column means: an array (resamples, columns)."""
    out = {}
    for subset in sorted(tables):
        values = np.asarray(tables[subset].values, dtype=float)
        n = len(values)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)  # how often each unit is drawn
        out[subset] = weights @ values / n
    return out


def flatten(node: Any, prefix: Path_ = ()) -> dict[Path_, float]:
    """Every float leaf of a nested dict, by its key path (ints, lists, strings and None are left out).

    >>> flatten({"a": 0.5, "b": {"c": 0.25, "n": 3, "d": None}})
    {('a',): 0.5, ('b', 'c'): 0.25}
    """
    out: dict[Path_, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, (*prefix, str(key))))
    elif isinstance(node, float):
        out[prefix] = node
    return out


def bootstrap(
    name: str,
    tables: Mapping[str, UnitTable],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    statistic: Callable[[str, Mapping, Mapping], dict] = aggregate,
) -> dict[Path_, tuple[float, float]]:
    """Percentile intervals of every score ``statistic`` computes, by key path."""
    rng = np.random.default_rng(seed)
    draws = resampled_means(tables, resamples, rng)
    counts = {s: len(t.values) for s, t in tables.items()}
    collected: dict[Path_, list[float]] = defaultdict(list)
    for b in range(resamples):
        means = {s: dict(zip(tables[s].columns, draws[s][b].tolist(), strict=True)) for s in tables}
        for path, value in flatten(statistic(name, means, counts)).items():
            collected[path].append(value)
    return {path: interval(values, level) for path, values in collected.items()}


def interval(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central percentile interval.

    >>> [round(x, 6) for x in interval(list(range(101)), 0.9)]
    [5.0, 95.0]
    """
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(np.asarray(values, dtype=float), [tail, 100 - tail])
    return float(lo), float(hi)


def attach_intervals(point: dict, intervals: Mapping[Path_, tuple[float, float]]) -> dict:
    """Write each interval next to its estimate: ``accuracy`` gets ``accuracy_ci: [lo, hi]``.

    >>> attach_intervals({"a": 0.5, "s": {"x": {"accuracy": 0.7}}}, {("s", "x", "accuracy"): (0.6, 0.8)})
    {'a': 0.5, 's': {'x': {'accuracy': 0.7, 'accuracy_ci': [0.6, 0.8]}}}
    """
    for path, (lo, hi) in intervals.items():
        node = point
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(path[-1]), float):
            node[f"{path[-1]}_ci"] = [lo, hi]
    return point


def mean_interval(
    values: list[float], rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float] | None:
    """Bootstrap interval of a plain mean (for diagnostics such as accuracy per length bucket)."""
    if not values:
        return None
    array = np.asarray(values, dtype=float)
    n = len(array)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return interval(weights @ array / n, level)


def mcnemar(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: ``b`` pairs only run A got right, ``c`` only run B.

    Under the null both kinds of disagreement are equally likely, so min(b, c) is a Binomial(b + c, 1/2)
    tail.

    >>> mcnemar(0, 5), mcnemar(3, 3), round(mcnemar(1, 9), 4)
    (0.0625, 1.0, 0.0215)
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_difference(
    name: str,
    tables_a: Mapping[str, UnitTable],
    tables_b: Mapping[str, UnitTable],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[Path_, tuple[float, float]]:
    """Intervals of (B - A) for every score, both runs resampled with the same units (a paired bootstrap).

    The two runs' tables must hold the same units in the same order.
    """
    rng = np.random.default_rng(seed)
    counts = {s: len(t.values) for s, t in tables_a.items()}
    weights = {s: rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) for s, n in sorted(counts.items())}
    draws = {}
    for label, tables in (("a", tables_a), ("b", tables_b)):
        draws[label] = {
            s: weights[s] @ np.asarray(t.values, dtype=float) / counts[s] for s, t in tables.items()
        }
    collected: dict[Path_, list[float]] = defaultdict(list)
    for r in range(resamples):
        scores = {}
        for label, tables in (("a", tables_a), ("b", tables_b)):
            means = {
                s: dict(zip(t.columns, draws[label][s][r].tolist(), strict=True)) for s, t in tables.items()
            }
            scores[label] = flatten(aggregate(name, means, counts))
        for path in scores["a"].keys() & scores["b"].keys():
            collected[path].append(scores["b"][path] - scores["a"][path])
    return {path: interval(values, level) for path, values in collected.items()}
