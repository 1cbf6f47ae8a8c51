"""An append-only JSONL file of keyed rows that a resumable run grows as it goes: the judgment cache,
the generation cache and the policy answers cache are each this store plus their own key and row type.

- Small in memory: only ``key -> (byte offset, length, version)`` is kept; a row is read back from disk
  when asked for, so opening a cache of 100K long texts costs a scan, not 100K parsed rows.
- One writer: an exclusive advisory lock (``PATH.lock``) is held while a store is open, and a second
  process is refused with a clear error. Stores of one process share the lock (stages open a cache
  again after one another). The OS drops the lock when the process dies, SIGKILL included.
- Crash-safe: each batch is serialised whole, then appended with one write, flush and fsync, so a killed
  run loses at most the batch in flight and never half a row. A torn last line (a run killed mid-write,
  a full disk) is cut off on open, with a warning; a whole last row that only lacks its newline is
  kept. An unreadable line anywhere else is a DataError naming ``file:line``.
- Versions: a key may have several lines (a judgment asked again after an invalid output); the one
  with the highest version wins, the later one on a tie. A row is only appended when its key is new or
  its version higher than the stored one, so a repeated append writes nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from rmr1_cli.data.writing import jsonl_line, naming
from rmr1_cli.errors import ConfigError, DataError

log = logging.getLogger(__name__)

KEY = "key"  # every row's identity; written first, so the index can read it without parsing the row
_HEAD = b'{"key": "'


class JsonlStore(Mapping[str, dict]):
    """Rows keyed by their ``"key"`` field; ``store[key]`` reads the row with the highest version.

    ``version`` names an integer field (absent: 0) that orders the lines of one key; None: every line
    of a key has version 0 and the last one wins. ``what`` names a row in error messages.
    """

    def __init__(self, path: str | Path, *, version: str | None = None, what: str = "record"):
        self.path = Path(path)
        self.version_field = version
        self.what = what
        self._index: dict[str, tuple[int, int, int]] = {}  # key -> (offset, length, version)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = acquire_lock(self.path)
        self._file: BinaryIO | None = None
        try:
            self._file = open(self.path, "a+b")  # noqa: SIM115 - held for the store's lifetime
            repair_tail(self._file, self.path)
            self._scan()
        except BaseException:
            self.close()
            raise

    # -- reading ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __getitem__(self, key: str) -> dict:
        offset, length, _ = self._index[key]
        self._file.seek(offset)
        try:
            return json.loads(self._file.read(length))
        except ValueError as err:  # the file changed under the store (another writer ignoring the lock)
            raise DataError(
                f"{self.path}:{self._line_at(offset)}: not valid JSON ({_reason(err)}); {self._afresh()}"
            ) from None

    def version_of(self, key: str) -> int | None:
        """The stored version of ``key``; None when the key is not stored."""
        where = self._index.get(key)
        return None if where is None else where[2]

    # -- writing ------------------------------------------------------------------------------------

    def append(self, rows: Iterable[dict]) -> int:
        """Append the rows whose key is new or whose version is higher; returns how many were written.

        Every row is serialised before anything is written, so a bad row writes nothing.
        """
        fresh: list[tuple[str, int, bytes]] = []
        seen: set[tuple[str, int]] = set()
        for row in rows:
            key, version = self._identity(row)
            stored = self.version_of(key)
            if (key, version) in seen or (stored is not None and stored >= version):
                continue
            seen.add((key, version))
            fresh.append((key, version, jsonl_line(row).encode("utf-8")))
        if not fresh:
            return 0
        offset = self._file.seek(0, os.SEEK_END)
        with naming(self.path):
            self._file.write(b"".join(line for _, _, line in fresh))
            self._file.flush()
            os.fsync(self._file.fileno())
        for key, version, line in fresh:
            self._index[key] = (offset, len(line), version)
            offset += len(line)
        return len(fresh)

    def close(self) -> None:
        """Close the file and give up this store's share of the lock (closing twice is harmless)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        release_lock(self._lock)
        self._lock = None

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the index ----------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Index the file line by line, never holding more than one line in memory."""
        self._file.seek(0)
        offset = 0
        for number, line in enumerate(iter(self._file.readline, b""), start=1):
            if line.strip():  # blank lines carry nothing
                key, version = self._read_identity(line, number)
                stored = self.version_of(key)
                if stored is None or stored <= version:
                    self._index[key] = (offset, len(line), version)
            offset += len(line)

    def _read_identity(self, line: bytes, number: int) -> tuple[str, int]:
        """Key and version of one line, read without parsing the row when the store wrote it.

        Inside a JSON string every quote is escaped, so ``{"key": "`` at the start and ``, "FIELD": ``
        can only be the fields themselves, never text a model wrote.
        """
        if line.startswith(_HEAD) and line.rstrip().endswith(b"}"):
            end = line.find(b'"', len(_HEAD))
            raw = line[len(_HEAD) : end]
            if end > 0 and b"\\" not in raw:
                version = self._read_version(line)
                if version is not None:
                    return raw.decode("utf-8", "replace"), version
        try:
            row = json.loads(line)
        except ValueError as err:
            raise DataError(
                f"{self.path}:{number}: not valid JSON ({_reason(err)}); {self._afresh()}"
            ) from None
        try:
            return self._identity(row)
        except (TypeError, ValueError) as err:
            raise DataError(f"{self.path}:{number}: not a {self.what} ({err}); {self._afresh()}") from None

    def _read_version(self, line: bytes) -> int | None:
        """The version field's value from the line's text; None when it cannot be read so."""
        if self.version_field is None:
            return 0
        marker = f', "{self.version_field}": '.encode()
        at = line.rfind(marker)
        if at < 0:
            return 0  # rows written before the field existed
        digits = line[at + len(marker) : at + len(marker) + 12].split(b",")[0].split(b"}")[0].strip()
        return int(digits) if digits.isdigit() else None

    def _identity(self, row: Any) -> tuple[str, int]:
        """Key and version of a row; raises TypeError/ValueError for a row the store cannot hold."""
        if not isinstance(row, dict):
            raise TypeError(f"expected an object, got {type(row).__name__}")
        key = row.get(KEY)
        if not isinstance(key, str) or not key:
            raise ValueError(f"no {KEY!r} string")
        version = row.get(self.version_field, 0) if self.version_field else 0
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"{self.version_field!r} is not an integer")
        return key, version

    def _line_at(self, offset: int) -> int:
        """The 1-based line number at a byte offset (counted only when an error is reported)."""
        self._file.seek(0)
        newlines, left = 0, offset
        while left > 0:
            block = self._file.read(min(1 << 20, left))
            if not block:
                break
            newlines += block.count(b"\n")
            left -= len(block)
        return newlines + 1

    def _afresh(self) -> str:
        return f"delete the file to start afresh (its {self.what}s will be generated again)"


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows to a JSONL log (samples, rollouts, scores) durably, with one write, flush and fsync.

    For logs without keys; a cache that is looked up by key is a ``JsonlStore``. Every row is
    serialised before anything is written, so a bad row writes nothing; a torn last line from an
    interrupted run is dropped first, as a store does.
    """
    text = "".join(jsonl_line(row) for row in rows)
    if not text:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), open(path, "a+b") as handle:
        repair_tail(handle, path)
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def repair_tail(handle: BinaryIO, path: Path) -> None:
    """Make the next append start on a fresh line: end a whole last row, cut an incomplete one.

    ``handle`` is the file opened ``a+b``. A last line without its newline is what a write cut short
    leaves (SIGKILL, full disk); it is kept only when it is a whole JSON object.
    """
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return
    handle.seek(end - 1)
    if handle.read(1) == b"\n":
        return
    start = end
    while start > 0:  # find where the last line starts, reading backwards
        step = min(1 << 16, start)
        handle.seek(start - step)
        newline = handle.read(step).rfind(b"\n")
        if newline >= 0:
            start = start - step + newline + 1
            break
        start -= step
    handle.seek(start)
    try:
        whole = isinstance(json.loads(handle.read(end - start)), dict)
    except ValueError:
        whole = False
    if whole:
        handle.write(b"\n")
        handle.flush()
        return
    handle.truncate(start)
    log.warning(
        "%s: dropped an incomplete last line (%d bytes) left by an interrupted write", path, end - start
    )


def _reason(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at column {err.colno}"
    return str(err)


_HELD: dict[Path, list] = {}  # resolved path -> [lock file handle, open stores of this process]


def acquire_lock(path: Path, busy: str | None = None) -> Path | None:
    """Take (or share, within this process) the exclusive lock of ``path`` (the file ``PATH.lock``);
    ConfigError, with ``busy`` as its message when given, when another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return None
    resolved = path.resolve()
    held = _HELD.get(resolved)
    if held is not None:
        held[1] += 1
        return resolved
    handle = open(path.with_name(path.name + ".lock"), "w")  # noqa: SIM115 - held while the store is open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            busy or f"{path} is being written by another rmr1 process; wait for it or use another output_dir"
        ) from None
    _HELD[resolved] = [handle, 1]
    return resolved


def release_lock(resolved: Path | None) -> None:
    held = _HELD.get(resolved) if resolved is not None else None
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        held[0].close()  # closing the file releases the flock
        del _HELD[resolved]
