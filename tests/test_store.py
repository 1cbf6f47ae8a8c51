"""The crash-safe JSONL store and the three caches built on it (judgments, generations, policy answers):
a writer killed mid-line resumes without regenerating finished work, one writer at a time, damaged
files named by file:line."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest
from conftest import ScriptedGenerator

from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec
from rmr1_cli.data import PreferencePair, PromptRecord, append_jsonl, read_rows
from rmr1_cli.data.store import JsonlStore
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.generation import VERDICT_STOP, Generation, Generator, SamplingParams
from rmr1_cli.generation.answers import policy_answers
from rmr1_cli.generation.cache import CachedGenerator
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import load_template

TESTS = Path(__file__).resolve().parent
ENTRIES = 12  # every run below makes 12 cache entries, appended in 3 batches of 4


# ---- the three caches, each run over the same small job; each returns how many entries it generated ----


class Echo(Generator):
    """Answers each conversation with a text naming its last message; counts what it generated."""

    identity = "echo"
    batch_size = 1  # CachedGenerator appends 4 x batch_size per chunk

    def __init__(self):
        self.generated = 0

    def generate(self, conversations, params):
        self.generated += len(conversations)
        return [Generation(f"é answer to {c[-1]['content']} 🙂", 5, "stop") for c in conversations]


def run_judgments(path: str | Path) -> int:
    gen = ScriptedGenerator(batch_size=4)
    pairs = [PreferencePair(f"p{i}", f"Question {i}?", f"good {i}", f"bad {i}") for i in range(ENTRIES // 2)]
    params = SamplingParams(max_new_tokens=64, stop=(VERDICT_STOP,))
    cache = JudgmentCache(path)
    try:
        JudgeEngine(gen, load_template("cor"), JudgeSpec(), params, cache=cache).judge(pairs)
    finally:
        cache.close()
    return len(gen.rows)


def run_generations(path: str | Path) -> int:
    cache = CachedGenerator(Echo(), path)
    try:
        cache.generate([[{"role": "user", "content": f"q{i}"}] for i in range(ENTRIES)], SamplingParams())
    finally:
        cache.close()
    return cache.misses


def run_answers(path: str | Path) -> int:
    echo = Echo()
    prompts = [PromptRecord(f"p{i}", f"Question {i}?") for i in range(ENTRIES)]
    with mock.patch("rmr1_cli.generation.build_generator", lambda model, spec: echo):
        answers = policy_answers(ModelSpec("echo"), GenerationSpec(batch_size=4), prompts, cache_path=path)
    assert answers["p3"]["text"] == "é answer to Question 3? 🙂"
    return echo.generated


RUNS = {"judgments": run_judgments, "generations": run_generations, "answers": run_answers}


class _DiesMidWrite:
    """A file whose next write stops 10 bytes short (inside the last line) and kills the process."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def write(self, data: bytes) -> int:
        self.inner.write(data[:-10])
        self.inner.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def die_in_append(number: int) -> None:
    """Make the ``number``-th ``JsonlStore.append`` of this process die by SIGKILL in its write."""
    real, calls = JsonlStore.append, [0]

    def append(self, rows):
        calls[0] += 1
        if calls[0] == number:
            self._file = _DiesMidWrite(self._file)
        return real(self, rows)

    JsonlStore.append = append


KILLED_RUN = textwrap.dedent(
    """
    import sys
    from test_store import RUNS, die_in_append
    die_in_append(2)
    RUNS[sys.argv[1]](sys.argv[2])
    """
)


def lines_of(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n")  # well-formed: every line whole
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("cache", sorted(RUNS))
def test_a_writer_killed_mid_line_resumes_without_redoing_finished_work(tmp_path, cache, caplog):
    path = tmp_path / f"{cache}.jsonl"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, cache, str(path)], env=env, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    torn = path.read_bytes()
    assert not torn.endswith(b"\n")  # the write was cut inside a line
    whole = torn[: torn.rfind(b"\n") + 1]
    finished = whole.count(b"\n")
    assert finished == 7  # the first batch and 3 lines of the second; the 4th line is torn

    with caplog.at_level(logging.WARNING, logger="rmr1_cli.data.store"):
        assert RUNS[cache](path) == ENTRIES - finished  # finished entries reused, the rest generated
    assert "dropped an incomplete last line" in caplog.text
    assert path.read_bytes().startswith(whole)  # the torn line is gone, finished lines untouched
    resumed = lines_of(path)
    assert len(resumed) == len({row["key"] for row in resumed}) == ENTRIES  # new entries appended once

    assert RUNS[cache](path) == 0  # a rerun generates nothing
    assert len(lines_of(path)) == ENTRIES
    uninterrupted = tmp_path / "uninterrupted.jsonl"
    RUNS[cache](uninterrupted)
    assert {json.dumps(row, sort_keys=True) for row in lines_of(uninterrupted)} == {
        json.dumps(row, sort_keys=True) for row in resumed
    }


@pytest.mark.parametrize("cache", sorted(RUNS))
def test_a_torn_tail_written_by_hand_is_cut_and_the_run_resumes(tmp_path, cache):
    path = tmp_path / f"{cache}.jsonl"
    RUNS[cache](path)
    rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(rows[:5]) + rows[5][: len(rows[5]) // 2])  # half of line 6: a full disk, say
    assert RUNS[cache](path) == ENTRIES - 5
    assert len(lines_of(path)) == ENTRIES


# ---- the store itself --------------------------------------------------------------------------------


def test_rows_are_read_back_by_byte_offset_and_the_highest_version_wins(tmp_path):
    path = tmp_path / "s.jsonl"
    with JsonlStore(path, version="attempt") as store:
        assert store.append([{"key": "a", "text": "naïve 🙂", "attempt": 0}, {"key": "b", "text": "x"}]) == 2
        assert store.append([{"key": "a", "text": "again", "attempt": 0}]) == 0  # stored already
        assert store.append([{"key": "a", "text": "retried", "attempt": 1}]) == 1
        assert store["a"]["text"] == "retried" and store["b"]["text"] == "x" and store.version_of("a") == 1
    with JsonlStore(path, version="attempt") as store:  # the index rebuilt from the file agrees
        assert sorted(store) == ["a", "b"] and store["a"]["text"] == "retried" and "c" not in store
        assert store.get("c") is None and store["b"] == {"key": "b", "text": "x"}
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_a_bad_row_writes_nothing(tmp_path):
    path = tmp_path / "s.jsonl"
    with JsonlStore(path) as store:
        with pytest.raises(ValueError, match="'key'"):
            store.append([{"key": "a"}, {"text": "no key"}])
        assert len(store) == 0
    assert path.read_bytes() == b""


def test_a_whole_last_row_without_its_newline_is_kept(tmp_path, caplog):
    path = tmp_path / "s.jsonl"
    path.write_text('{"key": "a", "n": 1}\n{"key": "b", "n": 2}')
    with caplog.at_level(logging.WARNING):
        with JsonlStore(path) as store:
            store.append([{"key": "c", "n": 3}])
            assert [store[k]["n"] for k in "abc"] == [1, 2, 3]
    assert "dropped" not in caplog.text
    assert len(lines_of(path)) == 3


@pytest.mark.parametrize(
    ("middle", "message"),
    [
        (b"not json\n", ":2: not valid JSON (Expecting value at column 1)"),
        (b'{"text": "no key"}\n', ":2: not a record (no 'key' string)"),
        (b'["key", "a"]\n', ":2: not a record (expected an object, got list)"),
    ],
)
def test_a_damaged_line_in_the_middle_names_file_and_line(tmp_path, middle, message):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"key": "a"}\n' + middle + b'{"key": "b"}\n')
    with pytest.raises(DataError, match="delete the file to start afresh") as err:
        JsonlStore(path)
    assert str(err.value).startswith(f"{path}{message}")


def test_a_damaged_line_the_index_skims_is_named_when_read(tmp_path):
    # two writes glued together without a newline look like one row to the quick key scan
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"key": "a"}\n{"key": "b", "text": "cut sh{"key": "c"}\n{"key": "d"}\n')
    with JsonlStore(path) as store:
        assert store["d"] == {"key": "d"}
        with pytest.raises(DataError, match=f"{path}:2: not valid JSON"):
            store["b"]


LOCK_HOLDER = "from rmr1_cli.data.store import JsonlStore; JsonlStore({path!r}); print('open', flush=True)"


def test_one_writer_at_a_time_and_the_lock_goes_with_the_store(tmp_path):
    path = tmp_path / "s.jsonl"
    store = JsonlStore(path)
    again = JsonlStore(path)  # this process shares its own lock
    other = [sys.executable, "-c", LOCK_HOLDER.format(path=str(path))]
    refused = subprocess.run(other, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "ConfigError" in refused.stderr and "being written by another rmr1 process" in refused.stderr
    store.close()
    assert subprocess.run(other, capture_output=True, text=True).returncode != 0  # still open once
    again.close()
    again.close()  # closing twice is harmless
    assert subprocess.run(other, capture_output=True, text=True).stdout == "open\n"


def test_a_second_process_cannot_open_any_of_the_caches(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER.format(path=str(tmp_path / "c.jsonl")) + "; input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        for run in RUNS.values():
            with pytest.raises(ConfigError, match="another rmr1 process"):
                run(tmp_path / "c.jsonl")
    finally:
        holder.kill()
        holder.wait()


def test_append_jsonl_repairs_an_interrupted_last_line(tmp_path, caplog):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, [{"n": 1}])
    with open(path, "a") as handle:
        handle.write('{"n": 2, "tex')  # a run killed mid-write
    with caplog.at_level(logging.WARNING, logger="rmr1_cli.data"):
        append_jsonl(path, [{"n": 3}])
    assert [row["n"] for _, row in read_rows(path)] == [1, 3]
    assert "dropped an incomplete last line" in caplog.text
    path.write_text('{"n": 4}')  # complete, but without its newline: kept
    append_jsonl(path, [{"n": 5}])
    assert [row["n"] for _, row in read_rows(path)] == [4, 5]
