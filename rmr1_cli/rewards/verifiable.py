"""Verifiable answers: read the final answer out of a reply and compare it with a prompt's exact answer.

Used wherever a task has a checkable result (``PromptRecord.answer``): ``rmr1 refine`` selects wrong
answers and keeps only refined answers that pass, and a policy's accuracy is measured the same way.
Pure (no torch, no transformers).

Reading order: the last ``\\boxed{...}``; else the text after the last "answer is" / "answer:" (up to
the end of that sentence); else the last number in the reply. Two answers match when they are equal as
numbers (``0.4`` = ``2/5`` = ``0.40``; ``$1,200`` = ``1200``) or, for non-numbers, equal as text after
trimming, lower-casing and dropping a final full stop.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")


def extract_final_answer(text: str) -> str | None:
    """The reply's final answer as written (None when there is none).

    >>> extract_final_answer("7 + 5 = 12. The answer is 12.")
    '12'
    >>> extract_final_answer("So we get \\\\boxed{2/5}.")
    '2/5'
    >>> extract_final_answer("Answer: Paris. It is the capital.")
    'Paris'
    >>> extract_final_answer("It costs 4 * 3 = 12 dollars") , extract_final_answer("no idea")
    ('12', None)
    """
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].strip()
    marks = list(_ANSWER_IS.finditer(text))
    if marks:
        rest = text[marks[-1].end() :].split("\n", 1)[0]
        rest = re.split(r"\.(?:\s|$)", rest, maxsplit=1)[0].strip()
        if rest:
            if _as_number(rest) is None:
                number = _NUMBER.search(rest)
                if number is not None and number.start() == 0:
                    return number.group(0)
            return rest
    numbers = _NUMBER.findall(text)
    return numbers[-1].strip() if numbers else None


def answers_equal(given: str, expected: str) -> bool:
    """Equal as numbers, else as normalised text.

    >>> answers_equal("0.40", "2/5"), answers_equal("$1,200", "1200"), answers_equal("paris.", "Paris")
    (True, True, True)
    >>> answers_equal("13", "12")
    False
    """
    a, b = _as_number(given), _as_number(expected)
    if a is not None and b is not None:
        return a == b
    return _text(given) == _text(expected)


def answer_matches(text: str, expected: str) -> bool:
    """Does the reply's final answer equal ``expected``?

    >>> answer_matches("7 + 5 = 13. The answer is 13.", "12"), answer_matches("The answer is 12.", "12")
    (False, True)
    """
    found = extract_final_answer(text)
    return found is not None and answers_equal(found, expected)


def _as_number(text: str) -> Fraction | None:
    cleaned = _text(text).replace("$", "").replace(",", "").replace(" ", "")
    if not cleaned or not re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", cleaned):
        return None
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def _text(text: str) -> str:
    return text.strip().rstrip(".").strip().lower()


# -- the verifiable reward of policy GRPO (issue 6) --------------------------------------------------


def is_correct(completion: str | list[dict], expected: str) -> bool:
    """``answer_matches`` for a trl completion, plain text or conversational (a list of messages)."""
    from rmr1_cli.rewards.verdict import completion_text

    return answer_matches(completion_text(completion), expected)


def verifiable_reward(completions: list, answer: list, **kwargs) -> list[float | None]:
    """trl reward function: 1.0 when the completion's final answer equals the ``answer`` column, else 0.0.

    Rows without an answer get None, which trl leaves out of this reward (the other rewards still count).

    >>> verifiable_reward(["so the son is 12.", "It is 13.", "Hello!"], ["12", "12", None])
    [1.0, 0.0, None]
    """
    return [
        None if expected is None else float(is_correct(completion, str(expected)))
        for completion, expected in zip(completions, answer, strict=True)
    ]
