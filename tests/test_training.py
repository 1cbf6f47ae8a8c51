"""The shared training core: trl arguments, checks that fail before any weights load, resuming, LoRA saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmr1_cli import config
from rmr1_cli.config import LoraSpec, ModelSpec, SFTRecipe
from rmr1_cli.errors import ConfigError
from rmr1_cli.training import arguments, runner

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "data" / "samples" / "traces_source.jsonl"


def _sft_recipe(out: Path, model: Path | str = "m", **trainer) -> SFTRecipe:
    return SFTRecipe(
        output_dir=str(out),
        model=ModelSpec(name_or_path=str(model)),
        trainer={**config.SFT_TRAINER_DEFAULTS, **trainer},
    )


# ---- trl arguments ---------------------------------------------------------------------------------


def test_trl_args_take_trl_names_and_fix_output_dir_and_seed(tmp_path):
    from trl import SFTConfig

    recipe = _sft_recipe(tmp_path / "run", learning_rate="3e-4", per_device_train_batch_size=2)
    args = arguments.build_trl_args(SFTConfig, recipe)
    assert args.learning_rate == 3e-4  # YAML's "3e-4" string became trl's float
    assert args.per_device_train_batch_size == 2
    assert args.output_dir == str(tmp_path / "run" / "trainer")
    assert args.seed == recipe.seed
    assert args.bf16 is False  # no CUDA here: trl's bf16 default is switched off
    assert args.report_to == [] or args.report_to in ("none", ["none"])


def test_unknown_trl_key_names_the_closest(tmp_path):
    from trl import SFTConfig

    with pytest.raises(ConfigError, match="learning_rate"):
        arguments.build_trl_args(SFTConfig, _sft_recipe(tmp_path, learnig_rate=1e-4))


def test_gradient_checkpointing_from_the_model_spec_is_non_reentrant(tmp_path):
    from trl import SFTConfig

    recipe = SFTRecipe(
        output_dir=str(tmp_path), model=ModelSpec(name_or_path="m", gradient_checkpointing=True)
    )
    args = arguments.build_trl_args(SFTConfig, recipe)
    assert args.activation_checkpointing is True and args.gradient_checkpointing is True
    assert args.activation_checkpointing_kwargs == {"use_reentrant": False}


def test_missing_logger_is_a_config_error(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install tensorboard"):
        arguments.check_report_to("tensorboard")
    with pytest.raises(ConfigError, match="WANDB_API_KEY"):
        arguments.check_report_to(["wandb"])
    arguments.check_report_to("none")


def test_vllm_without_a_gpu_is_a_config_error(tmp_path):
    from trl import GRPOConfig

    recipe = config.TrainRMRecipe(
        output_dir=str(tmp_path), model=ModelSpec(name_or_path="m"), trainer={"use_vllm": True}
    )
    with pytest.raises(ConfigError, match="use_vllm"):
        arguments.build_trl_args(GRPOConfig, recipe)


def test_qlora_needs_lora_and_a_gpu():
    with pytest.raises(ConfigError, match="lora.enabled"):
        arguments.peft_config(LoraSpec(enabled=False, load_in_4bit=True))
    with pytest.raises(ConfigError, match="CUDA"):
        arguments.quantization_config(LoraSpec(enabled=True, load_in_4bit=True))
    assert arguments.quantization_config(LoraSpec(enabled=True)) is None


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_qlora_stores_its_4bit_weights_in_the_compute_dtype(dtype, monkeypatch):
    """ZeRO-3 and FSDP shard parameters of one float dtype: the packed 4-bit weights are stored in the
    compute dtype, not bitsandbytes' uint8 (``bnb_4bit_quant_storage`` in transformers'
    BitsAndBytesConfig, .venv/lib/python3.11/site-packages/transformers/utils/quantization_config.py)."""
    import importlib.util

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes" else real(name, *a)
    )
    built = arguments.quantization_config(LoraSpec(enabled=True, load_in_4bit=True), ModelSpec(dtype=dtype))
    assert built.bnb_4bit_quant_storage == built.bnb_4bit_compute_dtype == getattr(torch, dtype)
    assert (built.load_in_4bit, built.bnb_4bit_quant_type) == (True, "nf4")


def test_lora_config_from_the_recipe():
    lora = arguments.peft_config(LoraSpec(enabled=True, r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    assert (lora.r, lora.lora_alpha, sorted(lora.target_modules)) == (4, 8, ["q_proj", "v_proj"])
    assert arguments.peft_config(LoraSpec(enabled=True)).target_modules == "all-linear"
    assert arguments.peft_config(LoraSpec()) is None


# ---- resuming --------------------------------------------------------------------------------------


class _Args:
    def __init__(self, output_dir, value):
        self.output_dir = str(output_dir)
        self.resume_from_checkpoint = value


def test_resume_target(tmp_path):
    assert runner.resume_target(_Args(tmp_path, None)) is None
    assert runner.resume_target(_Args(tmp_path, "false")) is None
    with pytest.raises(ConfigError, match="save_strategy=steps"):
        runner.resume_target(_Args(tmp_path, "latest"))
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    assert runner.resume_target(_Args(tmp_path, "latest")) == str(tmp_path / "checkpoint-10")
    assert runner.resume_target(_Args(tmp_path, "True")) == str(tmp_path / "checkpoint-10")
    assert runner.resume_target(_Args(tmp_path, str(tmp_path / "checkpoint-2"))) == str(
        tmp_path / "checkpoint-2"
    )
    with pytest.raises(ConfigError, match="not a checkpoint"):
        runner.resume_target(_Args(tmp_path, str(tmp_path)))


def _logged_steps(run: Path, key: str = "loss") -> list[int]:
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if key in row]


@pytest.mark.slow
def test_resume_from_a_checkpoint_continues_the_step_count(tiny_model_dir, in_tmp_cwd):
    from rmr1_cli.stages import sft

    def recipe(max_steps: int, *extra: str) -> SFTRecipe:
        return config.load_recipe(
            None,
            SFTRecipe,
            [
                "output_dir=run",
                f"model.name_or_path={tiny_model_dir}",
                f"train_file={TRACES}",
                "template=compact",
                "limit=4",
                "trainer.per_device_train_batch_size=2",
                "trainer.learning_rate=1e-3",
                f"trainer.max_steps={max_steps}",
                "trainer.save_strategy=steps",
                "trainer.save_steps=1",
                *extra,
            ],
        )

    first = sft.run(recipe(2))
    assert (first / "trainer" / "checkpoint-2" / "trainer_state.json").is_file()
    assert _logged_steps(first) == [1, 2]

    resumed = sft.run(recipe(3, "trainer.resume_from_checkpoint=latest"))
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics["global_step"] == 3
    assert _logged_steps(resumed) == [1, 2, 3]  # steps 1-2 come from the checkpoint, not a second run
    state = json.loads((resumed / "trainer" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3


# ---- LoRA ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lora_sft_trains_and_saves_merged_or_as_adapter(tiny_model_dir, in_tmp_cwd):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from rmr1_cli.stages import sft

    def run(out: str, merge: bool) -> Path:
        recipe = config.load_recipe(
            None,
            SFTRecipe,
            [
                f"output_dir={out}",
                f"model.name_or_path={tiny_model_dir}",
                f"train_file={TRACES}",
                "template=compact",
                "limit=4",
                "lora.enabled=true",
                "lora.r=4",
                "lora.dropout=0",
                f"lora.merge_on_save={merge}",
                "trainer.per_device_train_batch_size=2",
                "trainer.learning_rate=5e-3",
                "trainer.max_steps=2",
            ],
        )
        return sft.run(recipe) / "model"

    merged_dir = run("merged", True)
    assert not (merged_dir / "adapter_config.json").exists()
    assert not (merged_dir / "training_args.bin").exists()  # no pickles in a model folder
    base = load_file(next(Path(tiny_model_dir).glob("*.safetensors")))
    merged = load_file(next(merged_dir.glob("*.safetensors")))
    assert set(merged) == set(base)  # a plain model: no lora_A / lora_B keys left
    assert any(not torch.equal(base[k], merged[k]) for k in base)  # and the update is in the weights

    adapter_dir = run("adapter", False)
    assert (adapter_dir / "adapter_config.json").is_file()
    # merging the saved adapter into a fresh load of the base (the QLoRA / sharded path) is exact
    out = runner.merge_adapter(
        adapter_dir, Path("merged-from-disk"), ModelSpec(name_or_path=str(tiny_model_dir))
    )
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    from_disk = AutoModelForCausalLM.from_pretrained(out).eval()
    with_adapter = AutoModelForCausalLM.from_pretrained(
        adapter_dir
    ).eval()  # transformers applies the adapter
    with torch.no_grad():
        torch.testing.assert_close(from_disk(ids).logits, with_adapter(ids).logits, rtol=1e-4, atol=1e-4)


# ---- every shipped training recipe is accepted by trl ----------------------------------------------

GPU_ONLY = ("use_vllm", "bf16")  # checked on GPU machines only: vLLM needs CUDA, bf16 needs a capable device


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.glob("recipes/*/*.yaml")
        if p.stem in ("sft", "train-rm", "train-rm-scalar") and p.parent.name != "accelerate"
    ),
)
def test_shipped_training_recipes_build_trl_configs(path):
    """Batch arithmetic, scheduler names and every trl key of a recipe are checked by trl's own class."""
    import dataclasses

    from trl import GRPOConfig, RewardConfig, SFTConfig

    if Path(path).stem == "sft":
        recipe = config.load_recipe(ROOT / path, SFTRecipe)
        cls = SFTConfig
    else:
        recipe = config.load_recipe(ROOT / path, config.TrainRMRecipe)
        defaults = config.RM_GRPO_DEFAULTS if recipe.method == "reasoning" else config.RM_SCALAR_DEFAULTS
        recipe = dataclasses.replace(recipe, trainer={**defaults, **recipe.trainer})
        cls = GRPOConfig if recipe.method == "reasoning" else RewardConfig
    trainer = {k: v for k, v in recipe.trainer.items() if k not in GPU_ONLY}
    recipe = dataclasses.replace(recipe, trainer=trainer, output_dir="/tmp/rmr1-recipe-check")
    args = arguments.build_trl_args(cls, recipe)
    assert args.learning_rate == float(recipe.trainer["learning_rate"])
    arguments.peft_config(recipe.lora)


def test_sharding_engines_on_the_cpu_are_refused(tmp_path, monkeypatch):
    """accelerate shards only on GPU-class devices: an FSDP config on the CPU would quietly run DDP."""
    import torch
    from trl import SFTConfig

    if torch.cuda.is_available():
        pytest.skip("on a GPU machine FSDP and DeepSpeed are real")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(ConfigError, match="cpu-ddp.yaml"):
        arguments.build_trl_args(SFTConfig, _sft_recipe(tmp_path))


def test_bf16_recipes_keep_fp32_master_weights_outside_sharding(tmp_path, monkeypatch):
    """A bf16 model.dtype loads fp32 masters for full fine-tuning; LoRA, DeepSpeed/FSDP and a recipe's own
    trainer.model_init_kwargs.dtype keep the weights as the recipe says."""
    import torch
    from trl import SFTConfig

    def init_dtype(lora: bool = False, **trainer):
        recipe = SFTRecipe(
            output_dir=str(tmp_path),
            model=ModelSpec(name_or_path="m", dtype="bfloat16"),
            lora=LoraSpec(enabled=lora),
            trainer={**config.SFT_TRAINER_DEFAULTS, **trainer},
        )
        fixed = {"model_init_kwargs": arguments.model_init_kwargs(recipe.model)}
        return arguments.build_trl_args(SFTConfig, recipe, fixed=fixed).model_init_kwargs["dtype"]

    assert init_dtype() == torch.float32
    assert init_dtype(lora=True) == torch.bfloat16
    assert init_dtype(model_init_kwargs={"dtype": "bfloat16"}) == "bfloat16"
    # DeepSpeed / FSDP keep their own fp32 masters (they are refused on a CPU, so checked directly)
    recipe = SFTRecipe(output_dir=str(tmp_path), model=ModelSpec(name_or_path="m", dtype="bfloat16"))
    for settings in ({"deepspeed": "zero3.json"}, {"fsdp": "full_shard"}):
        settings["model_init_kwargs"] = {"dtype": torch.bfloat16}
        arguments._master_weights(settings, recipe)
        assert settings["model_init_kwargs"]["dtype"] == torch.bfloat16
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    settings = {"model_init_kwargs": {"dtype": torch.bfloat16}}
    arguments._master_weights(settings, recipe)
    assert settings["model_init_kwargs"]["dtype"] == torch.bfloat16
