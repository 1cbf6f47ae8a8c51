"""The judge engine, driven by a scripted judge (no model): orders, samples, cache, retries, lengths."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ScriptedGenerator, prefer, replies

from rmr1_cli.config import GenerationSpec, JudgeSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.generation import VERDICT_STOP, Generation, SamplingParams
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import RETRY_TEMPERATURE, TRUNCATION_MARK, JudgeEngine
from rmr1_cli.judging.prompts import load_template

ROOT = Path(__file__).resolve().parents[1]


def pairs(n: int, start: int = 0) -> list[PreferencePair]:
    return [
        PreferencePair(
            id=f"p{i}", prompt=f"Question {i}?", chosen=f"good answer {i}", rejected=f"bad answer {i}"
        )
        for i in range(start, start + n)
    ]


def engine(gen, cache_path=None, *, seed=0, temperature=0.0, **spec) -> JudgeEngine:
    params = SamplingParams(max_new_tokens=64, temperature=temperature, stop=(VERDICT_STOP,), seed=seed)
    cache = JudgmentCache(cache_path) if cache_path is not None else None
    judge = JudgeSpec(generation=GenerationSpec(temperature=temperature), **spec)
    return JudgeEngine(gen, load_template("cor"), judge, params, cache=cache, seed=seed)


def always_a(a, b, seed, params):
    return "<type>Chat</type><answer>[[A]]</answer>"


# ---- orders -------------------------------------------------------------------------------------


def test_both_orders_swap_the_slots_and_map_the_verdict_back():
    gen = ScriptedGenerator(prefer("good"))
    [result] = engine(gen).judge(pairs(1))
    assert sorted(gen.rows) == [("bad answer 0", "good answer 0"), ("good answer 0", "bad answer 0")]
    by_order = {j.order: j for j in result.judgments}
    assert (by_order["AB"].verdict, by_order["AB"].picked) == ("A", "chosen")
    assert (by_order["BA"].verdict, by_order["BA"].picked) == ("B", "chosen")
    assert (result.outcome, result.p_chosen, result.score, result.consistent) == ("chosen", 1.0, 1.0, True)
    assert (result.n_valid, result.n_judgments, result.task_type) == (2, 2, "chat")


def test_a_position_biased_judge_is_a_tie_and_inconsistent():
    eng = engine(ScriptedGenerator(always_a))
    results = eng.judge(pairs(3))
    assert {(r.outcome, r.p_chosen, r.score, r.consistent) for r in results} == {("tie", 0.5, 0.5, False)}
    stats = eng.stats.as_dict()
    assert stats["p_verdict_a"] == 1.0 and stats["consistency"] == 0.0 and stats["valid_rate"] == 1.0


def test_one_order_is_drawn_per_pair_from_the_seed():
    def orders(seed):
        gen = ScriptedGenerator(prefer("good"))
        results = engine(gen, seed=seed, both_orders=False).judge(pairs(40))
        assert all(r.consistent is None and r.outcome == "chosen" for r in results)
        return [r.judgments[0].order for r in results]

    first = orders(0)
    assert first == orders(0)  # reproducible
    assert 10 < first.count("AB") < 30  # both orders used
    assert first != orders(1)  # the seed matters


# ---- samples ------------------------------------------------------------------------------------


def coin(a, b, seed, params):
    slot = "A" if random.Random(seed).random() < 0.5 else "B"
    return f"<answer>[[{slot}]]</answer> seed={seed}"


def test_k_samples_differ_and_do_not_depend_on_the_batch():
    first = ScriptedGenerator(coin, batch_size=3)
    results = engine(first, temperature=0.7, samples=3).judge(pairs(4))
    texts = {j.key: j.text for r in results for j in r.judgments}
    assert len(texts) == 4 * 2 * 3 and len(set(texts.values())) == len(texts)  # every sample its own seed
    again = ScriptedGenerator(coin, batch_size=5)
    texts_again = {
        j.key: j.text for r in engine(again, temperature=0.7, samples=3).judge(pairs(4)) for j in r.judgments
    }
    assert texts_again == texts
    other_seed = engine(ScriptedGenerator(coin), seed=1, temperature=0.7, samples=3).judge(pairs(4))
    assert not set(texts) & {j.key for r in other_seed for j in r.judgments}  # the seed is in the key


def test_samples_with_greedy_decoding_are_refused():
    with pytest.raises(ConfigError, match="identical"):
        JudgeSpec(samples=2)
    assert JudgeSpec(samples=2, generation=GenerationSpec(temperature=0.7)).samples == 2


def test_mean_aggregation_scores_the_order_balanced_win_probability():
    def two_thirds(a, b, seed, params):  # picks the good reply in 2 of the 3 samples of each order
        good = "A" if "good" in a else "B"
        bad = "B" if good == "A" else "A"
        return f"<answer>[[{bad if seed % 3 == 0 else good}]]</answer>"

    class Fixed(ScriptedGenerator):  # sample s gets seed s: two of three samples right
        def generate(self, conversations, params):
            seeds = tuple(i % 3 for i in range(len(conversations)))
            return super().generate(conversations, SamplingParams(temperature=0.7, seeds=seeds))

    eng = engine(Fixed(two_thirds, batch_size=3), temperature=0.7, samples=3, aggregation="mean")
    [r] = eng.judge(pairs(1))
    assert r.p_chosen == pytest.approx(2 / 3) and r.score == pytest.approx(2 / 3)
    assert (r.outcome, r.consistent, r.n_valid) == ("chosen", True, 6)


# ---- the cache ----------------------------------------------------------------------------------


def test_a_rerun_skips_finished_work_and_counts_it_as_cached(tmp_path):
    path = tmp_path / "judgments.jsonl"
    first = ScriptedGenerator()
    eng = engine(first, path)
    eng.judge(pairs(5))
    assert len(first.rows) == 10
    assert (eng.stats.judgments, eng.stats.generated, eng.stats.cached) == (10, 10, 0)
    eng.judge(pairs(5))  # the same engine again: all cached, nothing counted twice as generated
    assert len(first.rows) == 10
    assert (eng.stats.judgments, eng.stats.generated, eng.stats.cached) == (20, 10, 10)

    second = ScriptedGenerator()
    eng2 = engine(second, path)
    results = eng2.judge(pairs(7))  # a new run with two more pairs: only those are generated
    assert len(second.rows) == 4
    assert (eng2.stats.generated, eng2.stats.cached) == (4, 10)
    assert [r.outcome for r in results] == ["chosen"] * 7
    lines = path.read_text().splitlines()
    assert len(lines) == 14 and len({json.loads(line)["key"] for line in lines}) == 14


def test_repeated_comparisons_in_one_call_are_generated_once():
    gen = ScriptedGenerator()
    same = pairs(1)[0]
    twin = PreferencePair(id="twin", prompt=same.prompt, chosen=same.chosen, rejected=same.rejected)
    results = engine(gen).judge([same, twin, same])
    assert len(gen.rows) == 2 and [r.outcome for r in results] == ["chosen"] * 3


def test_batches_are_sorted_by_prompt_length():
    gen = ScriptedGenerator(batch_size=2)
    by_length = [
        PreferencePair(id=f"p{i}", prompt="word " * n, chosen=f"good {i}", rejected="bad")
        for i, n in enumerate([5, 300, 40, 120])
    ]
    engine(gen, both_orders=False).judge(by_length)
    batches = [{next(t for t in row if t.startswith("good")) for row in batch} for batch in gen.batches]
    assert batches == [{"good 1", "good 3"}, {"good 2", "good 0"}]


def test_a_torn_last_line_is_dropped_and_a_bad_line_is_an_error(tmp_path):
    path = tmp_path / "judgments.jsonl"
    engine(ScriptedGenerator(), path).judge(pairs(2))
    good = path.read_bytes()
    path.write_bytes(good + b'{"key": "abc", "pair_id": "p9", "ord')  # a run killed mid-write
    cache = JudgmentCache(path)
    assert len(cache) == 4 and path.read_bytes() == good
    assert all(r.valid for r in cache.records.values())
    path.write_bytes(b"not json\n" + good)
    with pytest.raises(DataError, match=r"judgments.jsonl:1: not valid JSON"):
        JudgmentCache(path)


def test_the_cache_index_reads_old_records_without_an_attempt_field(tmp_path):
    path = tmp_path / "judgments.jsonl"
    engine(ScriptedGenerator(), path).judge(pairs(1))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        for name in ("attempt", "prompt_tokens", "error"):
            del row[name]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    gen = ScriptedGenerator()
    [r] = engine(gen, path).judge(pairs(1))
    assert gen.rows == [] and r.outcome == "chosen" and r.judgments[0].attempt == 0


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import ScriptedGenerator, prefer
    from test_judging import engine, pairs
    gen = ScriptedGenerator(prefer("good"), batch_size=4, delay=float(sys.argv[2]))
    engine(gen, sys.argv[1]).judge(pairs(30))
    """
)


def test_a_run_killed_mid_way_resumes_to_the_same_judgments(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests")))
    killed, whole = tmp_path / "killed.jsonl", tmp_path / "whole.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.15"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not killed.exists() or killed.read_text().count("\n") < 12):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = killed.read_text().count("\n")
    assert 12 <= done_before < 60  # killed mid-way
    subprocess.run([sys.executable, str(script), str(killed), "0"], env=env, check=True)
    subprocess.run([sys.executable, str(script), str(whole), "0"], env=env, check=True)

    def lines(path):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return rows, {(r["key"], r["text"], r["picked"]) for r in rows}

    killed_rows, killed_set = lines(killed)
    whole_rows, whole_set = lines(whole)
    assert len(killed_rows) == len(whole_rows) == 60  # no duplicate lines
    assert killed_set == whole_set


def test_a_second_process_cannot_write_the_same_cache(tmp_path):
    path = tmp_path / "judgments.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from rmr1_cli.judging.cache import JudgmentCache; c = JudgmentCache({str(path)!r}); "
            "print('ready', flush=True); import time; time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ConfigError, match="another rmr1 process"):
            JudgmentCache(path)
    finally:
        holder.kill()
        holder.wait()
    JudgmentCache(path)  # released when the holder died


# ---- invalid outputs and retries --------------------------------------------------------------


def flaky(a, b, seed, params):
    """Unparseable for pair 1 unless re-asked with sampling; the good reply otherwise."""
    if "answer 1" in a and params.temperature == 0:
        return "<type>Chat</type><eval>I cannot decide</eval>"
    return prefer("good")(a, b, seed, params)


def test_invalid_outputs_are_counted_and_retried_only_on_request(tmp_path):
    path = tmp_path / "judgments.jsonl"
    gen = ScriptedGenerator(flaky)
    eng = engine(gen, path)
    results = eng.judge(pairs(3))
    assert [r.outcome for r in results] == ["chosen", "invalid", "chosen"]
    assert (results[1].n_valid, results[1].n_judgments, results[1].score) == (0, 2, 0.0)
    assert len(gen.rows) == 6 and eng.stats.retried == 0
    assert eng.stats.valid == 4 and eng.stats.invalid_reasons == {"no_answer": 2}

    again = ScriptedGenerator(flaky)
    results = engine(again, path).judge(pairs(3))  # a rerun without retries asks nothing again
    assert again.rows == [] and results[1].outcome == "invalid"

    retry = ScriptedGenerator(flaky)
    eng = engine(retry, path, retry_invalid=1)
    results = eng.judge(pairs(3))
    assert sorted(retry.rows) == [("bad answer 1", "good answer 1"), ("good answer 1", "bad answer 1")]
    assert retry.params[0].temperature == RETRY_TEMPERATURE  # a greedy retry would repeat itself
    assert results[1].outcome == "chosen" and {j.attempt for j in results[1].judgments} == {1}
    assert (eng.stats.retried, eng.stats.generated, eng.stats.cached) == (2, 2, 4)

    done = ScriptedGenerator(flaky)
    results = engine(done, path, retry_invalid=1).judge(pairs(3))
    assert done.rows == [] and results[1].outcome == "chosen"  # the retried record is the latest
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 8 and len({(r["key"], r["attempt"]) for r in lines}) == 8


def test_refused_requests_are_counted_and_not_cached(tmp_path):
    class Refusing(ScriptedGenerator):
        def generate(self, conversations, params):
            out = super().generate(conversations, params)
            return [Generation("", 0, "error", "HTTP 400: prompt too long")] + out[1:]

    path = tmp_path / "judgments.jsonl"
    eng = engine(Refusing(batch_size=8), path)
    results = eng.judge(pairs(2))
    assert eng.stats.errors == 1 and eng.stats.invalid_reasons == {"generation_error": 1}
    assert sum(r.n_valid for r in results) == 3
    assert len(path.read_text().splitlines()) == 3


# ---- prompts too long for the context ---------------------------------------------------------


def long_pair() -> PreferencePair:
    return PreferencePair(
        id="long", prompt="Question?", chosen="good " + "x " * 1000, rejected="bad " + "y " * 99
    )


def context_for_answers(answer_budget: int) -> int:
    """A context length leaving ``answer_budget`` words for the two answers (max_new_tokens 64)."""
    base = ScriptedGenerator().count_tokens(load_template("cor").render("Question?", "", ""))
    return base + 64 + answer_budget


def test_too_long_prompts_are_truncated_the_same_way_in_both_orders():
    gen = ScriptedGenerator(context_length=context_for_answers(300))
    eng = engine(gen)
    [r] = eng.judge([long_pair()])
    assert r.truncated and r.outcome == "chosen" and eng.stats.truncated == 1
    (a1, b1), (a2, b2) = gen.rows
    assert (a1, b1) == (b2, a2)  # the same cut texts, swapped
    chosen_cut, rejected_cut = (a1, b1) if a1.startswith("good") else (b1, a1)
    assert chosen_cut.endswith(TRUNCATION_MARK) and 150 < len(chosen_cut.split()) < 200
    assert rejected_cut == long_pair().rejected  # the shorter answer is cut last: here not at all
    assert all(j.truncated for j in r.judgments)
    assert gen.count_tokens(eng.template.render("Question?", a1, b1)) <= context_for_answers(300) - 64


def test_too_long_prompts_can_be_skipped_and_are_counted():
    gen = ScriptedGenerator(context_length=context_for_answers(300))
    eng = engine(gen, too_long="skip")
    results = eng.judge([long_pair(), *pairs(1)])
    assert [r.outcome for r in results] == ["skipped", "chosen"]
    assert eng.stats.skipped_too_long == 1 and len(gen.rows) == 2


def test_a_conversation_that_alone_overflows_is_skipped():
    gen = ScriptedGenerator(context_length=context_for_answers(300))
    eng = engine(gen)
    huge = PreferencePair(id="huge", prompt="word " * 400, chosen="good", rejected="bad")
    [r] = eng.judge([huge])
    assert r.outcome == "skipped" and gen.rows == [] and eng.stats.skipped_too_long == 1


def test_lengths_are_unchecked_and_counted_when_the_backend_cannot_count():
    class NoCount(ScriptedGenerator):
        def count_tokens(self, conversation):
            return None

    eng = engine(NoCount(context_length=None), max_prompt_tokens=10)
    [r] = eng.judge(pairs(1))
    assert r.outcome == "chosen" and eng.stats.length_unchecked == 1


@pytest.mark.slow
def test_rmr1_judge_killed_with_sigkill_resumes_to_the_judgments_of_a_whole_run(tiny_model_dir, tmp_path):
    """The real thing: `rmr1 judge` on the tiny model, killed after its first batch, then rerun."""

    def command(out: Path) -> list[str]:
        return [
            sys.executable, "-m", "rmr1_cli", "judge", f"judge.model.name_or_path={tiny_model_dir}",
            f"output_dir={out}", f"pairs_file={ROOT / 'data' / 'samples' / 'pairs_eval.jsonl'}", "limit=12",
            "judge.generation.batch_size=4", "judge.generation.max_new_tokens=16",
        ]  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = killed / "judgments.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and (not cache.exists() or cache.read_text().count("\n") < 4):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 4 <= cache.read_text().count("\n") < 24 and not (killed / "metrics.json").exists()
    subprocess.run(command(killed), env=env, check=True, capture_output=True)
    subprocess.run(command(whole), env=env, check=True, capture_output=True)

    def judgments(folder: Path) -> tuple[int, set]:
        rows = [json.loads(line) for line in (folder / "judgments.jsonl").read_text().splitlines()]
        return len(rows), {(r["key"], r["order"], r["verdict"], r["text"]) for r in rows}

    assert judgments(killed) == judgments(whole)
    assert judgments(whole)[0] == len(judgments(whole)[1]) == 24
    metrics = json.loads((killed / "metrics.json").read_text())
    assert (
        metrics["engine"]["cached"] >= 4
        and metrics["engine"]["generated"] + metrics["engine"]["cached"] == 24
    )


# ---- solve first --------------------------------------------------------------------------------


class SolvingJudge(ScriptedGenerator):
    """Answers a bare question with ``The answer is 7.``; on a judge prompt whose reply was begun with a
    solution, picks the reply that contains the solution's number (continuing the begun reply)."""

    def generate(self, conversations, params):
        self.params.append(params)
        out = []
        for conversation in conversations:
            if conversation[-1]["role"] == "user" and "Chatbot A" not in conversation[-1]["content"]:
                out.append(Generation("The answer is 7.", 4, "stop"))
                continue
            assert conversation[-1]["role"] == "assistant", "the judge prompt must end with the begun reply"
            begun = conversation[-1]["content"]
            a, b = replies(conversation[:-1])
            slot = "A" if "7" in a else "B"
            out.append(Generation(f"<eval>checked</eval><answer>[[{slot}]]</answer>", 3, "stop"))
            self.batches.append([(a, b, begun)])
        return out


def test_solve_first_answers_each_question_once_then_judges_from_that_solution(tmp_path):

    gen = SolvingJudge()
    two = [
        PreferencePair("p1", "What is 3 + 4?", "The answer is 7.", "The answer is 8, clearly and at length."),
        PreferencePair("p2", "What is 3 + 4?", "It is 7.", "It is 6."),
    ]
    eng = engine(gen, tmp_path / "cache.jsonl", solve_first=True)
    results = eng.judge(two)
    assert eng.stats.solutions == 1  # one distinct question, answered once, alone and greedily
    assert gen.params[0].max_new_tokens == eng.spec.solution_tokens and gen.params[0].temperature == 0.0
    assert {begun for batch in gen.batches for _, _, begun in batch} == {
        "<type>Reasoning</type><solution> The answer is 7.</solution>"
    }
    assert [(r.outcome, r.consistent) for r in results] == [("chosen", True), ("chosen", True)]
    judgment = results[0].judgments[0]
    assert judgment.text.startswith("<type>Reasoning</type><solution> The answer is 7.</solution><eval>")
    assert judgment.task_type == "reasoning"

    again = engine(SolvingJudge(), tmp_path / "cache.jsonl", solve_first=True)
    again.judge(two)
    assert (again.stats.generated, again.stats.cached) == (0, 4)  # same solution: same keys, all cached
    plain = engine(SolvingJudge(), tmp_path / "cache.jsonl")
    assert plain.call_key(two[0], "AB", 0) != again.call_key(two[0], "AB", 0)
