"""What a loaded benchmark is: its comparisons, each one pair plus its place in the scoring rule.

A rule's loader and the generic layouts both produce ``Comparison``s; the scoring reads only the
result rows made from them, so these records are the one thing loading and scoring share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rmr1_cli.data import PreferencePair
from rmr1_cli.errors import DataError


@dataclass(frozen=True)
class Comparison:
    """One pair to judge and its place in the benchmark's scoring rule."""

    pair: PreferencePair  # pair.subset is always set; pair.id is unique in the benchmark
    unit: str  # the resampling unit: the pair, an RM-Bench prompt or a Best-of-N item
    label: Literal["chosen", "tie"] = "chosen"  # tie: the gold label says neither answer is better
    cell: tuple[int, int] | None = None  # RM-Bench: (chosen style, rejected style)
    source_order: Literal["chosen_first", "rejected_first"] | None = None  # order in the file, if any


@dataclass
class Benchmark:
    """A loaded benchmark: its comparisons (in file order) and the files they came from."""

    name: str
    comparisons: list[Comparison]
    inputs: dict[str, str] = field(default_factory=dict)  # name -> file read, hashed into the run manifest
    available: list[str] = field(default_factory=list)  # every subset, also those not loaded
    empty_files: list[str] = field(default_factory=list)  # files with no rows: skipped with a warning
    missing_files: list[str] = field(default_factory=list)  # files of the official release not found here

    def subsets(self) -> list[str]:
        return list(dict.fromkeys(c.pair.subset for c in self.comparisons))


def unique(comparisons: list[Comparison]) -> list[Comparison]:
    """The comparisons, checked to have distinct pair ids (result rows and caches are keyed by them)."""
    seen: set[str] = set()
    for c in comparisons:
        if c.pair.id in seen:
            raise DataError(f"duplicate pair id '{c.pair.id}' (two sources with the same subset name?)")
        seen.add(c.pair.id)
    return comparisons
