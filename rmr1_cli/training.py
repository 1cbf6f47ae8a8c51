"""The training core shared by ``sft``, ``train-rm`` and ``grpo``: trl arguments from a recipe, the
device-aware defaults, LoRA, and what a training run leaves behind (log, curves, final model).

trl's trainers do the training; this module only turns a recipe into their arguments and records
what happened.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
from pathlib import Path
from typing import Any

from rmr1_cli import config
from rmr1_cli.config import LoraSpec, ModelSpec
from rmr1_cli.errors import ConfigError

log = logging.getLogger(__name__)


def build_trl_args(config_cls: type, recipe: Any, *, fixed: dict[str, Any] | None = None):
    """Instantiate trl's config class from ``recipe.trainer`` (trl's own names, trl's own checks).

    Values are converted to trl's declared field types (YAML reads ``1e-6`` as a string), unknown keys
    are errors naming the closest trl key, and on a machine without CUDA bf16/fp16 are switched off
    unless the recipe asks for them (trl defaults to bf16, which runs 3-4x slower on a CPU).
    """
    import torch

    hints = _field_types(config_cls)
    settings: dict[str, Any] = {}
    for key, value in recipe.trainer.items():
        if key not in hints:
            raise ConfigError(
                f"trainer.{key}: not a {config_cls.__name__} setting{config._suggest(key, sorted(hints))}"
            )
        settings[key] = _to_trl_type(value, hints[key], f"trainer.{key}")
    if not torch.cuda.is_available():
        settings.setdefault("bf16", False)
        settings.setdefault("fp16", False)
    settings.setdefault("gradient_checkpointing", recipe.model.gradient_checkpointing)
    settings.setdefault("report_to", "none")
    settings["output_dir"] = str(Path(recipe.output_dir) / "trainer")
    settings["seed"] = recipe.seed
    settings.update(fixed or {})
    try:
        return config_cls(**settings)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trainer: {config_cls.__name__} rejected the settings: {exc}") from None


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


def peft_config(lora: LoraSpec, *, task_type: str = "CAUSAL_LM"):
    """A peft LoraConfig from the recipe, or None when LoRA is off."""
    if not lora.enabled:
        return None
    from peft import LoraConfig

    targets: Any = lora.target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        task_type=task_type,
    )


def model_init_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """What trl passes to ``from_pretrained`` when it loads the model from a path."""
    from rmr1_cli import models

    kwargs = models.model_kwargs(spec)
    kwargs.pop("use_safetensors", None)
    return kwargs


def save_final_model(trainer, tokenizer, out_dir: Path, lora: LoraSpec) -> Path:
    """Save the trained model as a plain folder (LoRA merged when asked) next to its tokenizer."""
    out = Path(out_dir) / "model"
    model = trainer.model
    if lora.enabled and lora.merge_on_save and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def history_metrics(trainer) -> tuple[list[dict], dict[str, Any]]:
    """The trainer's log history and a summary: first and last value of each logged series."""
    history = [dict(h) for h in trainer.state.log_history]
    series: dict[str, list[float]] = {}
    for entry in history:
        for key, value in entry.items():
            if isinstance(value, (int, float)) and key not in ("step", "epoch"):
                series.setdefault(key, []).append(float(value))
    summary = {f"{k}_first": v[0] for k, v in series.items()} | {
        f"{k}_last": v[-1] for k, v in series.items()
    }
    summary["global_step"] = trainer.state.global_step
    return history, summary


def write_history(history: list[dict], out_dir: Path) -> Path:
    path = Path(out_dir) / "train_log.jsonl"
    from rmr1_cli.data import write_jsonl

    return write_jsonl(path, ({k: _jsonable(v) for k, v in h.items()} for h in history))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
