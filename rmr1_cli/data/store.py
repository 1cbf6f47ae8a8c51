"""An append-only JSONL file of keyed rows that a resumable run grows as it goes: the judgment cache,
the generation cache and the policy answers cache are each this store plus their own key and row type.

- Small in memory: only ``hash(key) -> byte offset`` is kept, in a ``HashIndex`` (about 40 bytes a
  row, not the ~250 of a dict of keys and tuples), plus the version of the few keys that have one; a
  row is read back from disk when asked for, and its key is checked there, so two keys whose hashes
  collide cost a regeneration, never a wrong row. Opening a cache of 10M texts costs a scan.
- One writer: an exclusive advisory lock (``PATH.lock``) is held while a store is open, and a second
  process is refused with a clear error. A filesystem without ``flock`` gets an exclusively created
  ``PATH.lock.held`` instead (``acquire_lock``). Stores of one process share the lock (stages open a cache
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

import errno
import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from rmr1_cli.data.hash_index import HashIndex
from rmr1_cli.data.writing import jsonl_line, naming
from rmr1_cli.errors import ConfigError, DataError

log = logging.getLogger(__name__)

KEY = "key"  # every row's identity; written first, so the index can read it without parsing the row
_HEAD = b'{"key": "'


class JsonlStore(Mapping[str, dict]):
    """Rows keyed by their ``"key"`` field; ``store[key]`` reads the row with the highest version.

    ``version`` names an integer field (absent: 0) that orders the lines of one key; None: every line
    of a key has version 0 and the last one wins. ``what`` names a row in error messages. ``expected``:
    how many keys the store will hold, if known (its index is sized for them once).
    """

    def __init__(
        self, path: str | Path, *, version: str | None = None, what: str = "record", expected: int = 600
    ):
        self.path = Path(path)
        self.version_field = version
        self.what = what
        self._offsets = HashIndex(expected)  # hash(key) -> byte offset of the key's winning line
        self._versions: dict[str, int] = {}  # keys whose winning line has a version other than 0
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
        return len(self._offsets)

    def __iter__(self) -> Iterator[str]:
        """The stored keys, in the order their winning lines are in the file (reads the file)."""
        with open(self.path, "rb") as handle:
            offset = 0
            for number, line in enumerate(iter(handle.readline, b""), start=1):
                if line.strip():
                    key, _ = self._read_identity(line, number)
                    if self._offsets.get(hash(key)) == offset:
                        yield key
                offset += len(line)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._offset_of(key) is not None

    def __getitem__(self, key: str) -> dict:
        offset = self._offsets.get(hash(key))
        row = None if offset is None else self._row_at(offset)
        if row is None or row.get(KEY) != key:
            raise KeyError(key)
        return row

    def version_of(self, key: str) -> int | None:
        """The stored version of ``key``; None when the key is not stored."""
        return None if self._offset_of(key) is None else self._versions.get(key, 0)

    def _offset_of(self, key: str) -> int | None:
        """Where ``key``'s winning line starts; None when it is not stored (or only its hash is)."""
        offset = self._offsets.get(hash(key))
        if offset is None:
            return None
        return offset if self._key_at(offset) == key else None

    def _row_at(self, offset: int) -> dict:
        line = self._line_from(offset)
        try:
            row = json.loads(line)
        except ValueError as err:  # the file changed under the store (another writer ignoring the lock)
            raise DataError(
                f"{self.path}:{self._line_at(offset)}: not valid JSON ({_reason(err)}); {self._afresh()}"
            ) from None
        return row if isinstance(row, dict) else {}

    def _line_from(self, offset: int) -> bytes:
        """The line starting at ``offset``, read with ``pread``: a scan reading the file line by line
        at its own position is not disturbed."""
        parts = []
        while True:
            block = os.pread(self._file.fileno(), 1 << 16, offset)
            end = block.find(b"\n")
            if end >= 0 or not block:
                parts.append(block if end < 0 else block[: end + 1])
                return b"".join(parts)
            parts.append(block)
            offset += len(block)

    def _key_at(self, offset: int) -> str | None:
        """The key of the line at ``offset``, read without parsing the row when the store wrote it."""
        head = os.pread(self._file.fileno(), 512, offset)
        if head.startswith(_HEAD):
            end = head.find(b'"', len(_HEAD))
            raw = head[len(_HEAD) : end]
            if end > 0 and b"\\" not in raw:
                return raw.decode("utf-8", "replace")
        key = self._row_at(offset).get(KEY)
        return key if isinstance(key, str) else None

    def _put(self, key: str, offset: int, version: int) -> None:
        self._offsets[hash(key)] = offset
        if version:
            self._versions[key] = version
        elif self._versions:
            self._versions.pop(key, None)

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
            self._put(key, offset, version)
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
                stored = self.version_of(key) if hash(key) in self._offsets else None
                if stored is None or stored <= version:
                    self._put(key, offset, version)
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
# flock errors that mean "this filesystem has no such locks" (NFS without lockd, some FUSE and object
# stores), not "another process holds it"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def acquire_lock(path: Path, busy: str | None = None) -> Path | None:
    """Take (or share, within this process) the exclusive lock of ``path`` (the file ``PATH.lock``);
    ConfigError, with ``busy`` as its message when given, when another process holds it.

    Where the filesystem refuses ``flock`` the lock is a file ``PATH.lock.held`` created with
    O_CREAT|O_EXCL (atomic on NFS v3+), holding the owner's host and pid; unlike a flock it outlives a
    killed process, and the message says to delete it then."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return None
    resolved = path.resolve()
    held = _HELD.get(resolved)
    if held is not None:
        held[1] += 1
        return resolved
    message = (
        busy or f"{path} is being written by another rmr1 process; wait for it or use another output_dir"
    )
    handle = open(path.with_name(path.name + ".lock"), "w")  # noqa: SIM115 - held while the store is open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno not in _NO_FLOCK:
            raise ConfigError(message) from None
        handle = _HeldFile.claim(path.with_name(path.name + ".lock.held"), message, exc)
    _HELD[resolved] = [handle, 1]
    return resolved


class _HeldFile:
    """The lock of a filesystem without ``flock``: a file that exists while the lock is held."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def claim(cls, path: Path, busy: str, why: OSError) -> _HeldFile:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = path.read_text(errors="replace").strip() if path.exists() else "?"
            raise ConfigError(
                f"{busy} ({path} exists, written by {owner}; this filesystem has no flock, so a killed "
                "run leaves it behind: delete it if no rmr1 process is running)"
            ) from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"{socket.gethostname()} pid {os.getpid()}\n")
        log.warning("%s: flock refused (%s); locking with %s instead", path.parent, why.strerror, path.name)
        return cls(path)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def release_lock(resolved: Path | None) -> None:
    held = _HELD.get(resolved) if resolved is not None else None
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        held[0].close()  # closing the file releases the flock; a held file is removed
        del _HELD[resolved]
