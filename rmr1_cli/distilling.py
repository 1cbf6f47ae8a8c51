"""The rules of trace distillation (``rmr1 distill``), apart from any model: which slot each pair's
chosen answer takes, when a trace is kept, and what the second pass shows the teacher. Pure.

A trace is kept only when ``parse_judgment`` (the parser the reward and the evaluation use) reads a
valid verdict naming the slot of the chosen answer. A trace with a wrong or invalid verdict triggers a
second pass: the teacher sees the gold verdict in a hint and writes the evaluation again; that trace is
checked the same way and, because the teacher saw the answer, also for phrases that give the hint away.
The SFT row always pairs the trace with the plain judge prompt: the hint never reaches the data set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rmr1_cli.data import Conversation, PreferencePair
from rmr1_cli.errors import ConfigError
from rmr1_cli.parsing import parse_judgment

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


def check_trace(text: str, label: str, leak_phrases: Sequence[str] = ()) -> str | None:
    """Why a trace is not kept (None: keep it): ``invalid:<parser reason>``, ``wrong_verdict`` or ``leak``.

    >>> trace = "<type>Reasoning</type><solution>4</solution><eval>A says 4</eval><answer>[[A]]</answer>"
    >>> check_trace(trace, "A"), check_trace(trace, "B")
    (None, 'wrong_verdict')
    >>> check_trace("<answer>[[A]]</answer><answer>[[B]]</answer>", "B")
    'invalid:both_verdicts'
    >>> check_trace("As I was told, A wins. <answer>[[A]]</answer>", "A", ["was told"])
    'leak'
    """
    judgment = parse_judgment(text)
    if not judgment.valid:
        return f"invalid:{judgment.reason}"
    if judgment.verdict != label:
        return "wrong_verdict"
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
