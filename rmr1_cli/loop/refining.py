"""The rules of bad-case refinement (``rmr1 refine``), apart from any model: which policy answers are
bad, what the rewrite prompt says, and how refined answers become preference pairs. Pure.

A *case* is one policy answer with what was learnt about it: the verifiable check (where the prompt
has an exact answer) and the judge's comparison with the prompt's reference answer (the policy answer
is the pair's ``chosen`` side, so the judge's ``outcome`` is ``chosen`` when the policy answer won).

Selection rules (a recipe picks any of them and combines them with ``any`` or ``all``):

- ``lost``: the judge preferred the reference, and the loss survives the A/B swap (the same rule as
  the GRPO reward's swap-safe win, ``rewards.policy.swap_safe_win``);
- ``low_reward``: the share of valid judgments that preferred the policy answer is below a threshold;
- ``wrong_answer``: the verifiable check failed.

A rule *applies* to a case only when its evidence exists (a judge verdict; an exact answer). With
``all``, every rule that applies must hold, and at least one must apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rmr1_cli.data import stable_id
from rmr1_cli.judging.verdicts import parse_judgment
from rmr1_cli.rewards.verifiable import answer_matches

RULES = ("lost", "low_reward", "wrong_answer")
JUDGE_RULES = ("lost", "low_reward")

# rmr1's own wording. {prompt}, {answer}, {critique} and {reference} are filled in; {critique} becomes
# the judge's notes with a heading, or nothing when there are none.
DEFAULT_REWRITE = """Here is a question and an answer to it that needs improving.

Question:
{prompt}

Answer to improve:
{answer}
{critique}
Write a better answer to the question. Correct every mistake, keep what was right, and when the \
question has a definite result, end with a sentence of the form "The answer is ...". Reply with the \
improved answer only."""

_PLACEHOLDERS = ("prompt", "answer", "critique", "reference")


@dataclass(frozen=True)
class Case:
    """One policy answer and what the checks said about it."""

    prompt_id: str
    sample: int
    answer: str
    correct: bool | None = None  # verifiable check; None when the prompt has no exact answer
    outcome: str | None = None  # judge vs reference: chosen (policy won) / rejected / tie / invalid / skipped
    consistent: bool | None = None  # both A/B orders agreed (None: one order, or not judged)
    p_win: float | None = None  # share of valid judgments preferring the policy answer
    critique: str | None = None  # the judge's <eval> text from a judgment the policy answer lost
    meta: dict = field(default_factory=dict)


def applies(case: Case, rule: str) -> bool:
    """Is there evidence to apply ``rule`` to ``case``?

    >>> applies(Case("p", 0, "x", correct=None), "wrong_answer"), applies(Case("p", 0, "x"), "lost")
    (False, False)
    >>> applies(Case("p", 0, "x", outcome="invalid"), "low_reward")
    False
    """
    if rule == "wrong_answer":
        return case.correct is not None
    if rule in JUDGE_RULES:
        return case.outcome not in (None, "invalid", "skipped")
    raise ValueError(f"unknown selection rule {rule!r}; choose from {', '.join(RULES)}")


def holds(case: Case, rule: str, threshold: float = 0.5) -> bool:
    """Does ``rule`` mark ``case`` as bad?

    >>> lost = Case("p", 0, "x", outcome="rejected", consistent=True, p_win=0.0)
    >>> [holds(lost, r) for r in RULES]
    [True, True, False]
    >>> flip = Case("p", 0, "x", outcome="rejected", consistent=False, p_win=0.25)
    >>> holds(flip, "lost"), holds(flip, "low_reward"), holds(flip, "low_reward", threshold=0.2)
    (False, True, False)
    >>> holds(Case("p", 0, "x", correct=False), "wrong_answer")
    True
    """
    if not applies(case, rule):
        return False
    if rule == "wrong_answer":
        return case.correct is False
    if rule == "lost":
        return case.outcome == "rejected" and case.consistent is not False
    return case.p_win is not None and case.p_win < threshold


def select_cases(
    cases: Sequence[Case], rules: Sequence[str], combine: str = "any", threshold: float = 0.5
) -> list[tuple[Case, list[str]]]:
    """The bad cases, each with the rules that marked it, in input order.

    >>> cases = [
    ...     Case("won", 0, "a", correct=True, outcome="chosen", consistent=True, p_win=1.0),
    ...     Case("lost-right", 0, "b", correct=True, outcome="rejected", consistent=True, p_win=0.0),
    ...     Case("won-wrong", 0, "c", correct=False, outcome="chosen", consistent=True, p_win=1.0),
    ...     Case("lost-wrong", 0, "d", correct=False, outcome="rejected", consistent=True, p_win=0.0),
    ...     Case("unjudged-wrong", 0, "e", correct=False),
    ... ]
    >>> [(c.prompt_id, r) for c, r in select_cases(cases, ["lost", "wrong_answer"])]
    [('lost-right', ['lost']), ('won-wrong', ['wrong_answer']), ('lost-wrong', ['lost', 'wrong_answer']), ('unjudged-wrong', ['wrong_answer'])]
    >>> [c.prompt_id for c, _ in select_cases(cases, ["lost", "wrong_answer"], combine="all")]
    ['lost-wrong', 'unjudged-wrong']
    """
    if combine not in ("any", "all"):
        raise ValueError(f"combine must be 'any' or 'all', got {combine!r}")
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"unknown selection rule {rule!r}; choose from {', '.join(RULES)}")
    selected = []
    for case in cases:
        matched = [rule for rule in rules if holds(case, rule, threshold)]
        if not matched:
            continue
        if combine == "all" and any(applies(case, rule) and rule not in matched for rule in rules):
            continue
        selected.append((case, matched))
    return selected


def rewrite_prompt(
    template: str, *, prompt: str, answer: str, critique: str | None, reference: str | None
) -> str:
    """The teacher's rewrite request (one pass of exact placeholder replacement).

    >>> print(rewrite_prompt("Q: {prompt}\\nA: {answer}\\n{critique}", prompt="2+2?", answer="5",
    ...                      critique="B is right, A is off by one.", reference=None))
    Q: 2+2?
    A: 5
    <BLANKLINE>
    A judge compared this answer with another one and wrote:
    B is right, A is off by one.
    <BLANKLINE>
    """
    block = f"\nA judge compared this answer with another one and wrote:\n{critique}\n" if critique else ""
    values = {"prompt": prompt, "answer": answer, "critique": block, "reference": reference or ""}
    out, i = [], 0
    while i < len(template):  # exact tokens only: braces in answers or other text stay as they are
        for name in _PLACEHOLDERS:
            token = "{" + name + "}"
            if template.startswith(token, i):
                out.append(values[name])
                i += len(token)
                break
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Refined:
    """A bad case with its improved answer and where that answer came from."""

    case: Case
    rules: list[str]
    prompt: object  # the conversation (string or messages)
    refined: str
    teacher: str
    subset: str | None = None
    answer: str | None = None  # the prompt's exact answer, carried into the pair (distill can check it)


def build_pairs(refined: Sequence[Refined], max_pairs: int | None = None) -> list[dict]:
    """Preference-pair rows (refined = chosen, bad = rejected), de-duplicated and A/B-balanced.

    Two cases of one prompt with the same bad answer make one pair; ``ab_slot`` (the slot the chosen
    answer takes when a stage renders the pair) alternates A, B over the output.

    >>> c = lambda s, a: Refined(Case("p1", s, a, correct=False), ["wrong_answer"], "2+2?", "4", "ref")
    >>> rows = build_pairs([c(0, "5"), c(1, "5"), c(2, "3")])
    >>> [(r["rejected"], r["ab_slot"], r["selected_by"]) for r in rows]
    [('5', 'A', ['wrong_answer']), ('3', 'B', ['wrong_answer'])]
    """
    rows, seen = [], set()
    for item in refined:
        key = (item.case.prompt_id, item.case.answer.strip())
        if key in seen or item.refined.strip() == item.case.answer.strip():
            continue
        seen.add(key)
        rows.append(
            {
                "id": stable_id(item.case.prompt_id, item.refined, item.case.answer),
                "prompt": item.prompt,
                "chosen": item.refined,
                "rejected": item.case.answer,
                "subset": item.subset or "refine",
                "ab_slot": "A" if len(rows) % 2 == 0 else "B",
                "prompt_id": item.case.prompt_id,
                "sample": item.case.sample,
                "selected_by": list(item.rules),
                "judge_outcome": item.case.outcome,
                "judge_p_policy": item.case.p_win,
                "judge_consistent": item.case.consistent,
                "rejected_correct": item.case.correct,
                "answer": item.answer,
                "teacher": item.teacher,
            }
        )
        for name, value in item.case.meta.items():
            rows[-1].setdefault(name, value)
        if max_pairs is not None and len(rows) >= max_pairs:
            break
    return rows


def critique_from(judgments: Sequence) -> str | None:
    """The judge's ``<eval>`` text from the first valid judgment the policy answer lost, naming the slot
    it was shown in (``judgments``: ``judging.records.JudgmentRecord``-like objects; the policy answer is the
    pair's chosen side, so order ``AB`` showed it as Chatbot A).

    >>> from types import SimpleNamespace as J
    >>> won = J(valid=True, picked="chosen", order="AB", text="<eval>A fine</eval><answer>[[A]]</answer>")
    >>> lost = J(valid=True, picked="rejected", order="BA", text="<eval>B is off by one</eval><answer>[[A]]</answer>")
    >>> print(critique_from([won, lost]))
    (The answer above was shown to the judge as Chatbot B.)
    B is off by one
    >>> critique_from([won]) is None
    True
    """
    for record in judgments:
        if record.valid and record.picked == "rejected":
            evaluation = parse_judgment(record.text).evaluation
            if evaluation:
                slot = "A" if record.order == "AB" else "B"
                return f"(The answer above was shown to the judge as Chatbot {slot}.)\n{evaluation}"
    return None


def drop_reason(refined: str, bad: str, exact_answer: str | None) -> str | None:
    """Why a refined answer is not kept (None: keep): ``empty``, ``unchanged`` or ``fails_check``.

    >>> drop_reason("The answer is 12.", "The answer is 13.", "12") is None
    True
    >>> drop_reason("The answer is 14.", "The answer is 13.", "12"), drop_reason("x", "x", None)
    ('fails_check', 'unchanged')
    """
    if not refined.strip():
        return "empty"
    if refined.strip() == bad.strip():
        return "unchanged"
    if exact_answer is not None and not answer_matches(refined, exact_answer):
        return "fails_check"
    return None


def refine_metrics(
    cases: Sequence[Case],
    selected: Sequence[tuple[Case, list[str]]],
    refined: Sequence[Refined],
    pairs: Sequence[dict],
    drops: Mapping[str, int],
) -> dict:
    """What the policy got right, what was selected and why, what became a pair.

    >>> cases = [Case("a", 0, "x", correct=True, outcome="chosen"), Case("b", 0, "y", correct=False, outcome="rejected")]
    >>> m = refine_metrics(cases, [(cases[1], ["wrong_answer"])], [], [], {"fails_check": 1})
    >>> m["verifiable_accuracy"], m["judge_win_rate"], m["selected_by_rule"], m["refine_dropped"]
    (0.5, 0.5, {'wrong_answer': 1}, {'fails_check': 1})
    """
    checked = [c for c in cases if c.correct is not None]
    judged = [c for c in cases if c.outcome not in (None, "invalid", "skipped")]
    return {
        "answers": len(cases),
        "verifiable_accuracy": sum(bool(c.correct) for c in checked) / len(checked) if checked else None,
        "verifiable_checked": len(checked),
        "judge_win_rate": sum(c.outcome == "chosen" for c in judged) / len(judged) if judged else None,
        "judge_outcomes": dict(Counter(c.outcome for c in cases if c.outcome is not None)),
        "selected": len(selected),
        "selected_by_rule": dict(Counter(rule for _, rules in selected for rule in rules)),
        "refined_kept": len(refined),
        "refine_dropped": dict(drops),
        "pairs": len(pairs),
        "ab_slots": {
            "A": sum(p["ab_slot"] == "A" for p in pairs),
            "B": sum(p["ab_slot"] == "B" for p in pairs),
        },
    }


def case_rows(
    cases: Sequence[Case], selected: Sequence[tuple[Case, list[str]]], refined: Sequence[Refined]
) -> list[dict]:
    """One row per policy answer for ``cases.jsonl``: its checks, the rules that selected it, its fix."""
    rules = {(c.prompt_id, c.sample): r for c, r in selected}
    fixes = {(r.case.prompt_id, r.case.sample): r.refined for r in refined}
    return [
        {
            "prompt_id": c.prompt_id,
            "sample": c.sample,
            "answer": c.answer,
            "correct": c.correct,
            "judge_outcome": c.outcome,
            "judge_p_policy": c.p_win,
            "judge_consistent": c.consistent,
            "selected_by": rules.get((c.prompt_id, c.sample), []),
            "refined": fixes.get((c.prompt_id, c.sample)),
        }
        for c in cases
    ]
