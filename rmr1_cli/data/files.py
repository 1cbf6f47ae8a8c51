"""Rows of a data file, whatever its format: JSONL (optionally gzipped), JSON, parquet, or a folder
written by ``datasets``' ``save_to_disk``.

``PATH::NAME`` picks one part of a file that holds several: the split of a saved ``DatasetDict``
(without it: ``train``, or the only split) or the key of a JSON object that holds several lists.

Locations in error messages: ``file:LINE`` for JSONL (counted from 1, as an editor shows it) and
``file:row N`` for every other format (counted from 0, as in ``data[N]`` or ``dataset[N]``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rmr1_cli.data.records import json_type, unencodable
from rmr1_cli.errors import DataError

FORMATS = ".jsonl, .jsonl.gz, .json, .parquet or a folder written by datasets' save_to_disk"


def read_rows(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``(location, row)`` for every row of a data file; see the module notes for formats.

    Raises DataError for a missing or empty file, text that is not JSON, or a row that is not an object.
    """
    file, part = split_part(path)
    shown = str(path)
    if not file.exists():
        raise DataError(f"{file}: no such file or directory")
    name = file.name.lower()
    if file.is_dir():
        rows = _read_saved_dataset(file, part)
    elif part is not None and not name.endswith(".json"):
        raise DataError(
            f"{shown}: '::{part}' picks a split or a key, which only a datasets folder or a .json file has"
        )
    elif name.endswith((".jsonl", ".jsonl.gz")):
        rows = _read_jsonl(file)
    elif name.endswith(".json"):
        rows = _read_json(file, part)
    elif name.endswith(".parquet"):
        rows = _read_parquet(file)
    else:
        raise DataError(f"{file}: unknown data format; expected {FORMATS}")

    count = 0
    for location, row in rows:
        if not isinstance(row, dict):
            raise DataError(f"{location}: expected an object (one row), got {json_type(row)}")
        count += 1
        yield location, row
    if count == 0:
        raise DataError(f"{shown}: no rows (the file is empty)")


def split_part(path: str | Path) -> tuple[Path, str | None]:
    """Split ``PATH::NAME`` into the path and the split or key name.

    >>> path, part = split_part("data/saved::test")
    >>> path.as_posix(), part
    ('data/saved', 'test')
    >>> split_part("data/pairs.jsonl")[1] is None
    True
    """
    text = str(path)
    if "::" in text:
        file, part = text.rsplit("::", 1)
        return Path(file), part
    return Path(text), None


def _read_jsonl(file: Path) -> Iterator[tuple[str, Any]]:
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    try:
        with opener(file, "rt", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue  # blank lines (often a trailing one) carry nothing
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(
                        f"{file}:{number}: not valid JSON ({err.msg} at column {err.colno})"
                    ) from None
                if "\\u" in line:  # only an escape can hold a lone surrogate
                    _check_unicode(row, f"{file}:{number}")
                yield f"{file}:{number}", row
    except UnicodeDecodeError as err:
        raise DataError(f"{file}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (gzip.BadGzipFile, EOFError) as err:
        raise DataError(f"{file}: not a readable gzip file ({err})") from None


def _read_json(file: Path, part: str | None) -> Iterator[tuple[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{file}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not text.strip():
        raise DataError(f"{file}: no rows (the file is empty)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{file}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
    shown = file if part is None else f"{file}::{part}"
    for index, row in enumerate(_rows_of_json(data, file, part)):
        if "\\u" in text:
            _check_unicode(row, f"{shown}:row {index}")
        yield f"{shown}:row {index}", row


def _check_unicode(row: Any, location: str) -> None:
    field = unencodable(row)
    if field is not None:
        raise DataError(
            f"{location}: field '{field}' holds a lone surrogate escape (e.g. \\ud800), which is not "
            "valid Unicode; fix or drop that row"
        )


def _rows_of_json(data: Any, file: Path, part: str | None) -> list:
    """The list of rows in a JSON document: the document itself, or the one list inside an object."""
    if isinstance(data, list):
        if part is not None:
            raise DataError(f"{file}: the file holds a list, not an object with keys; drop '::{part}'")
        return data
    if not isinstance(data, dict):
        raise DataError(f"{file}: expected a list of rows or an object holding one, got {json_type(data)}")
    if part is not None:
        if part not in data:
            raise DataError(f"{file}: no key '{part}'; the keys are {sorted(data)}")
        if not isinstance(data[part], list):
            raise DataError(f"{file}: key '{part}' must hold a list of rows, got {json_type(data[part])}")
        return data[part]
    lists = [key for key, value in data.items() if isinstance(value, list)]
    if len(lists) == 1:
        return data[lists[0]]
    if not lists:
        raise DataError(
            f"{file}: expected a list of rows or an object holding one; the object's keys "
            f"{sorted(data)} hold no list"
        )
    raise DataError(f"{file}: the object holds {len(lists)} lists {lists}; pick one as '{file}::KEY'")


def _read_parquet(file: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
    except (OSError, ValueError) as err:
        raise DataError(f"{file}: not a readable parquet file ({err})") from None
    # `datasets` stores columns of mixed type (a prompt that is a string here and a list there) as JSON
    # text and names them in the schema metadata; decode them so a parquet file reads like its JSONL.
    json_columns = _hf_json_columns(parquet.schema_arrow.metadata or {})
    index = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            for column in json_columns:
                if isinstance(row.get(column), str):
                    row[column] = json.loads(row[column])
            yield f"{file}:row {index}", row
            index += 1


def _hf_json_columns(metadata: dict) -> list[str]:
    """Top-level columns that ``datasets`` stored as JSON text (feature type ``Json``).

    >>> _hf_json_columns({b"huggingface": b'{"info": {"features": {"a": {"_type": "Json"}}}}'})
    ['a']
    >>> _hf_json_columns({})
    []
    """
    try:
        features = json.loads(metadata[b"huggingface"])["info"]["features"]
    except (KeyError, TypeError, ValueError):
        return []
    return [name for name, spec in features.items() if isinstance(spec, dict) and spec.get("_type") == "Json"]


def _read_saved_dataset(folder: Path, part: str | None) -> Iterator[tuple[str, Any]]:
    if not ((folder / "dataset_dict.json").exists() or (folder / "state.json").exists()):
        raise DataError(
            f"{folder}: a folder, but not one written by datasets' save_to_disk "
            f"(no dataset_dict.json or state.json); expected {FORMATS}"
        )
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
    except (OSError, ValueError) as err:
        raise DataError(f"{folder}: cannot load the saved dataset ({err})") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if part is None:
            if "train" not in loaded and len(splits) != 1:
                raise DataError(
                    f"{folder}: splits {splits} and none is 'train'; pick one as '{folder}::SPLIT'"
                )
            part = "train" if "train" in loaded else splits[0]
        if part not in loaded:
            raise DataError(f"{folder}: no split '{part}'; the splits are {splits}")
        dataset, shown = loaded[part], f"{folder}::{part}"
    elif part is not None:
        raise DataError(f"{folder}: a single dataset without splits; drop '::{part}'")
    else:
        dataset, shown = loaded, str(folder)
    for index, row in enumerate(dataset):
        yield f"{shown}:row {index}", row
