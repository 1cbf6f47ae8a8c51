"""Record types, loading and writing of the data files every stage reads.

Every stage starts from a file a user brought: preference pairs, prompts, or judge traces, as JSONL, JSON,
parquet or a folder written by ``datasets``' ``save_to_disk``. A wrong row must stop the run before any
training starts, with a message that names the file, the row and the field. Column names are trl's
(``prompt``, ``chosen``, ``rejected``, ``messages``) and are not renamed on the way in or out.

Paths: ``PATH::NAME`` picks one part of a file that holds several: the split of a saved ``DatasetDict``
(without it: ``train``, or the only split) or the key of a JSON object that holds several lists.

Locations in error messages: ``file:LINE`` for JSONL (counted from 1, as an editor shows it) and
``file:row N`` for every other format (counted from 0, as in ``data[N]`` or ``dataset[N]``).

Decisions:

- ``chosen == rejected`` loads, with one warning per file: such pairs teach nothing, but real data sets
  contain a few and refusing the whole file would be worse.
- Duplicate ids are errors, also when the id is a content hash (two identical rows): a duplicate would
  count twice in an evaluation and can leak between a training and an evaluation split.
- Messages are reduced to ``{"role", "content"}`` with string content; the judge renders text only.
- Extra columns are kept in ``meta``, except nulls (columnar formats fill absent values with null).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmr1_cli.errors import ConfigError, DataError

log = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": ..., "content": ...}
Conversation = str | list[Message]  # a plain prompt, or a conversation ending with a user turn

ROLES = ("system", "user", "assistant", "tool")
FORMATS = ".jsonl, .jsonl.gz, .json, .parquet or a folder written by datasets' save_to_disk"


# ----------------------------------------------------------------------------------------------------
# Record types
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a better (``chosen``) and a worse (``rejected``) answer."""

    id: str
    prompt: Conversation
    chosen: str
    rejected: str
    subset: str | None = None
    meta: dict = field(default_factory=dict)  # every other column of the row, kept for the output files

    def to_row(self) -> dict:
        """The row as written back to a file: the canonical columns always (null included), then ``meta``."""
        row = {
            "id": self.id,
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "subset": self.subset,
        }
        row.update((key, value) for key, value in self.meta.items() if key not in row)
        return row


@dataclass(frozen=True)
class PromptRecord:
    """A prompt for policy GRPO or refinement, with an optional reference answer and exact final answer."""

    id: str
    prompt: Conversation
    reference: str | None = None  # a good answer, for judging rollouts against it
    answer: str | None = None  # the exact final answer where the task has one ("42"), for a verifiable reward
    meta: dict = field(default_factory=dict)

    def to_row(self) -> dict:
        """The row as written back to a file: the canonical columns always (null included), then ``meta``."""
        row = {"id": self.id, "prompt": self.prompt, "reference": self.reference, "answer": self.answer}
        row.update((key, value) for key, value in self.meta.items() if key not in row)
        return row


def as_messages(conversation: Conversation) -> list[Message]:
    """A conversation as a message list: a plain prompt becomes one user turn.

    Chat templates and ``datasets`` need one shape per column (a column mixing strings and lists
    cannot become an Arrow table), so stages call this before building a Dataset.

    >>> as_messages("Hi")
    [{'role': 'user', 'content': 'Hi'}]
    >>> as_messages([{"role": "user", "content": "Hi"}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(conversation, str):
        return [{"role": "user", "content": conversation}]
    return [dict(message) for message in conversation]


def stable_id(*parts: Any) -> str:
    """A short id from content, the same on every run and machine (sha1 of the parts as JSON, 16 hex).

    >>> stable_id("What is 2+2?", "4", "5")
    '8c11ce2be1e67467'
    >>> stable_id("ab", "c") == stable_id("a", "bc")
    False
    """
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# Reading rows, whatever the format
# ----------------------------------------------------------------------------------------------------


def read_rows(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``(location, row)`` for every row of a data file; see the module notes for formats.

    Raises DataError for a missing or empty file, text that is not JSON, or a row that is not an object.
    """
    file, part = _split_part(path)
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
            raise DataError(f"{location}: expected an object (one row), got {_kind(row)}")
        count += 1
        yield location, row
    if count == 0:
        raise DataError(f"{shown}: no rows (the file is empty)")


def _split_part(path: str | Path) -> tuple[Path, str | None]:
    """Split ``PATH::NAME`` into the path and the split or key name.

    >>> path, part = _split_part("data/saved::test")
    >>> path.as_posix(), part
    ('data/saved', 'test')
    >>> _split_part("data/pairs.jsonl")[1] is None
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
        yield f"{shown}:row {index}", row


def _rows_of_json(data: Any, file: Path, part: str | None) -> list:
    """The list of rows in a JSON document: the document itself, or the one list inside an object."""
    if isinstance(data, list):
        if part is not None:
            raise DataError(f"{file}: the file holds a list, not an object with keys; drop '::{part}'")
        return data
    if not isinstance(data, dict):
        raise DataError(f"{file}: expected a list of rows or an object holding one, got {_kind(data)}")
    if part is not None:
        if part not in data:
            raise DataError(f"{file}: no key '{part}'; the keys are {sorted(data)}")
        if not isinstance(data[part], list):
            raise DataError(f"{file}: key '{part}' must hold a list of rows, got {_kind(data[part])}")
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


# ----------------------------------------------------------------------------------------------------
# Checking one row
# ----------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for error messages.

    >>> [_kind(v) for v in (None, True, 3, 1.5, "x", [1], {})]
    ['null', 'bool', 'int', 'float', 'string', 'list', 'object']
    """
    names = {type(None): "null", bool: "bool", str: "string", list: "list", dict: "object"}
    return names.get(type(value), type(value).__name__)


class _Row:
    """One row under check: where it came from, and the file's own name for each canonical field."""

    def __init__(self, location: str, row: dict, fields: Mapping[str, str] | None):
        self.location = location
        self.row = row
        self.fields = dict(fields or {})

    def name(self, key: str) -> str:
        return self.fields.get(key, key)

    def has(self, key: str) -> bool:
        """Present and not null (parquet and datasets fill absent values with null)."""
        return self.row.get(self.name(key)) is not None

    def value(self, key: str, expected: str) -> Any:
        if self.name(key) not in self.row:
            raise DataError(f"{self.location}: missing field '{self.name(key)}' (expected {expected})")
        return self.row[self.name(key)]

    def where(self, key: str) -> str:
        return f"{self.location}: field '{self.name(key)}'"

    def wrong(self, key: str, expected: str) -> DataError:
        return DataError(f"{self.where(key)} must be {expected}, got {_kind(self.row.get(self.name(key)))}")

    def text(self, key: str, *, required: bool = True) -> str | None:
        if not required and not self.has(key):
            return None
        value = self.value(key, "a string")
        if not isinstance(value, str):
            raise self.wrong(key, "a string")
        return value

    def id(self, *content: Any) -> str:
        """The row's own id (a string or an integer), else a hash of its content."""
        if not self.has("id"):
            return stable_id(*content)
        value = self.row[self.name("id")]
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise self.wrong("id", "a non-empty string or an integer")
        return str(value)

    def rest(self, *keys: str) -> dict:
        """Every other non-null column, kept as the record's ``meta``.

        Nulls are left out because parquet and datasets fill a column a row lacks with null; this way a
        JSONL file and its parquet copy give equal records.
        """
        used = {self.name(key) for key in keys}
        return {key: value for key, value in self.row.items() if key not in used and value is not None}


def _messages(value: Any, where: str) -> list[Message]:
    """Check a message list and reduce each message to role and content."""
    if not value:
        raise DataError(f"{where} is an empty conversation")
    messages = []
    for number, message in enumerate(value):
        if not isinstance(message, dict):
            raise DataError(
                f"{where}: message {number} must be an object with 'role' and 'content', got {_kind(message)}"
            )
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            got = "no role" if role is None else f"role {role!r}"
            raise DataError(f"{where}: message {number} has {got}; expected one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise DataError(
                f"{where}: message {number} ('{role}') must have string 'content', got {_kind(content)}"
            )
        messages.append({"role": role, "content": content})
    return messages


def _conversation(value: Any, where: str) -> Conversation:
    """A prompt: a string, or a message list whose last turn is the user's (the model answers next)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise DataError(f"{where} must be a string or a list of messages, got {_kind(value)}")
    messages = _messages(value, where)
    if messages[-1]["role"] != "user":
        raise DataError(
            f"{where} must end with a user message, but the last message is from '{messages[-1]['role']}'"
        )
    return messages


def _reply_messages(value: Any, where: str) -> list[Message] | None:
    """An answer given as a message list ending with the assistant's reply; None for a plain string."""
    if isinstance(value, str):
        return None
    if not isinstance(value, list):
        raise DataError(f"{where} must be a string or a list of messages, got {_kind(value)}")
    messages = _messages(value, where)
    if messages[-1]["role"] != "assistant":
        raise DataError(
            f"{where} must end with an assistant message, but the last message is from '{messages[-1]['role']}'"
        )
    return messages


def _pair_texts(r: _Row) -> tuple[Conversation, str, str]:
    """Prompt, chosen and rejected text from any of trl's preference layouts.

    ``chosen``/``rejected`` may be strings or message lists ending with the assistant's reply. Without a
    ``prompt`` column, the two lists must share every message before the reply: that shared part is the
    prompt (trl's "implicit prompt" layout).
    """
    expected = "a string or a list of messages"
    chosen_value, rejected_value = r.value("chosen", expected), r.value("rejected", expected)
    chosen_messages = _reply_messages(chosen_value, r.where("chosen"))
    rejected_messages = _reply_messages(rejected_value, r.where("rejected"))
    chosen = chosen_value if chosen_messages is None else chosen_messages[-1]["content"]
    rejected = rejected_value if rejected_messages is None else rejected_messages[-1]["content"]

    if r.has("prompt"):
        return _conversation(r.row[r.name("prompt")], r.where("prompt")), chosen, rejected
    if chosen_messages is None or rejected_messages is None or len(chosen_messages) < 2:
        raise DataError(
            f"{r.location}: missing field '{r.name('prompt')}' (expected {expected}; it may be "
            f"left out only when '{r.name('chosen')}' and '{r.name('rejected')}' are whole "
            "conversations)"
        )
    if chosen_messages[:-1] != rejected_messages[:-1]:
        raise DataError(
            f"{r.location}: no '{r.name('prompt')}' field, and '{r.name('chosen')}' and "
            f"'{r.name('rejected')}' differ before their last message, so the prompt cannot be "
            f"split off; add a '{r.name('prompt')}' field"
        )
    where = f"{r.location}: the conversation shared by '{r.name('chosen')}' and '{r.name('rejected')}'"
    return _conversation(chosen_messages[:-1], where), chosen, rejected


# ----------------------------------------------------------------------------------------------------
# Loaders
# ----------------------------------------------------------------------------------------------------


def load_pairs(
    path: str | Path, *, limit: int | None = None, fields: Mapping[str, str] | None = None
) -> list[PreferencePair]:
    """Load preference pairs. ``fields`` maps canonical names to the file's, e.g. {"prompt": "question"}."""

    _check_fields(fields, ("id", "prompt", "chosen", "rejected", "subset"))

    def build(location: str, row: dict) -> PreferencePair:
        r = _Row(location, row, fields)
        prompt, chosen, rejected = _pair_texts(r)
        return PreferencePair(
            id=r.id(prompt, chosen, rejected),
            prompt=prompt,
            chosen=chosen,
            rejected=rejected,
            subset=r.text("subset", required=False),
            meta=r.rest("id", "prompt", "chosen", "rejected", "subset"),
        )

    pairs = _collect(path, limit, build, lambda pair: pair.id)
    same = sum(pair.chosen == pair.rejected for pair in pairs)
    if same:
        log.warning(
            "%s: %d of %d pairs have chosen == rejected; they carry no preference", path, same, len(pairs)
        )
    return pairs


def load_prompts(
    path: str | Path, *, limit: int | None = None, fields: Mapping[str, str] | None = None
) -> list[PromptRecord]:
    """Load prompts for policy GRPO or refinement; ``answer`` may be a string or an integer in the file."""

    _check_fields(fields, ("id", "prompt", "reference", "answer"))

    def build(location: str, row: dict) -> PromptRecord:
        r = _Row(location, row, fields)
        prompt = _conversation(r.value("prompt", "a string or a list of messages"), r.where("prompt"))
        answer = r.row.get(r.name("answer"))
        if answer is not None:
            if isinstance(answer, bool) or not isinstance(answer, str | int):
                raise r.wrong("answer", "a string or an integer (the exact final answer)")
            answer = str(answer)
        return PromptRecord(
            id=r.id(prompt),
            prompt=prompt,
            reference=r.text("reference", required=False),
            answer=answer,
            meta=r.rest("id", "prompt", "reference", "answer"),
        )

    return _collect(path, limit, build, lambda record: record.id)


def load_traces(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Load SFT rows in trl's conversational layout: ``messages`` ending with the assistant's trace.

    The rows come back whole, with ``messages`` reduced to role and content.
    """

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        value = r.value("messages", "a list of messages")
        if not isinstance(value, list):
            raise r.wrong("messages", "a list of messages")
        messages = _messages(value, r.where("messages"))
        if messages[-1]["role"] != "assistant":
            raise DataError(
                f"{r.where('messages')} must end with the assistant's trace, "
                f"but the last message is from '{messages[-1]['role']}'"
            )
        if not any(message["role"] == "user" for message in messages[:-1]):
            raise DataError(f"{r.where('messages')} has no user message before the assistant's trace")
        if r.has("id"):
            r.id()  # checks the id's type
        return {**row, "messages": messages}

    return _collect(path, limit, build, lambda row: str(row["id"]) if row.get("id") is not None else None)


def load_trace_sources(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Load judge traces stored apart from any prompt template (``data/samples/traces_source.jsonl``).

    Row: ``id``, ``pair_id``, ``label`` ("A" or "B", the better slot), ``prompt``, ``answer_a``,
    ``answer_b``, ``trace`` (the judge's whole output). The SFT stage renders the judge messages with the
    template a recipe names, so one file serves every template. ``id`` defaults to a content hash and
    ``pair_id`` to None; every other column is kept.
    """

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        prompt = _conversation(r.value("prompt", "a string or a list of messages"), r.where("prompt"))
        answer_a, answer_b, trace = r.text("answer_a"), r.text("answer_b"), r.text("trace")
        label = r.value("label", '"A" or "B"')
        if label not in ("A", "B"):
            shown = repr(label) if isinstance(label, str) else _kind(label)
            raise DataError(f'{r.where("label")} must be "A" or "B" (the better slot), got {shown}')
        pair_id = r.row.get("pair_id")
        if pair_id is not None and (isinstance(pair_id, bool) or not isinstance(pair_id, str | int)):
            raise r.wrong("pair_id", "a string, an integer or null")
        return {
            **r.rest("id", "pair_id", "label", "prompt", "answer_a", "answer_b", "trace"),
            "id": r.id(prompt, answer_a, answer_b, trace),
            "pair_id": None if pair_id is None else str(pair_id),
            "label": label,
            "prompt": prompt,
            "answer_a": answer_a,
            "answer_b": answer_b,
            "trace": trace,
        }

    return _collect(path, limit, build, lambda row: row["id"])


def _check_fields(fields: Mapping[str, str] | None, known: tuple[str, ...]) -> None:
    """A misspelt key in a recipe's ``fields`` would silently do nothing; refuse it instead."""
    for key in fields or {}:
        if key not in known:
            raise ConfigError(
                f"fields: unknown field {key!r}; the fields that can be mapped are {', '.join(known)}"
            )


def _collect(
    path: str | Path, limit: int | None, build: Callable[[str, dict], Any], id_of: Callable[[Any], str | None]
) -> list:
    """Build a record from each row, stop at ``limit``, and refuse duplicate ids (naming both rows)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be None or at least 1, got {limit}")
    records: list = []
    first_seen: dict[str, str] = {}
    with closing(read_rows(path)) as rows:
        for location, row in rows:
            record = build(location, row)
            record_id = id_of(record)
            if record_id is not None:
                if record_id in first_seen:
                    raise DataError(
                        f"{location}: duplicate id '{record_id}', first used at "
                        f"{first_seen[record_id]}; ids must be unique (a hashed id repeats "
                        "when two rows are identical: remove one)"
                    )
                first_seen[record_id] = location
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
    return records


# ----------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Write rows as JSONL atomically: readers see the old file or the whole new one, never a part."""
    return _write_atomically(Path(path), lambda handle: handle.writelines(_jsonl_line(row) for row in rows))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write one JSON document atomically (indent 2, keys in their own order)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    return _write_atomically(Path(path), lambda handle: handle.write(text))


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (resolved recipes, reports)."""
    return _write_atomically(Path(path), lambda handle: handle.write(text))


def append_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Append rows to a JSONL file that a resumable run grows as it goes, durably (flush + fsync).

    Every row is serialised before anything is written, so a bad row writes nothing. If an earlier run was
    killed mid-line, that incomplete line is dropped (with a warning) so the file stays readable.
    """
    text = "".join(_jsonl_line(row) for row in rows)
    if not text:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        _repair_last_line(handle, path)
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a data file, for run manifests; a folder hashes every file's relative path and bytes."""
    file, _ = _split_part(path)
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


def _jsonl_line(row: dict) -> str:
    if not isinstance(row, dict):
        raise TypeError(f"a JSONL row must be a dict, got {type(row).__name__}")
    return json.dumps(row, ensure_ascii=False) + "\n"


def _write_atomically(path: Path, write: Callable[[Any], Any]) -> Path:
    """Write to a temp file in the same folder, fsync, then rename over ``path`` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # Created like open() would (the umask applies); a file being replaced keeps its mode.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
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


def _repair_last_line(handle: Any, path: Path) -> None:
    """Make an append start on a fresh line: end a complete last line, drop an incomplete one."""
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
    last = handle.read(end - start)
    try:
        json.loads(last)
    except ValueError:
        handle.truncate(start)
        log.warning(
            "%s: dropped an incomplete last line (%d bytes) left by an interrupted write", path, end - start
        )
        return
    handle.write(b"\n")
