"""Loading the benchmark a recipe names: its rule's loader, then the subsets and unit limit asked for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.evaluation.comparisons import Benchmark, Comparison
from rmr1_cli.evaluation.rules import get_rule


def load_benchmark(
    spec: BenchmarkSpec, *, limit: int | None = None, subsets: Sequence[str] = ()
) -> Benchmark:
    """Read the benchmark a recipe names; keep the ``subsets`` asked for and at most ``limit`` units each."""
    rule = get_rule(spec.name)
    if limit is not None and limit < 1:
        raise ConfigError(f"limit: must be at least 1 (or null for all), got {limit}")
    root = Path(spec.root).expanduser() if spec.root else Path()
    bench = rule.load(spec, root, _wanted(spec.name, subsets))
    bench.comparisons = select(
        spec.name, bench.comparisons, subsets=subsets, limit=limit, known=bench.available or None
    )
    if not bench.comparisons:
        raise DataError(f"benchmark {spec.name}: no pairs to evaluate after subsets={list(subsets)}")
    return bench


def _wanted(name: str, subsets: Sequence[str]) -> Callable[[str], bool]:
    """Whether a subset is asked for (by its name or its section's); lets loaders skip whole files."""
    asked, section_of = set(subsets), get_rule(name).section_of
    return lambda subset: not asked or subset in asked or section_of(subset) in asked


def select(
    name: str,
    comparisons: list[Comparison],
    *,
    subsets: Sequence[str] = (),
    limit: int | None = None,
    known: Sequence[str] | None = None,
) -> list[Comparison]:
    """Keep comparisons whose subset or section is in ``subsets``, then the first ``limit`` units of each.

    ``known``: every subset of the benchmark, when the loader skipped files nobody asked for.
    """
    section_of = get_rule(name).section_of
    if subsets:
        known = set(known) if known else {c.pair.subset for c in comparisons}
        known |= {section_of(s) for s in known} - {None}
        unknown = [s for s in subsets if s not in known]
        if unknown:
            shown = ", ".join(sorted(known)[:40]) + (" ..." if len(known) > 40 else "")
            raise ConfigError(f"subsets: {unknown} not in this benchmark; its subsets and sections: {shown}")
        wanted = set(subsets)
        comparisons = [
            c for c in comparisons if c.pair.subset in wanted or section_of(c.pair.subset) in wanted
        ]
    if limit is not None:
        units: dict[str, set[str]] = defaultdict(set)
        kept = []
        for c in comparisons:
            seen = units[c.pair.subset]
            if c.unit in seen or len(seen) < limit:
                seen.add(c.unit)
                kept.append(c)
        comparisons = kept
    return comparisons
