"""Bad-case refinement: which answers are picked, what the teacher is asked, which pairs are written."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from scripted_generator import ScriptedGenerator, last_user

from rmr1_cli import data
from rmr1_cli.config import JudgeSpec, RefineRecipe, load_recipe
from rmr1_cli.data import PromptRecord
from rmr1_cli.errors import ConfigError
from rmr1_cli.generation import SamplingParams
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.loop import refining
from rmr1_cli.loop.refining import Case
from rmr1_cli.stages import refine

PARAMS = SamplingParams(max_new_tokens=64)
PROMPTS = [
    PromptRecord("right", "What is 2 + 2?", reference="2 + 2 = 4. The answer is 4.", answer="4"),
    PromptRecord("wrong", "What is 3 + 3?", reference="3 + 3 = 6. The answer is 6.", answer="6"),
    PromptRecord(
        "chat", "Say hello politely.", reference="Hello, nice to meet you!", meta={"subset": "chat"}
    ),
]
POLICY_SAYS = {
    "What is 2 + 2?": "2 + 2 = 4, so the answer is 4.",
    "What is 3 + 3?": "3 + 3 = 7. The answer is 7.",
    "Say hello politely.": "yo",
}


def policy_reply(conversation: list[dict]) -> str:
    text = last_user(conversation)
    if text in POLICY_SAYS:
        return POLICY_SAYS[text]
    # a rewrite request: fix the arithmetic one, echo the chat one (the critique is kept for inspection)
    return "3 + 3 = 6. The answer is 6." if "3 + 3" in text else "Hello there, it is nice to meet you."


def judge_reply(conversation: list[dict]) -> str:
    """A judge that prefers the reference on 'wrong' and 'chat', the policy on 'right', and explains."""
    text = last_user(conversation)
    a, b = text.split("\nA: ")[1].split("\nB: ")
    rank = {"2 + 2 = 4, so the answer is 4.": 2, "3 + 3 = 7. The answer is 7.": 0, "yo": 0}
    slot = "A" if rank.get(a, 1) >= rank.get(b, 1) else "B"
    return f"<type>Reasoning</type><solution>s</solution><eval>Chatbot A wrote '{a}'.</eval><answer>[[{slot}]]</answer>"


def engine(reply=judge_reply) -> JudgeEngine:
    spec = JudgeSpec(template="compact")
    return JudgeEngine(ScriptedGenerator(reply, "scripted-judge"), load_template("compact"), spec, PARAMS)


def answers():
    return refine.sample_answers(PROMPTS, ScriptedGenerator(policy_reply), PARAMS, samples=1)


def test_assess_reads_the_verifiable_check_and_the_judge():
    cases = refine.assess(answers(), engine(), "policy-id")
    by_id = {c.prompt_id: c for c in cases}
    assert (by_id["right"].correct, by_id["wrong"].correct, by_id["chat"].correct) == (True, False, None)
    assert [by_id[k].outcome for k in ("right", "wrong", "chat")] == ["chosen", "rejected", "rejected"]
    assert by_id["wrong"].consistent is True and by_id["wrong"].p_win == 0.0
    # the critique comes from a judgment the policy lost, and says which slot its answer was in
    assert by_id["wrong"].critique.startswith("(The answer above was shown to the judge as Chatbot")
    assert by_id["right"].critique is None


@pytest.mark.parametrize(
    ("rules", "combine", "picked"),
    [
        (["wrong_answer"], "any", ["wrong"]),
        (["lost"], "any", ["wrong", "chat"]),
        (["lost", "wrong_answer"], "all", ["wrong", "chat"]),  # chat has no exact answer: lost decides
        (["low_reward"], "any", ["wrong", "chat"]),
    ],
)
def test_selection_rules_on_fixed_judge_outputs(rules, combine, picked):
    cases = refine.assess(answers(), engine(), "policy-id")
    assert [c.prompt_id for c, _ in refining.select_cases(cases, rules, combine)] == picked


def test_inconsistent_judge_is_not_a_loss_but_is_a_low_reward():
    always_a = engine(lambda c: "<eval>A</eval><answer>[[A]]</answer>")  # position bias: flips with the swap
    case = next(c for c in refine.assess(answers(), always_a, "p") if c.prompt_id == "wrong")
    assert (case.outcome, case.consistent, case.p_win) == ("tie", False, 0.5)
    assert refining.select_cases([case], ["lost"]) == []
    assert refining.select_cases([case], ["low_reward"], threshold=0.6) == [(case, ["low_reward"])]


def test_policy_rewrites_with_the_critique_and_failing_fixes_are_dropped():
    cases = refine.assess(answers(), engine(), "policy-id")
    selected = refining.select_cases(cases, ["lost", "wrong_answer"])
    teacher = ScriptedGenerator(policy_reply)
    kept, drops = refine.refine_cases(
        selected, {p.id: p for p in PROMPTS}, teacher=teacher, params=PARAMS,
        rewrite=refining.DEFAULT_REWRITE, use_critique=True, attempts=1,
    )  # fmt: skip
    assert [(k.case.prompt_id, k.refined) for k in kept] == [
        ("wrong", "3 + 3 = 6. The answer is 6."),
        ("chat", "Hello there, it is nice to meet you."),
    ]
    asked = teacher.calls[0][0]["content"]
    assert "3 + 3 = 7. The answer is 7." in asked and "A judge compared this answer" in asked
    assert "Chatbot A wrote" in asked  # the judge's own eval text reaches the teacher

    stubborn = ScriptedGenerator(lambda c: "3 + 3 = 8. The answer is 8." if "3 + 3" in last_user(c) else "yo")
    kept, drops = refine.refine_cases(
        selected, {p.id: p for p in PROMPTS}, teacher=stubborn, params=PARAMS,
        rewrite=refining.DEFAULT_REWRITE, use_critique=False, attempts=2,
    )  # fmt: skip
    assert kept == [] and drops == Counter({"fails_check": 1, "unchanged": 1})
    assert len(stubborn.calls) == 4 and "A judge compared" not in stubborn.calls[0][0]["content"]


def test_reference_teacher_and_pair_rows():
    cases = [
        Case("wrong", 0, "3 + 3 = 7. The answer is 7.", correct=False),
        Case("wrong", 1, "3 + 3 = 7. The answer is 7.", correct=False),  # same bad answer again
        Case("wrong", 2, "The answer is 5.", correct=False),
        Case("right", 0, "The answer is 4.", correct=True),
    ]
    selected = refining.select_cases(cases, ["wrong_answer"])
    kept, drops = refine.refine_cases(
        selected, {p.id: p for p in PROMPTS}, teacher=None, params=PARAMS,
        rewrite=refining.DEFAULT_REWRITE, use_critique=True, attempts=1,
    )  # fmt: skip
    rows = refining.build_pairs(kept)
    assert [(r["rejected"], r["ab_slot"]) for r in rows] == [
        ("3 + 3 = 7. The answer is 7.", "A"),
        ("The answer is 5.", "B"),
    ]
    assert all(r["chosen"] == "3 + 3 = 6. The answer is 6." and r["teacher"] == "reference" for r in rows)
    assert rows[0]["selected_by"] == ["wrong_answer"] and rows[0]["prompt_id"] == "wrong"
    assert rows[0]["answer"] == "6"  # the exact answer travels with the pair (distill check_solution)
    assert len(refining.build_pairs(kept, max_pairs=1)) == 1


@pytest.fixture()
def scripted_models(monkeypatch):
    """The stage's generators by model name: 'policy' answers and rewrites, 'judge' judges."""
    built = {
        "policy": ScriptedGenerator(policy_reply, "policy"),
        "judge": ScriptedGenerator(judge_reply, "judge"),
    }
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: built[model.name_or_path])
    return built


def test_stage_writes_balanced_pairs_with_provenance_and_resumes(in_tmp_cwd, scripted_models):
    data.write_jsonl("prompts.jsonl", [p.to_row() for p in PROMPTS])
    overrides = [
        "prompts_file=prompts.jsonl", "output_dir=out", "model.name_or_path=policy", "judge.model.name_or_path=judge",
        "judge.template=compact", "samples_per_prompt=2",
    ]  # fmt: skip
    out = refine.run(load_recipe(None, RefineRecipe, overrides))
    pairs = data.load_pairs(out / "pairs.jsonl")
    assert [(p.meta["prompt_id"], p.chosen) for p in pairs] == [
        ("wrong", "3 + 3 = 6. The answer is 6."),
        ("chat", "Hello there, it is nice to meet you."),
    ]  # two greedy samples gave the same bad answer: one pair each
    assert [p.meta["ab_slot"] for p in pairs] == ["A", "B"]
    assert pairs[0].meta["selected_by"] == ["lost", "wrong_answer"] and pairs[1].subset == "chat"
    assert pairs[0].meta["teacher"] == "policy" and pairs[0].meta["judge_outcome"] == "rejected"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verifiable_accuracy"] == 0.5 and metrics["selected"] == 4 and metrics["pairs"] == 2
    assert len(data.read_rows(out / "cases.jsonl").__next__()[1]) > 0

    calls = {name: len(g.calls) for name, g in scripted_models.items()}
    refine.run(load_recipe(None, RefineRecipe, overrides))  # rerun: policy and judge outputs are cached
    assert {name: len(g.calls) for name, g in scripted_models.items()} == calls


def test_judge_rules_need_a_judge(in_tmp_cwd):
    with pytest.raises(ConfigError, match="set judge.model.name_or_path"):
        refine.run(load_recipe(None, RefineRecipe, ["model.name_or_path=policy", "select=lost"]))


@pytest.mark.slow
def test_refine_end_to_end_with_the_tiny_model(in_tmp_cwd, tiny_model_dir):
    """Random-weight policy and judge on synthetic prompts: wrong answers become pairs with the reference."""
    from rmr1_cli.loop import synthetic

    rows = synthetic.generate(
        seed=0, ops=["add"], max_operand=9, max_factor=2, train_prompts=6, test_prompts=0,
        errors=["off_by_one"], pairs_per_prompt=1, length_bias=0.5, test_length_bias=0.5,
    )["prompts_train"]  # fmt: skip
    data.write_jsonl("prompts.jsonl", rows)
    overrides = [
        "prompts_file=prompts.jsonl", "output_dir=out", f"model.name_or_path={tiny_model_dir}",
        "generation.max_new_tokens=12", f"judge.model.name_or_path={tiny_model_dir}",
        "judge.generation.max_new_tokens=16", "judge.template=compact", "teacher.source=reference",
    ]  # fmt: skip
    out = refine.run(load_recipe(None, RefineRecipe, overrides))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["answers"] == 6 and metrics["verifiable_checked"] == 6
    pairs = data.load_pairs(out / "pairs.jsonl")
    assert len(pairs) == metrics["pairs"] >= 1  # a random policy is wrong on these
    assert all(
        p.chosen == next(r["reference"] for r in rows if r["id"] == p.meta["prompt_id"]) for p in pairs
    )
    again = json.loads((refine.run(load_recipe(None, RefineRecipe, overrides)) / "metrics.json").read_text())
    assert again["policy_generations"]["generated"] == 0 and again["engine"]["generated"] == 0
