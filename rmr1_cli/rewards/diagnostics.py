"""Reward-hacking diagnostics for policy GRPO: numbers that move when the policy games its judge.

A policy that learns to please a judge rather than the user usually shows it before the judge's own
reward does: rewards start to follow completion length, the judge's verdicts flip when the A/B order
is swapped, verdicts stop parsing, and the judge's preferences drift away from a verifiable check
where the task has one. ``rewards.policy.JudgeReward`` logs these every step; the functions here are the
arithmetic (pure: no torch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation, or None when it is undefined (fewer than 2 points, a constant series).

    >>> pearson([1, 2, 3], [2, 4, 6]), pearson([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    >>> pearson([1, 2, 3], [5, 5, 5]) is None
    True
    """
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def verifiable_agreement(
    rewards: Sequence[float], correct: Sequence[bool | None], groups: Sequence[Sequence[int]]
) -> float | None:
    """How often the reward ranks a correct rollout above an incorrect one of the same prompt.

    Over every pair of rollouts of one group where exactly one is verifiably correct: the share where
    the correct one got the higher reward (equal rewards count half). 1.0 = the judge agrees with the
    checker, 0.5 = no better than chance, None when no group has both a correct and a wrong rollout.
    Works for absolute (vs-reference) and group-relative rewards alike.

    >>> verifiable_agreement([1.0, 0.0, 0.5, 0.5], [True, False, True, False], [[0, 1], [2, 3]])
    0.75
    >>> verifiable_agreement([1.0, 0.0], [None, False], [[0, 1]]) is None
    True
    """
    agree = total = 0.0
    for group in groups:
        for a in group:
            for b in group:
                if correct[a] is True and correct[b] is False:
                    total += 1
                    agree += 1.0 if rewards[a] > rewards[b] else 0.5 if rewards[a] == rewards[b] else 0.0
    return agree / total if total else None


def rate(hits: int | float, total: int | float) -> float | None:
    """``hits / total``, or None for an empty total (so an empty batch is not logged as 0%).

    >>> rate(1, 4), rate(0, 0)
    (0.25, None)
    """
    return hits / total if total else None
