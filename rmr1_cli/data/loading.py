"""Data files -> records: preference pairs, prompts and judge traces, checked row by row.

A wrong row stops the run before any training starts, with a message that names the file, the row and
the field. Column names are trl's (``prompt``, ``chosen``, ``rejected``, ``messages``) and are not
renamed on the way in or out.

Decisions:

- ``chosen == rejected`` loads, with one warning per file: such pairs teach nothing, but real data sets
  contain a few and refusing the whole file would be worse.
- Duplicate ids are errors, also when the id is a content hash (two identical rows): a duplicate would
  count twice in an evaluation and can leak between a training and an evaluation split.
- Extra columns are kept in ``meta``, except nulls (columnar formats fill absent values with null).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from rmr1_cli.data import layouts
from rmr1_cli.data.files import read_rows
from rmr1_cli.data.hash_index import HashIndex
from rmr1_cli.data.records import (
    Message,
    PreferencePair,
    PromptRecord,
    check_messages,
    check_prompt,
    json_type,
    stable_id,
)
from rmr1_cli.errors import ConfigError, DataError

log = logging.getLogger(__name__)


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
        return DataError(
            f"{self.where(key)} must be {expected}, got {json_type(self.row.get(self.name(key)))}"
        )

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


def load_pairs(
    path: str | Path, *, limit: int | None = None, fields: Mapping[str, str] | None = None
) -> list[PreferencePair]:
    """Load preference pairs. ``fields`` maps canonical names to the file's, e.g. {"prompt": "question"}."""
    return list(iter_pairs(path, limit=limit, fields=fields))


def iter_pairs(
    path: str | Path,
    *,
    limit: int | None = None,
    fields: Mapping[str, str] | None = None,
    checked: bool = False,
) -> Iterator[PreferencePair]:
    """``load_pairs`` one pair at a time, with the same checks and messages: reading a file of any
    length holds one row (and a small hash per id, to refuse duplicates) in memory. ``checked``: a
    pass over a file already read through once, which neither looks for duplicate ids nor warns."""

    _check_fields(fields, ("id", "prompt", "chosen", "rejected", "subset"))

    def build(location: str, row: dict) -> PreferencePair:
        r = _Row(location, row, fields)
        if "context_messages" in row and "chosen" not in row:
            raise DataError(
                f"{location}: RM-R1's layout ('context_messages' + 'winner'): judge prompts that already "
                "hold both answers in a fixed order; `rmr1 train-rm` (method: reasoning) trains on them as "
                "they are, but commands that render and swap answers need 'prompt', 'chosen', 'rejected'"
            )
        prompt, chosen, rejected = layouts.pair_texts(r)
        return PreferencePair(
            id=r.id(prompt, chosen, rejected),
            prompt=prompt,
            chosen=chosen,
            rejected=rejected,
            subset=r.text("subset", required=False),
            meta=r.rest("id", "prompt", "chosen", "rejected", "subset"),
        )

    same = count = 0
    for pair in _stream(path, limit, build, (lambda pair: None) if checked else (lambda pair: pair.id)):
        same += pair.chosen == pair.rejected
        count += 1
        yield pair
    if same and not checked:
        log.warning("%s: %d of %d pairs have chosen == rejected; they carry no preference", path, same, count)


def load_prompts(
    path: str | Path, *, limit: int | None = None, fields: Mapping[str, str] | None = None
) -> list[PromptRecord]:
    """Load prompts for policy GRPO or refinement; ``answer`` may be a string or an integer in the file."""

    _check_fields(fields, ("id", "prompt", "reference", "answer"))

    def build(location: str, row: dict) -> PromptRecord:
        r = _Row(location, row, fields)
        prompt = check_prompt(r.value("prompt", "a string or a list of messages"), r.where("prompt"))
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


def load_judge_prompts(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Load RM-R1's RL rows: ``context_messages`` (the whole judge prompt) + ``winner`` (model_a/model_b).

    Rows come back as ``{"id", "prompt": messages, "label": "A"|"B"}``, the prompt exactly as in the file.
    """

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        prompt, label = layouts.rm_r1_prompt(r), layouts.rm_r1_label(r)
        return {"id": r.id(prompt, label), "prompt": prompt, "label": label}

    return _collect(path, limit, build, lambda row: row["id"])


def load_sft_examples(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """SFT rows (``{"id", "prompt", "completion"}``, conversational) from RM-R1's distillation rows, trl
    prompt-completion rows or ``messages`` rows; other layouts are refused naming what to run instead."""

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        if "messages" in row:
            messages = _trace_messages(r)
            example = {"prompt": messages[:-1], "completion": messages[-1:]}
        else:
            example = layouts.sft_example(r)
        return {"id": r.id(example["prompt"], example["completion"]), "location": location, **example}

    return _collect(path, limit, build, lambda row: row["id"])


def _trace_messages(r: _Row) -> list[Message]:
    value = r.value("messages", "a list of messages")
    if not isinstance(value, list):
        raise r.wrong("messages", "a list of messages")
    messages = check_messages(value, r.where("messages"))
    if messages[-1]["role"] != "assistant":
        raise DataError(
            f"{r.where('messages')} must end with the assistant's trace, "
            f"but the last message is from '{messages[-1]['role']}'"
        )
    if not any(message["role"] == "user" for message in messages[:-1]):
        raise DataError(f"{r.where('messages')} has no user message before the assistant's trace")
    return messages


def load_traces(path: str | Path, *, limit: int | None = None) -> list[dict]:
    """Load SFT rows in trl's conversational layout: ``messages`` ending with the assistant's trace.

    The rows come back whole, with ``messages`` reduced to role and content.
    """

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        messages = _trace_messages(r)
        if r.has("id"):
            r.id()  # checks the id's type
        return {**row, "messages": messages}

    return _collect(path, limit, build, lambda row: str(row["id"]) if row.get("id") is not None else None)


def load_trace_sources(
    path: str | Path, *, limit: int | None = None, check: Callable[[str, str], None] | None = None
) -> list[dict]:
    """Load judge traces stored apart from any prompt template (``data/samples/traces_source.jsonl``).

    Row: ``id``, ``pair_id``, ``label`` ("A" or "B", the better slot), ``prompt``, ``answer_a``,
    ``answer_b``, ``trace`` (the judge's whole output). The SFT stage renders the judge messages with the
    template a recipe names, so one file serves every template. ``id`` defaults to a content hash and
    ``pair_id`` to None; every other column is kept.
    """

    def build(location: str, row: dict) -> dict:
        r = _Row(location, row, None)
        prompt = check_prompt(r.value("prompt", "a string or a list of messages"), r.where("prompt"))
        answer_a, answer_b, trace = r.text("answer_a"), r.text("answer_b"), r.text("trace")
        if check is not None:
            check(location, trace)
        label = r.value("label", '"A" or "B"')
        if label not in ("A", "B"):
            shown = repr(label) if isinstance(label, str) else json_type(label)
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
    return list(_stream(path, limit, build, id_of))


def _stream(
    path: str | Path, limit: int | None, build: Callable[[str, dict], Any], id_of: Callable[[Any], str | None]
) -> Iterator:
    """``_collect`` one record at a time. Ids seen are kept as their hashes (an int each, not the id
    and its location); the first row of a duplicate is found again by reading the file once more."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be None or at least 1, got {limit}")
    seen = HashIndex()  # hash(id) -> 1: about 40 bytes an id
    count = 0
    with closing(read_rows(path)) as rows:
        for location, row in rows:
            record = build(location, row)
            record_id = id_of(record)
            if record_id is not None:
                if hash(record_id) in seen:
                    first = _first_use(path, build, id_of, record_id, location)
                    if first is not None:
                        raise DataError(
                            f"{location}: duplicate id '{record_id}', first used at "
                            f"{first}; ids must be unique (a hashed id repeats "
                            "when two rows are identical: remove one)"
                        )
                seen[hash(record_id)] = 1
            count += 1
            yield record
            if limit is not None and count >= limit:
                break


def _first_use(
    path: str | Path, build: Callable[[str, dict], Any], id_of: Callable, record_id: str, until: str
) -> str | None:
    """Where ``record_id`` was first used before the row at ``until``; None: only its hash repeated."""
    with closing(read_rows(path)) as rows:
        for location, row in rows:
            if location == until:
                return None
            if id_of(build(location, row)) == record_id:
                return location
    return None
