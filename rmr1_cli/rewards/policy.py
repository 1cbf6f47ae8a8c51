"""Policy rewards for GRPO: a pairwise judge turned into one scalar per rollout, a scalar RM, and a
verifiable answer check, combined with the recipe's weights (docs/policy.md describes the recipe keys).

Each reward is a trl reward function, called once per generation batch with ``prompts``,
``completions``, ``completion_ids`` and every dataset column. ``JudgeReward`` gathers all comparisons
the batch needs and judges them in one call to the judge engine (one per round for ``knockout``), so
batching, deduplication and the judgment cache work across the whole GRPO step. Adapters:

- ``vs_reference``: each rollout against the row's ``reference`` (a column, or the frozen baseline
  policy's greedy answer); reward = its swap-safe win probability, in [0, 1], comparable across steps.
- ``round_robin``: every pair inside a prompt's group; reward = win rate, or Bradley-Terry strength.
- ``knockout``: a single-elimination bracket inside the group, n - 1 comparisons.

A win counts only when it survives the A/B swap (``adapters.swap_safe_score``); ``judge.samples`` gives
k votes per order. Group-relative adapters average 0.5 (or 0) per group by construction, so their mean
reward cannot show progress: watch the verifiable reward or run a policy evaluation instead.

Every call logs reward-hacking diagnostics (``reward_diagnostics``) through trl's ``log_metric`` and
appends a few sampled rollouts with the judge's verdicts to ``samples.jsonl``.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmr1_cli.config import RewardSpec
from rmr1_cli.data import Conversation, PreferencePair, append_jsonl, stable_id
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.records import PairResult
from rmr1_cli.rewards.adapters import (
    TIE,
    Knockout,
    bradley_terry,
    contiguous_groups,
    round_robin_pairs,
    round_robin_win_rate,
    swap_safe_score,
)
from rmr1_cli.rewards.diagnostics import pearson, rate, verifiable_agreement
from rmr1_cli.rewards.verdict import completion_text
from rmr1_cli.rewards.verifiable import is_correct, verifiable_reward

log = logging.getLogger(__name__)

ADAPTERS = ("vs_reference", "round_robin", "knockout")
SAMPLE_TEXT_LIMIT = 2000  # characters of a judge output kept in samples.jsonl


@dataclass
class Match:
    """One comparison a reward needs: rollout ``row`` against ``opponent`` (a rollout, or None: the reference)."""

    row: int
    opponent: int | None
    prompt: Conversation
    first: str
    second: str
    score: float = TIE  # the first answer's swap-safe score
    result: PairResult | None = None
    first_is_chosen: bool = True  # the pair is stored in a canonical order; the first may be "rejected"


@dataclass
class StepJudging:
    """What one reward call sent to the engine (several engine calls for knockout)."""

    matches: list[Match] = field(default_factory=list)
    results: dict[str, PairResult] = field(default_factory=dict)


class JudgeReward:
    """The generative judge's reward, with one of the adapters above; see the module docstring."""

    __name__ = "judge_reward"

    def __init__(
        self,
        engine: JudgeEngine,
        *,
        adapter: str = "vs_reference",
        round_robin_score: str = "win_rate",
        seed: int = 0,
        samples_per_step: int = 2,
        samples_path: str | Path | None = None,
        track_answers: bool = True,
    ):
        if adapter not in ADAPTERS:
            raise ConfigError(f"reward.adapter: {adapter!r} is not one of {', '.join(ADAPTERS)}")
        self.engine = engine
        self.adapter = adapter
        self.round_robin_score = round_robin_score
        self.seed = seed
        self.samples_per_step = samples_per_step
        self.samples_path = Path(samples_path) if samples_path else None
        self.track_answers = track_answers  # log the verifiable accuracy, without it entering the reward
        self.history: list[dict[str, Any]] = []  # one row of diagnostics per call

    def __call__(
        self,
        prompts: list,
        completions: list,
        completion_ids: list | None = None,
        reference: list | None = None,
        answer: list | None = None,
        trainer_state: Any = None,
        log_metric: Any = None,
        **kwargs: Any,
    ) -> list[float]:
        texts = [completion_text(c) for c in completions]
        step = trainer_state.global_step if trainer_state is not None else len(self.history)
        groups = contiguous_groups([json.dumps(p, sort_keys=True, ensure_ascii=False) for p in prompts])
        stats_before = (self.engine.stats.judgments, self.engine.stats.cached)
        judging = StepJudging()
        if self.adapter == "vs_reference":
            rewards = self._vs_reference(prompts, texts, reference, judging)
        elif self.adapter == "round_robin":
            rewards = self._round_robin(prompts, texts, groups, judging)
        else:
            rewards = self._knockout(prompts, texts, groups, judging, step)

        lengths = [len(ids) for ids in completion_ids] if completion_ids else [len(t) for t in texts]
        correct = (
            [None if a is None else is_correct(t, a) for t, a in zip(texts, answer, strict=True)]
            if answer
            else None
        )
        diagnostics = self._diagnostics(judging, rewards, lengths, correct, groups, stats_before)
        self.history.append({"step": step, **diagnostics})
        if log_metric is not None:
            for name, value in diagnostics.items():
                if value is not None:
                    log_metric(name, value)
            if self.track_answers:
                log_accuracy(correct, log_metric)
        log.info("step %d judge diagnostics: %s", step, _fmt(diagnostics | {"reward": _mean(rewards)}))
        if self.samples_path is not None and self.samples_per_step > 0:
            append_jsonl(
                self.samples_path, self._samples(step, prompts, texts, rewards, lengths, correct, judging)
            )
        return rewards

    # -- adapters ---------------------------------------------------------------------------------

    def _vs_reference(self, prompts, texts, reference, judging: StepJudging) -> list[float]:
        if reference is None:
            raise DataError(
                "reward.adapter=vs_reference needs a 'reference' for every prompt "
                "(a 'reference' column, or reward.reference=baseline)"
            )
        matches = [Match(i, None, prompts[i], texts[i], str(reference[i])) for i in range(len(texts))]
        self._judge(matches, judging, "judging rollouts vs reference")
        return [m.score for m in matches]

    def _round_robin(self, prompts, texts, groups, judging: StepJudging) -> list[float]:
        per_group = []
        for group in groups:
            matches = [
                Match(group[a], group[b], prompts[group[a]], texts[group[a]], texts[group[b]])
                for a, b in round_robin_pairs(len(group))
            ]
            per_group.append(matches)
        self._judge([m for ms in per_group for m in ms], judging, "judging rollouts round-robin")
        rewards = [TIE] * len(texts)
        for group, matches in zip(groups, per_group, strict=True):
            local = {index: position for position, index in enumerate(group)}
            outcomes = {(local[m.row], local[m.opponent]): m.score for m in matches}
            if self.round_robin_score == "bradley_terry":
                scores = bradley_terry(len(group), outcomes)
            else:
                scores = round_robin_win_rate(len(group), outcomes)
            for index, score in zip(group, scores, strict=True):
                rewards[index] = score
        return rewards

    def _knockout(self, prompts, texts, groups, judging: StepJudging, step: int) -> list[float]:
        brackets = []
        for number, group in enumerate(groups):
            order = list(range(len(group)))
            random.Random(f"{self.seed}:{step}:{number}").shuffle(order)
            brackets.append(Knockout(len(group), order))
        round_number = 0
        while any(b.matches() for b in brackets):
            round_number += 1
            per_group = [
                [Match(g[i], g[j], prompts[g[i]], texts[g[i]], texts[g[j]]) for i, j in b.matches()]
                for g, b in zip(groups, brackets, strict=True)
            ]
            self._judge(
                [m for ms in per_group for m in ms], judging, f"judging knockout round {round_number}"
            )
            for group, bracket, matches in zip(groups, brackets, per_group, strict=True):
                local = {index: position for position, index in enumerate(group)}
                bracket.record({(local[m.row], local[m.opponent]): m.score for m in matches})
        rewards = [TIE] * len(texts)
        for group, bracket in zip(groups, brackets, strict=True):
            for index, score in zip(group, bracket.rewards(), strict=True):
                rewards[index] = score
        return rewards

    # -- judging ----------------------------------------------------------------------------------

    def _judge(self, matches: list[Match], judging: StepJudging, description: str) -> None:
        """Judge all matches in one engine call; identical answers tie without a judgment.

        Pairs are stored with the two answers in sorted order, so the comparison of x with y and of y
        with x (in any step) is one cache entry, and duplicates inside the batch are judged once.
        """
        pairs: dict[str, PreferencePair] = {}
        keyed: list[tuple[Match, str]] = []
        for m in matches:
            judging.matches.append(m)
            if m.first == m.second:
                continue
            chosen, rejected = sorted((m.first, m.second))
            m.first_is_chosen = m.first == chosen
            pair_id = stable_id(m.prompt, chosen, rejected)
            pairs.setdefault(
                pair_id, PreferencePair(id=pair_id, prompt=m.prompt, chosen=chosen, rejected=rejected)
            )
            keyed.append((m, pair_id))
        if not pairs:
            return
        results = {r.pair_id: r for r in self.engine.judge(list(pairs.values()), description=description)}
        judging.results.update(results)
        for m, pair_id in keyed:
            m.result = results[pair_id]
            score = swap_safe_score(m.result.p_chosen, m.result.consistent)
            m.score = score if m.first_is_chosen else 1.0 - score

    # -- diagnostics ------------------------------------------------------------------------------

    def _diagnostics(
        self, judging, rewards, lengths, correct, groups, stats_before
    ) -> dict[str, float | None]:
        results = list(judging.results.values())
        judgments = sum(r.n_judgments for r in results)
        valid = sum(r.n_valid for r in results)
        checked = [r for r in results if r.consistent is not None]
        judged = [m for m in judging.matches if m.result is not None]
        new_judgments = self.engine.stats.judgments - stats_before[0]
        return {
            "judge/comparisons": float(len(judging.matches)),
            "judge/invalid_rate": rate(judgments - valid, judgments),
            "judge/swap_flip_rate": rate(sum(r.consistent is False for r in checked), len(checked)),
            "judge/tie_rate": rate(sum(m.result.consistent is not True for m in judged), len(judged)),
            "judge/cache_hit_rate": rate(self.engine.stats.cached - stats_before[1], new_judgments),
            "hacking/reward_length_corr": pearson(rewards, lengths),
            "hacking/verifiable_agreement": (
                verifiable_agreement(rewards, correct, groups) if correct is not None else None
            ),
        }

    def _samples(self, step, prompts, texts, rewards, lengths, correct, judging: StepJudging) -> list[dict]:
        rng = random.Random(f"{self.seed}:samples:{step}")
        rows = sorted(rng.sample(range(len(texts)), min(self.samples_per_step, len(texts))))
        out = []
        for i in rows:
            comparisons = []
            for m in judging.matches:
                if i not in (m.row, m.opponent):
                    continue
                is_first = m.row == i
                other = m.opponent if is_first else m.row
                comparisons.append(
                    {
                        "opponent": "reference" if other is None else f"rollout {other}",
                        "opponent_text": m.second if is_first else m.first,
                        "score": m.score if is_first else 1.0 - m.score,
                        "consistent": None if m.result is None else m.result.consistent,
                        "judgments": _verdicts(m, this_is_chosen=(m.first_is_chosen == is_first)),
                    }
                )
            out.append(
                {
                    "step": step,
                    "rollout": i,
                    "prompt": prompts[i],
                    "completion": texts[i],
                    "length": lengths[i],
                    "reward": rewards[i],
                    "correct": None if correct is None else correct[i],
                    "comparisons": comparisons,
                }
            )
        return out


def log_accuracy(correct: list[bool | None] | None, log_metric: Any) -> None:
    """Log the share of verifiably correct rollouts under trl's name for a reward function's mean,
    ``rewards/verifiable_reward/mean``, without making it a reward that a weight must switch off."""
    known = [c for c in correct or [] if c is not None]
    if known and log_metric is not None:
        log_metric("rewards/verifiable_reward/mean", sum(known) / len(known))


def swap_safe_win(result: PairResult) -> float:
    """The ``chosen`` answer's swap-safe score from one engine result (see ``adapters.swap_safe_score``)."""
    return swap_safe_score(result.p_chosen, result.consistent)


def _verdicts(m: Match, *, this_is_chosen: bool) -> list[dict]:
    """The judge's outputs for one match, told from the sampled rollout's side."""
    if m.result is None:
        return []
    rows = []
    for j in m.result.judgments:
        shown_as = "A" if (j.order == "AB") == this_is_chosen else "B"
        winner = None if j.picked is None else "this" if (j.picked == "chosen") == this_is_chosen else "other"
        rows.append(
            {
                "shown_as": shown_as,
                "verdict": j.verdict,
                "winner": winner,
                "valid": j.valid,
                "output": j.text[:SAMPLE_TEXT_LIMIT],
            }
        )
    return rows


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(values: dict[str, float | None]) -> str:
    return ", ".join(f"{k.split('/')[-1]}={'n/a' if v is None else f'{v:.3g}'}" for k, v in values.items())


class ScalarReward:
    """A sequence-classifier RM's score of each (prompt, completion), as a trl reward function."""

    __name__ = "scalar_reward"

    def __init__(self, scorer, track_answers: bool = False):
        self.scorer = scorer
        self.track_answers = track_answers

    def __call__(
        self, prompts: list, completions: list, completion_ids: list | None = None, **kwargs
    ) -> list[float]:
        texts = [completion_text(c) for c in completions]
        answer = kwargs.get("answer")
        if self.track_answers and answer:
            correct = [None if a is None else is_correct(t, a) for t, a in zip(texts, answer, strict=True)]
            log_accuracy(correct, kwargs.get("log_metric"))
        scores = self.scorer.score(list(zip(prompts, texts, strict=True)))
        log_metric = kwargs.get("log_metric")
        lengths = [len(ids) for ids in completion_ids] if completion_ids else [len(t) for t in texts]
        corr = pearson(scores, lengths)
        if log_metric is not None and corr is not None:
            log_metric("hacking/scalar_length_corr", corr)
        return scores


# --------------------------------------------------------------------------------------------------
# Building the reward functions a recipe asks for


@dataclass
class PolicyRewards:
    """trl's ``reward_funcs`` and ``reward_weights``, and the judge parts the stage reports on."""

    funcs: list = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    judge: JudgeReward | None = None
    engine: JudgeEngine | None = None


def check_reward_spec(spec: RewardSpec, *, has_answers: bool) -> None:
    """Reject a reward that cannot work, before any weights are loaded (its ranges and weights were
    checked as the recipe loaded: ``config/specs.py``)."""
    if spec.judge_weight and not spec.judge.given:
        raise ConfigError("reward.judge.model.name_or_path is empty (or set reward.judge_weight=0)")
    if spec.scalar_weight and not spec.scalar_model.name_or_path:
        raise ConfigError("reward.scalar_weight is set but reward.scalar_model.name_or_path is empty")
    if spec.verifiable_weight and not has_answers:
        raise DataError("reward.verifiable_weight is set but no prompt has an 'answer'")


def build_policy_rewards(spec: RewardSpec, *, out_dir: Path, seed: int, has_answers: bool) -> PolicyRewards:
    """The weighted reward functions of a recipe, each with a nonzero weight, so trl's default weights
    (all 1.0) can never train on a reward the recipe switched off. When prompts have answers and the
    verifiable reward is off, the first reward logs the accuracy as ``rewards/verifiable_reward/mean``."""
    from rmr1_cli.judging.engine import build_engine

    check_reward_spec(spec, has_answers=has_answers)
    rewards = PolicyRewards()
    if spec.judge_weight:
        rewards.engine = build_engine(spec.judge, seed=seed, cache_path=out_dir / "judgments.jsonl")
        rewards.judge = JudgeReward(
            rewards.engine,
            adapter=spec.adapter,
            round_robin_score=spec.round_robin_score,
            seed=seed,
            samples_per_step=spec.samples_per_step,
            samples_path=out_dir / "samples.jsonl",
            track_answers=has_answers and not spec.verifiable_weight,
        )
        rewards.funcs.append(rewards.judge)
        rewards.weights.append(spec.judge_weight)
    if spec.scalar_weight:
        from rmr1_cli.evaluation.scalar import ScalarScorer

        tracked = has_answers and not spec.verifiable_weight and rewards.judge is None
        rewards.funcs.append(ScalarReward(ScalarScorer(spec.scalar_model), track_answers=tracked))
        rewards.weights.append(spec.scalar_weight)
    if spec.verifiable_weight:
        rewards.funcs.append(verifiable_reward)
        rewards.weights.append(spec.verifiable_weight)
    return rewards
