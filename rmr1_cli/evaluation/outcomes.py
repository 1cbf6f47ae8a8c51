"""How one comparison's verdicts become its pick and score, by the benchmark's rule (pure, no torch).

- Scalar RMs: the chosen answer wins only with a strictly higher score; equal scores are a ``tie`` pick
  that scores 0, as every official scalar scorer has it (``chosen > rejected``).
- Generative judges, ``pair_rule: benchmark``: the engine's verdict over both orders; chosen 1,
  rejected 0, a tie (the orders disagree, or the judge says tie) ``rule.generative_tie`` and no valid
  verdict ``rule.generative_invalid`` (each rule's docstring says where its values come from).
- Generative judges, ``pair_rule: both_orders_must_agree``: each order votes +1 (picks the chosen
  answer), -1 (picks the rejected one) or 0 (no valid verdict, or a per-order tie); the comparison is
  right only when the votes sum above 0, so orders that disagree count wrong and an always-A judge
  scores 0.
- A comparison skipped as too long for the judge has no pick and is left out of the scores
  (``scoring.unit_tables`` drops its unit and ``metrics`` counts it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rmr1_cli.evaluation.rule import BenchmarkRule


def scalar_outcome(chosen: float, rejected: float) -> tuple[str, float]:
    """(pick, score) of a scalar comparison: strict, a tie scores 0.

    >>> scalar_outcome(1.0, 0.5), scalar_outcome(0.2, 0.2), scalar_outcome(0.1, 0.2)
    (('chosen', 1.0), ('tie', 0.0), ('rejected', 0.0))
    """
    if chosen > rejected:
        return "chosen", 1.0
    return ("tie" if chosen == rejected else "rejected"), 0.0


def generative_score(pick: str | None, rule: BenchmarkRule) -> float:
    """A generative verdict's score under the benchmark's own rule.

    >>> from rmr1_cli.evaluation.rules import get_rule
    >>> [generative_score(p, get_rule("rewardbench")) for p in ("chosen", "rejected", "tie", None)]
    [1.0, 0.0, 0.5, 0.5]
    >>> [generative_score(p, get_rule("rm-bench")) for p in ("tie", None)]
    [0.5, 0.0]
    """
    if pick == "chosen":
        return 1.0
    if pick == "rejected":
        return 0.0
    return rule.generative_tie if pick == "tie" else rule.generative_invalid


def order_votes(judgments: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each order's vote: +1 when its valid judgments mostly pick the chosen answer, -1 when mostly the
    rejected one, 0 for a per-order tie or no valid judgment."""
    picks: dict[str, list[bool]] = {}
    for j in judgments:
        picks.setdefault(j["order"], [])
        if j.get("valid"):
            picks[j["order"]].append(j.get("picked") == "chosen")
    votes = {}
    for order, chosen in picks.items():
        share = sum(chosen) / len(chosen) if chosen else 0.5
        votes[order] = 1 if share > 0.5 else -1 if share < 0.5 else 0
    return votes


def must_agree(judgments: Iterable[Mapping[str, Any]]) -> tuple[str | None, float]:
    """(pick, score) under both_orders_must_agree: right only when the orders' votes sum above 0.

    >>> j = lambda order, picked: {"order": order, "valid": picked is not None, "picked": picked}
    >>> must_agree([j("AB", "chosen"), j("BA", "chosen")]), must_agree([j("AB", "chosen"), j("BA", "rejected")])
    (('chosen', 1.0), ('tie', 0.0))
    >>> must_agree([j("AB", "chosen"), j("BA", None)]), must_agree([j("AB", None), j("BA", None)])
    (('chosen', 1.0), (None, 0.0))
    """
    judgments = list(judgments)
    total = sum(order_votes(judgments).values())
    if total > 0:
        return "chosen", 1.0
    if total < 0:
        return "rejected", 0.0
    return ("tie" if any(j.get("valid") for j in judgments) else None), 0.0


def judged(
    judgments: Iterable[Mapping[str, Any]], rule: BenchmarkRule, pair_rule: str = "benchmark"
) -> tuple[str | None, float]:
    """(pick, score) of a comparison from its judgments alone (the baselines' judges use this).

    Under the benchmark's rule the pick is the sign of the orders' summed votes (a tie when they cancel,
    None without any valid judgment), which is the engine's majority verdict for one judgment per order.
    """
    judgments = list(judgments)
    if pair_rule == "both_orders_must_agree":
        return must_agree(judgments)
    if not any(j.get("valid") for j in judgments):
        return None, generative_score(None, rule)
    total = sum(order_votes(judgments).values())
    pick = "chosen" if total > 0 else "rejected" if total < 0 else "tie"
    return pick, generative_score(pick, rule)
