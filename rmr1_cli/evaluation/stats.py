"""Statistics for evaluation results: bootstrap intervals and the paired McNemar test (numpy, no torch).

The bootstrap resamples a benchmark's *units* (pairs; RM-Bench prompts, so the 9 style comparisons of a
prompt move together; Best-of-N items) with replacement inside each subset, so every subset keeps its
size, and recomputes every score with the benchmark's own rule (``scoring.aggregate``). The interval
is the percentile interval of those replicates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rmr1_cli.evaluation.scoring import UnitTable, aggregate

Path_ = tuple[str, ...]


_CHUNK = 100  # replicates drawn at once (bounds memory at chunk x units x columns floats)


def resample(
    values: np.ndarray | list, resamples: int, rng: np.random.Generator, *also: np.ndarray | list
) -> list[np.ndarray]:
    """Column means of ``resamples`` bootstrap samples of the rows of ``values``: (resamples, columns).

    Arrays in ``also`` (same rows, e.g. another run's values for a paired test) are resampled with the
    very same row draws.
    """
    arrays = [np.asarray(v, dtype=float) for v in (values, *also)]
    arrays = [a.reshape(len(a), -1) for a in arrays]
    n = len(arrays[0])
    out: list[list[np.ndarray]] = [[] for _ in arrays]
    for start in range(0, resamples, _CHUNK):
        rows = rng.integers(0, n, size=(min(_CHUNK, resamples - start), n))
        for k, a in enumerate(arrays):
            out[k].append(a[rows].mean(axis=1))
    return [np.concatenate(parts) for parts in out]


def resampled_means(
    tables: Mapping[str, UnitTable], resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per subset, ``resamples`` bootstrap replicates of its column means: an array (resamples, columns)."""
    return {s: resample(tables[s].values, resamples, rng)[0] for s in sorted(tables)}


def flatten(node: Any, prefix: Path_ = ()) -> dict[Path_, Any]:
    """Every number (float or numpy array) of a nested dict, by its key path; ints, lists, strings and
    None are left out.

    >>> flatten({"a": 0.5, "b": {"c": 0.25, "n": 3, "d": None}})
    {('a',): 0.5, ('b', 'c'): 0.25}
    """
    out: dict[Path_, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, (*prefix, str(key))))
    elif isinstance(node, float | np.ndarray):
        out[prefix] = node
    return out


def _replicates(
    name: str, tables: Mapping[str, UnitTable], draws: Mapping[str, np.ndarray], counts, statistic
):
    """Every score for all replicates at once: the rule runs on arrays of column means (one per replicate)."""
    means = {s: {c: draws[s][:, k] for k, c in enumerate(tables[s].columns)} for s in tables}
    with np.errstate(divide="ignore", invalid="ignore"):
        return flatten(statistic(name, means, counts))


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
    collected = _replicates(name, tables, draws, counts, statistic)
    return {path: ci for path, values in collected.items() if (ci := interval(values, level)) is not None}


def interval(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """The central percentile interval (nan replicates left out; None when there are none).

    >>> [round(x, 6) for x in interval(list(range(101)), 0.9)]
    [5.0, 95.0]
    """
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(array, [tail, 100 - tail])
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
    return interval(resample(values, resamples, rng)[0][:, 0], level)


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
    draws_a, draws_b = {}, {}
    for s in sorted(counts):
        draws_a[s], draws_b[s] = resample(tables_a[s].values, resamples, rng, tables_b[s].values)
    score_a = _replicates(name, tables_a, draws_a, counts, aggregate)
    score_b = _replicates(name, tables_b, draws_b, counts, aggregate)
    out = {}
    for path in score_a.keys() & score_b.keys():
        ci = interval(np.asarray(score_b[path]) - np.asarray(score_a[path]), level)
        if ci is not None:
            out[path] = ci
    return out
