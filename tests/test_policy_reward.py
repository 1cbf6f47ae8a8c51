"""Policy rewards from a pairwise judge: each adapter's rewards on scripted judge outputs, computed by hand.

The judge is a scripted ``Generator`` that reads the two replies out of the rendered prompt and answers
from a fixed ranking, so every verdict (and every swap inconsistency) is known in advance. It runs
through the real judge engine (both orders, k votes, cache), so the tests cover the whole path from
rollouts to one scalar each.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec, RewardSpec
from rmr1_cli.data import PromptRecord
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.evaluation.policy import compare_policies, write_outputs
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import JudgeTemplate
from rmr1_cli.rewards.adapters import Knockout, bradley_terry
from rmr1_cli.rewards.policy import JudgeReward, build_policy_rewards, check_reward_spec
from rmr1_cli.rewards.verifiable import verifiable_reward

TEMPLATE = JudgeTemplate(
    "test", "", "Q: {conversation}\n<A>{answer_a}</A>\n<B>{answer_b}</B>", "cor", "-", "t1"
)
SLOTS = re.compile(r"<A>(.*)</A>\n<B>(.*)</B>", re.DOTALL)


class ScriptedJudge(Generator):
    """Prefers the reply ranked higher in ``rank``.

    ``biased`` pairs always get "A" (a position bias: the verdict flips with the swap); ``invalid``
    answers make the judge write no verdict; ``votes[(a, b)]`` scripts the verdicts, in call order, for
    reply a shown as A and b as B (k samples).
    """

    identity = "scripted-judge"

    def __init__(self, rank, *, biased=(), invalid=(), votes=None):
        self.rank = rank
        self.biased = {frozenset(p) for p in biased}
        self.invalid = set(invalid)
        self.votes = {k: list(v) for k, v in (votes or {}).items()}
        self.prompts_seen = 0

    def generate(self, conversations, params: SamplingParams):
        out = []
        for messages in conversations:
            a, b = SLOTS.search(messages[-1]["content"]).groups()
            self.prompts_seen += 1
            if a in self.invalid or b in self.invalid:
                text = "<eval>cannot decide</eval>"
            else:
                if (a, b) in self.votes:
                    verdict = self.votes[(a, b)].pop(0)
                elif frozenset((a, b)) in self.biased:
                    verdict = "A"
                else:
                    verdict = "A" if self.rank[a] > self.rank[b] else "B"
                text = f"<type>Chat</type><eval>A vs B</eval><answer>[[{verdict}]]</answer>"
            out.append(Generation(text=text, num_tokens=len(text.split()), finish_reason="stop"))
        return out


def make_engine(generator, tmp_path, samples=1, name="judgments.jsonl"):
    sampled = GenerationSpec(temperature=0.7) if samples > 1 else GenerationSpec()
    spec = JudgeSpec(template="test", both_orders=True, samples=samples, generation=sampled)
    cache = JudgmentCache(tmp_path / name)
    return JudgeEngine(generator, TEMPLATE, spec, SamplingParams(max_new_tokens=32), cache=cache)


class CountingEngine:
    """Wraps an engine to count ``judge`` calls (one per generation batch, one per knockout round)."""

    def __init__(self, engine):
        self.engine = engine
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def judge(self, pairs, **kwargs):
        self.calls += 1
        return self.engine.judge(pairs, **kwargs)


class Logged(dict):
    def __call__(self, name, value):
        self[name] = value


def call(reward, prompts, completions, **columns):
    logged = Logged()
    msgs = [[{"role": "user", "content": p}] for p in prompts]
    comps = [[{"role": "assistant", "content": c}] for c in completions]
    ids = [[0] * len(c.split()) for c in completions]
    rewards = reward(prompts=msgs, completions=comps, completion_ids=ids, log_metric=logged, **columns)
    return rewards, logged


# -- vs_reference ---------------------------------------------------------------------------------


def test_vs_reference_wins_losses_and_a_swap_inconsistent_tie(tmp_path):
    judge = ScriptedJudge({"good": 3, "ref": 2, "bad": 1, "biased": 0}, biased=[("biased", "ref")])
    engine = CountingEngine(make_engine(judge, tmp_path))
    reward = JudgeReward(engine, adapter="vs_reference", samples_path=tmp_path / "samples.jsonl")
    rollouts = ["good", "bad", "biased", "good", "ref"]
    rewards, logged = call(reward, ["q"] * 5, rollouts, reference=["ref"] * 5)
    # good beats ref in both orders; bad loses in both; biased wins as A and loses as B -> tie;
    # the duplicate "good" is judged once; a rollout identical to the reference ties unjudged.
    assert rewards == [1.0, 0.0, 0.5, 1.0, 0.5]
    assert engine.calls == 1
    assert judge.prompts_seen == 3 * 2
    assert logged["judge/swap_flip_rate"] == pytest.approx(1 / 3)
    assert logged["judge/invalid_rate"] == 0.0
    assert logged["judge/tie_rate"] == pytest.approx(1 / 4)  # of the 4 judged matches (not the identical one)
    assert logged["judge/comparisons"] == 5


def test_vs_reference_k_votes_give_a_win_probability(tmp_path):
    # k = 3 per order. "x" as A: A, A, B -> x wins 2 of 3. "x" as B: B, B, B -> x wins 3 of 3.
    votes = {("x", "ref"): ["A", "A", "B"], ("ref", "x"): ["B", "B", "B"]}
    # "y" as A: A, B, B -> y loses the AB majority; as B: B, B, B -> y wins: the swap flips -> tie.
    votes |= {("y", "ref"): ["A", "B", "B"], ("ref", "y"): ["B", "B", "B"]}
    judge = ScriptedJudge({}, votes=votes)
    reward = JudgeReward(make_engine(judge, tmp_path, samples=3), adapter="vs_reference")
    rewards, _ = call(reward, ["q", "q"], ["x", "y"], reference=["ref", "ref"])
    assert rewards == [pytest.approx(5 / 6), 0.5]


def test_invalid_verdicts_tie_and_are_counted(tmp_path):
    judge = ScriptedJudge({"good": 2, "ref": 1, "junk": 0}, invalid=["junk"])
    reward = JudgeReward(make_engine(judge, tmp_path), adapter="vs_reference")
    rewards, logged = call(reward, ["q", "q"], ["good", "junk"], reference=["ref", "ref"])
    assert rewards == [1.0, 0.5]
    assert logged["judge/invalid_rate"] == 0.5  # 2 of 4 judgments have no verdict
    assert (
        "judge/swap_flip_rate" in logged and logged["judge/swap_flip_rate"] == 0.0
    )  # only "good" is checkable


def test_repeated_comparisons_come_from_the_cache(tmp_path):
    judge = ScriptedJudge({"good": 2, "ref": 1})
    reward = JudgeReward(make_engine(judge, tmp_path), adapter="vs_reference")
    first, _ = call(reward, ["q"], ["good"], reference=["ref"])
    seen = judge.prompts_seen
    again, logged = call(reward, ["q"], ["good"], reference=["ref"])
    assert first == again == [1.0]
    assert judge.prompts_seen == seen
    assert logged["judge/cache_hit_rate"] == 1.0
    # a fresh engine over the same cache file (a resumed run) judges nothing either
    fresh = ScriptedJudge({"good": 2, "ref": 1})
    resumed, _ = call(
        JudgeReward(make_engine(fresh, tmp_path), adapter="vs_reference"), ["q"], ["good"], reference=["ref"]
    )
    assert resumed == [1.0] and fresh.prompts_seen == 0


# -- round robin ----------------------------------------------------------------------------------

RANK = {"a": 4, "b": 3, "c": 2, "d": 1}


def test_round_robin_win_rate_by_hand(tmp_path):
    # a > b > c > d, but the judge flips on (b, c): that match is a tie.
    judge = ScriptedJudge(RANK, biased=[("b", "c")])
    engine = CountingEngine(make_engine(judge, tmp_path))
    reward = JudgeReward(engine, adapter="round_robin")
    # two groups (two prompts) of four rollouts each, judged in one engine call
    rewards, logged = call(reward, ["p"] * 4 + ["q"] * 4, ["a", "b", "c", "d", "d", "c", "b", "a"])
    # a: 3 wins -> 1; b: beats d, ties c, loses a -> 1.5 / 3; c: the same; d: 0
    assert rewards == [1.0, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 1.0]
    assert engine.calls == 1
    assert logged["judge/comparisons"] == 12  # 6 per group
    assert judge.prompts_seen == 12 * 2


def test_round_robin_bradley_terry_by_hand(tmp_path):
    judge = ScriptedJudge(RANK, biased=[("b", "c")])
    reward = JudgeReward(
        make_engine(judge, tmp_path), adapter="round_robin", round_robin_score="bradley_terry"
    )
    rewards, _ = call(reward, ["p"] * 4, ["a", "b", "c", "d"])
    # By symmetry b = c = 0 and a = -d = t. Each pair holds 1 game + 1 virtual tie, so a has 3 x 1.5 = 4.5
    # wins out of 6 games: 2 sigma(t) + 2 sigma(t) + 2 sigma(2t) = 4.5. Solve for t by bisection.
    sigma = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 4 * sigma(mid) + 2 * sigma(2 * mid) < 4.5 else (lo, mid)
    assert rewards == pytest.approx([lo, 0.0, 0.0, -lo], abs=1e-6)


def test_bradley_terry_matches_its_fixed_point():
    # 0 beats 1 and 2, 1 beats 2 (all decisive), prior 1: strengths satisfy the ML score equations
    theta = bradley_terry(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): 1.0})
    sigma = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert 2 * sigma(theta[0] - theta[1]) + 2 * sigma(theta[0] - theta[2]) == pytest.approx(3.0)
    assert theta[1] == pytest.approx(0.0, abs=1e-9) and theta[0] == pytest.approx(-theta[2])


# -- knockout ---------------------------------------------------------------------------------------


def test_knockout_bracket_by_hand():
    k = Knockout(4, order=[2, 0, 3, 1])
    assert k.matches() == [(2, 0), (3, 1)]
    k.record({(2, 0): 0.0, (3, 1): 0.5})  # 0 beats 2; 3 and 1 tie, 3 (first) advances
    assert k.matches() == [(0, 3)]
    k.record({(0, 3): 1.0})
    assert k.matches() == []
    assert k.rewards() == [1.0, 0.25, 0.0, 0.25]  # 0: 2/2; 1: 0.5/2; 2: 0/2; 3: (0.5 + 0)/2


def test_knockout_reward_rounds_batched_across_groups(tmp_path):
    judge = ScriptedJudge(RANK)
    engine = CountingEngine(make_engine(judge, tmp_path))
    reward = JudgeReward(engine, adapter="knockout", seed=3)
    rewards, logged = call(reward, ["p"] * 4 + ["q"] * 4, ["a", "b", "c", "d", "a", "b", "c", "d"])
    for group in (rewards[:4], rewards[4:]):
        assert (
            group[0] == 1.0 and group[3] == 0.0
        )  # the best rollout wins the bracket, the worst goes out first
        assert sorted(group) == [0.0, 0.0, 0.5, 1.0]  # the finalist has 1 of 2 rounds
    assert engine.calls == 2  # one per round, both groups together
    assert logged["judge/comparisons"] == 6  # n - 1 per group


def test_knockout_odd_group_gives_a_bye():
    k = Knockout(3)
    k.record({(0, 1): 0.0})  # 1 beats 0, 2 has a bye
    k.record({(1, 2): 1.0})
    assert k.rewards() == [0.0, 1.0, 0.5]


# -- diagnostics and samples ------------------------------------------------------------------------


def test_diagnostics_length_correlation_and_verifiable_agreement(tmp_path):
    # The judge prefers longer replies (a classic hack): the reward follows length exactly.
    texts = [
        "so it is 12",
        "it is 13 I think, but it might be something else entirely",
        "12",
        "long wrong answer is 99 ok",
    ]
    rank = {t: len(t) for t in texts} | {"ref": 10}
    reward = JudgeReward(
        make_engine(ScriptedJudge(rank), tmp_path), adapter="vs_reference", samples_path=tmp_path / "s.jsonl"
    )
    rewards, logged = call(
        reward, ["p", "p", "q", "q"], texts, reference=["ref"] * 4, answer=["12", "12", "12", "12"]
    )
    assert rewards == [1.0, 1.0, 0.0, 1.0]
    assert logged["hacking/reward_length_corr"] > 0.5
    # group p: correct "so it is 12" (1.0) vs wrong (1.0) -> tie, 0.5; group q: correct "12" (0) < wrong (1) -> 0
    assert logged["hacking/verifiable_agreement"] == 0.25
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert {"step", "completion", "reward", "comparisons"} <= set(rows[0])
    verdicts = rows[0]["comparisons"][0]["judgments"]
    assert {v["shown_as"] for v in verdicts} == {"A", "B"} and all(v["valid"] for v in verdicts)
    assert reward.history[0]["hacking/verifiable_agreement"] == 0.25


def test_sampled_verdicts_are_told_from_the_rollouts_side(tmp_path):
    reward = JudgeReward(
        make_engine(ScriptedJudge({"zzz": 2, "aaa": 1}), tmp_path), samples_path=tmp_path / "s.jsonl"
    )
    call(reward, ["q"], ["zzz"], reference=["aaa"])  # sorted storage puts "aaa" in the chosen slot
    (row,) = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    (comparison,) = row["comparisons"]
    assert comparison["score"] == 1.0
    assert all(v["winner"] == "this" for v in comparison["judgments"])
    assert sorted((v["shown_as"], v["verdict"]) for v in comparison["judgments"]) == [("A", "A"), ("B", "B")]


# -- configuration ------------------------------------------------------------------------------------


def test_reward_spec_checks():
    with pytest.raises(ConfigError, match="both_orders"):
        check_reward_spec(
            RewardSpec(judge=JudgeSpec(model=ModelSpec("m"), both_orders=False)),
            has_answers=False,
        )
    with pytest.raises(ConfigError, match="every weight is 0"):
        check_reward_spec(RewardSpec(judge_weight=0.0), has_answers=True)
    with pytest.raises(DataError, match="answer"):
        check_reward_spec(RewardSpec(judge_weight=0.0, verifiable_weight=1.0), has_answers=False)
    with pytest.raises(ConfigError, match="scalar_model"):
        check_reward_spec(RewardSpec(judge_weight=0.0, scalar_weight=1.0), has_answers=False)


def test_verifiable_only_rewards(tmp_path):
    rewards = build_policy_rewards(
        RewardSpec(judge_weight=0.0, verifiable_weight=1.0), out_dir=tmp_path, seed=0, has_answers=True
    )
    assert rewards.funcs == [verifiable_reward] and rewards.weights == [1.0] and rewards.engine is None


def test_vs_reference_without_reference_column_is_a_data_error(tmp_path):
    reward = JudgeReward(make_engine(ScriptedJudge({}), tmp_path))
    with pytest.raises(DataError, match="reference"):
        call(reward, ["q"], ["x"])


# -- policy evaluation --------------------------------------------------------------------------------


def test_policy_eval_win_rate_by_hand(tmp_path):
    prompts = [
        PromptRecord(f"p{i}", f"question {i}", answer=a) for i, a in enumerate(["12", "7", None, None])
    ]
    baseline = {"p0": "it is 11", "p1": "7", "p2": "same", "p3": "meh"}
    policy = {"p0": "it is 12", "p1": "8", "p2": "same", "p3": "flip"}
    rank = {"it is 12": 2, "it is 11": 1, "7": 2, "8": 1, "meh": 0, "flip": 0}
    judge = ScriptedJudge(rank, biased=[("meh", "flip")])

    def wrap(answers):
        return {
            k: {"text": v, "num_tokens": len(v.split()), "finish_reason": "stop"} for k, v in answers.items()
        }

    rows, metrics = compare_policies(
        prompts, wrap(policy), wrap(baseline), {"judge": make_engine(judge, tmp_path)}
    )
    j = metrics["judges"]["judge"]
    # p0 win, p1 loss, p2 identical (tie, unjudged), p3 swap-inconsistent (tie)
    assert (j["wins"], j["ties"], j["losses"], j["judged_pairs"]) == (1, 2, 1, 3)
    assert j["win_rate"] == 0.5 and j["swap_flip_rate"] == pytest.approx(1 / 3)
    assert metrics["verifiable"] == {"n": 2, "baseline_accuracy": 0.5, "policy_accuracy": 0.5}
    assert metrics["identical_answers"] == 1
    paths = write_outputs(tmp_path, rows, metrics, policy="trained", baseline="initial")
    report = paths["report"].read_text()
    assert "| judge" in report and "50.0%" in report
    assert paths["plot"].exists()
