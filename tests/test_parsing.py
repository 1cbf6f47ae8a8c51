"""parse_judgment: verdicts and sections of realistic outputs, every invalid reason, and robustness."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmr1_cli.judging import verdicts
from rmr1_cli.judging.verdicts import INVALID_REASONS, parse_judgment

CHAT_OUTPUT = """<type>Chat</type>
<rubric>
1. Empathy (40%): acknowledges the user's worry.
2. Actionable advice (60%): gives concrete next steps.
<justify>The user is anxious about an interview and asks what to do, so concrete steps matter most,
but tone matters too.</justify>
</rubric>
<eval>
Chatbot A opens with <quote_A>That sounds stressful, and it's normal to feel that way.</quote_A>
and then lists three preparation steps. <summary_B>Chatbot B gives a generic list of tips with no
acknowledgement of the user's feelings.</summary_B> <quote_B>Research the company.</quote_B>
</eval>
<answer>[[A]]</answer>"""

REASONING_OUTPUT = """<type>Reasoning</type>
<solution>
17 * 24 = 17 * 20 + 17 * 4 = 340 + 68 = 408.
</solution>
<eval>
<quote_A>17 * 24 = 418</quote_A> is wrong. <summary_B>Chatbot B splits 24 into 20 + 4 and gets 408.
</summary_B> Chatbot B matches my solution.
</eval>
<answer>
[[B]]
</answer>"""

THINK_OUTPUT = """Okay, let me compare. A says 418, B says 408. 17*24 = 408, so B is right.
Maybe I'd write <answer>[[B]]</answer> at the end.
</think>

Chatbot B is correct.

<answer>[[B]]</answer>"""


def test_chat_path_output():
    j = parse_judgment(CHAT_OUTPUT)
    assert (j.verdict, j.valid, j.reason, j.task_type) == ("A", True, None, "chat")
    assert j.rubric.startswith("1. Empathy (40%)") and "<justify>" in j.rubric
    assert j.justify.startswith("The user is anxious")
    assert "<quote_A>" in j.evaluation and j.solution is None and j.think is None


def test_reasoning_path_output():
    j = parse_judgment(REASONING_OUTPUT)
    assert (j.verdict, j.valid, j.task_type) == ("B", True, "reasoning")
    assert j.solution == "17 * 24 = 17 * 20 + 17 * 4 = 340 + 68 = 408."
    assert j.rubric is None and j.justify is None and "matches my solution" in j.evaluation


def test_implicit_think_block_and_repeated_same_verdict():
    j = parse_judgment(THINK_OUTPUT)
    assert (j.verdict, j.valid) == ("B", True)
    assert j.think.startswith("Okay, let me compare.") and j.think.endswith("at the end.")


def test_explicit_think_block_and_sections_read_after_it():
    j = parse_judgment(
        "<think>I could use <type>Chat</type> here</think><type>Reasoning</type>"
        "<solution>x=2</solution><eval>A ok</eval><answer>[[A]]</answer>"
    )
    assert j.think == "I could use <type>Chat</type> here"
    assert (j.task_type, j.solution, j.verdict) == ("reasoning", "x=2", "A")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "no_answer"),
        ("Chatbot A is better. [[A]]", "no_answer"),
        ("</answer>[[A]]</answer>", "no_answer"),
        ("<eval>A is right</eval>\n<answer>[[", "unclosed_answer"),
        ("<answer>[[A]]</answer> ... on reflection <answer>", "unclosed_answer"),
        ("<think>maybe <answer>[[B]]</answer></think><answer>[[A]]</answer>", "both_verdicts"),
        ("<answer>[[A]]</answer><answer>[[B]]</answer>", "both_verdicts"),
        ("<answer>[[A]]</answer>\nActually they tie: <answer>tie</answer>", "answer_not_final"),
        ("<answer>[[A]] because it is correct</answer>", "bad_answer_content"),
        ("<answer>A</answer>", "bad_answer_content"),
        ("<answer>[[a]]</answer>", "bad_answer_content"),
        ("<answer>[[A]][[B]]</answer>", "bad_answer_content"),
        ("<answer>[[C]]</answer>", "bad_answer_content"),
    ],
)
def test_invalid_outputs_carry_their_reason(text, reason):
    j = parse_judgment(text)
    assert (j.verdict, j.valid, j.reason) == (None, False, reason)
    assert reason in INVALID_REASONS


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("<answer> [[A]] </answer>", "A"),
        ("<answer>\n\t[[B]]\n</answer><|im_end|>", "B"),
        ("<answer><answer>[[A]]</answer>", "A"),  # the last opening tag is the final answer tag
        ("Le meilleur est B ✓ 答案 <answer>[[B]]</answer>", "B"),
        ("<type>CHAT</type><answer>[[A]]</answer>", "A"),
    ],
)
def test_tolerated_forms(text, verdict):
    assert parse_judgment(text).verdict == verdict


def test_unclosed_sections_are_none_and_unknown_type_is_none():
    j = parse_judgment("<type>Poetry</type><rubric>cut off <justify>x</justify><eval>also cut")
    assert (j.task_type, j.rubric, j.justify, j.evaluation, j.reason) == (None, None, None, None, "no_answer")


def test_to_dict_is_json_ready():
    d = parse_judgment(REASONING_OUTPUT).to_dict()
    assert d["verdict"] == "B" and d["valid"] is True and d["task_type"] == "reasoning"


@pytest.mark.parametrize(
    "text, verdict, reason",
    [
        ("<answer>" * 130_000, None, "unclosed_answer"),
        ("<answer>" + " " * 1_000_000, None, "unclosed_answer"),
        ("<answer>" + " " * 500_000 + "[[A]" * 100_000, None, "unclosed_answer"),
        ("<answer>" + " " * 1_000_000 + "[[B]]" + " " * 1_000_000 + "</answer>", "B", None),
        ("<think>" * 140_000, None, "no_answer"),
        ("<think>" * 140_000 + "</think><answer>[[B]]</answer>", "B", None),
        ("<rubric><justify>" * 60_000 + "</rubric>", None, "no_answer"),
        ("[[A]]" * 200_000 + "<answer>[[A]]</answer>", "A", None),
        ("<answer>[[A]]</answer>" * 50_000 + "<answer>[[B]]</answer>", None, "both_verdicts"),
    ],
)
def test_megabyte_adversarial_inputs_get_the_rule_s_result(text, verdict, reason):
    j = parse_judgment(text)
    assert (j.verdict, j.reason) == (verdict, reason)


def _nested_repeats(items, inside_repeat=False) -> list[str]:
    """Quantifiers nested inside another quantifier in a parsed regex (the source of catastrophic backtracking)."""
    found = []
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if inside_repeat:
                found.append(name)
            found += _nested_repeats(arg[2], inside_repeat=True)
        elif name == "SUBPATTERN":
            found += _nested_repeats(arg[3], inside_repeat)
        elif name == "BRANCH":
            for branch in arg[1]:
                found += _nested_repeats(branch, inside_repeat)
    return found


def test_the_parser_s_regexes_have_no_nested_quantifiers():
    """Linear work on any input: the parser scans with ``str.find`` and regexes whose quantifiers are never
    nested, so a pathological output cannot make a regex backtrack exponentially (no timing needed)."""
    try:
        from re import _parser as sre_parser  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse as sre_parser

    patterns = [value for value in vars(verdicts).values() if isinstance(value, re.Pattern)]
    assert patterns, "no compiled regex found in rmr1_cli.judging.verdicts"
    for pattern in patterns:
        assert _nested_repeats(sre_parser.parse(pattern.pattern)) == [], pattern.pattern


_FRAGMENTS = [
    "<answer>",
    "</answer>",
    "[[A]]",
    "[[B]]",
    " ",
    "\n",
    "<think>",
    "</think>",
    "<type>",
    "</type>",
    "Chat",
    "reasoning",
    "<rubric>",
    "</rubric>",
    "<justify>",
    "</justify>",
    "<eval>",
    "</eval>",
    "<solution>",
    "</solution>",
    "[[",
    "]]",
    "A",
    "B",
]
_VERDICT_TAG = re.compile(r"<answer>\s*\[\[([AB])\]\]\s*</answer>")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=8), max_size=30).map("".join))
def test_property_never_raises_and_valid_means_one_verdict_kind(text):
    j = parse_judgment(text)
    assert (j.verdict is None) == (not j.valid) == (j.reason is not None)
    if j.valid:
        assert {m.group(1) for m in _VERDICT_TAG.finditer(text)} == {j.verdict}
        final = text[text.rindex("<answer>") :]
        assert _VERDICT_TAG.match(final).group(1) == j.verdict
    else:
        assert j.reason in INVALID_REASONS
