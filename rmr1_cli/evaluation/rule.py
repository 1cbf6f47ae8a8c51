"""What a benchmark rule is: how its files load and how its scores are computed (pure, no torch).

The scoring (``scoring.py``) works on result rows grouped by subset and resampling unit. Every unit has
the shared pair columns (``PAIR_COLUMNS``: right pairs, counted pairs, agreeing pairs, all pairs); a
rule may put its own columns in front (RM-Bench's 3x3 style cells, RMB's Best-of-N item). From the
units' column means the scoring computes accuracy and agreement, then asks the rule for its subset
scores, its sections and its headline.

The same hooks run on floats (the point estimate) and on numpy arrays of bootstrap replicates, so the
arithmetic here (``ratio``, ``mean``) accepts both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.evaluation.comparisons import Benchmark

PAIR_COLUMNS = ("pair_correct", "pair_n", "agree", "pairs")

Means = Mapping[str, Mapping[str, Any]]  # subset -> column -> mean (a float, or an array of replicates)


class BenchmarkRule:
    """A benchmark's loader and scoring rule. The defaults are those of plain pairs: no sections, no
    columns of its own; a rule overrides what differs."""

    name: ClassVar[str]  # as recipes write it (benchmark.name)
    unit: ClassVar[str] = "pair"  # what the bootstrap resamples, as the report names it
    headline_rule: ClassVar[str]  # one line for metrics.json and the report
    # a generative verdict's score when the judge's orders tie, and when no verdict parses (outcomes.py);
    # a rule whose official code says otherwise overrides these and names its source
    generative_tie: ClassVar[float] = 0.5
    generative_invalid: ClassVar[float] = 0.0

    def load(self, spec: BenchmarkSpec, root: Path, wanted: Callable[[str], bool]) -> Benchmark:
        """The benchmark's comparisons; ``wanted(subset)`` lets a loader skip files nobody asked for."""
        raise NotImplementedError

    def section_of(self, subset: str) -> str | None:
        """The section (or domain) a subset belongs to; None when the rule has no sections."""
        return None

    def columns(self, subset: str) -> tuple[str, ...]:
        """The rule's own unit columns for a subset, placed before ``PAIR_COLUMNS``."""
        return ()

    def unit_values(self, subset: str, unit: str, members: Sequence[Mapping[str, Any]]) -> list[float]:
        """One unit's values for ``columns(subset)``, from its result rows."""
        return []

    def score_subset(self, subset: str, means: Mapping[str, Any], entry: dict[str, Any]) -> None:
        """Adjust a subset's entry (``accuracy``, ``agreement`` from the pair columns) in place."""

    def score_sections(self, out: dict[str, Any], means: Means, counts: Mapping[str, int]) -> None:
        """Fill ``sections``, ``headline`` and ``missing_sections`` of ``out`` (its ``subsets`` are done)."""
        raise NotImplementedError


def ratio(top: Any, bottom: Any) -> Any:
    """top / bottom, None when bottom is 0. The bootstrap passes numpy arrays (one value per replicate)
    through the same rules; there a zero bottom gives nan, which its percentiles skip."""
    if isinstance(bottom, int | float):
        return top / bottom if bottom > 0 else None
    return top / bottom


def mean(values: Iterable[Any]) -> Any:
    """The mean of the values that are not None; None when there are none.

    >>> mean([0.5, None, 1.0]), mean([None])
    (0.75, None)
    """
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
