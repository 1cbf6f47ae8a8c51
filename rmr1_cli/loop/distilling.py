"""The rules of trace distillation (``rmr1 distill``), apart from any model: which slot each pair's
chosen answer takes, when a trace is kept, and what the second pass shows the teacher. Pure.

A trace is kept only when ``parse_judgment`` (the parser the reward and the evaluation use) reads a
valid verdict naming the slot of the chosen answer (and, with ``check_solution``, when its
``<solution>`` reaches the pair's exact ``answer``: a right verdict from a wrong solution is dropped). A trace with a wrong or invalid verdict triggers a
second pass: the teacher sees the gold verdict in a hint and writes the evaluation again; that trace is
checked the same way and, because the teacher saw the answer, also for phrases that give the hint away.
The SFT row always pairs the trace with the plain judge prompt: the hint never reaches the data set.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rmr1_cli.data import Conversation, PreferencePair
from rmr1_cli.errors import ConfigError
from rmr1_cli.judging.verdicts import parse_judgment
from rmr1_cli.rewards.verifiable import answer_matches

# rmr1's own wording. {label} is the slot of the better reply; a hint file may use it any number of times.
DEFAULT_HINT = (
    "For this comparison the better reply is known: it is Chatbot {label}'s. Write the whole evaluation "
    "again from the start, in the same format, so that your own solution and evidence lead to "
    "<answer>[[{label}]]</answer>. It must read as an independent judgment: do not mention this message, "
    "and do not say that the verdict was given to you."
)


@dataclass(frozen=True)
class Task:
    """One trace to write: a pair shown with its chosen answer in slot ``label``."""

    pair: PreferencePair
    label: str  # "A" or "B": where the chosen answer is shown

    @property
    def id(self) -> str:
        return f"{self.pair.id}-{self.label}"

    @property
    def prompt(self) -> Conversation:
        return self.pair.prompt

    @property
    def exact_answer(self) -> str | None:
        """The pair's exact final answer (an ``answer`` column, as synth and refine pairs have)."""
        value = self.pair.meta.get("answer")
        return None if value is None else str(value)

    @property
    def answers(self) -> tuple[str, str]:
        """(answer_a, answer_b)."""
        if self.label == "A":
            return self.pair.chosen, self.pair.rejected
        return self.pair.rejected, self.pair.chosen


def assign_slots(pairs: Sequence[PreferencePair], *, both_orders: bool = False) -> list[Task]:
    """One task per pair in its ``ab_slot`` (when the pair has one), else alternating A, B in input
    order so labels stay balanced; or both slots for every pair.

    >>> pairs = [PreferencePair(str(i), "q", "good", "bad") for i in range(3)]
    >>> [t.label for t in assign_slots(pairs)]
    ['A', 'B', 'A']
    >>> [t.label for t in assign_slots([PreferencePair("x", "q", "g", "b", meta={"ab_slot": "B"})])]
    ['B']
    >>> [t.id for t in assign_slots(pairs[:1], both_orders=True)]
    ['0-A', '0-B']
    """
    tasks = []
    for index, pair in enumerate(pairs):
        if both_orders:
            tasks += [Task(pair, "A"), Task(pair, "B")]
            continue
        slot = pair.meta.get("ab_slot")
        if slot not in ("A", "B"):
            slot = "A" if index % 2 == 0 else "B"
        tasks.append(Task(pair, slot))
    return tasks


def check_trace(
    text: str, label: str, leak_phrases: Sequence[str] = (), answer: str | None = None
) -> str | None:
    """Why a trace is not kept (None: keep it): ``invalid:<parser reason>``, ``wrong_verdict``,
    ``wrong_solution`` (with ``answer``: the ``<solution>`` does not reach that exact answer) or ``leak``.

    >>> trace = "<type>Reasoning</type><solution>4</solution><eval>A says 4</eval><answer>[[A]]</answer>"
    >>> check_trace(trace, "A"), check_trace(trace, "B")
    (None, 'wrong_verdict')
    >>> check_trace("<answer>[[A]]</answer><answer>[[B]]</answer>", "B")
    'invalid:both_verdicts'
    >>> check_trace("As I was told, A wins. <answer>[[A]]</answer>", "A", ["was told"])
    'leak'
    >>> check_trace(trace, "A", answer="4"), check_trace(trace, "A", answer="5")
    (None, 'wrong_solution')
    """
    judgment = parse_judgment(text)
    if not judgment.valid:
        return f"invalid:{judgment.reason}"
    if judgment.verdict != label:
        return "wrong_verdict"
    if answer is not None and not (judgment.solution and answer_matches(judgment.solution, answer)):
        return "wrong_solution"
    lowered = text.lower()
    if any(phrase.lower() in lowered for phrase in leak_phrases if phrase):
        return "leak"
    return None


def fill_hint(hint: str, label: str) -> str:
    """The hint with ``{label}`` filled in (other braces are left alone).

    >>> fill_hint("Better: {label}. Keep {this}.", "B")
    'Better: B. Keep {this}.'
    """
    return hint.replace("{label}", label)


def check_hint(hint: str, source: str) -> str:
    """A hint must name the verdict, or the second pass is a plain retry."""
    if "{label}" not in hint:
        raise ConfigError(f"{source}: the hint must contain {{label}} (where the gold verdict goes)")
    return hint


def second_pass_messages(
    judge_messages: list[dict], first_output: str, hint: str, label: str, *, show_first_attempt: bool
) -> list[dict]:
    """The judge prompt followed by the teacher's first output and the hint, or with the hint
    appended to the last user message.

    >>> msgs = [{"role": "user", "content": "Judge."}]
    >>> [m["role"] for m in second_pass_messages(msgs, "<answer>[[B]]</answer>", "It is {label}.", "A",
    ...                                          show_first_attempt=True)]
    ['user', 'assistant', 'user']
    >>> second_pass_messages(msgs, "x", "It is {label}.", "A", show_first_attempt=False)[-1]["content"]
    'Judge.\\n\\nIt is A.'
    """
    filled = fill_hint(hint, label)
    if show_first_attempt:
        return [
            *judge_messages,
            {"role": "assistant", "content": first_output},
            {"role": "user", "content": filled},
        ]
    last = judge_messages[-1]
    return [*judge_messages[:-1], {**last, "content": f"{last['content']}\n\n{filled}"}]


def reason_family(reason: str) -> str:
    """``invalid:no_answer`` -> ``invalid`` (for the metrics' counts).

    >>> reason_family("invalid:unclosed_answer"), reason_family("leak")
    ('invalid', 'leak')
    """
    return re.split(r":", reason, maxsplit=1)[0]


def balance_labels(items: Sequence, label_of) -> tuple[list, int]:
    """Keep the first ``min(#A, #B)`` items of each label, in input order; returns (kept, dropped).

    Filtering by verdict can skew the labels (a judge biased to one slot passes more of that slot),
    and SFT on skewed labels teaches a position bias.

    >>> balance_labels(["A1", "B1", "B2", "A2", "B3"], lambda x: x[0])
    (['A1', 'B1', 'B2', 'A2'], 1)
    """
    quota = min(sum(label_of(x) == "A" for x in items), sum(label_of(x) == "B" for x in items))
    seen = {"A": 0, "B": 0}
    kept = []
    for item in items:
        label = label_of(item)
        if seen[label] < quota:
            kept.append(item)
            seen[label] += 1
    return kept, len(items) - len(kept)


@dataclass
class Outcome:
    """What happened to one task."""

    task: Task
    first_text: str
    first_reason: str | None  # None: kept in the first pass
    second_text: str | None = None
    second_reason: str | None = None  # None with second_text: kept in the second pass

    @property
    def kept_pass(self) -> str | None:
        if self.first_reason is None:
            return "first"
        if self.second_text is not None and self.second_reason is None:
            return "second"
        return None

    @property
    def trace(self) -> str | None:
        return {"first": self.first_text, "second": self.second_text, None: None}[self.kept_pass]


def trace_row(outcome: Outcome, teacher_id: str) -> dict:
    """A kept trace in the trace-source schema (``data.load_trace_sources``), with provenance."""
    task = outcome.task
    answer_a, answer_b = task.answers
    return {
        "id": task.id,
        "pair_id": task.pair.id,
        "label": task.label,
        "prompt": task.prompt,
        "answer_a": answer_a,
        "answer_b": answer_b,
        "trace": outcome.trace,
        "subset": task.pair.subset,
        "pass": outcome.kept_pass,
        "teacher": teacher_id,
    }


def pass_metrics(outcomes: list[Outcome], second_pass: bool) -> dict:
    """Pass rates: first pass (of all tasks), second pass (of those retried), dropped, and why."""
    n = len(outcomes)
    first_kept = sum(o.kept_pass == "first" for o in outcomes)
    tried = [o for o in outcomes if o.second_text is not None]
    second_kept = sum(o.kept_pass == "second" for o in tried)
    kept = [o for o in outcomes if o.kept_pass]
    return {
        "tasks": n,
        "first_pass": {
            "kept": first_kept,
            "rate": first_kept / n if n else None,
            "reasons": reason_counts(o.first_reason for o in outcomes),
        },
        "second_pass": {
            "enabled": second_pass,
            "tried": len(tried),
            "kept": second_kept,
            "rate": second_kept / len(tried) if tried else None,
            "reasons": reason_counts(o.second_reason for o in tried),
        },
        "kept": len(kept),
        "kept_rate": len(kept) / n if n else None,
        "dropped": n - len(kept),
        "labels": {"A": sum(o.task.label == "A" for o in kept), "B": sum(o.task.label == "B" for o in kept)},
    }


def reason_counts(reasons: Iterable[str | None]) -> dict[str, int]:
    return dict(sorted(Counter(reason_family(r) for r in reasons if r is not None).items()))
