"""RMB (Zhou-Zoey): pairwise accuracy per scenario file; a Best-of-N item (the resampling unit of its
subset) is correct only when the best answer beats every loser. A section (Pairwise/BoN x
Helpfulness/Harmlessness) is the accuracy over all its pairs or items, so a folder pools its scenarios;
headline = mean of the four sections present.

Data: a folder holding Pairwise_set/ and BoN_set/ (either may be missing); a subset is a file's path
under it without ``.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.data import PreferencePair, read_rows
from rmr1_cli.errors import DataError
from rmr1_cli.evaluation.comparisons import Benchmark, Comparison, unique
from rmr1_cli.evaluation.layouts import conversation, resolve
from rmr1_cli.evaluation.rule import BenchmarkRule, mean, ratio

log = logging.getLogger(__name__)

SECTIONS = (
    "Pairwise_set/Helpfulness",
    "Pairwise_set/Harmlessness",
    "BoN_set/Helpfulness",
    "BoN_set/Harmlessness",
)


def is_bon(subset: str) -> bool:
    """Whether a subset holds Best-of-N items (scored per item, not per pair)."""
    return subset.startswith("BoN_set")


class RmbRule(BenchmarkRule):
    name = "rmb"
    unit = "pair (BoN: item)"
    headline_rule = "mean of pairwise/BoN x helpfulness/harmlessness"

    def load(
        self, spec: BenchmarkSpec, root: Path, wanted: Callable[[str], bool] = lambda s: True
    ) -> Benchmark:
        base = resolve(root, spec.path)
        if not base.is_dir():
            raise DataError(f"{base}: not a folder (RMB: the folder holding Pairwise_set and BoN_set)")
        if base.name in ("Pairwise_set", "BoN_set"):
            base = base.parent
        comparisons, inputs, available = [], {}, []
        for kind in ("Pairwise_set", "BoN_set"):
            folder = base / kind
            if not folder.is_dir():
                log.warning("rmb: %s has no %s folder; its sections are reported as missing", base, kind)
                continue
            inputs[kind] = str(folder)
            for file in sorted(folder.rglob("*.json")):
                subset = file.relative_to(base).with_suffix("").as_posix()
                available.append(subset)
                if not wanted(subset):
                    continue
                read = _pairwise if kind == "Pairwise_set" else _best_of_n
                for location, row in read_rows(file):
                    comparisons += read(location, row, subset)
        if not available:
            raise DataError(f"{base}: no RMB files under Pairwise_set/ or BoN_set/")
        return Benchmark(self.name, unique(comparisons), inputs, available)

    def section_of(self, subset: str) -> str | None:
        return "/".join(subset.split("/")[:2])

    def columns(self, subset: str) -> tuple[str, ...]:
        return ("item_correct",) if is_bon(subset) else ()

    def unit_values(self, subset: str, unit: str, members: Sequence[dict[str, Any]]) -> list[float]:
        return [float(all(m.get("pick") == "chosen" for m in members))] if is_bon(subset) else []

    def score_subset(self, subset, means, entry) -> None:
        if is_bon(subset):
            entry["accuracy"] = means["item_correct"]

    def score_sections(self, out, means, counts) -> None:
        for section in SECTIONS:
            members = [s for s in means if self.section_of(s) == section]
            if not members:
                continue
            if is_bon(section):
                score = ratio(
                    sum(counts[s] * means[s]["item_correct"] for s in members),
                    sum(counts[s] for s in members),
                )
            else:
                score = ratio(
                    sum(counts[s] * means[s]["pair_correct"] for s in members),
                    sum(counts[s] * means[s]["pair_n"] for s in members),
                )
            macro = mean(out["subsets"][s]["accuracy"] for s in members)
            out["sections"][section] = {"score": score, "macro": macro, "subsets": members}
        out["headline"] = mean(v["score"] for v in out["sections"].values())
        out["missing_sections"] = [s for s in SECTIONS if s not in out["sections"]]


def _answer(row: dict, key: str, location: str) -> str:
    value = row.get(key)
    if isinstance(value, dict):
        value = value.get("answer")
    if not isinstance(value, str):
        raise DataError(f"{location}: field '{key}' must hold an 'answer' string")
    return value


def _pairwise(location: str, row: dict, subset: str) -> list[Comparison]:
    prompt = conversation(row.get("conversation_input"), f"{location}: field 'conversation_input'")
    pair_id = f"{subset}:{row.get('pair_uid')}"
    chosen, rejected = _answer(row, "chosen", location), _answer(row, "reject", location)
    return [Comparison(PreferencePair(pair_id, prompt, chosen, rejected, subset), pair_id)]


def _best_of_n(location: str, row: dict, subset: str) -> list[Comparison]:
    """Best-of-N: the best answer against each loser; the item is the resampling unit."""
    prompt = conversation(row.get("conversation_input"), f"{location}: field 'conversation_input'")
    unit = f"{subset}:{row.get('bon_uid')}"
    best = _answer(row, "bon_best", location)
    losers = row.get("loser_list")
    if not isinstance(losers, list) or not losers:
        raise DataError(f"{location}: field 'loser_list' must be a non-empty list")
    return [
        Comparison(
            PreferencePair(f"{unit}:{k}", prompt, best, _answer({"x": loser}, "x", location), subset),
            unit,
        )
        for k, loser in enumerate(losers)
    ]


RULE = RmbRule()
