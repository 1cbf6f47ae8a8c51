"""Policy rewards from a pairwise judge: swap-safe scores and the adapters that turn a group's
comparisons into one scalar per rollout (round-robin win rate, Bradley-Terry strength, knockout).

Pure: imports neither torch nor transformers. ``rewards.policy`` feeds them the judge engine's results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# --------------------------------------------------------------------------------------------------
# Policy rewards from a pairwise judge (docs/policy.md): one scalar per rollout from A/B comparisons.
# A comparison's *score* is the first answer's share of the win: 1.0 win, 0.0 loss, 0.5 tie. Scores of
# a group live in a mapping ``(i, j) -> score of rollout i against rollout j``; the reverse is implied.

TIE = 0.5
Outcomes = dict[tuple[int, int], float]


def swap_safe_score(p_first: float | None, consistent: bool | None) -> float:
    """The first answer's score from one comparison judged in both A/B orders.

    ``p_first`` is the share of valid judgments (both orders, k votes each) that preferred the first
    answer; ``consistent`` says whether the two orders' majority picks agree. A win counts only when it
    survives the swap: a consistent comparison scores ``p_first`` (1.0 or 0.0 with one vote per order),
    anything else (the orders disagree, an order without a valid verdict, nothing valid) is a tie.

    >>> swap_safe_score(1.0, True), swap_safe_score(0.0, True), swap_safe_score(5 / 6, True)
    (1.0, 0.0, 0.8333333333333334)
    >>> swap_safe_score(0.5, False), swap_safe_score(1.0, None), swap_safe_score(None, None)
    (0.5, 0.5, 0.5)
    """
    if consistent is True and p_first is not None:
        return p_first
    return TIE


def contiguous_groups(keys: Sequence[Any]) -> list[list[int]]:
    """Indices of runs of equal keys: trl lays out a prompt's rollouts next to each other.

    >>> contiguous_groups(["p", "p", "q", "q", "q", "p"])
    [[0, 1], [2, 3, 4], [5]]
    """
    groups: list[list[int]] = []
    for index, key in enumerate(keys):
        if groups and keys[groups[-1][0]] == key:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def round_robin_pairs(n: int) -> list[tuple[int, int]]:
    """Every unordered pair of a group of ``n`` rollouts, once each: n(n-1)/2 comparisons.

    >>> round_robin_pairs(3)
    [(0, 1), (0, 2), (1, 2)]
    """
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def pair_score(outcomes: Outcomes, i: int, j: int) -> float:
    """Rollout i's score against rollout j, read from either direction of the mapping.

    >>> pair_score({(0, 1): 0.75}, 1, 0)
    0.25
    """
    if (i, j) in outcomes:
        return outcomes[(i, j)]
    return 1.0 - outcomes[(j, i)]


def round_robin_win_rate(n: int, outcomes: Outcomes) -> list[float]:
    """Each rollout's mean score against all other rollouts of its group (a tie counts half a win).

    Relative by construction: a group's rewards average 0.5 whatever the policy does.

    >>> round_robin_win_rate(3, {(0, 1): 1.0, (0, 2): 1.0, (1, 2): 0.5})
    [1.0, 0.25, 0.25]
    >>> round_robin_win_rate(1, {})
    [0.5]
    """
    if n < 2:
        return [TIE] * n
    return [sum(pair_score(outcomes, i, j) for j in range(n) if j != i) / (n - 1) for i in range(n)]


def bradley_terry(
    n: int, outcomes: Outcomes, *, prior: float = 1.0, iterations: int = 500, tol: float = 1e-10
) -> list[float]:
    """Bradley-Terry log-strengths of a group (mean 0), fitted by minorize-maximize (Hunter, 2004).

    A comparison with score s counts as s wins and 1 - s losses. ``prior`` adds that many virtual ties
    to every pair, so a rollout that wins every game still gets a finite strength. Unlike the win rate,
    the strengths use every comparison's margin and cope with pairs that were never compared.

    Two rollouts, one win: with the prior the winner has 1.5 of 2 games, so P(win) = 3/4 and the gap in
    log-strength is ln 3:

    >>> [round(x, 4) for x in bradley_terry(2, {(0, 1): 1.0})]
    [0.5493, -0.5493]
    >>> bradley_terry(3, {(0, 1): 0.5, (0, 2): 0.5, (1, 2): 0.5})
    [0.0, 0.0, 0.0]
    """
    if n < 2:
        return [0.0] * n
    games = [[0.0] * n for _ in range(n)]  # games[i][j]: comparisons between i and j (plus the prior)
    wins = [0.0] * n
    for i in range(n):
        for j in range(i + 1, n):
            real = 1.0 if ((i, j) in outcomes or (j, i) in outcomes) else 0.0
            score = pair_score(outcomes, i, j) if real else TIE
            games[i][j] = games[j][i] = real + prior
            wins[i] += real * score + prior / 2
            wins[j] += real * (1 - score) + prior / 2
    strength = [1.0] * n
    for _ in range(iterations):
        new = []
        for i in range(n):
            denom = sum(games[i][j] / (strength[i] + strength[j]) for j in range(n) if j != i and games[i][j])
            new.append(wins[i] / denom if denom else strength[i])
        mean_log = sum(math.log(s) for s in new) / n
        new = [s / math.exp(mean_log) for s in new]
        done = max(abs(a - b) for a, b in zip(new, strength, strict=True)) < tol
        strength = new
        if done:
            break
    logs = [math.log(s) for s in strength]
    centre = sum(logs) / n
    return [round(x - centre, 9) + 0.0 for x in logs]


class Knockout:
    """A single-elimination bracket over a group of ``n`` rollouts: n - 1 comparisons in ceil(log2 n) rounds.

    ``order`` is the bracket (the stage shuffles it with the seed). Each round pairs the entrants still
    in, in bracket order; an odd one out gets a bye. A match gives its rollouts their scores s and 1 - s
    and the higher advances; a tie advances the first of the two (the shuffled bracket makes that
    nobody's systematic advantage). Reward = (match scores + byes) / rounds, so the champion of a
    decisive bracket gets 1.0 and a first-round loser 0.0. Rounds are sequential: the stage judges one
    round of every group of a step in one batch.

    >>> k = Knockout(4)
    >>> k.matches()
    [(0, 1), (2, 3)]
    >>> k.record({(0, 1): 1.0, (2, 3): 0.0})
    >>> k.matches()
    [(0, 3)]
    >>> k.record({(0, 3): 0.5})
    >>> k.matches(), k.rewards()
    ([], [0.75, 0.0, 0.0, 0.75])
    """

    def __init__(self, n: int, order: Sequence[int] | None = None):
        self.n = n
        self.alive = list(order) if order is not None else list(range(n))
        if sorted(self.alive) != list(range(n)):
            raise ValueError(f"order must be a permutation of range({n}), got {self.alive}")
        self.rounds = math.ceil(math.log2(n)) if n > 1 else 0
        self.credit = [0.0] * n

    def matches(self) -> list[tuple[int, int]]:
        """The comparisons of the current round (empty once a champion is left)."""
        if len(self.alive) < 2:
            return []
        return [(self.alive[k], self.alive[k + 1]) for k in range(0, len(self.alive) - 1, 2)]

    def record(self, outcomes: Outcomes) -> None:
        """Close the current round with its match scores (``(i, j) -> score of i``)."""
        advancing = []
        for i, j in self.matches():
            score = pair_score(outcomes, i, j)
            self.credit[i] += score
            self.credit[j] += 1.0 - score
            advancing.append(j if score < TIE else i)
        if len(self.alive) % 2:
            bye = self.alive[-1]
            self.credit[bye] += 1.0
            advancing.append(bye)
        self.alive = advancing

    def rewards(self) -> list[float]:
        if self.rounds == 0:
            return [TIE] * self.n
        return [c / self.rounds for c in self.credit]
