"""How one pair's judgments (both A/B orders, k samples) become one verdict, and how a pair too long for
the context is cut fairly. Pure: imports neither torch nor transformers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rmr1_cli.judging.records import JudgmentRecord


@dataclass(frozen=True)
class Aggregate:
    p_chosen: float | None
    outcome: Literal["chosen", "rejected", "tie", "invalid"]
    score: float
    consistent: bool | None


def aggregate(records: Sequence[JudgmentRecord], aggregation: str = "majority", *, both_orders: bool = True):
    """Combine one pair's judgments (both orders, k samples each) into one verdict.

    - ``p_chosen``: each order's share of valid judgments that picked the chosen answer, averaged over
      the orders that have a valid judgment (both orders weigh the same, so a slot-biased judge cannot
      tilt it because one order produced more parseable outputs).
    - ``outcome``: chosen above 0.5, rejected below, tie at exactly 0.5; invalid with no valid judgment.
    - ``score``: majority -> 1 / 0.5 / 0 by outcome; mean -> ``p_chosen``; invalid scores 0.
    - ``consistent``: both orders have a valid judgment and their per-order majorities name the same
      answer (a per-order tie is inconsistent); None with one order or when an order has none valid.

    >>> def r(order, picked): return JudgmentRecord("k", "p", order, 0, None, picked, picked is not None,
    ...                                             None, None, 0, "stop", False, "")
    >>> aggregate([r("AB", "chosen"), r("BA", "chosen")])
    Aggregate(p_chosen=1.0, outcome='chosen', score=1.0, consistent=True)
    >>> aggregate([r("AB", "chosen"), r("BA", "rejected")])  # a position-biased judge: a tie
    Aggregate(p_chosen=0.5, outcome='tie', score=0.5, consistent=False)
    >>> a = aggregate([r("AB", "chosen"), r("AB", "chosen"), r("AB", "rejected"), r("BA", "chosen"),
    ...                r("BA", None), r("BA", None)], "mean")
    >>> round(a.p_chosen, 3), a.outcome, round(a.score, 3), a.consistent
    (0.833, 'chosen', 0.833, True)
    >>> aggregate([r("AB", None), r("BA", None)])
    Aggregate(p_chosen=None, outcome='invalid', score=0.0, consistent=None)
    """
    shares = {}
    for order in ("AB", "BA"):
        votes = [r.picked == "chosen" for r in records if r.order == order and r.valid]
        if votes:
            shares[order] = sum(votes) / len(votes)
    if not shares:
        return Aggregate(None, "invalid", 0.0, None)
    p_chosen = sum(shares.values()) / len(shares)
    outcome = "chosen" if p_chosen > 0.5 else "rejected" if p_chosen < 0.5 else "tie"
    if aggregation == "mean":
        score = p_chosen
    else:
        score = {"chosen": 1.0, "tie": 0.5, "rejected": 0.0}[outcome]
    consistent = None
    if both_orders and len(shares) == 2:
        picks = {o: "chosen" if s > 0.5 else "rejected" if s < 0.5 else "tie" for o, s in shares.items()}
        consistent = picks["AB"] == picks["BA"] != "tie"
    return Aggregate(p_chosen, outcome, score, consistent)


def water_level(a: int, b: int, total: int) -> int:
    """The largest cap c with min(a, c) + min(b, c) <= total: cut the longer answer first, then both.

    >>> water_level(10, 100, 50)  # the short answer stays whole, the long one keeps 40
    40
    >>> water_level(10, 100, 15)  # both cut to 7
    7
    >>> water_level(10, 20, 100)  # nothing to cut
    20
    """
    if a + b <= total:
        return max(a, b)
    short = min(a, b)
    if 2 * short >= total:
        return max(0, total // 2)
    return total - short


def task_type(records: Sequence[JudgmentRecord]) -> str | None:
    """The judge's most frequent task type (first seen wins a tie, so runs agree)."""
    counts = Counter(r.task_type for r in records if r.task_type)
    return counts.most_common(1)[0][0] if counts else None
