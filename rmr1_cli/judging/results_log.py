"""``results.jsonl`` written as judging goes, so that a killed run keeps what it finished and a rerun
ends with exactly the file an uninterrupted run writes.

Rows come in input order, one chunk at a time. While the file already holds rows (an earlier run of the
same folder), each new row is compared with the next stored line: an equal line is kept as it is; at
the first difference (a torn last line, another input or recipe) the file is cut there and the rest is
appended. Rows a longer earlier run left after the last new row are cut on ``close``. Each chunk is
appended with one write, flush and fsync.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rmr1_cli.data.writing import jsonl_line, naming


class ResultsLog:
    """Append-in-order writer of one results file; ``kept`` counts rows an earlier run had written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with naming(self.path):
            self._file = open(self.path, "a+b")  # noqa: SIM115 - held while judging
        self._file.seek(0)
        self._comparing = True  # still walking through lines an earlier run wrote
        self.kept = 0
        self.written = 0

    def extend(self, rows: Iterable[dict]) -> None:
        lines = [jsonl_line(row).encode("utf-8") for row in rows]
        start = 0
        while self._comparing and start < len(lines):
            at = self._file.tell()
            if self._file.readline() == lines[start]:
                start += 1
                self.kept += 1
                continue
            self._cut(at)
        if start < len(lines):
            with naming(self.path):
                self._file.write(b"".join(lines[start:]))
                self._file.flush()
                os.fsync(self._file.fileno())
            self.written += len(lines) - start

    def close(self) -> None:
        """Cut what an earlier, longer run left after the last row, and close (twice is harmless)."""
        if self._file is None:
            return
        if self._comparing:
            self._cut(self._file.tell())
        self._file.close()
        self._file = None

    def _cut(self, at: int) -> None:
        with naming(self.path):
            self._file.truncate(at)
            self._file.flush()
            os.fsync(self._file.fileno())
        self._comparing = False

    def __enter__(self) -> ResultsLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
        elif self._file is not None:  # an error: keep what is there, cut nothing
            self._file.close()
            self._file = None
