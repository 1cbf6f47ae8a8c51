"""The generic reader: one file in one ``PairSource`` layout becomes ``Comparison``s.

Layouts: ``pairs`` (prompt / chosen / rejected, trl's columns, also whole conversations), ``labelled``
(answer_1 / answer_2 / a label, ties allowed, several annotators by majority), ``split`` (one answer per
row, rows grouped into pairs) and ``transcript`` (HH-RLHF ``Human:``/``Assistant:`` transcripts). A file
is local (any format ``data.read_rows`` reads) or, failing that, a hub dataset id. Rules with their own
file formats (RM-Bench, RMB) use ``resolve`` and ``conversation`` from here.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rmr1_cli.config import BenchmarkSpec, PairSource
from rmr1_cli.data import Conversation, PreferencePair, read_rows
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.evaluation.comparisons import Comparison

log = logging.getLogger(__name__)


def resolve(root: Path, path: str) -> Path:
    """A path from a recipe, relative to ``benchmark.root``; ``FILE::KEY`` keeps its key part."""
    file, _, key = path.partition("::")
    resolved = Path(file).expanduser()
    if not resolved.is_absolute():
        resolved = root / resolved
    return Path(f"{resolved}::{key}") if key else resolved


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_FILE_SUFFIX = re.compile(r"\.(jsonl?|gz|parquet|csv|arrow)$")


def _rows(root: Path, path: str, split: str | None) -> Iterator[tuple[str, dict]]:
    """Rows of a local file (any format ``data.read_rows`` reads) or, failing that, of a hub dataset."""
    local = resolve(root, path)
    looks_like_hub_id = _HUB_ID.fullmatch(path) and not _FILE_SUFFIX.search(path)
    if Path(str(local).partition("::")[0]).exists() or not looks_like_hub_id:
        yield from read_rows(local)
        return
    try:
        import datasets

        dataset = datasets.load_dataset(path, split=split or "train")
    except Exception as exc:  # offline, unknown id, no such split: all end the same way for the user
        raise DataError(
            f"{local}: no such file, and '{path}' could not be loaded from the hub ({exc}); "
            "download the files and give their local path (benchmark.root / benchmark.path)"
        ) from None
    for index, row in enumerate(dataset):
        yield f"{path}[{split or 'train'}]:row {index}", dict(row)


def sources(spec: BenchmarkSpec, default_layout: str = "pairs") -> list[PairSource]:
    """The files a spec names: its ``sources``, or its one ``path`` in ``default_layout``."""
    if spec.sources:
        if spec.path != BenchmarkSpec.path and spec.path:
            raise ConfigError("benchmark: give either path or sources, not both")
        return list(spec.sources)
    return [PairSource(path=spec.path, fields=dict(spec.fields), layout=default_layout)]


# the canonical field names a source may map (fields:) or extract from (extract:)
FIELDS = (
    "prompt", "chosen", "rejected", "answer_1", "answer_2", "label", "subset", "id", "group", "side", "answer",
)  # fmt: skip


def check_source(source: PairSource) -> None:
    """Every key under ``fields`` and ``extract`` is a canonical field name (a misspelt one is an error)."""
    for block in ("fields", "extract"):
        for key in getattr(source, block):
            if key not in FIELDS:
                close = difflib.get_close_matches(key, FIELDS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(
                    f"benchmark source {source.path}: {block}.{key} is not a field{hint} "
                    f"(fields: {', '.join(FIELDS)})"
                )


def rows_or_empty(rows: Iterable[tuple[str, dict]], where: str, empty: list[str] | None) -> list:
    """All rows of a file; a file with no rows is logged and noted in ``empty`` (None: an error)."""
    out: list = []
    try:
        out.extend(rows)
    except DataError as exc:
        if out or empty is None or "no rows" not in str(exc):
            raise
        log.warning("%s: no rows; skipped (counted in metrics.json empty_files)", where)
        empty.append(where)
    return out


def read_source(
    source: PairSource,
    root: Path,
    split: str | None = None,
    *,
    section: str | None = None,
    empty: list[str] | None = None,
) -> list[Comparison]:
    """Comparisons from one file in one of the layouts ``PairSource`` describes.

    ``section``: the file's section; its pairs' subsets become ``SECTION/SUBSET`` (or ``SECTION`` when
    the rows carry no subset). ``empty``: where a file without rows is noted instead of failing.
    """
    if not source.path:
        raise ConfigError("benchmark source: path is empty")
    check_source(source)
    stem = Path(source.path.partition("::")[0]).name.split(".")[0]
    rows = rows_or_empty(_rows(root, source.path, split), str(resolve(root, source.path)), empty)
    if source.layout == "split":
        return _split_layout(source, rows, stem, section)
    build = {"pairs": _pair_row, "labelled": _labelled_row, "transcript": _transcript_row}[source.layout]
    out = []
    for index, (location, row) in enumerate(rows):
        reader = _RowReader(source, location, row)
        subset = _subset(source, reader, section)
        row_id = reader.optional("id")
        pair_id = f"{source.subset or section or stem}:{row_id if row_id is not None else index}"
        comparison = build(reader, pair_id, subset)
        if comparison is not None:
            out.append(comparison)
    return out


def _subset(source: PairSource, reader: _RowReader, section: str | None) -> str:
    own = source.subset or reader.optional("subset")
    if section is None:
        return str(own or "all")
    return f"{section}/{own}" if own else section


class _RowReader:
    """Field access for one row: canonical names mapped to the file's, nested a.b paths, extraction."""

    def __init__(self, source: PairSource, location: str, row: dict):
        self.source, self.location, self.row = source, location, row

    def name(self, key: str) -> str:
        return self.source.fields.get(key, key)

    def raw(self, key: str, required: bool = True) -> Any:
        name = self.name(key)
        if "{" in name:  # a template over the row's fields, e.g. "{instruction}\n\n{input}"
            try:
                return self._extract(key, name.format_map(self.row).strip())
            except (KeyError, IndexError, ValueError) as exc:
                raise DataError(f"{self.location}: fields.{key} template {name!r} fails ({exc!r})") from None
        value: Any = self.row
        if name in self.row:
            value = self.row[name]
            return self._extract(key, value) if isinstance(value, str) else value
        else:
            for part in name.split("."):
                if not isinstance(value, dict) or part not in value:
                    if required:
                        raise DataError(
                            f"{self.location}: missing field '{name}' (map it with benchmark fields.{key})"
                        )
                    return None
                value = value[part]
        return self._extract(key, value) if isinstance(value, str) else value

    def optional(self, key: str) -> str | None:
        value = self.raw(key, required=False) if key in self.source.fields or key in self.row else None
        return None if value is None else str(value)

    def text(self, key: str) -> str:
        value = self.raw(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return self._extract(key, self.source.join.join(value))  # steps joined, then extracted
        if isinstance(value, bool | int | float):  # a bare JSON true/1 as an answer (PandaLM has some)
            return self._extract(key, str(value))
        if not isinstance(value, str):
            raise DataError(
                f"{self.location}: field '{self.name(key)}' must be text, got {type(value).__name__}"
            )
        return value

    def prompt(self, key: str = "prompt") -> Conversation:
        value = self.raw(key)
        if isinstance(value, str):
            return value
        return conversation(value, f"{self.location}: field '{self.name(key)}'")

    def _extract(self, key: str, value: str) -> str:
        pattern = self.source.extract.get(key)
        if pattern is None:
            return value
        match = re.search(pattern, value, flags=re.DOTALL)
        if match is None or not match.groups():
            raise DataError(
                f"{self.location}: extract.{key} pattern {pattern!r} does not match field '{self.name(key)}'"
            )
        return match.group(1)


def conversation(value: Any, where: str) -> Conversation:
    """A prompt as a string or a message list ending with the user's turn (extra keys dropped).

    >>> conversation([{"role": "user", "content": "Hi", "language": "English"}], "x")
    [{'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise DataError(f"{where} must be a string or a non-empty list of messages")
    messages = []
    for number, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise DataError(f"{where}: message {number} must be an object with 'role' and string 'content'")
        messages.append({"role": str(message.get("role")), "content": message["content"]})
    if messages[-1]["role"] != "user":
        raise DataError(f"{where} must end with a user message, got '{messages[-1]['role']}'")
    return messages


def _pair_row(r: _RowReader, pair_id: str, subset: str) -> Comparison:
    """prompt / chosen / rejected; chosen and rejected may be whole conversations (trl's layouts)."""
    chosen, rejected = r.raw("chosen"), r.raw("rejected")
    if isinstance(chosen, list) and chosen and isinstance(chosen[0], dict):
        if not (isinstance(rejected, list) and rejected and isinstance(rejected[-1], dict)):
            raise DataError(f"{r.location}: chosen is a conversation, so rejected must be one too")
        answers = chosen[-1].get("content"), rejected[-1].get("content")
        if not all(isinstance(a, str) for a in answers):
            raise DataError(f"{r.location}: the last chosen/rejected messages must have string content")
        has_prompt = r.raw("prompt", required=False) is not None
        prompt = r.prompt() if has_prompt else conversation(chosen[:-1], f"{r.location}: the shared turns")
        return Comparison(PreferencePair(pair_id, prompt, answers[0], answers[1], subset), pair_id)
    pair = PreferencePair(pair_id, r.prompt(), r.text("chosen"), r.text("rejected"), subset)
    return Comparison(pair, pair_id)


ANSWER_LABELS = ("answer_1", "answer_2", "tie")


def _labelled_row(r: _RowReader, pair_id: str, subset: str) -> Comparison | None:
    """answer_1 / answer_2 / label (LLMBar 1|2, Auto-J 0|1|2 with ties, PandaLM's three annotators)."""
    labels = {str(k): v for k, v in (r.source.labels or {"1": "answer_1", "2": "answer_2"}).items()}
    bad = [v for v in labels.values() if v not in ANSWER_LABELS]
    if bad:
        raise ConfigError(f"benchmark labels: {bad} must each be one of {', '.join(ANSWER_LABELS)}")

    def read(key: str, field_name: str | None = None) -> str:
        value = r.row.get(field_name) if field_name else r.raw(key)
        if str(value) not in labels:
            shown = field_name or r.name(key)
            raise DataError(
                f"{r.location}: label {value!r} in field '{shown}' is not in benchmark labels {labels}"
            )
        return labels[str(value)]

    verdict = majority([read("label", f) for f in r.source.votes]) if r.source.votes else read("label")
    first, second = r.text("answer_1"), r.text("answer_2")
    prompt = r.prompt()
    if verdict == "tie":
        if r.source.ties == "drop":
            return None
        return Comparison(PreferencePair(pair_id, prompt, first, second, subset), pair_id, label="tie")
    if verdict == "answer_1":
        return Comparison(
            PreferencePair(pair_id, prompt, first, second, subset), pair_id, source_order="chosen_first"
        )
    return Comparison(
        PreferencePair(pair_id, prompt, second, first, subset), pair_id, source_order="rejected_first"
    )


def majority(votes: Sequence[str]) -> str:
    """The label more than half the annotators gave; a tie when there is none.

    >>> majority(["answer_1", "answer_2", "answer_1"]), majority(["answer_1", "answer_2", "tie"])
    ('answer_1', 'tie')
    """
    for label in dict.fromkeys(votes):
        if votes.count(label) * 2 > len(votes):
            return label
    return "tie"


_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


def split_transcript(text: str) -> list[dict[str, str]]:
    """An HH-RLHF transcript as messages.

    >>> split_transcript("\\n\\nHuman: Hi\\n\\nAssistant: Hello")
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]
    """
    parts = _TURN.split(text if text.startswith("\n\n") else "\n\n" + text)
    roles = {"Human": "user", "Assistant": "assistant"}
    return [{"role": roles[parts[i]], "content": parts[i + 1]} for i in range(1, len(parts) - 1, 2)]


def _transcript_row(r: _RowReader, pair_id: str, subset: str) -> Comparison:
    """Prompt = the transcripts' common text up to its last ``Assistant:``; answers = what follows."""
    chosen, rejected = r.text("chosen"), r.text("rejected")
    shared = 0
    limit = min(len(chosen), len(rejected))
    while shared < limit and chosen[shared] == rejected[shared]:
        shared += 1
    cut = chosen.rfind("\n\nAssistant:", 0, shared)
    if cut < 0:
        raise DataError(f"{r.location}: chosen and rejected share no 'Assistant:' turn to split a prompt at")
    answer_start = cut + len("\n\nAssistant:")
    messages = split_transcript(chosen[:cut])
    prompt = conversation(messages, f"{r.location}: the shared transcript")
    pair = PreferencePair(
        pair_id, prompt, chosen[answer_start:].lstrip(" "), rejected[answer_start:].lstrip(" "), subset
    )
    return Comparison(pair, pair_id)


def _split_layout(
    source: PairSource, rows: Iterable[tuple[str, dict]], stem: str, section: str | None = None
) -> list[Comparison]:
    """Rows holding one answer each; rows sharing ``group`` form pairs (one chosen x each rejected)."""
    sides = {str(k): v for k, v in (source.labels or {"chosen": "chosen", "rejected": "rejected"}).items()}
    groups: dict[str, dict[str, Any]] = {}
    for location, row in rows:
        r = _RowReader(source, location, row)
        group = str(r.raw("group"))
        side = sides.get(str(r.raw("side")))
        if side not in ("chosen", "rejected"):
            raise DataError(f"{location}: side {r.raw('side')!r} is not in benchmark labels {sides}")
        entry = groups.setdefault(group, {"prompt": r.prompt(), "chosen": [], "rejected": [], "at": location})
        entry["subset"] = _subset(source, r, section)
        entry[side].append(r.text("answer"))
    out = []
    for group, entry in groups.items():
        if len(entry["chosen"]) != 1 or not entry["rejected"]:
            raise DataError(
                f"{entry['at']}: group {group!r} has {len(entry['chosen'])} chosen and "
                f"{len(entry['rejected'])} rejected answers; a pair needs one chosen and at least one rejected"
            )
        for k, rejected in enumerate(entry["rejected"]):
            pair_id = f"{source.subset or section or stem}:{group}" + (
                f":{k}" if len(entry["rejected"]) > 1 else ""
            )
            pair = PreferencePair(pair_id, entry["prompt"], entry["chosen"][0], rejected, entry["subset"])
            out.append(Comparison(pair, pair_id))
    return out
