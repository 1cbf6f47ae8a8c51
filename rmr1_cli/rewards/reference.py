"""One scalar per response: the judge's swap-safe win probability against a reference answer.

What ``/get_reward`` (OpenRLHF) and the verl reward module compute, in one place so both give the same
number for the same (question, response, reference). ``JudgeReward``'s vs-reference adapter
(``rewards/policy.py``) keeps its own per-step bookkeeping but scores the same way: pairs stored with the
two answers in sorted order (one cache entry whichever side the response is on) and
``adapters.swap_safe_score``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmr1_cli.data import Conversation, PreferencePair, stable_id
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.records import PairResult
from rmr1_cli.rewards.adapters import TIE, swap_safe_score


@dataclass(frozen=True)
class ReferenceScore:
    """A response's reward and what the judge did to get it."""

    score: float  # swap-safe win probability of the response over the reference, in [0, 1]
    flipped: bool  # the two A/B orders picked different winners (scored as a tie)
    invalid_rate: float  # share of this comparison's judgments without a verdict
    result: PairResult | None = None  # None: identical answers, a tie without a judgment


def score_against_references(
    engine: JudgeEngine,
    questions: list[Conversation],
    responses: list[str],
    references: list[str],
    *,
    description: str = "judging responses vs references",
) -> list[ReferenceScore]:
    """Judge every response against its reference in both orders, in one engine call."""
    if not engine.spec.both_orders:
        raise ValueError("a swap-safe reward needs judge.both_orders=true")
    pairs: dict[str, PreferencePair] = {}
    keyed: list[tuple[str, bool] | None] = []
    for question, response, reference in zip(questions, responses, references, strict=True):
        if response == reference:
            keyed.append(None)
            continue
        chosen, rejected = sorted((response, reference))
        pair_id = stable_id(question, chosen, rejected)
        pairs.setdefault(
            pair_id, PreferencePair(id=pair_id, prompt=question, chosen=chosen, rejected=rejected)
        )
        keyed.append((pair_id, response == chosen))
    results = {}
    if pairs:
        results = {r.pair_id: r for r in engine.judge(list(pairs.values()), description=description)}
    out = []
    for key in keyed:
        if key is None:
            out.append(ReferenceScore(TIE, False, 0.0))
            continue
        result = results[key[0]]
        win = swap_safe_score(result.p_chosen, result.consistent)
        judgments = result.n_judgments
        out.append(
            ReferenceScore(
                score=win if key[1] else 1.0 - win,
                flipped=result.consistent is False,
                invalid_rate=(judgments - result.n_valid) / judgments if judgments else 0.0,
                result=result,
            )
        )
    return out
