"""Trace distillation: which traces are kept, when the second pass runs, what it shows, what is written."""

from __future__ import annotations

import json

import pytest
from scripted_generator import ScriptedGenerator, last_user

from rmr1_cli import data
from rmr1_cli.config import DistillRecipe, load_recipe
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import SamplingParams
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.loop import distilling
from rmr1_cli.stages import distill
from rmr1_cli.stages.sft import load_sft_rows

TEMPLATE = load_template("compact")
PARAMS = SamplingParams(max_new_tokens=64)


def verdict(slot: str, note: str = "") -> str:
    return f"<type>Reasoning</type><solution>s</solution><eval>{note}</eval><answer>[[{slot}]]</answer>"


def pairs(n: int) -> list[PreferencePair]:
    return [
        PreferencePair(f"p{i}", f"What is {i} + 1?", f"The answer is {i + 1}.", "The answer is 0.")
        for i in range(n)
    ]


def slot_of_good(conversation: list[dict]) -> str:
    """Where the chosen answer ('The answer is i+1.') sits in the rendered judge prompt."""
    text = [m["content"] for m in conversation if m["role"] == "user"][0]
    return "B" if "A: The answer is 0." in text else "A"


def test_slots_come_from_ab_slot_else_alternate():
    tagged = PreferencePair("t", "q", "g", "b", meta={"ab_slot": "B"})
    tasks = distilling.assign_slots([*pairs(2), tagged])
    assert [(t.id, t.label) for t in tasks] == [("p0-A", "A"), ("p1-B", "B"), ("t-B", "B")]
    assert tasks[1].answers == ("The answer is 0.", "The answer is 2.")


def test_right_first_traces_are_kept_and_only_the_rest_get_a_second_pass():
    """Teacher: right on p0, wrong on p1, invalid on p2; with the hint it follows it (p1) or not (p2)."""
    script = {
        "p0": verdict,
        "p1": lambda good: verdict("B" if good == "A" else "A"),
        "p2": lambda good: "I think A is better",
    }

    def reply(conversation):
        question = [m["content"] for m in conversation if m["role"] == "user"][0]
        pid = f"p{question.split('What is ')[1].split(' ')[0]}"
        good = slot_of_good(conversation)
        if len(conversation) > 1:  # second pass: judge prompt, first output, hint
            return verdict(good) if pid == "p1" else "<answer>[[A]]"
        return script[pid](good)

    teacher = ScriptedGenerator(reply)
    tasks = distilling.assign_slots(pairs(3))
    outcomes = distill.distill_traces(tasks, teacher, TEMPLATE, PARAMS, distill.DistillSettings())

    assert [o.kept_pass for o in outcomes] == ["first", "second", None]
    assert [o.first_reason for o in outcomes] == [None, "wrong_verdict", "invalid:no_answer"]
    assert outcomes[2].second_reason == "invalid:unclosed_answer"
    assert len(teacher.calls) == 3 + 2  # the second pass asked only about p1 and p2
    hinted = teacher.calls[3]
    assert [m["role"] for m in hinted] == ["user", "assistant", "user"]
    assert hinted[1]["content"] == outcomes[1].first_text  # the teacher sees its own first output
    assert f"Chatbot {tasks[1].label}'s" in last_user(hinted) and f"[[{tasks[1].label}]]" in last_user(hinted)

    m = distilling.pass_metrics(outcomes, second_pass=True)
    assert (m["first_pass"]["kept"], m["second_pass"]["tried"], m["second_pass"]["kept"], m["dropped"]) == (
        1,
        2,
        1,
        1,
    )
    assert m["first_pass"]["reasons"] == {"invalid": 1, "wrong_verdict": 1}


def test_second_pass_off_means_one_generation_per_task():
    teacher = ScriptedGenerator(lambda c: verdict("A"))
    outcomes = distill.distill_traces(
        distilling.assign_slots(pairs(4)),
        teacher,
        TEMPLATE,
        PARAMS,
        distill.DistillSettings(second_pass=False),
    )
    assert len(teacher.calls) == 4
    assert [o.kept_pass for o in outcomes] == ["first", None, "first", None]


def test_hint_without_first_attempt_and_leaky_second_traces_are_dropped():
    def reply(conversation):
        if "better reply is known" in conversation[-1]["content"]:
            return verdict(slot_of_good(conversation), "As I was told, this one wins.")
        return verdict("B" if slot_of_good(conversation) == "A" else "A")

    teacher = ScriptedGenerator(reply)
    settings = distill.DistillSettings(show_first_attempt=False, leak_phrases=["was told"])
    outcomes = distill.distill_traces(distilling.assign_slots(pairs(2)), teacher, TEMPLATE, PARAMS, settings)
    assert [m["role"] for m in teacher.calls[2]] == ["user"]  # hint appended to the judge prompt
    assert [o.second_reason for o in outcomes] == ["leak", "leak"]
    assert not any(o.kept_pass for o in outcomes)


def test_check_solution_drops_a_right_verdict_reached_from_a_wrong_solution():
    """Pairs with an exact `answer` (synth and refine pairs have one): the solution must reach it."""
    tagged = [
        PreferencePair(p.id, p.prompt, p.chosen, p.rejected, meta={"answer": str(i + 1)})
        for i, p in enumerate(pairs(2))
    ]

    def reply(conversation):  # right verdicts; the solution is right only for p0 ("1") and on the hint pass
        good = slot_of_good(conversation)
        solution = (
            "0 + 1 = 1"
            if len(conversation) > 1 or "What is 0 + 1" in conversation[0]["content"]
            else "1 + 1 = 3"
        )
        return (
            f"<type>Reasoning</type><solution>{solution}</solution><eval>e</eval><answer>[[{good}]]</answer>"
        )

    tasks = distilling.assign_slots(tagged)
    plain = distill.distill_traces(
        tasks, ScriptedGenerator(reply), TEMPLATE, PARAMS, distill.DistillSettings()
    )
    assert [o.kept_pass for o in plain] == ["first", "first"]  # the verdict alone is right for both
    checked = distill.distill_traces(
        tasks, ScriptedGenerator(reply), TEMPLATE, PARAMS, distill.DistillSettings(check_solution=True)
    )
    assert [o.first_reason for o in checked] == [None, "wrong_solution"]
    assert checked[1].second_reason == "wrong_solution"  # the hint pass wrote "= 1", not the pair's "2"


def test_pairs_too_long_for_the_teacher_are_counted_not_generated():
    teacher = ScriptedGenerator(lambda c: verdict("A"))
    teacher.context_length = 600  # characters stand in for tokens below
    teacher.count_tokens = lambda messages: sum(len(m["content"]) for m in messages)
    long = PreferencePair("long", "What is 1 + 1? " + "x" * 600, "The answer is 2.", "The answer is 3.")
    outcomes = distill.distill_traces(
        distilling.assign_slots([pairs(1)[0], long]), teacher, TEMPLATE, SamplingParams(max_new_tokens=8),
        distill.DistillSettings(),
    )  # fmt: skip
    assert [o.first_reason for o in outcomes] == [None, "too_long"] and len(teacher.calls) == 1
    assert distilling.pass_metrics(outcomes, True)["first_pass"]["reasons"] == {"too_long": 1}


def test_hint_file_must_name_the_label(tmp_path):
    (tmp_path / "hint.txt").write_text("Try harder.")
    with pytest.raises(Exception, match=r"must contain \{label\}"):
        distill._read_hint(str(tmp_path / "hint.txt"))


@pytest.fixture()
def scripted_backend(monkeypatch):
    """Every generator the stage builds is one scripted teacher: wrong first, right with the hint."""
    teacher = ScriptedGenerator(
        lambda c: verdict(slot_of_good(c)) if len(c) > 1 else verdict("B" if slot_of_good(c) == "A" else "A"),
        identity="scripted-teacher",
    )
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: teacher)
    return teacher


def test_stage_writes_sft_ready_traces_without_the_hint_and_resumes(in_tmp_cwd, scripted_backend):
    data.write_jsonl("pairs.jsonl", [p.to_row() for p in pairs(6)])
    recipe = load_recipe(
        None,
        DistillRecipe,
        ["pairs_file=pairs.jsonl", "template=compact", "output_dir=out", "teacher.name_or_path=t"],
    )
    out = distill.run(recipe)
    rows = data.load_trace_sources(out / "traces.jsonl")
    assert len(rows) == 6 and {r["pass"] for r in rows} == {"second"}
    assert sorted(r["label"] for r in rows) == ["A"] * 3 + ["B"] * 3
    sft_rows = load_sft_rows(str(out / "traces.jsonl"), "compact", None)  # what `rmr1 sft` trains on
    for row, sft_row in zip(rows, sft_rows, strict=True):
        assert sft_row["prompt"] == TEMPLATE.render(row["prompt"], row["answer_a"], row["answer_b"])
        assert "better reply is known" not in json.dumps(sft_row)
        assert sft_row["completion"][0]["content"] == row["trace"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["first_pass"]["rate"] == 0.0 and metrics["second_pass"]["rate"] == 1.0
    assert metrics["generated"] == 12 and metrics["cached"] == 0

    calls = len(scripted_backend.calls)
    distill.run(recipe)  # rerun: everything comes from the cache
    assert len(scripted_backend.calls) == calls
    assert json.loads((out / "metrics.json").read_text())["cached"] == 12


def test_balance_labels_drops_the_surplus_of_the_commoner_label(in_tmp_cwd, monkeypatch):
    def reply(conversation):  # always A at first; with the hint, right except on p5
        if len(conversation) == 1:
            return verdict("A")
        return (
            "no verdict"
            if "What is 5 + 1?" in conversation[0]["content"]
            else verdict(slot_of_good(conversation))
        )

    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: ScriptedGenerator(reply))
    data.write_jsonl("pairs.jsonl", [p.to_row() for p in pairs(6)])
    overrides = ["pairs_file=pairs.jsonl", "template=compact", "output_dir=out", "teacher.name_or_path=t"]
    out = distill.run(load_recipe(None, DistillRecipe, [*overrides, "balance_labels=true"]))
    rows = data.load_trace_sources(out / "traces.jsonl")
    assert [r["id"] for r in rows] == ["p0-A", "p1-B", "p2-A", "p3-B"]  # p4-A is the surplus A
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["labels"], metrics["dropped_to_balance_labels"], metrics["written"]) == (
        {"A": 3, "B": 2},
        1,
        4,
    )


def test_synthetic_gold_teacher_writes_checked_traces_for_synth_prompts(in_tmp_cwd):
    """No model: the arithmetic domain's gold traces pass every check; a non-synthetic pair is dropped."""
    rows = [
        {"id": "p", "prompt": "What is 6 * 7?", "chosen": "We get 6 * 7 = 42. The answer is 42.",
         "rejected": "We get 6 * 7 = 43. The answer is 43.", "answer": "42", "ab_slot": "B"},
        {"id": "chat", "prompt": "Say hi.", "chosen": "Hi!", "rejected": "No."},
    ]  # fmt: skip
    data.write_jsonl("pairs.jsonl", rows)
    overrides = ["pairs_file=pairs.jsonl", "template=compact", "output_dir=out", "teacher_source=synthetic"]
    out = distill.run(load_recipe(None, DistillRecipe, [*overrides, "check_solution=true"]))
    kept = data.load_trace_sources(out / "traces.jsonl")
    assert [(r["id"], r["label"], r["pass"]) for r in kept] == [("p-B", "B", "first")]
    assert "<solution> We get 6 * 7 = 42. The answer is 42.</solution>" in kept[0]["trace"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["teacher"] == "synthetic-gold-traces" and metrics["dropped"] == 1
    # the trace style of synth (column solutions, the space after </solution>) in the same folder: the
    # cached traces of the other style are not reused
    styled = [*overrides, "check_solution=true", "column_solution=true", "space_after_solution=true"]
    out = distill.run(load_recipe(None, DistillRecipe, styled))
    [row] = data.load_trace_sources(out / "traces.jsonl")
    assert (
        "<solution> We get 6 * 7 = 42. The answer is 42.</solution> <eval>" in row["trace"]
    )  # no columns for *
    rows[0] |= {"prompt": "What is 17 + 25?", "chosen": "We get 17 + 25 = 42. The answer is 42.",
                "rejected": "We get 17 + 25 = 32. The answer is 32."}  # fmt: skip
    data.write_jsonl("pairs.jsonl", rows)
    out = distill.run(load_recipe(None, DistillRecipe, styled))
    [row] = data.load_trace_sources(out / "traces.jsonl")
    assert (
        "<solution> 17 + 25: ones 7 + 5 = 12, write 2 carry 1; tens 1 + 2 + 1 = 4; so 17 + 25 = 42.</solution> <eval>"
        in row["trace"]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["teacher"] == "synthetic-gold-traces+column_solution+space_after_solution"


@pytest.mark.slow
def test_distill_end_to_end_with_the_tiny_model(in_tmp_cwd, tiny_model_dir):
    """A random-weight teacher rarely emits a verdict; the stage must still finish, count and resume."""
    data.write_jsonl("pairs.jsonl", [p.to_row() for p in pairs(4)])
    overrides = [
        "pairs_file=pairs.jsonl",
        "template=compact",
        "output_dir=out",
        f"teacher.name_or_path={tiny_model_dir}",
        "generation.max_new_tokens=24",
    ]
    out = distill.run(load_recipe(None, DistillRecipe, overrides))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tasks"] == 4 and metrics["kept"] + metrics["dropped"] == 4
    assert metrics["second_pass"]["tried"] == 4 - metrics["first_pass"]["kept"]
    assert metrics["generated"] == 4 + metrics["second_pass"]["tried"]
    again = json.loads(
        (distill.run(load_recipe(None, DistillRecipe, overrides)) / "metrics.json").read_text()
    )
    assert again["generated"] == 0 and again["cached"] == metrics["generated"]


def test_generation_cache_survives_a_torn_last_line_and_counts_samples_apart(tmp_path):
    from rmr1_cli.generation.cache import CachedGenerator

    counter = iter(range(100))
    inner = ScriptedGenerator(lambda c: f"out {next(counter)}")
    cache = CachedGenerator(inner, tmp_path / "gen.jsonl")
    ask = [[{"role": "user", "content": "q"}]]
    first = [g.text for g in cache.generate(ask * 2, PARAMS)]  # the same prompt twice: two samples
    assert first == ["out 0", "out 1"]
    with open(tmp_path / "gen.jsonl", "a") as handle:
        handle.write('{"key": "torn')  # a run killed mid-write
    again = CachedGenerator(inner, tmp_path / "gen.jsonl")
    assert [g.text for g in again.generate(ask * 3, PARAMS)] == ["out 0", "out 1", "out 2"]
    assert (again.hits, again.misses) == (2, 1)
    assert len(CachedGenerator(inner, tmp_path / "gen.jsonl").records) == 3  # the torn line was cut
