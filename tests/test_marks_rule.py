"""``verdict_rule: marks``: the verdict a synthetic-domain trace's own marks give, not its final letter.

A small judge can solve, quote and mark both answers right and still write the wrong [[A]]/[[B]] at the
end (docs/results.md, experiment-smol). The rule reads the one answer marked "matches"; these tests hold
it against the gold traces that teach those marks (``loop/arithmetic.gold_trace``), through the judge
engine (eval, cached rescoring), the policy reward (a tie when both answers match) and the RLVR reward.
"""

from __future__ import annotations

import re

import pytest
from conftest import replies
from scripted_generator import ScriptedGenerator

from rmr1_cli.config import GenerationSpec, GRPORecipe, JudgeSpec, TrainRMRecipe, load_recipe
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import SamplingParams
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.judging.verdicts import judge_verdict, marks_verdict
from rmr1_cli.loop import synthetic
from rmr1_cli.loop.arithmetic import final_value, parse_problem
from rmr1_cli.rewards.recorded import RecordedVerdictReward
from rmr1_cli.rewards.reference import score_against_references


def test_every_gold_trace_marks_its_label():
    """The rule and the trace writer agree on every gold trace, in both orders, spaced or not."""
    for space in (False, True):
        files = synthetic.generate(
            seed=3, ops=["add", "sub", "mul"], max_operand=30, max_factor=9, train_prompts=60,
            test_prompts=10, errors=["off_by_one", "wrong_operator", "wrong_carry", "copy_error"],
            pairs_per_prompt=1, length_bias=0.9, test_length_bias=0.0, traces_both_orders=True,
            space_after_solution=space,
        )  # fmt: skip
        traces = files["traces_train"]
        assert len(traces) == 120 and {t["label"] for t in traces} == {"A", "B"}
        for row in traces:
            assert judge_verdict(row["trace"], rule="marks").verdict == row["label"], row["id"]
            assert judge_verdict(row["trace"]).verdict == row["label"]  # the gold letter follows its marks


def marking_judge(final_letter: str):
    """Solves the question right, marks each answer against it, then always writes ``final_letter``:
    every step right but the last, the failure seen on SmolLM2."""

    def reply(conversation):
        problem = parse_problem(re.search(r"What is [^?]*\?", conversation[-1]["content"]).group(0))
        steps = []
        for slot, answer in zip("AB", replies(conversation), strict=True):
            mark = "matches" if final_value(answer) == str(problem.value) else "differs"
            steps.append(
                f"{slot}: <quote_{slot}> {answer}</quote_{slot}> gives {final_value(answer)}: {mark}."
            )
        return f"<solution> {problem.value}</solution><eval>{' '.join(steps)}</eval><answer>[[{final_letter}]]</answer>"

    return reply


def engine(generator, cache=None, rule="rmr1") -> JudgeEngine:
    spec = JudgeSpec(generation=GenerationSpec(max_new_tokens=64), both_orders=True, verdict_rule=rule)
    return JudgeEngine(generator, load_template("cor"), spec, SamplingParams(max_new_tokens=64), cache=cache)


PAIRS = [
    PreferencePair(
        "p1", "What is 12 + 7?", "12 + 7 = 19. The answer is 19.", "12 + 7 = 18. The answer is 18."
    ),
    PreferencePair("p2", "What is 30 - 4?", "The answer is 26.", "30 - 4 = 34. The answer is 34."),
]


def test_marks_rule_scores_the_marks_and_rescores_cached_judgments(tmp_path):
    cache_path = tmp_path / "judgments.jsonl"
    by_letter = engine(ScriptedGenerator(marking_judge("B")), JudgmentCache(cache_path)).judge(PAIRS)
    # the final letter is always B: each pair is right in one order only, a swap-inconsistent tie
    assert [(r.outcome, r.consistent) for r in by_letter] == [("tie", False), ("tie", False)]
    generator = ScriptedGenerator(marking_judge("B"))
    rescored = engine(generator, JudgmentCache(cache_path), rule="marks")
    by_marks = rescored.judge(PAIRS)
    assert [(r.outcome, r.score, r.consistent) for r in by_marks] == [("chosen", 1.0, True)] * 2
    assert generator.calls == [] and (rescored.stats.cached, rescored.stats.generated) == (4, 0)


def test_marks_rule_reward_ties_two_right_answers_and_zeroes_a_wrong_one():
    """As the GRPO reward (vs the reference, both orders): a right rollout worded differently from the
    reference is marked "matches" twice, a tie (0.5); a wrong one loses in both orders (0.0)."""
    judge = engine(ScriptedGenerator(marking_judge("A")), rule="marks")
    question = [{"role": "user", "content": "What is 12 + 7?"}]
    scores = score_against_references(
        judge, [question, question], ["The answer is 19.", "12 + 7 = 20. The answer is 20."],
        ["12 + 7 = 19. The answer is 19."] * 2,
    )  # fmt: skip
    assert [s.score for s in scores] == [0.5, 0.0]
    assert scores[0].invalid_rate == 1.0 and not scores[1].flipped  # marks_tie counts as no verdict


def test_rlvr_reward_with_the_marks_rule(tmp_path):
    """train-rm's reward: with the marks rule a rollout that marks B right is credited on label B even
    though it writes [[A]], and penalised on label A."""
    text = (
        "<eval>A: <quote_A> 12 + 7 = 18</quote_A> gives 18: differs. "
        "B: <quote_B> 12 + 7 = 19</quote_B> gives 19: matches.</eval><answer>[[A]]</answer>"
    )
    assert marks_verdict(judge_verdict(text).evaluation) == ("B", None)
    by_letter = RecordedVerdictReward(tmp_path / "r1.jsonl")([text, text], ["B", "A"])
    by_marks = RecordedVerdictReward(tmp_path / "r2.jsonl", rule="marks")([text, text], ["B", "A"])
    assert (by_letter, by_marks) == ([-1.0, 1.0], [1.0, -1.0])


def test_marks_rule_is_a_setting_of_every_judge_and_of_train_rm():
    assert load_recipe(None, TrainRMRecipe, ["verdict_rule=marks"]).verdict_rule == "marks"
    grpo = load_recipe(
        None, GRPORecipe, ["reward.judge.verdict_rule=marks", "reward.judge.model.name_or_path=x"]
    )
    assert grpo.reward.judge.verdict_rule == "marks"
    with pytest.raises(Exception, match="verdict_rule"):
        load_recipe(None, TrainRMRecipe, ["verdict_rule=letters"])
