"""Every shipped training recipe builds its real trl trainer (SFTTrainer, GRPOTrainer, RewardTrainer).

Building only trl's config class let recipes through that crashed after the 7B weights loaded
(``report_to: none`` read as null; ``save_strategy: no`` read as false). Here each recipe file is
loaded as written and run through its stage up to the trainer's construction (``runner.train`` is
replaced by a stop), with only these changed: every model path points at a tiny Qwen2-architecture
model built in place, data files at the sample data, lengths, limits and steps shrunk, and
``use_vllm`` off (vLLM needs a GPU).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rmr1_cli import config
from rmr1_cli.config import GRPORecipe, SFTRecipe, TrainRMRecipe
from rmr1_cli.errors import ConfigError
from rmr1_cli.training import arguments, runner
from tests.conftest import ROOT, SAMPLES

# Recipes whose name does not say their stage (mk/experiment.mk, mk/loop.mk run them).
_NAMED = {
    "experiment/base.yaml": "sft",
    "experiment/policy.yaml": "sft",
    "experiment/rm-sft.yaml": "sft",
    "experiment/rm-scalar.yaml": "train-rm",
    "experiment/rm-rl.yaml": "train-rm",
    "tiny/policy-sft-synth.yaml": "sft",
}
_STAGES = {"sft": SFTRecipe, "train-rm": TrainRMRecipe, "grpo": GRPORecipe}


def _stage(path: Path) -> str | None:
    rel = f"{path.parent.name}/{path.name}"
    if rel in _NAMED:
        return _NAMED[rel]
    for stage in ("train-rm", "grpo", "sft"):
        if path.stem.startswith(stage):
            return stage
    return None


RECIPES = sorted(
    str(p.relative_to(ROOT))
    for p in ROOT.glob("recipes/**/*.yaml")
    if p.parent.name != "accelerate" and _stage(p) is not None
)
_DATA = {
    "sft": {"train_file": SAMPLES / "traces_source.jsonl", "eval_file": None},
    "train-rm": {"train_file": SAMPLES / "pairs.jsonl", "eval_file": SAMPLES / "pairs_eval.jsonl"},
    "grpo": {"prompts_file": SAMPLES / "prompts.jsonl", "eval_prompts_file": SAMPLES / "prompts.jsonl"},
}
_SHRINK = {  # trl's own lengths and batch sizes, when the recipe sets them
    "max_length": 1024,
    "max_completion_length": 8,
    "max_steps": 1,
    "num_train_epochs": 1,
    "save_steps": 1,
}


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory) -> Path:
    """A ~1M-parameter Qwen2ForCausalLM with a Qwen2-pipeline tokenizer (the 7B recipes' architecture)."""
    from rmr1_cli.training.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-qwen2") / "model"
    return build_tiny_model(out, corpus_files=sorted(SAMPLES.glob("*.jsonl")), arch="qwen2", seed=0)


@pytest.fixture(scope="module")
def tiny_qwen2_scorer(tiny_qwen2, tmp_path_factory) -> Path:
    """The same model with a one-output score head saved (a scalar RM's checkpoint)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("tiny-qwen2-scorer") / "model"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_qwen2, num_labels=1)
    model.config.pad_token_id = model.config.pad_token_id or 0
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_qwen2).save_pretrained(out)
    return out


def _model_paths(raw: dict, prefix: str = "") -> list[str]:
    """Dotted keys of every ``name_or_path`` in a recipe (policy, judge, scalar RM, baseline)."""
    found = []
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            found += _model_paths(value, dotted + ".")
        elif key == "name_or_path" and value:
            found.append(dotted)
    return found


def shrunk_overrides(path: Path, model: Path, out: Path, scorer: Path | None = None) -> list[str]:
    """The command-line overrides that make a shipped recipe build on a CPU in seconds."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    stage = _stage(path)
    items = [f"output_dir={out}"]
    keys = {"model.name_or_path", *_model_paths(raw)}  # the loop's recipes get their models from make
    reward = raw.get("reward") or {}
    if stage == "grpo" and reward.get("judge_weight", 1.0):
        keys.add("reward.judge.model.name_or_path")
    for key in sorted(keys):
        items.append(f"{key}={scorer if 'scalar_model' in key and scorer else model}")
    for key, value in _DATA[stage].items():
        if key in raw or value is not None and key in ("train_file", "prompts_file"):
            items.append(f"{key}={value if value is not None else 'null'}")
    if raw.get("mix_files"):
        items.append("mix_files=")
    items.append("limit=4")
    if "eval_limit" in raw:
        items.append("eval_limit=2")
    if (raw.get("lora") or {}).get("layers_to_transform"):
        items.append("lora.layers_to_transform=2,3")  # the tiny model has 4 layers
    if "max_prompt_length" in raw:
        items.append("max_prompt_length=1024")
    if "generation" in raw:
        items.append("generation.max_new_tokens=8")
    if isinstance(raw.get("reward"), dict) and "judge" in raw["reward"]:
        items.append("reward.judge.generation.max_new_tokens=8")
    trainer = raw.get("trainer") or {}
    items += [f"trainer.{key}={value}" for key, value in _SHRINK.items() if key in trainer]
    if trainer.get("use_vllm"):
        items.append("trainer.use_vllm=false")
    return items


class _Built(Exception):
    def __init__(self, trainer):
        self.trainer = trainer


@pytest.fixture()
def stop_at_training(monkeypatch):
    def stop(trainer):
        raise _Built(trainer)

    monkeypatch.setattr(runner, "train", stop)


def build_trainer(path: str, model: Path, out: Path, scorer: Path | None = None):
    """Run the recipe's stage until its trl trainer exists; return (recipe, trainer)."""
    import importlib

    file = ROOT / path
    stage = _stage(file)
    recipe = config.load_recipe(file, _STAGES[stage], shrunk_overrides(file, model, out, scorer))
    module = importlib.import_module(f"rmr1_cli.stages.{stage.replace('-', '_')}")
    with pytest.raises(_Built) as built:
        module.run(recipe)
    return recipe, built.value.trainer


@pytest.mark.slow
@pytest.mark.parametrize("path", RECIPES)
def test_shipped_recipe_builds_its_trl_trainer(
    path, tiny_qwen2, tiny_qwen2_scorer, in_tmp_cwd, stop_at_training
):
    import torch
    from trl import GRPOTrainer, RewardTrainer, SFTTrainer

    recipe, trainer = build_trainer(path, tiny_qwen2, in_tmp_cwd / "run", tiny_qwen2_scorer)
    stage = _stage(ROOT / path)
    expected = {"sft": SFTTrainer, "grpo": GRPOTrainer}.get(stage)
    if stage == "train-rm":
        expected = GRPOTrainer if recipe.method == "reasoning" else RewardTrainer
    assert isinstance(trainer, expected)
    assert trainer.model.config.model_type == "qwen2"
    written = yaml.safe_load((ROOT / path).read_text())["trainer"]
    for key in ("save_strategy", "eval_strategy", "logging_strategy"):
        if key in written:
            assert str(getattr(trainer.args, key).value) == str(written[key]).lower().replace("false", "no")
    assert trainer.args.report_to in ([], "none", ["none"])
    trainable = {p.dtype for p in trainer.model.parameters() if p.requires_grad}
    if recipe.model.dtype in ("bfloat16", "float16") and not recipe.lora.enabled:
        # no bf16-stepped weights outside DeepSpeed/FSDP: fp32 masters, the recipe's dtype as autocast
        assert trainable == {torch.float32}


# ---- YAML words that trl takes as strings ----------------------------------------------------------


def test_yaml_booleans_and_nulls_reach_trl_as_its_words(tmp_path):
    from trl import GRPOConfig

    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(
        "method: reasoning\nmodel: {name_or_path: m}\ntrainer:\n"
        "  save_strategy: no\n  eval_strategy: off\n  logging_strategy: 'none'\n"
        "  scale_rewards: false\n  report_to: none\n  resume_from_checkpoint: no\n",
        encoding="utf-8",
    )
    recipe = config.load_recipe(recipe_file, TrainRMRecipe, [f"output_dir={tmp_path / 'run'}"])
    args = arguments.build_trl_args(GRPOConfig, recipe)
    assert (args.save_strategy.value, args.eval_strategy.value, args.logging_strategy.value) == ("no",) * 3
    assert args.scale_rewards == "none" and args.resume_from_checkpoint is None
    assert args.report_to in ([], "none", ["none"])


def test_a_yaml_boolean_no_word_fits_is_a_config_error(tmp_path):
    from trl import SFTConfig

    recipe = SFTRecipe(output_dir=str(tmp_path), model=config.ModelSpec(name_or_path="m"),
                       trainer={"log_level": False})  # fmt: skip
    with pytest.raises(ConfigError, match="quotes"):
        arguments.build_trl_args(SFTConfig, recipe)


# ---- the same recipes under accelerate launch: 2 CPU processes, one optimizer step each ---------------

GPU_RECIPES = [path for path in RECIPES if path.split("/")[1].split("-")[0] in ("qwen2.5", "deepseek")]


@pytest.mark.slow
def test_gpu_recipes_train_one_step_under_two_processes_with_held_out_judging_in_lockstep(
    tiny_qwen2, tiny_qwen2_scorer, tmp_path
):
    """Every GPU training recipe runs one step under ``accelerate launch`` with recipes/accelerate/
    cpu-ddp.yaml (tests/ddp_recipes.py: one launch, every recipe in turn). The RLVR recipes' held-out
    judging runs with the ranks in lockstep, as on ZeRO-3 / FSDP: 3 pairs over 2 ranks, one prompt per
    batch, so rank 0 has 4 prompts and rank 1 has 2, and each ``generate`` runs with ``synced_gpus``
    (transformers/generation/utils.py, ``_has_unfinished_sequences`` all-reduces over gloo here). Both
    ranks must make the same number of model calls, rank 1 making up the difference with idle ones;
    a rank out of step would hang the launch (the timeout fails it)."""
    import json
    import os
    import subprocess
    import sys

    assert GPU_RECIPES and any("32b" in path for path in GPU_RECIPES)
    out = tmp_path / "ddp"
    out.mkdir()
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "recipes" / "accelerate" / "cpu-ddp.yaml"),
        str(ROOT / "tests" / "ddp_recipes.py"), str(out), str(tiny_qwen2), str(tiny_qwen2_scorer), *GPU_RECIPES,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    for path in GPU_RECIPES:
        name = path.replace("/", "_").removesuffix(".yaml")
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert metrics["global_step"] == 1, (path, metrics)
        zero, one = ranks[0][path], ranks[1][path]
        assert zero["real"] + zero["idle"] == one["real"] + one["idle"], (path, ranks)
        if metrics.get("method") == "reasoning":
            # two evaluations (start, end): rank 0 judges 2 pairs x 2 orders, rank 1 one pair
            assert (zero["real"], one["real"]) == (8, 4), (path, ranks)
            assert (zero["idle"], one["idle"]) == (0, 4), (path, ranks)
            assert metrics["heldout_after"]["pairs"] == 3, metrics["heldout_after"]
