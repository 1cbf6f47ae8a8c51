"""Released data layouts in every command where they make sense: RM-R1's SFT and RL rows, trl's
prompt-completion and implicit-prompt layouts, HH transcripts, multi-turn answers, prompts repeated in
the answers and preference rows given to ``sft``. Each test writes a small file in that layout and
asserts the exact text the judge or trainer receives, or the exact error."""

from __future__ import annotations

import json
import re

import pytest

from rmr1_cli import data
from rmr1_cli.errors import DataError
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.stages import sft, train_rm

SYSTEM = {"role": "system", "content": "Judge the two chatbots."}
JUDGE_USER = {
    "role": "user",
    "content": "[Q]\n2+2?\n\n[A]\n4\n[/A]\n\n[B]\n5\n[/B]",
}
TRACE = "<type>Reasoning</type><solution>4</solution><eval>A is right.</eval><answer>[[A]]</answer>"


def write(tmp_path, *rows, name="x.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_rm_r1_sft_rows_train_on_the_whole_prompt_and_trace(tmp_path):
    """RM-R1's distillation set (gaotang/RM-R1-Distill-SFT; built like RM-R1-UIUC/RM-R1
    rm_r1/dataset/mix_data/mix_data.py): ``context_messages`` (system + user holding both answers) and
    ``winner`` = the full trace ending in the verdict. Trained on as it is."""
    path = write(tmp_path, {"context_messages": [SYSTEM, JUDGE_USER], "winner": TRACE})
    rows = sft.load_sft_rows(str(path), "cor", None)
    assert rows == [{"prompt": [SYSTEM, JUDGE_USER], "completion": [{"role": "assistant", "content": TRACE}]}]


def test_rm_r1_rl_rows_train_rm_as_they_are(tmp_path):
    """RM-R1's RL set (rm_r1/dataset/mix_data/mix_data.py in RM-R1-UIUC/RM-R1: ``winner`` is
    ``model_a``/``model_b``): train-rm uses the prompt as it is, the label from ``winner``."""
    path = write(
        tmp_path,
        {"context_messages": [SYSTEM, JUDGE_USER], "winner": "model_b"},
        {"context_messages": [JUDGE_USER], "winner": "model_a"},
    )
    recipe = train_rm.TrainRMRecipe(train_file=str(path))
    rows = train_rm._judge_prompt_rows(recipe)
    assert [(r["prompt"], r["label"]) for r in rows] == [([SYSTEM, JUDGE_USER], "B"), ([JUDGE_USER], "A")]


def test_rm_r1_rl_rows_are_refused_by_sft_and_by_pair_commands(tmp_path):
    """An RL row holds a label, not a trace (RM-R1-UIUC/RM-R1 rm_r1/dataset/mix_data/mix_data.py)."""
    path = write(tmp_path, {"context_messages": [SYSTEM, JUDGE_USER], "winner": "model_a"})
    with pytest.raises(
        DataError, match=re.escape(f"{path}:1: 'winner' is 'model_a', a label: this is RM-R1's RL")
    ):
        sft.load_sft_rows(str(path), "cor", None)
    with pytest.raises(
        DataError, match=re.escape(f"{path}:1: RM-R1's layout ('context_messages' + 'winner')")
    ):
        data.load_pairs(path)
    bad = write(tmp_path, {"context_messages": [SYSTEM, JUDGE_USER], "winner": "tie"}, name="bad.jsonl")
    with pytest.raises(DataError, match=re.escape(f"{bad}:1: field 'winner' must be 'model_a' or 'model_b'")):
        data.load_judge_prompts(bad)


def test_trl_prompt_completion_rows_are_sft_rows(tmp_path):
    """trl's prompt-completion layout (strings and conversational), formerly refused with a misleading
    ``missing field 'answer_a'``."""
    path = write(
        tmp_path,
        {"prompt": "Judge: 2+2? A: 4 B: 5", "completion": TRACE},
        {"prompt": [JUDGE_USER], "completion": [{"role": "assistant", "content": TRACE}]},
    )
    rows = sft.load_sft_rows(str(path), "cor", None)
    completion = [{"role": "assistant", "content": TRACE}]
    assert rows == [
        {"prompt": [{"role": "user", "content": "Judge: 2+2? A: 4 B: 5"}], "completion": completion},
        {"prompt": [JUDGE_USER], "completion": completion},
    ]


def test_sft_refuses_a_trace_without_a_valid_verdict_unless_told(tmp_path):
    path = write(
        tmp_path,
        {"prompt": "p", "completion": TRACE},
        {"prompt": "q", "completion": "<eval>cut off before the verd"},
    )
    with pytest.raises(
        DataError, match=re.escape(f"{path}:2: the trace has no valid final verdict (no_answer)")
    ):
        sft.load_sft_rows(str(path), "cor", None)
    assert len(sft.load_sft_rows(str(path), "cor", None, require_verdict=False)) == 2


def test_sft_reads_a_thinking_trace_by_its_final_verdict(tmp_path):
    thinking = "<think>the format is <answer>[[B]]</answer>... A is right</think><answer>[[A]]</answer>"
    path = write(tmp_path, {"messages": [JUDGE_USER, {"role": "assistant", "content": thinking}]})
    assert sft.load_sft_rows(str(path), "cor", None)[0]["completion"][0]["content"] == thinking


def test_preference_rows_given_to_sft_are_refused(tmp_path):
    path = write(tmp_path, {"prompt": "2+2?", "chosen": "4", "rejected": "5"})
    with pytest.raises(
        DataError, match=re.escape(f"{path}:1: a preference pair ('chosen'/'rejected'), not a judge trace")
    ):
        sft.load_sft_rows(str(path), "cor", None)
    chat = write(
        tmp_path,
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
        name="chat.jsonl",
    )
    with pytest.raises(
        DataError, match=re.escape(f"{chat}:1: the trace has no valid final verdict (no_answer)")
    ):
        sft.load_sft_rows(str(chat), "cor", None)


def test_multi_turn_answers_keep_every_turn(tmp_path):
    """A prompt string with multi-turn chosen/rejected: the shared middle turns join the conversation
    (they were dropped before), and the judge sees all of them."""
    middle = [
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Now name a colour."},
    ]
    path = write(
        tmp_path,
        {
            "prompt": "Hi",
            "chosen": [*middle, {"role": "assistant", "content": "Blue."}],
            "rejected": [*middle, {"role": "assistant", "content": "No."}],
        },
    )
    (pair,) = data.load_pairs(path)
    assert pair.prompt == [{"role": "user", "content": "Hi"}, *middle]
    assert (pair.chosen, pair.rejected) == ("Blue.", "No.")
    user = load_template("think").render(pair.prompt, pair.chosen, pair.rejected)[0]["content"]
    assert "[User]\nHi\n\n[Assistant]\nHello!\n\n[User]\nNow name a colour." in user


def test_a_prompt_repeated_in_both_answers_is_stripped_or_refused(tmp_path):
    """Whole conversations under a ``prompt`` column: the repeat is stripped (messages) or refused
    (strings, where the boundary would be a guess)."""
    q = {"role": "user", "content": "2+2?"}
    path = write(
        tmp_path,
        {
            "prompt": [q],
            "chosen": [q, {"role": "assistant", "content": "4"}],
            "rejected": [q, {"role": "assistant", "content": "5"}],
        },
    )
    (pair,) = data.load_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == ([q], "4", "5")
    strings = write(tmp_path, {"prompt": "2+2?", "chosen": "2+2? 4", "rejected": "2+2? 5"}, name="s.jsonl")
    with pytest.raises(
        DataError, match=re.escape(f"{strings}:1: both 'chosen' and 'rejected' start with the 'prompt' text")
    ):
        data.load_pairs(strings)


def test_hh_transcripts_and_implicit_string_prompts_load_for_judge_and_train_rm(tmp_path):
    """Anthropic HH-RLHF transcripts and trl's implicit-prompt string layout (no ``prompt`` column)."""
    path = write(
        tmp_path,
        {
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Colour?\n\nAssistant: Blue.",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Colour?\n\nAssistant: No.",
        },
        {"chosen": "The sky is blue.", "rejected": "The sky is green."},
    )
    hh, implicit = data.load_pairs(path)
    assert hh.prompt == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Colour?"},
    ]
    assert (hh.chosen, hh.rejected) == ("Blue.", "No.")
    assert (implicit.prompt, implicit.chosen, implicit.rejected) == ("The sky is", "blue.", "green.")
    rows = train_rm.verdict_rows([implicit], load_template("compact"), both_orders=False, seed=0)
    assert "Question: The sky is\n" in rows[0]["prompt"][0]["content"]
