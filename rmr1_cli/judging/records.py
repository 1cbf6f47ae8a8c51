"""What the judge engine produces: one record per judge output, one result per pair, run statistics,
and the summary of a list of pair results that every stage reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Literal

Order = Literal["AB", "BA"]  # "AB": chosen shown as Chatbot A; "BA": chosen shown as Chatbot B


@dataclass(frozen=True)
class JudgeCall:
    """One prompt to the judge."""

    key: str
    pair_id: str
    order: Order
    sample: int
    messages: list[dict] | None  # None: the pair was skipped as too long
    truncated: bool = False
    prompt_tokens: int | None = None


@dataclass
class JudgmentRecord:
    """One judge output, parsed and mapped back to chosen/rejected (a line of judgments.jsonl)."""

    key: str
    pair_id: str
    order: Order
    sample: int
    verdict: str | None  # "A" / "B" as the judge wrote it
    picked: str | None  # "chosen" / "rejected" after undoing the A/B order
    valid: bool
    reason: str | None  # parser reason code for an invalid output, or "generation_error"
    task_type: str | None
    num_tokens: int
    finish_reason: str
    truncated: bool
    text: str
    attempt: int = 0  # 0 for the first ask; n for the n-th retry of an invalid judgment
    prompt_tokens: int | None = None
    error: str | None = None  # why the backend refused the request (finish_reason "error")


@dataclass
class PairResult:
    """The aggregated judgment of one pair."""

    pair_id: str
    subset: str | None
    p_chosen: float | None  # order-balanced share of valid judgments preferring the chosen answer
    outcome: Literal["chosen", "rejected", "tie", "invalid", "skipped"]
    score: float  # majority: 1 chosen wins, 0.5 tie, 0 otherwise; mean: p_chosen (0 when invalid/skipped)
    consistent: bool | None  # both orders' majority picks agree (None with one order or an all-invalid order)
    n_valid: int
    n_judgments: int
    task_type: str | None
    tokens: int
    judgments: list[JudgmentRecord] = field(default_factory=list, repr=False)
    truncated: bool = False  # the answers were cut to fit the context

    def to_row(self) -> dict:
        row = asdict(self)
        row["judgments"] = [j["key"] for j in row["judgments"]]
        return row


@dataclass
class JudgeStats:
    """Running totals over every ``judge`` call of one engine (GRPO calls it once per step).

    ``judgments`` counts judgment slots of the pairs judged (pairs x orders x samples), each either
    ``generated`` in the call or served from the ``cached`` work of an earlier call or run; ``retried``
    counts extra generations for invalid outputs; ``tokens`` are generated tokens (retries included).
    """

    pairs: int = 0
    judgments: int = 0
    generated: int = 0
    cached: int = 0
    retried: int = 0
    valid: int = 0
    errors: int = 0
    cut_off: int = 0  # judgments stopped by max_new_tokens (finish_reason "length"), cached ones included
    skipped_too_long: int = 0
    truncated: int = 0
    length_unchecked: int = 0  # pairs whose length the backend could not measure (HTTP backend)
    tokens: int = 0
    seconds: float = 0.0
    verdict_a: int = 0
    consistent: int = 0
    checked: int = 0  # pairs with a consistency flag (both orders had a valid judgment)
    solutions: int = 0  # questions the judge answered on its own first (judge.solve_first)
    invalid_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["valid_rate"] = self.valid / self.judgments if self.judgments else None
        d["p_verdict_a"] = self.verdict_a / self.valid if self.valid else None
        d["consistency"] = self.consistent / self.checked if self.checked else None
        d["tokens_per_s"] = self.tokens / self.seconds if self.seconds else None
        d["pairs_per_s"] = self.pairs / self.seconds if self.seconds else None
        return d


def summarize_pairs(results: Iterable[PairResult]) -> dict:
    """Accuracy (mean score of the judged pairs), valid-verdict rate, swap consistency, outcome counts
    and ``cut_off``: judgments stopped by ``max_new_tokens``, kept apart so a budget too small for a
    thinking judge is not mistaken for a judge that cannot write a verdict.

    Skipped pairs count in ``pairs`` and ``outcomes`` only.
    """
    summary = PairSummary()
    for result in results:
        summary.add(result)
    return summary.as_dict()


@dataclass
class PairSummary:
    """The sums behind ``summarize_pairs``, added one result at a time: a stream of any length is
    summarised in constant memory, and the summaries of shards add up to the summary of the whole.

    The score is summed exactly (a Fraction of the float scores), so the accuracy does not depend on
    the order the results were added in: shards merged give the very float one process gives.

    >>> a, b = PairSummary(), PairSummary(scored=2, score=Fraction(3, 2), outcomes={"chosen": 1, "tie": 1})
    >>> a.merge(b).merge(b).as_dict()["accuracy"], a.outcomes
    (0.75, {'chosen': 2, 'tie': 2})
    """

    pairs: int = 0
    scored: int = 0  # pairs not skipped as too long
    score: Fraction = Fraction(0)
    valid: int = 0
    judgments: int = 0
    checked: int = 0  # pairs with a consistency flag
    consistent: int = 0
    cut_off: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, r: PairResult) -> None:
        self.pairs += 1
        self.outcomes[r.outcome] = self.outcomes.get(r.outcome, 0) + 1
        if r.outcome == "skipped":
            return
        self.scored += 1
        self.score += Fraction(r.score)
        self.valid += r.n_valid
        self.judgments += r.n_judgments
        if r.consistent is not None:
            self.checked += 1
            self.consistent += bool(r.consistent)
        self.cut_off += sum(j.finish_reason == "length" for j in r.judgments)

    def merge(self, other: PairSummary) -> PairSummary:
        """Add another shard's sums to these; returns self."""
        for name in ("pairs", "scored", "score", "valid", "judgments", "checked", "consistent", "cut_off"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for outcome, n in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n
        return self

    def to_json(self) -> dict:
        """The sums as JSON (the score as an exact "numerator/denominator")."""
        return asdict(self) | {"score": str(self.score)}

    @classmethod
    def from_json(cls, row: dict) -> PairSummary:
        return cls(**(row | {"score": Fraction(row["score"])}))

    def as_dict(self) -> dict:
        return {
            "pairs": self.pairs,
            "accuracy": float(self.score / self.scored) if self.scored else None,
            "valid_rate": self.valid / self.judgments if self.judgments else None,
            "consistency": self.consistent / self.checked if self.checked else None,
            "cut_off": self.cut_off,
            "outcomes": self.outcomes,
        }
