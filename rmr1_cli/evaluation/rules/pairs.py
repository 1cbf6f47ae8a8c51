"""Any preference-pair files: accuracy per subset, headline = accuracy over all pairs.

Tie-labelled pairs (Auto-J, PandaLM) count only in ``agreement``: three-way, chosen / rejected / tie, a
judge whose two orders disagree saying tie.
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.evaluation.comparisons import Benchmark, unique
from rmr1_cli.evaluation.layouts import read_source, resolve, sources
from rmr1_cli.evaluation.rule import BenchmarkRule, mean


class PairsRule(BenchmarkRule):
    name = "pairs"
    headline_rule = "accuracy over all pairs"

    def load(self, spec: BenchmarkSpec, root: Path, wanted=None) -> Benchmark:
        comparisons, inputs = [], {}
        for source in sources(spec):
            comparisons += read_source(source, root, spec.split)
            inputs[source.subset or source.path] = str(resolve(root, source.path))
        return Benchmark(self.name, unique(comparisons), inputs)

    def score_sections(self, out, means, counts) -> None:
        out["headline"] = out["accuracy"]
        out["macro"] = mean(s["accuracy"] for s in out["subsets"].values())
        out["missing_sections"] = []


RULE = PairsRule()
