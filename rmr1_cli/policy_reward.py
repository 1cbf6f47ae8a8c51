"""A pairwise judge as a GRPO reward: one scalar per rollout from A/B comparisons (DESIGN.md §5).

``JudgeReward`` is a trl reward function (called once per generation batch with ``prompts``,
``completions`` and every dataset column). It judges all comparisons of the batch in one call to the
judge engine, so batching and the judgment cache work across the whole GRPO step.
"""

from __future__ import annotations

from typing import Any

from rmr1_cli.data import PreferencePair, stable_id
from rmr1_cli.judging import JudgeEngine, PairResult
from rmr1_cli.rewards import completion_text


def swap_safe_win(result: PairResult) -> float:
    """1.0 for a win that survives the A/B swap, 0.0 for a loss that does, 0.5 for anything else.

    An inconsistent, tied or unparseable comparison says nothing about the rollout, so it scores as a tie.
    """
    if result.outcome == "chosen" and result.consistent is not False:
        return 1.0
    if result.outcome == "rejected" and result.consistent is not False:
        return 0.0
    return 0.5


class JudgeReward:
    """Reward = the rollout's swap-safe win against the row's ``reference`` answer."""

    __name__ = "judge_reward"

    def __init__(self, engine: JudgeEngine):
        self.engine = engine

    def __call__(self, prompts: list, completions: list, reference: list[str], **kwargs: Any) -> list[float]:
        pairs = []
        for prompt, completion, ref in zip(prompts, completions, reference, strict=True):
            answer = completion_text(completion)
            pairs.append(
                PreferencePair(id=stable_id(prompt, answer, ref), prompt=prompt, chosen=answer, rejected=ref)
            )
        unique = list({p.id: p for p in pairs}.values())
        results = {r.pair_id: r for r in self.engine.judge(unique, description="judging rollouts")}
        scores = [swap_safe_win(results[p.id]) for p in pairs]
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            valid = [r for r in results.values() if r.n_judgments]
            log_metric(
                "judge/invalid_rate",
                1 - sum(r.n_valid for r in valid) / max(1, sum(r.n_judgments for r in valid)),
            )
            checked = [r for r in results.values() if r.consistent is not None]
            if checked:
                log_metric("judge/swap_flip_rate", sum(not r.consistent for r in checked) / len(checked))
        return scores
