"""Reading a stage's metrics.json in a report, by the keys that stage declares.

Each stage module (``rmr1_cli/stages/<stage>.py``) names the keys of its metrics.json next to its
``run()``: ``METRICS`` are always written, ``OPTIONAL_METRICS`` (where there are any) only for some
recipes. Reports read through ``StageMetrics``, which refuses a key its stage does not declare, so a
renamed key fails the report tests instead of turning a column into dashes; and a key that must be
there but is not is a DataError naming the file and the key.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmr1_cli.errors import DataError

# The stage name in manifest.json -> its module under rmr1_cli/stages/.
STAGE_MODULES = {
    "sft": "sft",
    "train-rm": "train_rm",
    "judge": "judge",
    "eval": "eval",
    "grpo": "grpo",
    "policy-eval": "policy_eval",
    "refine": "refine",
    "distill": "distill",
    "synth": "synth",
    "serve": "serve",
}

_ABSENT = object()


@functools.cache
def declared_keys(stage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A stage's (always written, sometimes written) metrics.json keys, from its module."""
    if stage not in STAGE_MODULES:
        raise DataError(f"no stage named {stage!r} (stages: {', '.join(STAGE_MODULES)})")
    module = importlib.import_module(f"rmr1_cli.stages.{STAGE_MODULES[stage]}")
    return tuple(module.METRICS), tuple(getattr(module, "OPTIONAL_METRICS", ()))


@dataclass(frozen=True)
class StageMetrics:
    """One run's metrics.json. ``m["a.b"]`` must be there (null counts); ``m.get("a.b.0")`` may be missing.

    A dotted key walks into dicts by key and into lists by index; its first part must be declared.
    """

    stage: str
    path: Path
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        self.check_declared(key)
        node: Any = self.values
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise DataError(f"{self.path}: no {key!r} in this {self.stage} run's metrics (rerun the stage)")
        return value

    def check_declared(self, key: str) -> None:
        top = key.split(".", 1)[0]
        always, optional = declared_keys(self.stage)
        if top not in always + optional:
            module = STAGE_MODULES[self.stage]
            raise DataError(
                f"{self.path}: a report reads {top!r}, which `rmr1 {self.stage}` does not write "
                f"(rmr1_cli/stages/{module}.py declares: {', '.join(always + optional) or 'nothing'})"
            )


def read_stage_metrics(folder: str | Path, stage: str) -> StageMetrics | None:
    """``folder/metrics.json`` of a ``stage`` run; None while it is not written (a run in progress)."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return None
    return StageMetrics(stage, path, json.loads(path.read_text()))
