"""verdict_reward and format_reward on hand-written completions, string and conversational."""

import pytest

from rmr1_cli.errors import DataError
from rmr1_cli.rewards.verdict import format_reward, verdict_reward

CHAT = (
    "<type>Chat</type><rubric>1. Tone 50% 2. Accuracy 50%<justify>a complaint needs both</justify>"
    "</rubric><eval><quote_A>Sorry about that.</quote_A><summary_B>B blames the user.</summary_B></eval>"
    "<answer>[[A]]</answer>"
)
REASONING = (
    "<type>Reasoning</type><solution>2+2=4</solution><eval><quote_B>5</quote_B> is wrong</eval>"
    "<answer>[[A]]</answer>"
)


def as_messages(text):
    return [{"role": "assistant", "content": text}]


def test_verdict_reward_string_completions():
    completions = [
        CHAT,
        CHAT,
        "<answer>[[B]]</answer>",
        "<answer>[[A]]</answer><answer>[[B]]</answer>",
        "no verdict",
        "truncated <answer>[[B",
    ]
    labels = ["A", "B", "B", "B", "A", "B"]
    assert verdict_reward(completions, labels) == [1.0, -1.0, 1.0, -1.0, -1.0, -1.0]


def test_verdict_reward_conversational_completions_with_trl_kwargs():
    logged = {}
    rewards = verdict_reward(
        [as_messages(REASONING), as_messages("<answer>[[A]]</answer>"), as_messages("hmm")],
        label=["A", "B", "A"],
        prompts=[[{"role": "user", "content": "judge"}]] * 3,
        completion_ids=[[1, 2]] * 3,
        trainer_state=None,
        log_metric=lambda name, value: logged.__setitem__(name, value),
        log_extra=lambda column, values: None,
        source=["x"] * 3,
    )
    assert rewards == [1.0, -1.0, -1.0]
    assert logged == {"verdict_reward/invalid_rate": pytest.approx(1 / 3)}


def test_verdict_reward_rejects_bad_labels():
    with pytest.raises(DataError, match="row 1"):
        verdict_reward(["<answer>[[A]]</answer>"] * 2, ["A", "chosen"])
    with pytest.raises(DataError, match="2 completions but 1 labels"):
        verdict_reward(["a", "b"], ["A"])


def test_format_reward_partial_credit():
    completions = [
        CHAT,  # full structure
        as_messages(REASONING),  # full structure, conversational
        "<type>Chat</type><solution>4</solution><eval>e</eval><answer>[[A]]</answer>",  # wrong section
        "<type>Chat</type><rubric>r</rubric><eval>e</eval><answer>[[A]]</answer>",  # no justify
        "<type>Reasoning</type><solution>4</solution><eval>e</eval>",  # no verdict
        "<eval>e</eval><answer>[[A]]</answer>",  # no type
        "<type>Reasoning</type><solution> </solution><eval></eval><answer>[[B]]</answer>",  # empty sections
    ]
    assert format_reward(completions) == [1.0, 1.0, 0.75, 0.75, 0.75, 0.0, 0.5]


def test_reward_functions_have_loggable_names():
    assert verdict_reward.__name__ == "verdict_reward" and format_reward.__name__ == "format_reward"
