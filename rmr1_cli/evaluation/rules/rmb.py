"""RMB (Zhou-Zoey): pairwise accuracy per scenario file; a Best-of-N item (the resampling unit of its
subset) is correct only when the best answer beats every loser. A section (Pairwise/BoN x
Helpfulness/Harmlessness) is the accuracy over all its pairs or items, so a folder pools its scenarios;
headline = mean of the four sections present.

Per comparison a scalar RM is right only when chosen > rejected (a tie scores 0; its scalar code
truncates inputs from the left, which ``evaluation/scalar.py`` follows), a generative judge without a
valid verdict scores 0, and a Best-of-N item with any comparison not won (a tie included) is wrong.
Official sources: Zhou-Zoey/RMB-Reward-Model-Benchmark ``eval/scripts/my_run_rm.py`` (pairwise, strict
``>``, ``truncation_side = "left"``) and RM-R1-UIUC/RM-R1 ``eval/RMB-Reward-Model-Benchmark/eval/scripts/``
(``run_rm_bestofn.py``: an item counts only when every comparison scores 1; ``process_final_result.py``:
the mean of the four sections).

Data: a folder holding Pairwise_set/ and BoN_set/ (either may be missing); a subset is a file's path
under it without ``.json``. The release's files missing here are listed in ``missing_files``; a file
without rows is skipped and listed in ``empty_files``.
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
from rmr1_cli.evaluation.layouts import conversation, resolve, rows_or_empty
from rmr1_cli.evaluation.rule import BenchmarkRule, mean, ratio

log = logging.getLogger(__name__)

SECTIONS = (
    "Pairwise_set/Helpfulness",
    "Pairwise_set/Harmlessness",
    "BoN_set/Helpfulness",
    "BoN_set/Harmlessness",
)


_HELPFUL = (
    "Brainstorming/Idea Development|Brainstorming/Problem Solving|Chat/Casual Conversation|Chat/Discussion|"
    "Chat/Supportive Conversation|Classification/Content Categorization|"
    "Classification/Quality and Compliance Assessment|Closed QA/ContextBased|Closed QA/OptionBased|"
    "Code/Data Management|Code/Development and Implementation|Code/Documentation|"
    "Code/Quality and Optimization|Generation/Creative Writing|Generation/Professional Content Generation|"
    "Open QA/Factual|Open QA/General Explanation|Open QA/Hypothetical Scenarios|"
    "Open QA/Interpretative Analysis|Open QA/Personal Opinion and Advice|"
    "Open QA/Technical and Practical Support|Reasoning/Analytical Reasoning|Reasoning/Critical Thinking|"
    "Reasoning/Human Decision Making|Reasoning/Logical Deduction|Reasoning/Pattern Recognition|"
    "Rewrite/Paraphrasing|Rewrite/PostQuality Assessment Rewriting|Rewrite/Textual ExpansionReduction|"
    "Rewrite/Tone Adjustment|Role Playing/General Character|Role Playing/Specific Character|"
    "Summarization/Specialized Summaries|Summarization/Standard Summaries|"
    "Translation/GeneralExcerpt Language Translation|Translation/Literary and Cultural Translation|"
    "Translation/Technical and Scientific Translation"
).split("|")
_NO_PAIRWISE = ("Brainstorming/Idea Development", "Generation/Creative Writing")
# every file of the release (RMB_dataset/): 95 subsets
FILES = (
    [f"BoN_set/Harmlessness/{s}" for s in [f"S{i}" for i in range(1, 12)] + ["multi"]]
    + [f"BoN_set/Helpfulness/{s}" for s in _HELPFUL]
    + [f"Pairwise_set/Harmlessness/{s}" for s in [f"S{i}" for i in range(1, 11)] + ["multi"]]
    + [f"Pairwise_set/Helpfulness/{s}" for s in _HELPFUL if s not in _NO_PAIRWISE]
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
        comparisons, inputs, available, empty = [], {}, [], []
        for kind in ("Pairwise_set", "BoN_set"):
            folder = base / kind
            if not folder.is_dir():
                log.warning("rmb: %s has no %s folder; its sections are reported as missing", base, kind)
                continue
            for file in sorted(folder.rglob("*.json")):
                subset = file.relative_to(base).with_suffix("").as_posix()
                available.append(subset)
                if not wanted(subset):
                    continue
                inputs[subset] = str(file)
                read = _pairwise if kind == "Pairwise_set" else _best_of_n
                for location, row in rows_or_empty(read_rows(file), str(file), empty):
                    comparisons += read(location, row, subset)
        if not available:
            raise DataError(f"{base}: no RMB files under Pairwise_set/ or BoN_set/")
        missing = [f"{s}.json" for s in FILES if s not in available]
        if missing:
            log.warning("rmb: %d of the release's %d files are not in %s", len(missing), len(FILES), base)
        return Benchmark(self.name, unique(comparisons), inputs, available, empty, missing)

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
