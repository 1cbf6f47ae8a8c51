"""``rmr1 judge`` at scale: judging in chunks gives the results of one call, a crash keeps finished rows
and a rerun does not duplicate them, and data-parallel ranks (``RANK``/``WORLD_SIZE`` as torchrun sets
them) merge into exactly the files one process writes, resuming after a kill with every rank skipping
its finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ScriptedGenerator

from rmr1_cli.config import JudgeRecipe, load_recipe
from rmr1_cli.data import load_pairs
from rmr1_cli.data.hash_index import HashIndex
from rmr1_cli.judging.engine import build_engine
from rmr1_cli.judging.records import summarize_pairs
from rmr1_cli.judging.results_log import ResultsLog
from rmr1_cli.stages import judge as judge_stage

ROOT = Path(__file__).resolve().parents[1]


def judge_text(a: str, b: str) -> str:
    """Picks the reply with ``good``; a pair that shows ``mute`` gets no verdict (cut off), one that
    shows ``lean`` always gets A (inconsistent across the swap)."""
    if "mute" in a + b:
        return "I cannot decide"
    slot = "A" if "lean" in a + b or "good" in a or "good" not in b else "B"
    return f"<type>Chat</type><eval>...</eval><answer>[[{slot}]]</answer>"


def write_pairs(path: Path, n: int) -> Path:
    kinds = ["good one", "good two", "mute", "lean good", "good three"]
    rows = [
        {"id": f"p{i}", "prompt": f"q{i}?", "chosen": f"{kinds[i % 5]} {i}", "rejected": f"bad {i}",
         "subset": f"s{i % 2}"}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def recipe(tmp_path: Path, out: str, pairs: Path, *more: str) -> JudgeRecipe:
    overrides = [f"output_dir={tmp_path / out}", "judge.model.name_or_path=scripted", f"pairs_file={pairs}"]
    return load_recipe(None, JudgeRecipe, [*overrides, *more])


class Judge(ScriptedGenerator):
    """conftest's scripted generator with ``judge_text``, reporting ``length`` for a missing verdict;
    ``fail_after`` batches it raises, as a crashed run would stop."""

    def __init__(self, fail_after: int | None = None):
        super().__init__(lambda a, b, seed, params: judge_text(a, b), batch_size=3)
        self.fail_after = fail_after

    def generate(self, conversations, params):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise RuntimeError("the machine went away")
        out = super().generate(conversations, params)
        return [g if "answer" in g.text else type(g)(g.text, g.num_tokens, "length") for g in out]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_chunked_judging_writes_what_one_call_gives(tmp_path, monkeypatch):
    pairs = write_pairs(tmp_path / "pairs.jsonl", 23)
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: Judge())
    out = judge_stage.run(recipe(tmp_path, "run", pairs, "chunk_size=5"))

    r = recipe(tmp_path, "unused", pairs)
    whole = build_engine(r.judge, seed=r.seed, generator=Judge()).judge(load_pairs(pairs))
    assert lines(out / "results.jsonl") == [json.dumps(x.to_row()) for x in whole]
    metrics = json.loads((out / "metrics.json").read_text())
    expected = summarize_pairs(whole)
    assert {k: metrics[k] for k in expected} == expected
    assert expected["cut_off"] > 0 and 0 < expected["consistency"] < 1  # the summary is not trivial
    assert metrics["engine"]["generated"] == 46 and metrics["engine"]["cached"] == 0


def test_a_crashed_run_keeps_its_rows_and_a_rerun_adds_the_rest_once(tmp_path, monkeypatch):
    pairs = write_pairs(tmp_path / "pairs.jsonl", 23)
    judge = Judge(fail_after=5)  # batches of 3: chunk 1 (10 judgments, 4 batches) and 3 of chunk 2
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: judge)
    with pytest.raises(RuntimeError, match="went away"):
        judge_stage.run(recipe(tmp_path, "run", pairs, "chunk_size=5"))
    assert len(lines(tmp_path / "run" / "results.jsonl")) == 5
    assert len(lines(tmp_path / "run" / "judgments.jsonl")) == 13

    again = Judge()
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: again)
    out = judge_stage.run(recipe(tmp_path, "run", pairs, "chunk_size=5"))
    fresh = judge_stage.run(recipe(tmp_path, "fresh", pairs, "chunk_size=7"))
    assert lines(out / "results.jsonl") == lines(fresh / "results.jsonl")
    engine = json.loads((out / "metrics.json").read_text())["engine"]
    assert (engine["cached"], engine["generated"]) == (13, 33)


def test_the_results_file_keeps_equal_rows_and_cuts_at_the_first_difference(tmp_path):
    path = tmp_path / "results.jsonl"
    rows = [{"pair_id": f"p{i}", "score": 1.0} for i in range(4)]
    with ResultsLog(path) as log:
        log.extend(rows[:3])
    with open(path, "ab") as handle:
        handle.write(b'{"pair_id": "p3", "sc')  # a torn last line
    with ResultsLog(path) as log:
        log.extend(rows[:2])
        log.extend(rows[2:])
    assert (log.kept, log.written) == (3, 1) and lines(path) == [json.dumps(r) for r in rows]
    changed = [rows[0], {"pair_id": "p1", "score": 0.0}]
    with ResultsLog(path) as log:  # another recipe: the rows from the first difference on are replaced
        log.extend(changed)
    assert (log.kept, log.written) == (1, 1) and lines(path) == [json.dumps(r) for r in changed]


def test_the_hash_index_survives_growth_and_collisions_of_slots():
    index = HashIndex(expected=4)
    for n in range(1, 5001):
        index[n * 1009] = n  # many keys land on neighbouring slots
    index[0] = 7  # the hash 0 is stored as 1
    index[1009] = -1  # a new value replaces the old one
    assert len(index) == 5001 and index.get(1009 * 4321) == 4321 and index.get(0) == 7
    assert index.get(1009) == -1 and index.get(5001 * 1009) is None


# -- ranks: subprocesses with RANK / WORLD_SIZE, a scripted judge in place of the model ----------------

DRIVER = """
import os, re, sys, time
from rmr1_cli import generation
from rmr1_cli.generation import Generation, Generator
sys.path.insert(0, {tests!r})
from test_judge_scale import judge_text
REPLY = re.compile(r"\\[Start of Chatbot ([AB])'s reply\\]\\n(.*?)\\n\\[End of Chatbot \\1's reply\\]", re.S)

class Scripted(Generator):
    identity = "scripted"
    batch_size = 2
    def generate(self, conversations, params):
        time.sleep(float(os.environ.get("JUDGE_DELAY", "0")))
        out = []
        for c in conversations:
            found = dict(REPLY.findall(c[-1]["content"]))
            text = judge_text(found.get("A", ""), found.get("B", ""))
            out.append(Generation(text, 5, "stop" if "answer" in text else "length"))
        return out

generation.build_generator = lambda model, spec: Scripted()
sys.argv = ["rmr1", *sys.argv[1:]]
from rmr1_cli.cli import app
app()
"""


def rmr1_judge(out: Path, pairs: Path, rank: int | None, world: int, *more: str, delay: float = 0.0):
    env = {**os.environ, "JUDGE_DELAY": str(delay)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    if rank is not None:
        env |= {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)}
    command = [
        sys.executable, "-c", DRIVER.format(tests=str(Path(__file__).parent)), "judge",
        f"output_dir={out}", f"pairs_file={pairs}", "judge.model.name_or_path=scripted", "chunk_size=4", *more,
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(*procs) -> list[tuple[int, str]]:
    return [(p.wait(timeout=120), p.stderr.read()) for p in procs]


def same_numbers(metrics: dict) -> dict:
    """metrics.json without what depends on the clock."""
    clock = {"seconds", "tokens_per_s", "pairs_per_s"}
    return metrics | {"engine": {k: v for k, v in metrics["engine"].items() if k not in clock}}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("one")
    pairs = write_pairs(tmp / "pairs.jsonl", 31)
    [(code, err)] = finish(rmr1_judge(tmp / "one", pairs, None, 1))
    assert code == 0, err
    return pairs, tmp / "one"


def test_two_ranks_judge_shards_that_merge_into_the_run_of_one_process(one_process, tmp_path):
    pairs, one = one_process
    out = tmp_path / "ranks"
    done = finish(rmr1_judge(out, pairs, 0, 2), rmr1_judge(out, pairs, 1, 2))
    assert [code for code, _ in done] == [0, 0], done
    assert (out / "results.jsonl").read_bytes() == (one / "results.jsonl").read_bytes()
    merged, single = (json.loads((d / "metrics.json").read_text()) for d in (out, one))
    assert same_numbers(merged) == same_numbers(single)
    shards = [lines(out / f"results.rank{r}.jsonl") for r in (0, 1)]
    assert [len(s) for s in shards] == [16, 15] and (out / "judgments.rank1.jsonl").exists()
    assert not (out / "judgments.jsonl").exists()


def test_a_killed_multi_rank_run_resumes_with_every_rank_skipping_finished_work(one_process, tmp_path):
    pairs, one = one_process
    out = tmp_path / "ranks"
    rank0 = rmr1_judge(out, pairs, 0, 2, "merge_timeout_s=3")
    rank1 = rmr1_judge(out, pairs, 1, 2, delay=0.3)
    cache = out / "judgments.rank1.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not cache.exists() or cache.read_text().count("\n") < 6):
        time.sleep(0.02)
    os.kill(rank1.pid, signal.SIGKILL)
    (code0, err0), (code1, _) = finish(rank0, rank1)
    assert code1 == -signal.SIGKILL and code0 == 2
    assert "rank(s) 1 of 2 did not finish within merge_timeout_s=3" in err0
    assert not (out / "metrics.json").exists() and not (out / "results.jsonl").exists()
    cached_before = cache.read_text().count("\n")
    assert 6 <= cached_before < 30

    done = finish(rmr1_judge(out, pairs, 0, 2), rmr1_judge(out, pairs, 1, 2))
    assert [code for code, _ in done] == [0, 0], done
    assert (out / "results.jsonl").read_bytes() == (one / "results.jsonl").read_bytes()
    ranks = [json.loads((out / f"metrics.rank{r}.json").read_text())["engine"] for r in (0, 1)]
    assert ranks[0]["generated"] == 0 and ranks[0]["cached"] == 32  # rank 0 had finished: all reused
    assert ranks[1]["cached"] == cached_before and ranks[1]["generated"] == 30 - cached_before
    assert len(lines(out / "results.rank1.jsonl")) == 15  # no row written twice


def test_a_filesystem_without_flock_is_locked_with_an_exclusively_created_file(tmp_path, monkeypatch):
    import errno
    import fcntl

    from rmr1_cli.data import JsonlStore
    from rmr1_cli.errors import ConfigError

    def no_flock(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    held = tmp_path / "c.jsonl.lock.held"
    with JsonlStore(tmp_path / "c.jsonl") as store:
        store.append([{"key": "a"}])
        assert f"pid {os.getpid()}" in held.read_text()
    assert not held.exists()  # given back with the store
    held.write_text("node7 pid 12\n")  # another node's run (or a killed one)
    with pytest.raises(ConfigError, match="written by node7 pid 12; .* delete it if no rmr1 process"):
        JsonlStore(tmp_path / "c.jsonl")


def test_each_rank_judges_on_its_own_gpu_and_a_bad_rank_is_refused():
    from rmr1_cli.errors import DataError
    from rmr1_cli.judging.sharding import Shard, rank_device

    assert [rank_device("auto", r, world=4, cuda=True) for r in range(4)] == [f"cuda:{r}" for r in range(4)]
    assert (
        rank_device("cpu", 2, world=4, cuda=True) == "cpu"
        and rank_device("auto", 2, world=4, cuda=False) == "auto"
    )
    with pytest.raises(DataError, match="RANK=2 with WORLD_SIZE=2"):
        Shard.from_env({"RANK": "2", "WORLD_SIZE": "2"})
