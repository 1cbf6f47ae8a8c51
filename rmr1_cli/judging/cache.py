"""The judgment cache: every judge output keyed by what produced it, so a rerun or a resumed run
reuses finished judgments instead of generating them again.

The file is a ``JsonlStore`` (lazy index, one writer, torn-tail repair); a key has one line per
attempt, and a retry of an invalid judgment is a new attempt that replaces the earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from rmr1_cli.data.store import JsonlStore
from rmr1_cli.judging.records import JudgmentRecord

_FIELDS = frozenset(f.name for f in fields(JudgmentRecord))


class JudgmentCache:
    """Judgment records by key (the engine's ``call_key``), the latest attempt of each."""

    def __init__(self, path: str | Path, *, expected: int = 600):
        self.store = JsonlStore(path, version="attempt", what="judgment record", expected=expected)
        self.path = self.store.path

    def __len__(self) -> int:
        return len(self.store)

    def __contains__(self, key: str) -> bool:
        return key in self.store

    def keys(self):
        return self.store.keys()

    @property
    def records(self) -> Mapping[str, JudgmentRecord]:
        """Every latest record, parsed (reads the whole file: for tests and small caches)."""
        return {key: as_record(self.store[key]) for key in self.store}

    def get(self, key: str) -> JudgmentRecord | None:
        row = self.store.get(key)
        return None if row is None else as_record(row)

    def add(self, records: Sequence[JudgmentRecord]) -> None:
        """Append records not yet stored (a retry is a new attempt of its key, so it is stored)."""
        self.store.append(asdict(r) for r in records)

    def close(self) -> None:
        self.store.close()


def as_record(row: dict) -> JudgmentRecord:
    """A stored row as a record; fields a later version added are dropped, ones it lacks get defaults.

    >>> as_record({"key": "k", "pair_id": "p", "order": "AB", "sample": 0, "verdict": "A",
    ...            "picked": "chosen", "valid": True, "reason": None, "task_type": "Chat", "num_tokens": 3,
    ...            "finish_reason": "stop", "truncated": False, "text": "...", "future": 1}).attempt
    0
    """
    return JudgmentRecord(**{k: v for k, v in row.items() if k in _FIELDS})
