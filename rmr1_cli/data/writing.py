"""Writing output files atomically, and hashing inputs for run manifests.

A reader (a user's editor, a later stage, a run killed half-way) sees the old file or the whole new
one, never a part: every write goes to a temp file in the same folder, is fsync'ed, then renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rmr1_cli.data.files import split_part
from rmr1_cli.errors import DataError


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write rows as JSONL atomically: readers see the old file or the whole new one, never a part."""
    return _write_atomically(Path(path), lambda handle: handle.writelines(jsonl_line(row) for row in rows))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write one JSON document atomically (indent 2, keys in their own order)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    return _write_atomically(Path(path), lambda handle: handle.write(text))


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (resolved recipes, reports)."""
    return _write_atomically(Path(path), lambda handle: handle.write(text))


def jsonl_line(row: dict) -> str:
    """One row as a JSONL line (UTF-8 kept as is, keys in their own order).

    >>> jsonl_line({"key": "k", "text": "é"})
    '{"key": "k", "text": "é"}\\n'
    """
    if not isinstance(row, dict):
        raise TypeError(f"a JSONL row must be a dict, got {type(row).__name__}")
    return json.dumps(row, ensure_ascii=False) + "\n"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a data file, for run manifests; a folder hashes every file's relative path and bytes."""
    file, _ = split_part(path)
    if not file.exists():
        raise DataError(f"{file}: no such file or directory")
    if file.is_file():
        return _sha256_of_file(file)
    digest = hashlib.sha256()
    for member in sorted(p for p in file.rglob("*") if p.is_file()):
        digest.update(f"{member.relative_to(file).as_posix()}\0{_sha256_of_file(member)}\n".encode())
    return digest.hexdigest()


def _sha256_of_file(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError raised while writing ``path`` (a full disk) names the file it was writing."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def _write_atomically(path: Path, write: Callable[[Any], Any]) -> Path:
    """Write to a temp file in the same folder, fsync, then rename over ``path`` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # Created like open() would (the umask applies); a file being replaced keeps its mode.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with naming(path), os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path
