"""The training core shared by ``sft``, ``train-rm`` and ``grpo``: trl arguments from a recipe, the
device-aware defaults, LoRA / QLoRA, resuming, and what a training run leaves behind (log, curves,
resolved trl settings, final model).

trl's trainers do the training; this module only turns a recipe into their arguments and records what
happened. The same calls work in one CPU process and under ``accelerate launch`` (DDP, DeepSpeed,
FSDP): anything that writes files or runs an extra evaluation asks ``is_main_process`` first, and
saving goes through ``trainer.save_model`` so sharded weights are gathered.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import typing
from pathlib import Path
from typing import Any

from rmr1_cli import config
from rmr1_cli.config import LoraSpec, ModelSpec
from rmr1_cli.errors import ConfigError

log = logging.getLogger(__name__)

_CHECKPOINTING_KWARGS = ("activation_checkpointing_kwargs", "gradient_checkpointing_kwargs")


def build_trl_args(config_cls: type, recipe: Any, *, fixed: dict[str, Any] | None = None):
    """Instantiate trl's config class from ``recipe.trainer`` (trl's own names, trl's own checks).

    Values are converted to trl's declared field types (YAML reads ``1e-6`` as a string), unknown keys
    are errors naming the closest trl key, and on a machine without CUDA bf16/fp16 are switched off
    unless the recipe asks for them (trl defaults to bf16, which runs 3-4x slower on a CPU).
    ``report_to`` and ``use_vllm`` are checked against what is installed before any weights load.
    """
    import torch

    hints = _field_types(config_cls)
    settings: dict[str, Any] = {}
    for key, value in recipe.trainer.items():
        if key not in hints:
            raise ConfigError(
                f"trainer.{key}: not a {config_cls.__name__} setting{config.suggest(key, sorted(hints))}"
            )
        settings[key] = (
            _no_report(value) if key == "report_to" else _to_trl_type(value, hints[key], f"trainer.{key}")
        )
    if not torch.cuda.is_available():
        settings.setdefault("bf16", False)
        settings.setdefault("fp16", False)
        # on the CPU, processes started by `accelerate launch` / torchrun then join one gloo group
        settings.setdefault("use_cpu", True)
        for engine in ("FSDP", "DEEPSPEED"):
            if os.environ.get(f"ACCELERATE_USE_{engine}", "false").lower() == "true":
                # accelerate would quietly train with plain DDP instead (it shards only on GPU-class devices)
                raise ConfigError(
                    f"the accelerate config asks for {engine}, which needs GPUs; on the CPU launch with "
                    "recipes/accelerate/cpu-ddp.yaml"
                )
    # transformers 5 calls it activation checkpointing (gradient_checkpointing is its deprecated alias)
    checkpointing = settings.get("activation_checkpointing", settings.get("gradient_checkpointing"))
    if checkpointing is None:
        checkpointing = settings["activation_checkpointing"] = recipe.model.gradient_checkpointing
    if checkpointing and not any(k in settings for k in _CHECKPOINTING_KWARGS):
        # non-reentrant checkpointing works with LoRA (frozen inputs) and with DeepSpeed / FSDP
        settings["activation_checkpointing_kwargs"] = {"use_reentrant": False}
    settings.setdefault("report_to", "none")
    settings.setdefault("run_name", Path(recipe.output_dir).name)
    settings["output_dir"] = str(Path(recipe.output_dir) / "trainer")
    settings["seed"] = recipe.seed
    settings.update(fixed or {})
    check_report_to(settings["report_to"])
    if settings.get("use_vllm"):
        check_vllm(settings.get("vllm_mode", "colocate"))
    _check_ranges(settings)
    try:
        return config_cls(**settings)
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever trl's message looks like
        raise ConfigError(f"trainer: {config_cls.__name__} rejected the settings: {reason}") from None


# trl settings that trl's config classes accept out of range and that then fail deep inside training
_AT_LEAST = {
    "per_device_train_batch_size": 1,
    "per_device_eval_batch_size": 1,
    "gradient_accumulation_steps": 1,
    "num_generations": 2,
    "max_length": 1,
    "max_completion_length": 1,
    "max_steps": -1,  # -1: the epochs decide
    "num_train_epochs": 0,
    "learning_rate": 0,
    "warmup_steps": 0,
    "logging_steps": 0,
    "save_steps": 0,
    "save_total_limit": 1,
}


def _check_ranges(settings: dict[str, Any]) -> None:
    """``trainer.KEY`` out of range is a ConfigError naming the key, before any weights load."""
    for key, low in _AT_LEAST.items():
        value = settings.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < low:
            raise ConfigError(f"trainer.{key}: must be at least {low}, got {value}")


def _field_types(config_cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_cls)
    except Exception:  # some fields use forward references; fall back to the raw annotations
        return {f.name: f.type for f in dataclasses.fields(config_cls)}


def _to_trl_type(value: Any, annotation: Any, where: str) -> Any:
    """Convert leniently: trl's own validation has the final word."""
    try:
        return config.coerce(value, annotation, where)
    except ConfigError:
        if isinstance(annotation, type) and annotation in (int, float, bool):
            raise
        return value


def _no_report(value: Any) -> Any:
    """``none`` (string, null or in a list) means no reporting, as in trl; transformers refuses ``None``.

    >>> _no_report("none"), _no_report(None), _no_report(["none"]), _no_report("wandb")
    ('none', 'none', 'none', 'wandb')
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return "none"
    if isinstance(value, list | tuple) and all(str(v).strip().lower() == "none" for v in value):
        return "none"
    return value


_REPORTERS = {
    "tensorboard": (("tensorboard", "tensorboardX"), "pip install tensorboard"),
    "wandb": (("wandb",), "pip install wandb, and put the key in the WANDB_API_KEY environment variable"),
}


def check_report_to(report_to: str | list[str] | None) -> None:
    """Fail before training when a logger named in ``trainer.report_to`` is not installed.

    >>> check_report_to("none"), check_report_to(["none"])
    (None, None)
    """
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        modules, fix = _REPORTERS.get(name, ((), ""))
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            raise ConfigError(f"trainer.report_to={name}: the {modules[0]} package is not installed ({fix})")


def check_vllm(mode: str) -> None:
    """``use_vllm`` needs the vllm package and a GPU; server mode also needs ``trl vllm-serve`` running."""
    import torch

    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "trainer.use_vllm=true: vllm is not installed (pip install 'rmr1[vllm]' on a GPU machine), "
            "or set trainer.use_vllm=false to generate with transformers"
        )
    if not torch.cuda.is_available():
        raise ConfigError(
            "trainer.use_vllm=true needs a CUDA GPU; set trainer.use_vllm=false on this machine"
        )
    if mode not in ("colocate", "server"):
        raise ConfigError(f"trainer.vllm_mode must be 'colocate' or 'server', got {mode!r}")


# --------------------------------------------------------------------------------------------------
# Models: what trl loads, LoRA / QLoRA


def peft_config(lora: LoraSpec, *, task_type: str = "CAUSAL_LM"):
    """A peft LoraConfig from the recipe, or None when LoRA is off."""
    if not lora.enabled:
        if lora.load_in_4bit:
            raise ConfigError("lora.load_in_4bit=true is QLoRA: it needs lora.enabled=true as well")
        return None
    from peft import LoraConfig

    targets: Any = lora.target_modules
    if targets == ["all-linear"]:
        if lora.layers_to_transform:
            raise ConfigError(
                "lora.layers_to_transform needs lora.target_modules as a list of module names, e.g. "
                "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj (peft cannot combine it with all-linear)"
            )
        targets = "all-linear"
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        layers_to_transform=lora.layers_to_transform,
        task_type=task_type,
    )


def quantization_config(lora: LoraSpec, spec: ModelSpec | None = None):
    """QLoRA's 4-bit NF4 loading (bitsandbytes, CUDA only), or None when ``lora.load_in_4bit`` is off.

    Passed to trl's trainers as ``quantization_config``; the LoRA weights train in the compute dtype.
    """
    if not lora.load_in_4bit:
        return None
    import torch

    if not lora.enabled:
        raise ConfigError("lora.load_in_4bit=true is QLoRA: it needs lora.enabled=true as well")
    if not torch.cuda.is_available():
        raise ConfigError("lora.load_in_4bit (QLoRA) needs a CUDA GPU; use plain LoRA (load_in_4bit=false)")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("lora.load_in_4bit (QLoRA) needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    from rmr1_cli import models

    compute = models.resolve_dtype(spec or ModelSpec(), "cuda")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute if compute != torch.float32 else torch.bfloat16,
    )


def model_init_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """What trl passes to ``from_pretrained`` when it loads the model from a path.

    dtype, attention implementation, revision and ``trust_remote_code`` come from the recipe's model
    spec; gradient checkpointing is a trl setting (``build_trl_args`` takes it from the spec).
    """
    from rmr1_cli import models

    kwargs = models.model_kwargs(spec)
    kwargs.pop("use_safetensors", None)
    return kwargs
