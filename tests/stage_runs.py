"""Real stage runs for the report tests: the reports read the metrics.json files these runs wrote.

``fast_runs`` runs the stages that need no model (synth, distill, refine, judge, and eval with
scripted judges) in a few seconds; ``trained_runs`` copies them and adds sft, train-rm and grpo (with
its policy-eval) on the tiny model (slow). Each is built once per test session. The layout is what
``make loop`` and ``make experiment`` leave:

    synth/, judge/                                    rmr1 synth (small); rmr1 judge on its test pairs
    experiment/eval/<row>/                            rmr1 eval for each RM row of the experiment report
    experiment/loop/round-0/eval/                     the starting RM
    experiment/loop/round-1/{refine,distill,eval}/    (+ sft, train-rm, grpo: trained_runs)
    experiment/grpo-<name>/, experiment/policy-eval/<name>/   (trained_runs: copies of round-1/grpo)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scripted_generator import ScriptedGenerator

from rmr1_cli import config

_BUILT: dict[str, Path] = {}


def _replies(conversation: list[dict]) -> tuple[str, str]:
    """Chatbot A's and B's replies in a prompt rendered with the compact judge template (the first user
    turn: distill's second pass adds its hint after it)."""
    prompt = next(m["content"] for m in conversation if m["role"] == "user")
    a, b = prompt.rsplit("\nA: ", 1)[1].split("\nB: ", 1)
    return a, b


def _verdict(slot: str, solution: str) -> str:
    return f"<type>Reasoning</type><solution>{solution}</solution><eval>...</eval><answer>[[{slot}]]</answer>"


def _judge(pick):
    """A scripted judge that picks the slot ``pick(a, b)`` names and writes that reply as its solution."""

    def reply(conversation: list[dict]) -> str:
        a, b = _replies(conversation)
        slot = pick(a, b)
        return _verdict(slot, a if slot == "A" else b)

    return reply


# synth's test pairs: the longer answer is always the wrong one; its train pairs: mostly the right one
JUDGES = {
    "scripted-shorter": _judge(lambda a, b: "A" if len(a) <= len(b) else "B"),
    "scripted-longer": _judge(lambda a, b: "A" if len(a) >= len(b) else "B"),
    "scripted-a": _judge(lambda a, b: "A"),
    "scripted-policy": lambda conversation: "I think the answer is 1000.",  # wrong on every synth prompt
}


def _patch_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    """Models named in ``JUDGES`` are scripted; any other name loads for real (the tiny model)."""
    import rmr1_cli.generation as generation

    real = generation.build_generator

    def build(model, spec):
        if model.name_or_path in JUDGES:
            return ScriptedGenerator(JUDGES[model.name_or_path], identity=model.name_or_path)
        return real(model, spec)

    monkeypatch.setattr(generation, "build_generator", build)


def _eval(out: Path, judge: str, pairs: Path) -> Path:
    from rmr1_cli.stages import eval as eval_stage

    overrides = [
        f"output_dir={out}", f"judge.model.name_or_path={judge}", "judge.template=compact",
        f"benchmark.path={pairs}", "bootstrap=200", "plots=false",
    ]  # fmt: skip
    return eval_stage.run(config.load_recipe(None, config.EvalRecipe, overrides))


def fast_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model-free stages, run once per session; returns the folder holding them."""
    if "fast" in _BUILT:
        return _BUILT["fast"]
    from rmr1_cli.stages import distill, judge, refine, synth

    root = tmp_path_factory.mktemp("stage-runs")
    exp, loop = root / "experiment", root / "experiment" / "loop"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_generators(monkeypatch)
        synth_dir = synth.run(
            config.load_recipe(
                None,
                config.SynthRecipe,
                ["train_prompts=12", "test_prompts=8", f"output_dir={root / 'synth'}"],
            )
        )
        test, iid = synth_dir / "pairs_test.jsonl", synth_dir / "pairs_test_iid.jsonl"
        judge_overrides = [
            f"output_dir={root / 'judge'}", "judge.model.name_or_path=scripted-shorter", "judge.template=compact",
            f"pairs_file={test}", "limit=6",
        ]  # fmt: skip
        judge.run(config.load_recipe(None, config.JudgeRecipe, judge_overrides))
        for row, judge_name, pairs in [
            ("reasoning-sft-test", "scripted-a", test),
            ("reasoning-test", "scripted-shorter", test),
            ("reasoning-test-iid", "scripted-shorter", iid),
            ("scalar-test", "scripted-longer", test),
            ("scalar-test-iid", "scripted-longer", iid),
        ]:
            _eval(exp / "eval" / row, judge_name, pairs)
        _eval(loop / "round-0" / "eval", "scripted-a", test)
        refine_overrides = [
            f"output_dir={loop / 'round-1' / 'refine'}", f"prompts_file={synth_dir / 'prompts_train.jsonl'}",
            "limit=6", "model.name_or_path=scripted-policy", "select=wrong_answer", "teacher.source=reference",
        ]  # fmt: skip
        refine.run(config.load_recipe(None, config.RefineRecipe, refine_overrides))
        # a teacher that prefers the longer answer: right on most train pairs; balancing the labels
        # then drops some kept traces, so distill's `kept` and `written` differ
        distill_overrides = [
            f"output_dir={loop / 'round-1' / 'distill'}", f"pairs_file={synth_dir / 'pairs_train.jsonl'}",
            "limit=16", "template=compact", "teacher.name_or_path=scripted-longer", "balance_labels=true",
        ]  # fmt: skip
        distill.run(config.load_recipe(None, config.DistillRecipe, distill_overrides))
        _eval(loop / "round-1" / "eval", "scripted-shorter", test)
    _BUILT["fast"] = root
    return root


def trained_runs(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """``fast_runs`` plus sft, scalar train-rm and grpo (+ policy-eval) on the tiny model (slow)."""
    if "trained" in _BUILT:
        return _BUILT["trained"]
    from rmr1_cli.stages import grpo, sft, train_rm

    root = tmp_path_factory.mktemp("trained-runs") / "runs"
    shutil.copytree(fast_runs(tmp_path_factory), root)
    synth_dir, exp = root / "synth", root / "experiment"
    round_1 = exp / "loop" / "round-1"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_generators(monkeypatch)
        sft_overrides = [
            f"output_dir={round_1 / 'sft'}", f"model.name_or_path={model_dir}", "template=compact",
            f"train_file={synth_dir / 'traces_train.jsonl'}", "limit=4", "trainer.per_device_train_batch_size=4",
            "trainer.max_steps=2", "trainer.logging_steps=1",
        ]  # fmt: skip
        sft.run(config.load_recipe(None, config.SFTRecipe, sft_overrides))
        rm_overrides = [
            f"output_dir={round_1 / 'train-rm'}", "method=scalar", f"model.name_or_path={model_dir}",
            f"train_file={synth_dir / 'pairs_train.jsonl'}", f"eval_file={synth_dir / 'pairs_test.jsonl'}",
            "limit=8", "eval_limit=4", "trainer.per_device_train_batch_size=4", "trainer.max_steps=2",
            "trainer.logging_steps=1",
        ]  # fmt: skip
        train_rm.run(config.load_recipe(None, config.TrainRMRecipe, rm_overrides))
        grpo_overrides = [
            f"output_dir={round_1 / 'grpo'}", f"model.name_or_path={model_dir}",
            f"prompts_file={synth_dir / 'prompts_train.jsonl'}", "limit=4", "max_prompt_length=256",
            f"eval_prompts_file={synth_dir / 'prompts_test.jsonl'}", "eval_limit=3",
            "reward.judge.model.name_or_path=scripted-longer", "reward.judge.template=compact",
            "reward.samples_per_step=1", "trainer.max_steps=2", "trainer.num_generations=4",
            "trainer.per_device_train_batch_size=8", "trainer.max_completion_length=12",
            "trainer.learning_rate=1e-3", "trainer.logging_steps=1",
        ]  # fmt: skip
        grpo.run(config.load_recipe(None, config.GRPORecipe, grpo_overrides))
    # `make experiment` runs GRPO once per RM; one real run stands in for both here
    skip = shutil.ignore_patterns("model", "trainer")
    for name in ("reasoning", "scalar"):
        shutil.copytree(round_1 / "grpo", exp / f"grpo-{name}", ignore=skip)
        shutil.copytree(round_1 / "grpo" / "policy-eval", exp / "policy-eval" / name)
    _BUILT["trained"] = root
    return root
