"""``rmr1 grpo`` and ``rmr1 policy-eval`` on the tiny model, with a scripted judge so the rewards vary.

The scripted judge prefers the reply with more letters "e" and, when both have as many, always says
"A": a position bias that flips with the A/B swap and must score as a tie.
"""

from __future__ import annotations

import json
import logging
import re

import pytest

from rmr1_cli.config import GenerationSpec, GRPORecipe, ModelSpec, PolicyEvalRecipe, load_recipe
from rmr1_cli.data import PromptRecord
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.generation.answers import policy_answers
from rmr1_cli.judging import engine as judging
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import JudgeTemplate

TEMPLATE = JudgeTemplate(
    "test", "", "Q: {conversation}\n<A>{answer_a}</A>\n<B>{answer_b}</B>", "cor", "-", "t1"
)
SLOTS = re.compile(r"<A>(.*)</A>\n<B>(.*)</B>", re.DOTALL)


class LetterJudge(Generator):
    identity = "letter-judge"

    def generate(self, conversations, params):
        out = []
        for messages in conversations:
            a, b = SLOTS.search(messages[-1]["content"]).groups()
            verdict = "A" if a.count("e") >= b.count("e") else "B"
            text = f"<type>Chat</type><eval>counting letters</eval><answer>[[{verdict}]]</answer>"
            out.append(Generation(text, 8, "stop"))
        return out


@pytest.fixture()
def scripted_judge(monkeypatch):
    """Every engine a stage builds judges with ``LetterJudge`` (no judge weights are loaded)."""

    def build(judge, *, seed, cache_path=None, generator=None):
        params = SamplingParams(max_new_tokens=16)
        cache = JudgmentCache(cache_path) if cache_path else None
        return JudgeEngine(LetterJudge(), TEMPLATE, judge, params, cache=cache, seed=seed)

    monkeypatch.setattr(judging, "build_engine", build)


def tiny_recipe(model_dir, out, **extra) -> GRPORecipe:
    overrides = [
        f"output_dir={out}",
        f"model.name_or_path={model_dir}",
        "prompts_file=" + str(_samples() / "prompts.jsonl"),
        "limit=4",
        "max_prompt_length=256",
        "reward.judge.model.name_or_path=scripted",
        "reward.samples_per_step=1",
        "trainer.max_steps=2",
        "trainer.num_generations=4",
        "trainer.per_device_train_batch_size=8",
        "trainer.max_completion_length=12",
        "trainer.learning_rate=1e-3",
        "trainer.logging_steps=1",
    ]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    return load_recipe(None, GRPORecipe, overrides)


def _samples():
    from tests.conftest import SAMPLES

    return SAMPLES


# -- fast: errors before anything is loaded (no model, no trl import) --------------------------------


def test_one_order_judge_is_refused_as_the_recipe_loads(in_tmp_cwd):
    with pytest.raises(ConfigError, match=r"reward.judge.both_orders: must be true: .*survives the A/B swap"):
        tiny_recipe("never-loaded", in_tmp_cwd / "out", **{"reward.judge.both_orders": "false"})


def test_missing_reference_column_is_a_data_error(in_tmp_cwd):
    from rmr1_cli.stages import grpo

    prompts = in_tmp_cwd / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "p1", "prompt": "Say hi."}) + "\n")
    recipe = tiny_recipe("never-loaded", in_tmp_cwd / "out", prompts_file=prompts)
    with pytest.raises(DataError, match="reference"):
        grpo.run(recipe)


def test_policy_answers_are_cached(tiny_model_dir, tmp_path):
    prompts = [PromptRecord("a", "What is 2 + 2?"), PromptRecord("b", "Say hello.")]
    spec = GenerationSpec(max_new_tokens=6, batch_size=2)
    model = ModelSpec(str(tiny_model_dir))
    first = policy_answers(model, spec, prompts, cache_path=tmp_path / "answers.jsonl")
    assert set(first) == {"a", "b"} and all(a["num_tokens"] <= 6 for a in first.values())
    lines = (tmp_path / "answers.jsonl").read_text().splitlines()
    again = policy_answers(model, spec, prompts, cache_path=tmp_path / "answers.jsonl")
    assert again == first
    assert (tmp_path / "answers.jsonl").read_text().splitlines() == lines  # nothing generated twice


# -- slow: whole stages ------------------------------------------------------------------------------


@pytest.mark.slow
def test_grpo_logs_diagnostics_and_evaluates_the_policy(tiny_model_dir, in_tmp_cwd, scripted_judge, caplog):
    from rmr1_cli.stages import grpo

    recipe = tiny_recipe(
        tiny_model_dir,
        in_tmp_cwd / "grpo",
        **{
            "reward.reference": "baseline",
            "eval_prompts_file": str(_samples() / "prompts.jsonl"),
            "eval_limit": 3,
        },
    )
    with caplog.at_level(logging.INFO, logger="rmr1_cli.rewards.policy"):
        out = grpo.run(recipe)

    assert "judge diagnostics" in caplog.text and "swap_flip_rate" in caplog.text
    history = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [h for h in history if "reward" in h]
    assert len(steps) == 2
    for key in (
        "judge/invalid_rate",
        "judge/swap_flip_rate",
        "judge/tie_rate",
        "rewards/verifiable_reward/mean",
    ):
        assert all(key in h for h in steps), key
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"judge/invalid_rate", "judge/swap_flip_rate"} <= set(metrics["diagnostics"])
    assert metrics["diagnostics"]["judge/invalid_rate"]["mean"] == 0.0
    assert metrics["reward_weights"] == {"judge_reward": 1.0}  # accuracy is logged, not a reward func
    assert metrics["reward_trend"]["steps"] == 2
    assert "reward_length_trend_corr" in metrics  # reward vs mean length across steps (None if constant)
    assert (out / "diagnostics.png").exists() and (out / "curves.png").exists()
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and samples[0]["comparisons"][0]["opponent"] == "reference"
    # the frozen baseline answered every training prompt once
    assert len((out / "baseline_answers.jsonl").read_text().splitlines()) == 4

    evaluation = metrics["policy_eval"]
    assert evaluation["prompts"] == 3 and set(evaluation["judges"]) == {"judge"}
    judge = evaluation["judges"]["judge"]
    assert judge["wins"] + judge["ties"] + judge["losses"] == 3
    assert evaluation["verifiable"]["n"] == 3  # the first three sample prompts are math
    assert (out / "policy-eval" / "report.md").exists() and (out / "policy-eval" / "policy_eval.png").exists()
    rerun = load_recipe(out / "policy-eval" / "recipe.yaml", PolicyEvalRecipe)
    assert rerun.policy.name_or_path == str(out / "model")
    assert rerun.baseline.name_or_path == str(tiny_model_dir)
    # rerunning the evaluation on its own generates nothing: answers and judgments come from its caches
    from rmr1_cli.stages import policy_eval

    again = json.loads((policy_eval.run(rerun) / "metrics.json").read_text())
    assert again["judges"]["judge"]["engine"]["generated"] == 0
    assert again["judges"]["judge"]["win_rate"] == judge["win_rate"]


@pytest.mark.slow
def test_policy_eval_stage_same_policy_ties(tiny_model_dir, in_tmp_cwd, scripted_judge):
    from rmr1_cli.stages import policy_eval

    recipe = load_recipe(
        None,
        PolicyEvalRecipe,
        [
            "output_dir=pe",
            f"policy.name_or_path={tiny_model_dir}",
            f"baseline.name_or_path={tiny_model_dir}",
            "prompts_file=" + str(_samples() / "prompts.jsonl"),
            "limit=2",
            "generation.max_new_tokens=8",
            "judge.model.name_or_path=scripted",
            "second_judge.model.name_or_path=scripted-too",
        ],
    )
    out = policy_eval.run(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["identical_answers"] == 2
    for judge in metrics["judges"].values():  # identical greedy answers: ties, nothing judged
        assert (judge["ties"], judge["judged_pairs"], judge["win_rate"]) == (2, 0, 0.5)
    assert set(metrics["judges"]) == {"judge", "second_judge"}
    assert (out / "manifest.json").exists() and (out / "answers.jsonl").exists()
