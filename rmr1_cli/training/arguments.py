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

_CHECKPOINTING = ("activation_checkpointing", "gradient_checkpointing")
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
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    settings: dict[str, Any] = {}
    for key, value in recipe.trainer.items():
        key = _checkpointing_name(key, hints)
        if key not in hints:
            raise ConfigError(
                f"trainer.{key}: not a {config_cls.__name__} setting{config.suggest(key, sorted(hints))}"
            )
        if key == "report_to":
            settings[key] = _no_report(value)
            continue
        value = yaml_word(key, value, hints[key], fields.get(key))
        settings[key] = _to_trl_type(value, hints[key], f"trainer.{key}")
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
    _checkpointing(settings, recipe.model.gradient_checkpointing, set(hints))
    settings.setdefault("report_to", "none")
    settings.setdefault("run_name", Path(recipe.output_dir).name)
    settings["output_dir"] = str(Path(recipe.output_dir) / "trainer")
    settings["seed"] = recipe.seed
    for key, value in (fixed or {}).items():
        if key == "model_init_kwargs" and isinstance(settings.get(key), dict):
            value = {**value, **settings[key]}  # the recipe's own trainer.model_init_kwargs win
        settings[key] = value
    if isinstance(settings.get("model_init_kwargs"), dict):
        _master_weights(settings, recipe)
    check_report_to(settings["report_to"])
    if settings.get("use_vllm"):
        check_vllm(settings.get("vllm_mode", "colocate"))
    _check_ranges(settings)
    try:
        return config_cls(**settings)
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever trl's message looks like
        raise ConfigError(f"trainer: {config_cls.__name__} rejected the settings: {reason}") from None


def _checkpointing(settings: dict[str, Any], from_spec: bool, known: set[str]) -> None:
    """Activation checkpointing under the name the installed transformers knows.

    transformers 5.23 renamed ``gradient_checkpointing(_kwargs)`` to ``activation_checkpointing(_kwargs)``
    (the old names stay as deprecated aliases); older releases, which vLLM's transformers caps can pull
    in, know only the old names and reject the new ones. Either spelling in a recipe works with both.
    """
    new = "activation_checkpointing" in known
    names = _CHECKPOINTING if new else _CHECKPOINTING[::-1]
    kw_names = _CHECKPOINTING_KWARGS if new else _CHECKPOINTING_KWARGS[::-1]
    if not new:  # translate the new spelling down to the one this transformers has
        for name, old in ((names[1], names[0]), (kw_names[1], kw_names[0])):
            if name in settings:
                settings.setdefault(old, settings.pop(name))
    on = settings.get(names[0], settings.get(names[1]))
    if on is None:
        on = settings[names[0]] = from_spec
    if on and not any(k in settings for k in kw_names):
        # non-reentrant checkpointing works with LoRA (frozen inputs) and with DeepSpeed / FSDP
        settings[kw_names[0]] = {"use_reentrant": False}


def _checkpointing_name(key: str, known: dict[str, Any]) -> str:
    """A checkpointing setting under the name this transformers knows (either spelling is accepted).

    >>> _checkpointing_name("activation_checkpointing", {"gradient_checkpointing": bool})
    'gradient_checkpointing'
    """
    pairs = dict(
        zip(
            _CHECKPOINTING + _CHECKPOINTING_KWARGS,
            _CHECKPOINTING[::-1] + _CHECKPOINTING_KWARGS[::-1],
            strict=True,
        )
    )
    if key in pairs and key not in known and pairs[key] in known:
        return pairs[key]
    return key


def _sharded(settings: dict[str, Any]) -> bool:
    """DeepSpeed or FSDP (from ``accelerate launch`` or trl's own settings): they keep fp32 masters."""
    launched = any(
        os.environ.get(f"ACCELERATE_USE_{engine}", "false").lower() == "true"
        for engine in ("FSDP", "DEEPSPEED")
    )
    return launched or bool(settings.get("deepspeed")) or bool(settings.get("fsdp"))


def _master_weights(settings: dict[str, Any], recipe: Any) -> None:
    """Full fine-tuning outside DeepSpeed/FSDP loads the weights in fp32 and autocasts to bf16/fp16.

    A model loaded in bf16 would be stepped in bf16 with no fp32 master copy: at the recipes' learning
    rates most updates round away. ``model.dtype`` then names the compute precision (trl's ``bf16`` /
    ``fp16``, when the recipe does not set them). LoRA keeps the base in the recipe's dtype (peft trains
    the adapters in fp32); a ``dtype`` in the recipe's own ``trainer.model_init_kwargs`` is kept as is.
    """
    import torch

    init = settings["model_init_kwargs"]
    dtype = init.get("dtype")
    own = recipe.trainer.get("model_init_kwargs")
    if isinstance(own, dict) and "dtype" in own:
        return
    lora = getattr(recipe, "lora", None)
    if dtype not in (torch.bfloat16, torch.float16) or (lora and lora.enabled) or _sharded(settings):
        return
    settings["model_init_kwargs"] = {**init, "dtype": torch.float32}
    if torch.cuda.is_available():
        flag = "bf16" if dtype == torch.bfloat16 else "fp16"
        if flag not in recipe.trainer and not settings.get("fp16" if flag == "bf16" else "bf16"):
            settings[flag] = True


# YAML 1.1 reads no / off / false / yes / on / true as booleans and null / ~ / an empty value as null.
_FALSE_WORDS = ("no", "none", "off", "false")
_TRUE_WORDS = ("yes", "on", "true")
_BOOL_WORDS = {"scale_rewards": {True: "group", False: "none"}}  # trl's GRPOConfig documents these


def yaml_word(key: str, value: Any, annotation: Any, field: Any = None) -> Any:
    """Give trl the word it documents where YAML made a boolean or null of it (``save_strategy: no``).

        Fields that take a boolean (or null) get the value as it is; a field with a fixed set of words gets
        the matching one (none among them: an error asking for quotes); a free-form string gets null where
    the setting takes null (``resume_from_checkpoint: no``), else ``"true"`` / ``"false"``.

        >>> from transformers.trainer_utils import SaveStrategy
        >>> yaml_word("save_strategy", False, SaveStrategy | str), yaml_word("save_strategy", "off", SaveStrategy | str)
        ('no', 'no')
        >>> yaml_word("scale_rewards", False, str), yaml_word("bf16", False, bool | None)
        ('none', False)
    """
    args = set(typing.get_args(annotation) or (annotation,))
    if isinstance(value, bool) and (bool in args or annotation is Any):
        return value
    if value is None and type(None) in args:
        return value
    if key in _BOOL_WORDS and (isinstance(value, bool) or value is None):
        return _BOOL_WORDS[key][bool(value)]
    choices = _choices(args, field)
    if isinstance(value, str) and (not choices or value in choices):
        return value
    if isinstance(value, str):
        words = _FALSE_WORDS if value.strip().lower() in _FALSE_WORDS else _TRUE_WORDS
        if value.strip().lower() not in words:
            return value  # not a YAML boolean word: trl's own check names the choices
    elif isinstance(value, bool) or value is None:
        words = _TRUE_WORDS if value else _FALSE_WORDS
    else:
        return value
    for word in words:
        if word in choices:
            return word
    if not choices and str in args:  # a free-form string: null where trl takes it, else the word
        return None if value in (False, None) and type(None) in args else str(bool(value)).lower()
    raise ConfigError(
        f"trainer.{key}: YAML read {value!r} as a boolean or null, which this setting does not take; "
        f"write the word in quotes{' (one of ' + ', '.join(choices) + ')' if choices else ''}"
    )


def _choices(args: set, field: Any) -> list[str]:
    """The words a trl/transformers setting accepts: its enum's values or its documented choices."""
    import enum

    for member in args:
        if isinstance(member, type) and issubclass(member, enum.Enum):
            return [str(e.value) for e in member]
    metadata = getattr(field, "metadata", None) or {}
    return [str(c) for c in metadata.get("choices", ())]


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
    return BitsAndBytesConfig(**qlora_settings(compute if compute != torch.float32 else torch.bfloat16))


def qlora_settings(compute) -> dict[str, Any]:
    """``BitsAndBytesConfig`` arguments for QLoRA with ``compute`` (a float dtype) as compute dtype.

    The packed 4-bit weights are stored in ``compute`` rather than bitsandbytes' default uint8: ZeRO-3
    and FSDP shard and gather parameters of one float dtype, and a uint8 parameter among bf16 ones makes
    them fail or skip it (transformers' BitsAndBytesConfig: ``bnb_4bit_quant_storage``). On one GPU the
    storage dtype changes nothing but the container.
    """
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": compute,
        "bnb_4bit_quant_storage": compute,
    }


def model_init_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """What trl passes to ``from_pretrained`` when it loads the model from a path.

    dtype, attention implementation, revision and ``trust_remote_code`` come from the recipe's model
    spec; gradient checkpointing is a trl setting (``build_trl_args`` takes it from the spec).
    """
    from rmr1_cli import models

    kwargs = models.model_kwargs(spec)
    kwargs.pop("use_safetensors", None)
    return kwargs
