"""Tests of rmr1_cli.data: every format loads the same pairs, bad rows fail with a precise message,
writes are atomic, and the sample files have the rows their README promises."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from rmr1_cli.data import (
    PreferencePair,
    PromptRecord,
    file_sha256,
    load_pairs,
    load_prompts,
    load_trace_sources,
    load_traces,
    read_rows,
    stable_id,
    write_json,
    write_jsonl,
)
from rmr1_cli.errors import ConfigError, DataError

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

ROWS = [
    {"id": "p1", "prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5", "subset": "math"},
    {
        "id": "p2",
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
        "chosen": "Hello!",
        "rejected": "Go away.",
        "subset": "chat",
        "source": "hand",
    },
    {"id": "p3", "prompt": "Name a prime.", "chosen": "7", "rejected": "9", "subset": "math"},
]


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def rows_jsonl(path: Path, rows: list[dict]) -> Path:
    return write_lines(path, *(json.dumps(row) for row in rows))


# ------------------------------------------------------------------------------------------------
# Formats
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_formats(tmp_path_factory) -> dict[str, str]:
    """The same three rows in every supported format (datasets writes the mixed-type prompt as Json)."""
    import datasets

    folder = tmp_path_factory.mktemp("formats")
    jsonl = rows_jsonl(folder / "pairs.jsonl", ROWS)
    (folder / "list.json").write_text(json.dumps(ROWS), encoding="utf-8")
    (folder / "dict.json").write_text(json.dumps({"version": 1, "data": ROWS}), encoding="utf-8")
    dataset = datasets.Dataset.from_json(str(jsonl), cache_dir=str(folder / "cache"))
    dataset.to_parquet(str(folder / "pairs.parquet"))
    dataset.save_to_disk(str(folder / "saved"))
    datasets.DatasetDict({"train": dataset, "test": dataset.select([0])}).save_to_disk(str(folder / "dict"))
    return {
        "jsonl": str(jsonl),
        "json list": str(folder / "list.json"),
        "json dict": str(folder / "dict.json"),
        "parquet": str(folder / "pairs.parquet"),
        "saved dataset": str(folder / "saved"),
        "saved DatasetDict": str(folder / "dict"),
    }


@pytest.mark.parametrize(
    "kind", ["jsonl", "json list", "json dict", "parquet", "saved dataset", "saved DatasetDict"]
)
def test_every_format_gives_the_same_pairs(saved_formats, kind):
    assert load_pairs(saved_formats[kind]) == load_pairs(saved_formats["jsonl"])


def test_loaded_pair_keeps_types_and_extra_columns(saved_formats):
    pairs = load_pairs(saved_formats["jsonl"])
    assert pairs[1] == PreferencePair(
        id="p2",
        prompt=ROWS[1]["prompt"],
        chosen="Hello!",
        rejected="Go away.",
        subset="chat",
        meta={"source": "hand"},
    )
    assert pairs[0].meta == {}


def test_split_suffix_picks_a_split_and_locations_name_it(saved_formats):
    folder = saved_formats["saved DatasetDict"]
    assert [p.id for p in load_pairs(f"{folder}::test")] == ["p1"]
    assert [loc for loc, _ in read_rows(f"{folder}::test")] == [f"{folder}::test:row 0"]
    with pytest.raises(
        DataError, match=re.escape(f"{folder}: no split 'dev'; the splits are ['train', 'test']")
    ):
        load_pairs(f"{folder}::dev")


def test_parquet_with_message_structs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "prompt": [{"role": "user", "content": "Hi"}],
            "chosen": [{"role": "assistant", "content": "Hello"}],
            "rejected": [{"role": "assistant", "content": "No"}],
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    (pair,) = load_pairs(tmp_path / "t.parquet")
    assert (pair.prompt, pair.chosen, pair.rejected) == ([{"role": "user", "content": "Hi"}], "Hello", "No")


def test_locations_per_format(saved_formats):
    assert next(read_rows(saved_formats["jsonl"]))[0] == f"{saved_formats['jsonl']}:1"
    assert next(read_rows(saved_formats["json list"]))[0] == f"{saved_formats['json list']}:row 0"
    assert next(read_rows(saved_formats["parquet"]))[0] == f"{saved_formats['parquet']}:row 0"


def test_limit_and_fields(tmp_path):
    path = rows_jsonl(
        tmp_path / "x.jsonl",
        [{"question": "Q?", "good": "yes", "bad": "no", "id": 7}] * 1
        + [{"question": "R?", "good": "a", "bad": "b", "id": 8}],
    )
    pairs = load_pairs(path, fields={"prompt": "question", "chosen": "good", "rejected": "bad"})
    assert [(p.id, p.prompt, p.chosen, p.rejected, p.meta) for p in pairs] == [
        ("7", "Q?", "yes", "no", {}),
        ("8", "R?", "a", "b", {}),
    ]
    assert (
        len(load_pairs(path, limit=1, fields={"prompt": "question", "chosen": "good", "rejected": "bad"}))
        == 1
    )
    with pytest.raises(
        ConfigError, match="fields: unknown field 'promt'; the fields that can be mapped are id,"
    ):
        load_pairs(path, fields={"promt": "question"})


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in ROWS)
    assert load_pairs(path) == load_pairs(rows_jsonl(tmp_path / "x.jsonl", ROWS))
    assert next(read_rows(path))[0] == f"{path}:1"


# ------------------------------------------------------------------------------------------------
# trl's conversational layouts
# ------------------------------------------------------------------------------------------------

USER = {"role": "user", "content": "Capital of France?"}


def test_explicit_prompt_with_assistant_message_lists(tmp_path):
    path = rows_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "prompt": [USER],
                "chosen": [{"role": "assistant", "content": "Paris"}],
                "rejected": [{"role": "assistant", "content": "Lyon"}],
            }
        ],
    )
    (pair,) = load_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == ([USER], "Paris", "Lyon")


def test_implicit_prompt_is_split_off_the_shared_conversation(tmp_path):
    history = [USER, {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And Italy?"}]
    path = rows_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "chosen": history + [{"role": "assistant", "content": "Rome"}],
                "rejected": history + [{"role": "assistant", "content": "Milan"}],
            }
        ],
    )
    (pair,) = load_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == (history, "Rome", "Milan")


def test_string_prompt_with_whole_conversations_takes_the_last_reply(tmp_path):
    path = rows_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "prompt": "Capital of France?",
                "chosen": [USER, {"role": "assistant", "content": "Paris"}],
                "rejected": [USER, {"role": "assistant", "content": "Lyon"}],
            }
        ],
    )
    (pair,) = load_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == ("Capital of France?", "Paris", "Lyon")


def test_implicit_prompt_with_different_histories_is_refused(tmp_path):
    path = rows_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "chosen": [USER, {"role": "assistant", "content": "Paris"}],
                "rejected": [{"role": "user", "content": "Other?"}, {"role": "assistant", "content": "Lyon"}],
            }
        ],
    )
    with pytest.raises(
        DataError,
        match=re.escape(
            f"{path}:1: no 'prompt' field, and 'chosen' and 'rejected' differ before their last message"
        ),
    ):
        load_pairs(path)


# ------------------------------------------------------------------------------------------------
# Malformed input: every message names file, line or row, and field
# ------------------------------------------------------------------------------------------------

GOOD = '{"prompt": "Q?", "chosen": "a", "rejected": "b"}'


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [GOOD, '{"prompt": "Q?" "chosen": "a"}'],
            "x.jsonl:2: not valid JSON (Expecting ',' delimiter at column 17)",
        ),
        (
            ['{"prompt": "Q?", "chosen": "a"}'],
            "x.jsonl:1: missing field 'rejected' (expected a string or a list of messages)",
        ),
        (
            ['{"prompt": "Q?", "chosen": 3, "rejected": "b"}'],
            "x.jsonl:1: field 'chosen' must be a string or a list of messages, got int",
        ),
        (
            ['{"prompt": 5, "chosen": "a", "rejected": "b"}'],
            "x.jsonl:1: field 'prompt' must be a string or a list of messages, got int",
        ),
        (
            ['{"prompt": [{"role": "bot", "content": "hi"}], "chosen": "a", "rejected": "b"}'],
            "x.jsonl:1: field 'prompt': message 0 has role 'bot'; expected one of system, user, assistant, tool",
        ),
        (
            ['{"prompt": [{"content": "hi"}], "chosen": "a", "rejected": "b"}'],
            "x.jsonl:1: field 'prompt': message 0 has no role",
        ),
        (
            ['{"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}'],
            "x.jsonl:1: field 'prompt': message 0 ('user') must have string 'content', got null",
        ),
        (
            [
                '{"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], '
                '"chosen": "a", "rejected": "b"}'
            ],
            "x.jsonl:1: field 'prompt' must end with a user message, but the last message is from 'assistant'",
        ),
        (
            ['{"prompt": "Q?", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}'],
            "x.jsonl:1: field 'chosen' must end with an assistant message, but the last message is from 'user'",
        ),
        (
            ['{"prompt": "Q?", "chosen": "a", "rejected": "b", "subset": 1}'],
            "x.jsonl:1: field 'subset' must be a string, got int",
        ),
        (
            ['{"id": true, "prompt": "Q?", "chosen": "a", "rejected": "b"}'],
            "x.jsonl:1: field 'id' must be a non-empty string or an integer, got bool",
        ),
        (
            [
                '{"id": "a", "prompt": "Q?", "chosen": "a", "rejected": "b"}',
                GOOD,
                '{"id": "a", "prompt": "R?", "chosen": "a", "rejected": "b"}',
            ],
            "x.jsonl:3: duplicate id 'a', first used at {path}:1",
        ),
        ([GOOD, GOOD], "x.jsonl:2: duplicate id '"),
        (["[1, 2]"], "x.jsonl:1: expected an object (one row), got list"),
        (["", "  "], "x.jsonl: no rows (the file is empty)"),
    ],
)
def test_bad_pairs_name_the_place_and_the_field(tmp_path, lines, message):
    path = write_lines(tmp_path / "x.jsonl", *lines)
    with pytest.raises(DataError) as caught:
        load_pairs(path)
    expected = f"{tmp_path}/{message}".replace("{path}", str(path))
    assert str(caught.value).startswith(expected), str(caught.value)


def test_mapped_field_is_named_by_the_files_own_name(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", '{"question": "Q?", "response_a": 1, "response_b": "b"}')
    with pytest.raises(
        DataError,
        match=re.escape(f"{path}:1: field 'response_a' must be a string or a list of messages, got int"),
    ):
        load_pairs(path, fields={"prompt": "question", "chosen": "response_a", "rejected": "response_b"})


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nope.jsonl'}: no such file or directory")):
        load_pairs(tmp_path / "nope.jsonl")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'empty.json'}: no rows (the file is empty)")):
        load_pairs(tmp_path / "empty.json")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="x.csv: unknown data format; expected .jsonl"):
        load_pairs(tmp_path / "x.csv")
    (tmp_path / "two.json").write_text(json.dumps({"train": [], "test": []}))
    with pytest.raises(DataError, match=re.escape("the object holds 2 lists ['train', 'test']; pick one as")):
        load_pairs(tmp_path / "two.json")
    (tmp_path / "bad.json").write_text('[\n{"a": 1},\n{"a" 2}\n]')
    with pytest.raises(
        DataError,
        match=re.escape(f"{tmp_path / 'bad.json'}:3: not valid JSON (Expecting ':' delimiter at column 6)"),
    ):
        load_pairs(tmp_path / "bad.json")
    (tmp_path / "row.json").write_text(json.dumps([{"prompt": "Q?", "chosen": 1, "rejected": "b"}]))
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'row.json'}:row 0: field 'chosen' must be")):
        load_pairs(tmp_path / "row.json")


def test_chosen_equal_to_rejected_loads_with_a_warning(tmp_path, caplog):
    path = write_lines(tmp_path / "x.jsonl", '{"prompt": "Q?", "chosen": "same", "rejected": "same"}')
    with caplog.at_level(logging.WARNING, logger="rmr1_cli.data"):
        assert len(load_pairs(path)) == 1
    assert "1 of 1 pairs have chosen == rejected" in caplog.text


# ------------------------------------------------------------------------------------------------
# Ids, records, prompts and traces
# ------------------------------------------------------------------------------------------------


def test_hashed_ids_are_stable(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", GOOD)
    (pair,) = load_pairs(path)
    assert pair.id == stable_id("Q?", "a", "b") == "793a8b48e4b462da"


def test_to_row_round_trips(tmp_path):
    pairs = load_pairs(rows_jsonl(tmp_path / "x.jsonl", ROWS))
    assert load_pairs(write_jsonl(tmp_path / "y.jsonl", (p.to_row() for p in pairs))) == pairs
    records = [
        PromptRecord(id="a", prompt="Q?", answer="4", meta={"subset": "math"}),
        PromptRecord(id="b", prompt="R?"),
    ]
    assert load_prompts(write_jsonl(tmp_path / "p.jsonl", (r.to_row() for r in records))) == records


def test_prompts(tmp_path):
    path = write_lines(
        tmp_path / "p.jsonl", '{"prompt": "2+2?", "answer": 4}', '{"prompt": "Hi", "answer": 1.5}'
    )
    with pytest.raises(
        DataError, match=re.escape(f"{path}:2: field 'answer' must be a string or an integer")
    ):
        load_prompts(path)
    (record,) = load_prompts(path, limit=1)
    assert (record.answer, record.reference, record.id) == ("4", None, stable_id("2+2?"))


def test_traces(tmp_path):
    good = {
        "id": 1,
        "messages": [{"role": "user", "content": "Judge."}, {"role": "assistant", "content": "[[A]]"}],
    }
    path = rows_jsonl(tmp_path / "t.jsonl", [good])
    assert load_traces(path) == [good]
    bad = rows_jsonl(tmp_path / "b.jsonl", [{"messages": [{"role": "user", "content": "Judge."}]}])
    with pytest.raises(
        DataError, match=re.escape(f"{bad}:1: field 'messages' must end with the assistant's trace")
    ):
        load_traces(bad)


def test_trace_source_label_must_be_a_slot(tmp_path):
    row = {"id": "t", "label": "a", "prompt": "Q?", "answer_a": "x", "answer_b": "y", "trace": "..."}
    path = rows_jsonl(tmp_path / "t.jsonl", [row])
    with pytest.raises(
        DataError,
        match=re.escape(f"{path}:1: field 'label' must be \"A\" or \"B\" (the better slot), got 'a'"),
    ):
        load_trace_sources(path)


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------


def test_write_jsonl_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = write_jsonl(tmp_path / "out" / "x.jsonl", [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_jsonl(path, rows())
    assert path.read_text() == '{"a": 1}\n'
    assert os.listdir(path.parent) == ["x.jsonl"]  # no temp file left behind


def test_write_json_is_readable_and_leaves_no_temp_file(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": "é"})
    assert (tmp_path / "m.json").read_text(encoding="utf-8") == '{\n  "b": 1,\n  "a": "é"\n}\n'
    assert os.listdir(tmp_path) == ["m.json"]


def test_file_sha256_of_files_and_folders(tmp_path, saved_formats):
    path = write_lines(tmp_path / "x.jsonl", GOOD)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    folder = saved_formats["saved DatasetDict"]
    assert file_sha256(f"{folder}::test") == file_sha256(folder)
    assert len(file_sha256(folder)) == 64


# ------------------------------------------------------------------------------------------------
# The sample files
# ------------------------------------------------------------------------------------------------


def test_sample_pairs_have_the_stated_counts_and_balance():
    train, held_out = load_pairs(SAMPLES / "pairs.jsonl"), load_pairs(SAMPLES / "pairs_eval.jsonl")
    assert Counter(p.subset for p in train) == {"chat": 12, "safety": 12, "math": 12, "code": 12}
    assert Counter(p.subset for p in held_out) == {"chat": 6, "safety": 6, "math": 6, "code": 6}
    assert not {p.id for p in train} & {p.id for p in held_out}
    assert not {json.dumps(p.prompt) for p in train} & {json.dumps(p.prompt) for p in held_out}
    assert sum(isinstance(p.prompt, list) for p in train) >= 3


def test_sample_traces_match_their_pairs_and_labels():
    pairs = {p.id: p for p in load_pairs(SAMPLES / "pairs.jsonl")}
    traces = load_trace_sources(SAMPLES / "traces_source.jsonl")
    assert sorted(t["pair_id"] for t in traces) == sorted(pairs)
    assert Counter((pairs[t["pair_id"]].subset, t["label"]) for t in traces) == {
        (subset, label): 6 for subset in ("chat", "safety", "math", "code") for label in "AB"
    }
    for t in traces:
        pair = pairs[t["pair_id"]]
        better = t["answer_a"] if t["label"] == "A" else t["answer_b"]
        worse = t["answer_b"] if t["label"] == "A" else t["answer_a"]
        assert (better, worse, t["prompt"]) == (pair.chosen, pair.rejected, pair.prompt)
        kind = "Reasoning" if pair.subset in ("math", "code") else "Chat"
        assert t["trace"].startswith(f"<type>{kind}</type>")
        assert t["trace"].endswith(f"<answer>[[{t['label']}]]</answer>") and t["trace"].count("<answer>") == 1
        assert re.search(r"<quote_A>(.*?)</quote_A>", t["trace"], re.S).group(1) in t["answer_a"]
        assert re.search(r"<quote_B>(.*?)</quote_B>", t["trace"], re.S).group(1) in t["answer_b"]


def test_sample_prompts():
    prompts = load_prompts(SAMPLES / "prompts.jsonl")
    assert len(prompts) == 24 and all(p.reference for p in prompts)
    assert sum(p.answer is not None for p in prompts) == 12
    assert all(p.answer is not None for p in prompts if p.meta["subset"] == "math")
