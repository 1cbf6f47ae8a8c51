"""Any preference-pair files: accuracy per subset, headline = accuracy over all pairs.

With several source files each file is a section (its ``section``, else its file stem, unless the
source names a ``subset``): the file's pairs get subsets ``SECTION/SUBSET`` (just ``SECTION`` when its
rows carry no subset), so a benchmark that reports each file separately (one file per response model,
say) is scored per file and ``subsets=`` can name a file. A section pools its pairs.

Tie-labelled pairs (Auto-J, PandaLM) count only in ``agreement``: three-way, chosen / rejected / tie, a
judge whose two orders disagree saying tie. A generative tie scores 0.5 and no valid verdict 0 under
the default pair rule; JudgeBench-style sets choose ``pair_rule: both_orders_must_agree``
(``evaluation/outcomes.py``).
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.evaluation.comparisons import Benchmark, unique
from rmr1_cli.evaluation.layouts import read_source, resolve, sources
from rmr1_cli.evaluation.rule import BenchmarkRule, mean, ratio


class PairsRule(BenchmarkRule):
    name = "pairs"
    headline_rule = "accuracy over all pairs"

    def load(self, spec: BenchmarkSpec, root: Path, wanted=None) -> Benchmark:
        comparisons, inputs, empty = [], {}, []
        files = sources(spec)
        for source in files:
            section = source.section
            if section is None and len(files) > 1 and not source.subset:
                section = Path(source.path.partition("::")[0]).name.split(".")[0]
            comparisons += read_source(source, root, spec.split, section=section, empty=empty)
            inputs[source.subset or section or source.path] = str(resolve(root, source.path))
        return Benchmark(self.name, unique(comparisons), inputs, empty_files=empty)

    def section_of(self, subset: str) -> str | None:
        return subset.split("/")[0] if "/" in subset else None

    def score_sections(self, out, means, counts) -> None:
        for section in dict.fromkeys(self.section_of(s) for s in means):
            members = [s for s in means if section is not None and self.section_of(s) == section]
            if not members:
                continue
            score = ratio(
                sum(counts[s] * means[s]["pair_correct"] for s in members),
                sum(counts[s] * means[s]["pair_n"] for s in members),
            )
            out["sections"][section] = {"score": score, "subsets": members}
        out["headline"] = out["accuracy"]
        out["macro"] = mean(s["accuracy"] for s in out["subsets"].values())
        out["missing_sections"] = []


RULE = PairsRule()
