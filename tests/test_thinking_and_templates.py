"""Thinking judges scored by their final verdict (judge, eval and the training reward alike), and
``rmr1 template`` rebuilding a released prompt byte for byte from a stand-in source of the same shape."""

from __future__ import annotations

import json
import textwrap

from scripted_generator import ScriptedGenerator
from typer.testing import CliRunner

from rmr1_cli.cli import app
from rmr1_cli.config import GenerationSpec, JudgeSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import SamplingParams
from rmr1_cli.generation.base import cut_at_stop
from rmr1_cli.judging.engine import build_engine
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.judging.verdicts import parse_judgment, rm_r1_eval_verdict, rm_r1_reward_verdict
from rmr1_cli.rewards.verdict import verdict_reward

# The judge restates the required format while thinking, then answers A.
THINKING = (
    "<think>I must end with <answer>[[B]]</answer> if B is better. Checking... A is right.</think>\n"
    "<answer>[[A]]</answer>"
)


def test_a_thinking_judge_is_recorded_with_its_final_verdict_everywhere():
    """RM-R1's DeepSeek-distilled judges think in <think> (RM-R1-UIUC/RM-R1
    eval/reward-bench/rewardbench/generative.py, RM_R1_*_REASONING prompts); the verdict counts after
    </think> in the engine (judge and eval share it), the stop, and the training reward."""
    gen = ScriptedGenerator(lambda conversation: THINKING)
    judge = JudgeSpec(template="think", generation=GenerationSpec(), both_orders=False)
    engine = build_engine(judge, seed=0, generator=gen)
    assert engine.params.stop_after == "</think>"
    (result,) = engine.judge([PreferencePair("p", "2+2?", "4", "5")])
    assert result.to_row()["outcome"] in ("chosen", "rejected")
    assert engine.stats.as_dict()["valid"] == 1
    assert parse_judgment(THINKING, after_think=True).verdict == "A"
    assert parse_judgment(THINKING).reason == "both_verdicts"  # the non-thinking rule refuses it
    assert verdict_reward([THINKING, THINKING], ["A", "B"], after_think=True) == [1.0, -1.0]
    assert (
        parse_judgment("<think>never closed <answer>[[A]]</answer>", after_think=True).reason
        == "unclosed_think"
    )
    # the stop waits for </think>: the restated format inside the thinking does not end generation
    params = SamplingParams(stop=("</answer>",), stop_after="</think>")
    assert cut_at_stop(THINKING + " trailing", params) == (THINKING, True)


def test_rm_r1_rules_as_released():
    """RM-R1's RL reward reads the last 80 characters (rm_r1/verl/utils/reward_score/lm_as_judge.py in
    RM-R1-UIUC/RM-R1); its eval takes the first [[A]] anywhere, else [[B]]
    (eval/reward-bench/rewardbench/generative.py, process_judgement)."""
    assert rm_r1_reward_verdict(THINKING) == "A"
    assert verdict_reward(["x" * 100 + "<answer>[[B]]</answer>"], ["B"], rule="rm-r1-rl") == [1.0]
    assert verdict_reward(["<answer>[[B]]</answer>" + "x" * 100], ["B"], rule="rm-r1-rl") == [-1.0]
    assert rm_r1_eval_verdict(THINKING) == "A"  # [[A]] found first... though B appears earlier
    assert rm_r1_eval_verdict("I lean [[B]] and end with [[B]]") == "B"
    assert parse_judgment("bare [[A]]").reason == "no_answer"  # rmr1 is stricter: the tag is required


# A stand-in with the shape of RM-R1-UIUC/RM-R1 rm_r1/dataset/mix_data/mix_data.py (our own wording):
# a system constant, single- and multi-turn message lists formatted with str.format.
STAND_IN = textwrap.dedent(
    """
    import copy
    SYSTEM = (
        "Compare two Chatbots for the Client.\\n"
        "End with <answer>[[A]]</answer> or <answer>[[B]]</answer>." + " Use {{braces}} literally."
    )
    SINGLE = [
        {'role': 'system', 'content': SYSTEM},
        {'role': 'user', 'content': (
            "[Client asks]\\n{question}\\n\\n[Chatbot A says]\\n{answer_a}\\n[A done]\\n\\n"
            "[Chatbot B says]\\n{answer_b}\\n[B done]"
        )},
    ]
    MULTI = [
        {'role': 'system', 'content': SYSTEM},
        {'role': 'user', 'content': (
            "[Chat with A]\\n{conversation_1}\\n[A done]\\n\\n[Chat with B]\\n{conversation_2}\\n[B done]"
        )},
    ]
    GUIDE = open("nowhere").read() if False else None
    """
)


def _released_render(namespace: dict, chosen: list[dict], rejected: list[dict]) -> list[dict]:
    """What the stand-in's code does (the same steps as mix_data.py), chosen in slot A."""
    if len(chosen) == 2:
        messages = [dict(m) for m in namespace["SINGLE"]]
        messages[1]["content"] = messages[1]["content"].format(
            question=chosen[0]["content"], answer_a=chosen[1]["content"], answer_b=rejected[1]["content"]
        )
        return messages

    def convert(conversation, name):
        return "\n".join(f"{'User' if m['role'] == 'user' else name}: {m['content']}" for m in conversation)

    messages = [dict(m) for m in namespace["MULTI"]]
    messages[1]["content"] = messages[1]["content"].format(
        conversation_1=convert(chosen, "Chatbot A"), conversation_2=convert(rejected, "Chatbot B")
    )
    return messages


def test_the_template_command_reproduces_a_released_prompt_byte_for_byte(tmp_path):
    source = tmp_path / "released.py"
    source.write_text(STAND_IN)
    out = tmp_path / "released.yaml"
    result = CliRunner().invoke(
        app, ["template", "--source", str(source), "--single", "SINGLE", "--multi", "MULTI", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    template = load_template(str(out))
    namespace: dict = {}
    exec(STAND_IN, namespace)  # the stand-in is our own file

    q = {"role": "user", "content": "What is {x}? 2+2"}
    single_c = [q, {"role": "assistant", "content": "4 {answer_b}"}]
    single_r = [q, {"role": "assistant", "content": "5"}]
    assert template.render([q], "4 {answer_b}", "5") == _released_render(namespace, single_c, single_r)

    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Pick a number."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Double it."},
    ]
    chosen = [*turns, {"role": "assistant", "content": "14"}]
    rejected = [*turns, {"role": "assistant", "content": "12"}]
    rendered = template.render(turns, "14", "12")
    assert rendered == _released_render(namespace, chosen, rejected)
    assert json.dumps(rendered).encode() == json.dumps(_released_render(namespace, chosen, rejected)).encode()


def test_the_template_command_names_a_missing_prompt(tmp_path):
    source = tmp_path / "released.py"
    source.write_text(STAND_IN)
    result = CliRunner().invoke(
        app, ["template", "--source", str(source), "--single", "SINGEL", "-o", str(tmp_path / "t.yaml")]
    )
    assert result.exit_code == 2
    assert "no prompt named 'SINGEL'" in result.output
