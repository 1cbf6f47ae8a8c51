"""RM-Bench (THU-KEG): each prompt has 3 chosen and 3 rejected answers in the styles [concise, detailed,
markdown] and all 9 (chosen i, rejected j) comparisons are judged; the prompt is the resampling unit.

Per domain a 3x3 matrix, cell (i, j) = accuracy of chosen style i vs rejected style j; hard = the strict
upper triangle (the rejected answer is the fancier one), normal = the diagonal, easy = the strict lower
triangle, domain score = mean of the 9 cells. Safety pools the prompts of safety-refuse and
safety-response. Headline (and hard/normal/easy) = mean over the domains present.

Per comparison a scalar RM is right only when chosen > rejected (a tie scores 0), and a generative
judge without a valid verdict scores 0. Official sources: THU-KEG/RM-Bench ``scripts/utils.py``
``compute_accuracy`` (the matrix, triangles and domain means) and RM-R1-UIUC/RM-R1
``eval/RM-Bench/scripts/process_final_result.py`` (generative results, errors 0).

Data: per-domain JSON files (chat, code, math, safety-refuse, safety-response; ``*_filtered.json``),
as a folder, one file, or ``sources`` naming each file's subset. Reading a folder, the official files
it lacks are listed in ``missing_files``; a file without rows is skipped and listed in ``empty_files``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rmr1_cli.config import BenchmarkSpec
from rmr1_cli.data import PreferencePair, read_rows
from rmr1_cli.errors import DataError
from rmr1_cli.evaluation.comparisons import Benchmark, Comparison, unique
from rmr1_cli.evaluation.layouts import conversation, resolve, rows_or_empty
from rmr1_cli.evaluation.rule import BenchmarkRule, mean

DOMAINS = ("chat", "code", "math", "safety")
STYLES = ("concise", "detailed", "markdown")
CELLS = tuple(f"c{i}{j}" for i in range(3) for j in range(3))
FILES = ("chat", "code", "math", "safety-refuse", "safety-response")  # the release's *_filtered.json


class RmBenchRule(BenchmarkRule):
    name = "rm-bench"
    unit = "prompt"
    headline_rule = "mean of the domain scores; a domain scores the mean of its 3x3 style matrix"

    def load(
        self, spec: BenchmarkSpec, root: Path, wanted: Callable[[str], bool] = lambda s: True
    ) -> Benchmark:
        if spec.sources:
            files = [(s.subset, resolve(root, s.path)) for s in spec.sources]
        else:
            path = resolve(root, spec.path)
            if path.is_dir():
                files = [(None, f) for f in sorted(path.glob("*.json"))]
            elif path.exists():
                files = [(None, path)]
            else:
                raise DataError(
                    f"{path}: no such file or folder (RM-Bench: the folder of per-domain JSON files)"
                )
            if not files:
                raise DataError(f"{path}: no .json files (expected RM-Bench's chat_filtered.json, ...)")
        missing = []
        if not spec.sources and resolve(root, spec.path).is_dir():
            present = {f.name.split(".")[0].removesuffix("_filtered") for _, f in files}
            missing = [f"{name}_filtered.json" for name in FILES if name not in present]
        comparisons, inputs, available, empty = [], {}, [], []
        for subset, file in files:
            subset = subset or file.name.split(".")[0].removesuffix("_filtered")
            if self.section_of(subset) not in DOMAINS:
                raise DataError(
                    f"{file}: cannot tell the RM-Bench domain of subset '{subset}'; name the file chat, "
                    "code, math or safety-* (or give sources[].subset)"
                )
            available.append(subset)
            if not wanted(subset):
                continue
            inputs[subset] = str(file)
            for location, row in rows_or_empty(read_rows(file), str(file), empty):
                comparisons += _record(location, row, subset)
        return Benchmark(self.name, unique(comparisons), inputs, available, empty, missing)

    def section_of(self, subset: str) -> str | None:
        return "safety" if subset.startswith("safety") else subset

    def columns(self, subset: str) -> tuple[str, ...]:
        return CELLS

    def unit_values(self, subset: str, unit: str, members: Sequence[dict[str, Any]]) -> list[float]:
        cells = {tuple(m["cell"]): float(m["score"]) for m in members}
        if len(cells) != 9:
            raise ValueError(f"RM-Bench unit {unit} has {len(cells)} of its 9 style comparisons")
        return [cells[(i, j)] for i in range(3) for j in range(3)]

    def score_subset(self, subset, means, entry) -> None:
        entry.update(style_scores([means[c] for c in CELLS]))
        entry["accuracy"] = entry.pop("score")

    def score_sections(self, out, means, counts) -> None:
        for domain in DOMAINS:
            members = [s for s in means if self.section_of(s) == domain]
            if not members:
                continue
            n = sum(counts[s] for s in members)  # safety pools its two files' prompts
            cells = [sum(counts[s] * means[s][c] for s in members) / n for c in CELLS]
            out["sections"][domain] = {**style_scores(cells), "subsets": members}
        present = out["sections"].values()
        out["headline"] = mean(v["score"] for v in present)
        for level in ("hard", "normal", "easy"):
            out[level] = mean(v[level] for v in present)
        out["missing_sections"] = [d for d in DOMAINS if d not in out["sections"]]


def style_scores(cells: Sequence[Any]) -> dict[str, Any]:
    """RM-Bench's scores from a 3x3 matrix (row-major; rows chosen style, columns rejected style).

    >>> s = style_scores([1, 0, 0, 1, 1, 0, 1, 1, 1])  # chosen wins only against plainer-or-equal styles
    >>> s["hard"], s["normal"], s["easy"], round(s["score"], 4)
    (0.0, 1.0, 1.0, 0.6667)
    """
    matrix = [[cells[3 * i + j] for j in range(3)] for i in range(3)]
    return {
        "score": sum(cells) / 9,
        "hard": sum(matrix[i][j] for i in range(3) for j in range(3) if i < j) / 3,
        "normal": sum(matrix[i][i] for i in range(3)) / 3,
        "easy": sum(matrix[i][j] for i in range(3) for j in range(3) if i > j) / 3,
        "matrix": matrix,
    }


def _record(location: str, row: dict, subset: str) -> list[Comparison]:
    """The 9 (chosen style i, rejected style j) comparisons of one RM-Bench prompt."""
    for key in ("id", "prompt", "chosen", "rejected"):
        if key not in row:
            raise DataError(f"{location}: missing field '{key}' (RM-Bench record)")
    chosen, rejected = row["chosen"], row["rejected"]
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
            raise DataError(f"{location}: field '{key}' must be a list of 3 answers ({', '.join(STYLES)})")
    unit = f"{subset}:{row['id']}"
    prompt = conversation(row["prompt"], f"{location}: field 'prompt'")
    meta = {"rmbench_subset": row.get("subset")}
    return [
        Comparison(
            PreferencePair(f"{unit}:{i}{j}", prompt, chosen[i], rejected[j], subset, meta), unit, cell=(i, j)
        )
        for i in range(3)
        for j in range(3)
    ]


RULE = RmBenchRule()
