"""Small integer arithmetic for the synthetic domain: problems, plausible mistakes, answers written
concise or verbose, and gold Chain-of-Rubrics traces. Pure Python and deterministic from a seed.

- A *problem* is ``a + b``, ``a - b`` (a >= b), ``a * b`` or a two-step ``a + b * c`` / ``a - b * c``.
- A *mistake* gives a plausible wrong working: ``off_by_one`` (last result +-1), ``wrong_operator``
  (another operator used), ``wrong_carry`` (a carry or borrow forgotten, only where there is one),
  ``copy_error`` (an operand copied one off, then computed correctly) and ``order_of_operations``
  (a two-step left to right).
- An *answer* shows its working and ends with ``The answer is N.``; it is written *concise* (the
  working alone) or *verbose* (the same working wrapped in filler sentences, always longer).
- A *gold trace* is a short, formulaic judge output (under 320 characters) that solves the problem,
  quotes the working of both answers, sets each result beside the solution's and names the one that
  matches. Wrong operators and mis-copied operands show in the quoted working itself; off-by-one and
  carry slips need the arithmetic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rmr1_cli.errors import ConfigError

OPS = ("add", "sub", "mul", "two_step")
ERRORS = ("off_by_one", "wrong_operator", "wrong_carry", "copy_error", "order_of_operations")

_SYMBOL = {"add": "+", "sub": "-", "mul": "*"}
_APPLY = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}

QUESTIONS = ("What is {expr}?", "Compute {expr}.", "Calculate {expr}.", "Work out {expr}.")
_OPENERS = (
    "Let me work through this one carefully, step by step.",
    "Sure! Here is the full working, written out in detail.",
    "Good question. I will solve it slowly and show every step.",
)
_CLOSERS = (
    "Each step follows the usual rules of arithmetic.",
    "I went over every step of the working once more.",
    "That completes the calculation from start to finish.",
)


@dataclass(frozen=True)
class Problem:
    """One arithmetic question: its expression, its correct working and its value."""

    expr: str  # "7 + 5" or "3 + 4 * 2"
    steps: tuple[str, ...]  # ("7 + 5 = 12",) or ("4 * 2 = 8", "3 + 8 = 11")
    value: int

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", self.expr))

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(re.findall(r"[-+*]", self.expr))


@dataclass(frozen=True)
class Working:
    """An answer's content before styling: the steps it shows and the final value it gives."""

    steps: tuple[str, ...]
    value: int


# ----------------------------------------------------------------------------------------------------
# Problems


def make_problem(numbers: Sequence[int], symbols: Sequence[str]) -> Problem:
    """The problem for ``numbers`` joined by ``symbols`` (``*`` first, as arithmetic says).

    >>> make_problem([7, 5], ["+"])
    Problem(expr='7 + 5', steps=('7 + 5 = 12',), value=12)
    >>> make_problem([3, 4, 2], ["+", "*"]).steps
    ('4 * 2 = 8', '3 + 8 = 11')
    """
    if len(numbers) == 2:
        a, b = numbers
        value = _APPLY[symbols[0]](a, b)
        return Problem(f"{a} {symbols[0]} {b}", (f"{a} {symbols[0]} {b} = {value}",), value)
    a, b, c = numbers
    first, second = symbols  # two-step problems are a (+|-) b * c
    product = b * c
    value = _APPLY[first](a, product)
    steps = (f"{b} * {c} = {product}", f"{a} {first} {product} = {value}")
    return Problem(f"{a} {first} {b} * {c}", steps, value)


def all_problems(ops: Sequence[str], max_operand: int, max_factor: int) -> list[Problem]:
    """Every problem the settings allow, in a fixed order (the generator shuffles it with the seed).

    >>> len(all_problems(["add"], 2, 2)), len(all_problems(["sub"], 2, 2)), len(all_problems(["mul"], 9, 3))
    (9, 6, 4)
    """
    problems = []
    operands = range(0, max_operand + 1)
    factors = range(2, max_factor + 1)
    for op in ops:
        if op == "add":
            problems += [make_problem([a, b], ["+"]) for a in operands for b in operands]
        elif op == "sub":
            problems += [make_problem([a, b], ["-"]) for a in operands for b in operands if a >= b]
        elif op == "mul":
            problems += [make_problem([a, b], ["*"]) for a in factors for b in factors]
        elif op == "two_step":
            # a >= 1 and c >= 2 so that left-to-right evaluation gives a different (wrong) value
            for first in ("+", "-"):
                for a in range(1, max_operand + 1):
                    for b in factors:
                        for c in factors:
                            if first == "+" or a >= b * c:
                                problems.append(make_problem([a, b, c], [first, "*"]))
        else:
            raise ConfigError(f"ops: unknown operation {op!r}; choose from {', '.join(OPS)}")
    return problems


def parse_problem(prompt: str) -> Problem | None:
    """Read back a problem from a prompt this module wrote (None for any other prompt).

    >>> parse_problem("What is 3 + 4 * 2?").value
    11
    >>> parse_problem("Tell me a joke.") is None
    True
    """
    match = re.search(r"(\d+) ([-+*]) (\d+)(?: ([*]) (\d+))?", prompt)
    if match is None:
        return None
    a, s1, b, s2, c = match.groups()
    if s2 is None:
        return make_problem([int(a), int(b)], [s1])
    if s1 == "*":
        return None
    return make_problem([int(a), int(b), int(c)], [s1, s2])


# ----------------------------------------------------------------------------------------------------
# Wrong answers: each returns the working of a plausible mistake, or None where it does not apply


def wrong_working(problem: Problem, error: str, rng: random.Random) -> Working | None:
    """The working of ``problem`` with one ``error``; None when the error cannot happen here.

    >>> p = make_problem([27, 15], ["+"])
    >>> wrong_working(p, "wrong_carry", random.Random(0))
    Working(steps=('27 + 15 = 32',), value=32)
    >>> wrong_working(p, "order_of_operations", random.Random(0)) is None
    True
    """
    made = _MISTAKES[error](problem, rng)
    if made is None or made.value == problem.value:
        return None
    return made


def _off_by_one(p: Problem, rng: random.Random) -> Working:
    value = p.value + rng.choice((-1, 1))
    last = p.steps[-1].rsplit("= ", 1)[0] + f"= {value}"
    return Working(p.steps[:-1] + (last,), value)


def _wrong_operator(p: Problem, rng: random.Random) -> Working | None:
    numbers, symbols = p.numbers, list(p.symbols)
    slot = 0  # the first operator: the only one, or the + / - of a two-step problem
    choices = [s for s in ("+", "-", "*") if s != symbols[slot]]
    if len(symbols) == 2:
        choices = [s for s in choices if s != "*"]
    rng.shuffle(choices)
    for symbol in choices:
        swapped = make_problem(numbers, [symbol] + symbols[1:])
        if swapped.value != p.value and swapped.value >= 0:
            return Working(swapped.steps, swapped.value)
    return None


def _wrong_carry(p: Problem, rng: random.Random) -> Working | None:
    """A forgotten carry (addition) or borrow (subtraction) in the units column."""
    if len(p.steps) != 1 or p.symbols[0] == "*":
        return None
    a, b = p.numbers
    if p.symbols[0] == "+" and a % 10 + b % 10 >= 10:
        value = p.value - 10
    elif p.symbols[0] == "-" and a % 10 < b % 10 and a >= 10:
        value = p.value + 10
    else:
        return None
    return Working((f"{p.expr} = {value}",), value)


def _copy_error(p: Problem, rng: random.Random) -> Working | None:
    """One operand copied one off, then computed correctly from the wrong copy."""
    numbers = list(p.numbers)
    index = rng.randrange(len(numbers))
    numbers[index] += 1 if numbers[index] == 0 or rng.random() < 0.5 else -1
    wrong = make_problem(numbers, list(p.symbols))
    if wrong.value < 0:
        return None
    return Working(wrong.steps, wrong.value)


def _order_of_operations(p: Problem, rng: random.Random) -> Working | None:
    """A two-step problem evaluated left to right: (a + b) * c."""
    if len(p.steps) != 2:
        return None
    a, b, c = p.numbers
    first = p.symbols[0]
    partial = _APPLY[first](a, b)
    value = partial * c
    if partial < 0:
        return None
    return Working((f"{a} {first} {b} = {partial}", f"{partial} * {c} = {value}"), value)


_MISTAKES = {
    "off_by_one": _off_by_one,
    "wrong_operator": _wrong_operator,
    "wrong_carry": _wrong_carry,
    "copy_error": _copy_error,
    "order_of_operations": _order_of_operations,
}


# ----------------------------------------------------------------------------------------------------
# Answers and traces


def render_answer(working: Working, *, verbose: bool, rng: random.Random) -> str:
    """An answer's text: the working, then ``The answer is N.``; verbose adds filler before and after.

    >>> render_answer(Working(("7 + 5 = 12",), 12), verbose=False, rng=random.Random(0))
    'We get 7 + 5 = 12. The answer is 12.'
    """
    work = ", then ".join(working.steps)
    if not verbose:  # a word first, so the numbers tokenize as in the question (" 14", not "14")
        return f"We get {work}. The answer is {working.value}."
    return f"{rng.choice(_OPENERS)} First, {work}. {rng.choice(_CLOSERS)} The answer is {working.value}."


def final_value(answer: str) -> str | None:
    """The number after the last ``answer is``.

    >>> final_value("3 + 4 = 7. The answer is 7.")
    '7'
    """
    found = re.findall(r"answer is (-?\d+)", answer)
    return found[-1] if found else None


_WORKING = re.compile(r"\d+ [-+*] \d+ = -?\d+(?:, then \d+ [-+*] \d+ = -?\d+)*")


def working_of(answer: str) -> str:
    """The working an answer shows, verbatim (what the gold trace quotes): its last chain of equations,
    else its final-answer sentence, else its last 40 characters.

    >>> working_of("Sure! First, 4 * 2 = 8, then 3 + 8 = 11. So. The answer is 11.")
    '4 * 2 = 8, then 3 + 8 = 11'
    >>> working_of("I think the answer is 9."), working_of("no idea")
    ('answer is 9', 'no idea')
    """
    chains = _WORKING.findall(answer)
    if chains:
        return chains[-1]
    found = re.findall(r"answer is -?\d+", answer)
    return found[-1] if found else answer.strip()[-40:]


_COLUMN_NAMES = ("ones", "tens", "hundreds", "thousands")


def column_working(problem: Problem) -> str | None:
    """The sum or difference of two numbers worked column by column, ones first, with each carry and
    borrow written out; None for a product or a two-step problem.

    A small model adds two digits far more reliably than two numbers, and it cannot skip the working
    by copying a result it was shown: each column uses only digits of the question. (Names past the
    thousands are "column N".)

    >>> column_working(make_problem([47, 38], ["+"]))
    '47 + 38: ones 7 + 8 = 15, write 5 carry 1; tens 4 + 3 + 1 = 8; so 47 + 38 = 85.'
    >>> column_working(make_problem([31, 13], ["-"]))
    '31 - 13: ones 1 < 3, borrow: 11 - 3 = 8; tens 3 - 1 - 1 = 1; so 31 - 13 = 18.'
    >>> column_working(make_problem([7, 5], ["+"])), column_working(make_problem([6, 6], ["*"]))
    ('7 + 5: ones 7 + 5 = 12, write 2 carry 1; so 7 + 5 = 12.', None)
    """
    if len(problem.steps) != 1 or problem.symbols[0] == "*":
        return None
    a, b = problem.numbers
    symbol = problem.symbols[0]
    steps, carry = [], 0
    for column in range(max(len(str(a)), len(str(b)))):
        name = _COLUMN_NAMES[column] if column < len(_COLUMN_NAMES) else f"column {column + 1}"
        x, y = a // 10**column % 10, b // 10**column % 10
        if symbol == "+":
            total = x + y + carry
            step = f"{name} {x} + {y}{' + 1' if carry else ''} = {total}"
            carry = int(total >= 10)
            steps.append(step + (f", write {total - 10} carry 1" if carry else ""))
            continue
        top = x - carry  # the digit after paying back the borrow of the column before
        shown = f"{x}{' - 1' if carry else ''}"
        carry = int(top < y)
        if carry:
            steps.append(f"{name} {shown} < {y}, borrow: {top + 10} - {y} = {top + 10 - y}")
        else:
            steps.append(f"{name} {shown} - {y} = {top - y}")
    return f"{problem.expr}: {'; '.join(steps)}; so {problem.steps[0]}."


def gold_trace(
    problem: Problem,
    answer_a: str,
    answer_b: str,
    label: str,
    *,
    space_after_solution: bool = False,
    column_solution: bool = False,
) -> str:
    """A short Chain-of-Rubrics judge output: solve, quote each answer's working, set its result beside the
    solution's, mark it, pick the one that matches.

    Each answer gets its own step: its result written next to the solution's, then "matches" or
    "differs". The mark is then a comparison of two adjacent numbers, which a small model learns as
    such, instead of a judgement over the whole answer, where it would learn the answers' length.
    ``column_solution`` writes the solution column by column (``column_working``) instead of in the
    answers' own words.

    >>> p = make_problem([7, 5], ["+"])
    >>> print(gold_trace(p, "7 + 5 = 13. The answer is 13.", "7 + 5 = 12. The answer is 12.", "B"))
    <type>Reasoning</type><solution> We get 7 + 5 = 12. The answer is 12.</solution><eval>A: <quote_A> 7 + 5 = 13</quote_A> gives 13, the solution 12: differs. B: <quote_B> 7 + 5 = 12</quote_B> gives 12, the solution 12: matches.</eval><answer>[[B]]</answer>
    """
    # A space after each opening tag: numbers then tokenize as they do inside the answers (" 18", not
    # "18"), so a small model learns quoting as plain copying; the parser strips the space. The solution
    # is the judge answering the question itself, in the words it would use as a policy.
    solution = render_answer(Working(problem.steps, problem.value), verbose=False, rng=random.Random(0))
    if column_solution:  # column by column where the problem allows it (column_working)
        solution = column_working(problem) or solution
    steps = []
    for slot, answer in (("A", answer_a), ("B", answer_b)):
        mark = "matches" if slot == label else "differs"
        result = final_value(answer) or "nothing"
        steps.append(
            f"{slot}: <quote_{slot}> {working_of(answer)}</quote_{slot}> gives {result}, "
            f"the solution {problem.value}: {mark}."
        )
    # space_after_solution: "</solution> <eval>". A byte-level BPE tokenizer (SmolLM2's) merges "><" into
    # one token, so a judge trained on "</solution><eval>" has never seen the reply stop at "</solution>",
    # which is exactly where judge.solve_first's prefill ends it: it then ends its reply there.
    gap = " " if space_after_solution else ""
    return (
        f"<type>Reasoning</type><solution> {solution}</solution>{gap}"
        f"<eval>{' '.join(steps)}</eval><answer>[[{label}]]</answer>"
    )


def gold_trace_for(prompt: str, answer_a: str, answer_b: str, **style: bool) -> tuple[str, str] | None:
    """(trace, label) for a pair on one of this module's prompts where exactly one answer is right.

    Lets a loop write gold traces for pairs it made itself (e.g. ``rmr1 refine`` output); ``style``
    takes ``gold_trace``'s keyword options (``space_after_solution``, ``column_solution``).

    >>> gold_trace_for("What is 2 * 3?", "The answer is 5.", "2 * 3 = 6. The answer is 6.")[1]
    'B'
    >>> gold_trace_for("What is 2 * 3?", "The answer is 6.", "The answer is 6.") is None
    True
    """
    problem = parse_problem(prompt)
    if problem is None:
        return None
    right = [final_value(text) == str(problem.value) for text in (answer_a, answer_b)]
    if right.count(True) != 1:
        return None
    label = "A" if right[0] else "B"
    return gold_trace(problem, answer_a, answer_b, label, **style), label
