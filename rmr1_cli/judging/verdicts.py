"""Read a judge's output: model text -> ``Judgment`` (task type, rubric, solution, eval, verdict).

This one parser serves both the eval-time judge and the train-time reward (``rewards/verdict.py``), so the two
can never disagree about what counts as a verdict. It is pure (no torch, no transformers), never raises
on any string, and runs in linear time (``str.find`` plus one regex without nested quantifiers).

The verdict rule, exactly:

1. A *verdict tag* is ``<answer>[[A]]</answer>`` or ``<answer>[[B]]</answer>``; whitespace (newlines
   included) is allowed between the tags and the brackets, nothing else. Tag names and letters are
   case-sensitive: ``<Answer>`` and ``[[a]]`` are not verdicts, and a bare ``[[A]]`` is plain text.
2. The *final answer tag* is the last ``<answer>`` in the whole output and its text up to the next
   ``</answer>``. Text after it (a closing remark, an end-of-turn token) is allowed.
3. The output is valid only when the final answer tag is a verdict tag and the verdict tags of the whole
   output, ``<think>`` block included, are all of that same kind (repeating the same verdict is fine).

Invalid outputs carry a short, stable reason code, checked in this order:

- ``no_answer``: no ``<answer>`` tag at all (also the empty output).
- ``unclosed_answer``: the final ``<answer>`` is never closed (the output was truncated).
- ``both_verdicts``: verdict tags of both kinds appear, e.g. ``[[B]]`` floated in the reasoning and
  ``[[A]]`` given at the end. Matches RM-R1's reward: the other verdict must be absent.
- ``answer_not_final``: a verdict tag appears, but the final answer tag is something else.
- ``bad_answer_content``: answer tags exist but none holds a bare verdict, e.g.
  ``<answer>[[A]] because it is shorter</answer>`` or ``<answer>A</answer>``. Extra text in the tag is
  rejected rather than guessed at: the prompts ask for the bare tag, and the reward must be unambiguous.

The other fields are read leniently and never affect validity. A ``<think>`` block is the text before
the first ``</think>`` (after an opening ``<think>`` when there is one, so outputs that start inside an
implicit ``<think>`` work too). The CoR sections ``<type>``, ``<solution>``, ``<rubric>``, ``<eval>`` are
read from the text after that think block (the whole text when there is no closed think block): each is
the first opening tag to the next closing tag, stripped; an unclosed section is None. ``<justify>`` is
read inside the rubric. The task type is ``Reasoning`` or ``Chat`` in any letter case, else None.

Thinking judges (``after_think=True``, set by templates with ``thinks: true``): the rule above is applied
to the text after the first ``</think>`` only, so a judge that restates the verdict format while
thinking is scored by its final answer; with no ``</think>`` at all the reason is ``unclosed_think``.

RM-R1's own rules, for comparison and for scoring exactly as RM-R1 does (``docs/judging.md``):
``rm_r1_reward_verdict`` is its RL reward's rule (the last 80 characters hold one verdict tag and not the
other) and ``rm_r1_eval_verdict`` its evaluation's (the first of ``[[A]]``, ``[[B]]`` found anywhere).

rmr1's marks rule (``marks_verdict``, ``verdict_rule: marks``) is for judges trained on traces that mark
each answer against their own solution (``loop/arithmetic.gold_trace``: ``... </quote_A> gives 13, the
solution 12: differs.``): the verdict is the one answer marked ``matches``, so it cannot disagree with the
reasoning before it; the final tag is not read. A small judge can get every step of such a trace right
and still write the wrong letter at the end (docs/results.md, experiment-smol); this rule scores the
reasoning. Two answers marked alike are ``marks_tie`` (in a reward, a tie), a missing mark ``no_marks``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Literal

Verdict = Literal["A", "B"]
TaskType = Literal["reasoning", "chat"]

INVALID_REASONS = (
    "no_answer", "unclosed_answer", "both_verdicts", "answer_not_final", "bad_answer_content", "unclosed_think",
    "no_verdict",  # RM-R1's rules (judge_verdict): no verdict where that rule looks
    "no_marks", "marks_tie",  # the marks rule: an answer without a mark; both answers marked alike
)  # fmt: skip
VERDICT_RULES = ("rmr1", "rm-r1-eval", "rm-r1-rl", "marks")  # judge.verdict_rule: what reads the verdict
THINK_CLOSE = "</think>"
RM_R1_REWARD_TAIL = 80  # characters RM-R1's RL reward reads

_VERDICT_TAG = re.compile(r"<answer>\s*\[\[([AB])\]\]\s*</answer>")
_BARE_VERDICT = re.compile(r"\s*\[\[([AB])\]\]\s*")
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
MATCH_MARK, DIFFER_MARK = "matches", "differs"  # the marks rule's words (loop/arithmetic.gold_trace)
_MARK_WORD = re.compile(rf"\b({MATCH_MARK}|{DIFFER_MARK})\b")


@dataclass(frozen=True)
class Judgment:
    """Everything rmr1 reads from one judge output; ``verdict`` is None exactly when ``valid`` is False."""

    verdict: Verdict | None
    valid: bool
    reason: str | None
    task_type: TaskType | None
    rubric: str | None
    justify: str | None
    solution: str | None
    evaluation: str | None
    think: str | None

    def to_dict(self) -> dict:
        """Plain dict for JSONL records.

        >>> parse_judgment("<answer>[[B]]</answer>").to_dict()["verdict"]
        'B'
        """
        return asdict(self)


def parse_judgment(text: str, *, after_think: bool = False) -> Judgment:
    """Parse one judge output; never raises. ``after_think``: count only verdicts after ``</think>``.

    >>> j = parse_judgment("<type>Chat</type><rubric>1. Clarity 100%<justify>asked for clarity</justify>"
    ...                    "</rubric><eval>A is clearer.</eval><answer>[[A]]</answer>")
    >>> (j.verdict, j.valid, j.task_type, j.justify)
    ('A', True, 'chat', 'asked for clarity')
    >>> parse_judgment("Sure. <answer> [[B]] </answer>").verdict
    'B'
    >>> parse_judgment("I lean [[B]] ... <answer>[[A]]</answer>").verdict  # bare [[B]] is plain text
    'A'
    >>> parse_judgment("<answer>[[B]]</answer> no wait <answer>[[A]]</answer>").reason
    'both_verdicts'
    >>> parse_judgment("...so the better one is <answer>[[").reason
    'unclosed_answer'
    >>> parse_judgment("<answer>[[A]] because</answer>").reason
    'bad_answer_content'
    >>> parse_judgment("plain text").reason
    'no_answer'
    """
    think, body = _split_think(text)
    rubric = _section(body, "rubric")
    task_type = _task_type(_section(body, "type"))
    sections = dict(
        task_type=task_type,
        rubric=rubric,
        justify=_section(rubric, "justify") if rubric is not None else None,
        solution=_section(body, "solution"),
        evaluation=_section(body, "eval"),
        think=think,
    )
    if after_think:
        close = text.find(THINK_CLOSE)
        verdict, reason = (
            (None, "unclosed_think") if close < 0 else _verdict(text[close + len(THINK_CLOSE) :])
        )
    else:
        verdict, reason = _verdict(text)
    return Judgment(verdict=verdict, valid=verdict is not None, reason=reason, **sections)


def rm_r1_reward_verdict(text: str) -> Verdict | None:
    """The verdict RM-R1's RL reward credits: one verdict tag, and not the other, in the last 80 characters.

    >>> rm_r1_reward_verdict("<answer>[[B]]</answer> early ... " + "x" * 80 + "<answer>[[A]]</answer>")
    'A'
    >>> rm_r1_reward_verdict("<answer> [[A]] </answer>") is None  # exact tag only
    True
    """
    tail = text[-RM_R1_REWARD_TAIL:]
    found = [v for v in ("A", "B") if f"<answer>[[{v}]]</answer>" in tail]
    return found[0] if len(found) == 1 else None  # type: ignore[return-value]


def rm_r1_eval_verdict(text: str) -> Verdict | None:
    """The verdict RM-R1's evaluation scripts read: ``[[A]]`` anywhere wins, else ``[[B]]`` anywhere.

    >>> rm_r1_eval_verdict("maybe [[B]]... final: [[A]]"), rm_r1_eval_verdict("[[B]]")
    ('A', 'B')
    """
    for verdict in ("A", "B"):
        if f"[[{verdict}]]" in text:
            return verdict  # type: ignore[return-value]
    return None


def marks_verdict(evaluation: str | None) -> tuple[Verdict | None, str | None]:
    """The verdict an ``<eval>`` section's marks give: the one answer marked ``matches``.

    Each answer's mark is the first ``matches``/``differs`` between the end of its quote (``</quote_A>``)
    and the next quote, so neither a mark word inside a quoted answer nor the other answer's mark is read
    as its mark. (verdict, None), else (None, reason).

    >>> marks_verdict("A: <quote_A> 7 + 5 = 13</quote_A> gives 13, the solution 12: differs. "
    ...               "B: <quote_B> 7 + 5 = 12</quote_B> gives 12, the solution 12: matches.")
    ('B', None)
    >>> marks_verdict("A: <quote_A>x</quote_A> matches. B: <quote_B>y</quote_B> matches.")
    (None, 'marks_tie')
    >>> marks_verdict("A: <quote_A>x</quote_A> matches. B: <quote_B>y</quote_B> is cut"), marks_verdict(None)
    ((None, 'no_marks'), (None, 'no_marks'))
    >>> marks_verdict("<quote_A>x</quote_A> gives 3. <quote_B>y</quote_B> matches.")  # A's step has no mark
    (None, 'no_marks')
    """
    text, marks = evaluation or "", {}
    for slot in "AB":
        quote_end = text.find(f"</quote_{slot}>")
        next_quote = text.find("<quote_", quote_end + 1)
        step_end = next_quote if next_quote >= 0 else len(text)
        found = _MARK_WORD.search(text, quote_end, step_end) if quote_end >= 0 else None
        if found is None:
            return None, "no_marks"
        marks[slot] = found.group(1)
    matched = [slot for slot, mark in marks.items() if mark == MATCH_MARK]
    if len(matched) != 1:
        return None, "marks_tie"
    return matched[0], None  # type: ignore[return-value]


def judge_verdict(text: str, *, after_think: bool = False, rule: str = "rmr1") -> Judgment:
    """``parse_judgment`` with the verdict read by ``rule`` (``judge.verdict_rule``): rmr1's own rule,
    RM-R1's evaluation rule (``rm-r1-eval``), its RL reward's (``rm-r1-rl``) or the trace's marks
    (``marks``). RM-R1's rules read the whole text, thinking included, as its scripts do; a text they find
    no verdict in is ``no_verdict``.

    >>> judge_verdict("I lean [[B]] ... <answer>[[A]]</answer>", rule="rm-r1-eval").verdict
    'A'
    >>> judge_verdict("final: [[B]]", rule="rm-r1-eval").verdict, judge_verdict("final: [[B]]").reason
    ('B', 'no_answer')
    >>> marked = "<eval><quote_A>1</quote_A> matches. <quote_B>2</quote_B> differs.</eval><answer>[[B]]</answer>"
    >>> judge_verdict(marked).verdict, judge_verdict(marked, rule="marks").verdict
    ('B', 'A')
    """
    judgment = parse_judgment(text, after_think=after_think)
    if rule == "rmr1":
        return judgment
    if rule not in VERDICT_RULES:
        raise ValueError(f"verdict rule must be one of {VERDICT_RULES}, got {rule!r}")
    if rule == "marks":
        verdict, reason = marks_verdict(judgment.evaluation)
        return replace(judgment, verdict=verdict, valid=verdict is not None, reason=reason)
    verdict = rm_r1_eval_verdict(text) if rule == "rm-r1-eval" else rm_r1_reward_verdict(text)
    return replace(
        judgment, verdict=verdict, valid=verdict is not None, reason=None if verdict else "no_verdict"
    )


def _verdict(text: str) -> tuple[Verdict | None, str | None]:
    """Apply the module's verdict rule: (verdict, None) when valid, else (None, reason code).

    >>> _verdict("<answer>[[A]]</answer> thanks! <answer>[[A]]</answer>")
    ('A', None)
    >>> _verdict("<answer>[[A]]</answer> P.S. <answer>tie</answer>")
    (None, 'answer_not_final')
    """
    start = text.rfind(_ANSWER_OPEN)
    if start < 0:
        return None, "no_answer"
    content_start = start + len(_ANSWER_OPEN)
    end = text.find(_ANSWER_CLOSE, content_start)
    if end < 0:
        return None, "unclosed_answer"
    kinds = {match.group(1) for match in _VERDICT_TAG.finditer(text)}
    if len(kinds) > 1:
        return None, "both_verdicts"
    final = _BARE_VERDICT.fullmatch(text, content_start, end)
    if final is None:
        return None, "answer_not_final" if kinds else "bad_answer_content"
    return final.group(1), None  # type: ignore[return-value]


def _split_think(text: str) -> tuple[str | None, str]:
    """(think content, text after the think block); (None, text) without a closed think block.

    >>> _split_think("<think> hmm </think>rest")
    ('hmm', 'rest')
    >>> _split_think("implicit opening</think>rest")
    ('implicit opening', 'rest')
    >>> _split_think("<think>truncated")
    (None, '<think>truncated')
    """
    close = text.find("</think>")
    if close < 0:
        return None, text
    open_ = text.find("<think>", 0, close)
    start = open_ + len("<think>") if open_ >= 0 else 0
    return text[start:close].strip(), text[close + len("</think>") :]


def _section(text: str, tag: str) -> str | None:
    """Stripped content from the first ``<tag>`` to the next ``</tag>``; None if absent or unclosed.

    >>> _section("<eval> A wins </eval>", "eval")
    'A wins'
    >>> _section("<eval> cut off", "eval") is None
    True
    """
    open_tag = f"<{tag}>"
    start = text.find(open_tag)
    if start < 0:
        return None
    start += len(open_tag)
    end = text.find(f"</{tag}>", start)
    return text[start:end].strip() if end >= 0 else None


def _task_type(raw: str | None) -> TaskType | None:
    """'Reasoning'/'Chat' in any letter case -> 'reasoning'/'chat'; anything else -> None."""
    value = (raw or "").lower()
    return value if value in ("reasoning", "chat") else None  # type: ignore[return-value]
