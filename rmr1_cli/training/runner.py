"""Running a trl trainer and recording what it did: seeding, resuming, saving (gathered under
DeepSpeed/FSDP), adapter merging, the log history and its curves."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from rmr1_cli.config import LoraSpec, ModelSpec
from rmr1_cli.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

TRL_ARGS_FILE = "trainer_args.json"
_RESUME_LATEST = ("true", "latest", "last", "yes")
_NO_RESUME = ("", "false", "no", "none", "null")

# --------------------------------------------------------------------------------------------------
# Running


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (trl seeds again from ``args.seed`` when a trainer is built)."""
    from transformers import set_seed

    set_seed(seed)


def is_main_process() -> bool:
    """True in a single process and on rank 0 under ``accelerate launch`` / torchrun."""
    return int(os.environ.get("RANK", "0")) == 0


def resume_target(args) -> str | None:
    """The checkpoint ``trainer.resume_from_checkpoint`` names: ``latest`` (or true) = the newest
    complete ``checkpoint-N`` in this run's trainer folder, else a checkpoint folder's path; None for a
    fresh start. A checkpoint whose save was cut short (a killed run) is skipped with a warning.
    """
    value = args.resume_from_checkpoint
    if value is None or str(value).strip().lower() in _NO_RESUME:
        return None
    if str(value).strip().lower() in _RESUME_LATEST:
        folder = Path(args.output_dir)
        last = last_complete_checkpoint(folder)
        if last is None:
            raise ConfigError(
                f"trainer.resume_from_checkpoint={value}: no complete checkpoint-N folder in {folder}; a run "
                "writes them with trainer.save_strategy=steps and trainer.save_steps=N"
            )
        return str(last)
    path = Path(str(value)).expanduser()
    if not (path / _STATE).is_file():
        raise ConfigError(
            f"trainer.resume_from_checkpoint={value}: not a checkpoint folder (no {_STATE}); "
            "give a checkpoint-N folder or 'latest'"
        )
    if not checkpoint_complete(path):
        raise ConfigError(
            f"trainer.resume_from_checkpoint={value}: an incomplete checkpoint (its save was cut short); "
            "give an earlier checkpoint-N or 'latest'"
        )
    return str(path)


_STATE = "trainer_state.json"  # transformers' Trainer._save_checkpoint writes it after everything else


def checkpoint_complete(folder: Path) -> bool:
    """Whether a checkpoint's save finished: its trainer state, written last, is whole and names the
    checkpoint's own step (the file is not written atomically, so a kill can leave it cut short)."""
    try:
        state = json.loads((Path(folder) / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    step = Path(folder).name.rpartition("-")[2]
    return isinstance(state, dict) and (not step.isdigit() or state.get("global_step") == int(step))


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The complete ``checkpoint-N`` with the highest N in ``folder`` (None when there is none)."""
    if not Path(folder).is_dir():
        return None
    steps = [
        (int(p.name.rpartition("-")[2]), p)
        for p in Path(folder).glob("checkpoint-*")
        if p.is_dir() and p.name.rpartition("-")[2].isdigit()
    ]
    for _, path in sorted(steps, reverse=True):
        if checkpoint_complete(path):
            return path
        log.warning("%s: skipped, its save did not finish (no whole %s)", path, _STATE)
    return None


def train(trainer):
    """``trainer.train()``, resuming from the checkpoint the recipe names (see ``resume_target``).

    Log lines go to stderr: transformers prints every log dict to stdout (through its printer, or
    through tqdm.write when its progress bar is on).
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from rmr1_cli.training.callbacks import BarOnlyProgressCallback, StderrLogCallback

    had_bar = any(type(cb) is ProgressCallback for cb in trainer.callback_handler.callbacks)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if had_bar:
        trainer.add_callback(BarOnlyProgressCallback)
    trainer.add_callback(StderrLogCallback)
    target = resume_target(trainer.args)
    if target:
        log.info("resuming from %s", target)
    return trainer.train(resume_from_checkpoint=target)


def write_trl_args(args, out_dir: Path) -> Path:
    """The fully resolved trl settings (defaults included) next to recipe.yaml, for the manifest."""
    from rmr1_cli.data import write_text

    return write_text(Path(out_dir) / TRL_ARGS_FILE, args.to_json_string())


# --------------------------------------------------------------------------------------------------
# Saving and recording


def save_final_model(
    trainer,
    tokenizer,
    out_dir: Path,
    lora: LoraSpec,
    *,
    base: ModelSpec | None = None,
    task: str = "causal",
) -> Path:
    """Save the trained model as a plain folder (LoRA merged when asked) next to its tokenizer.

    Every process must call this (sharded DeepSpeed / FSDP weights are gathered by ``save_model``);
    only the main process writes. A LoRA run with ``merge_on_save`` is merged in memory, or, when the
    base is 4-bit (QLoRA) or sharded, saved as an adapter and merged into a fresh full-precision load
    of ``base``. Without ``merge_on_save`` the folder holds the adapter (loadable by transformers).
    """
    out = Path(out_dir) / "model"
    model = trainer.accelerator.unwrap_model(trainer.model)
    merge = lora.enabled and lora.merge_on_save and hasattr(model, "merge_and_unload")
    sharded = bool(
        getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False)
    )
    if not sharded and not lora.enabled and base is not None:
        _to_saved_dtype(model, base)
    if merge and not sharded and not lora.load_in_4bit:
        if trainer.is_world_process_zero():
            model.merge_and_unload().save_pretrained(out, safe_serialization=True)
    elif merge:
        adapter = Path(out_dir) / "adapter"
        trainer.save_model(str(adapter))
        if trainer.is_world_process_zero():
            merge_adapter(adapter, out, base or ModelSpec(name_or_path=_adapter_base(adapter)), task=task)
    else:
        trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)
        (out / "training_args.bin").unlink(missing_ok=True)  # a pickle; the settings are in trainer_args.json
    trainer.accelerator.wait_for_everyone()
    return out


def _to_saved_dtype(model, base: ModelSpec) -> None:
    """Cast fp32 master weights back to the recipe's ``model.dtype`` before saving.

    Outside DeepSpeed/FSDP a bf16 recipe trains fp32 masters (``arguments._master_weights``); the saved
    model keeps the recipe's dtype, so the next stage (and vLLM's ``dtype=auto``) loads what the recipe
    named, at half the disk. Training is over: nothing steps these weights again.
    """
    import torch

    from rmr1_cli import models

    target = models.resolve_dtype(base, "cuda" if torch.cuda.is_available() else "cpu")
    if target in (torch.bfloat16, torch.float16) and any(
        p.dtype == torch.float32 for p in model.parameters()
    ):
        model.to(target)


def merge_adapter(adapter_dir: Path, out: Path, base: ModelSpec, *, task: str = "causal") -> Path:
    """Load ``base`` in full precision on the CPU, apply the LoRA adapter, merge, save a plain folder."""
    from peft import PeftModel

    from rmr1_cli import models

    spec = dataclasses.replace(base, device="cpu")
    if task == "seq_cls":
        model = models.load_sequence_classifier(spec, device="cpu")
    else:
        model = models.load_causal_lm(spec, device="cpu")
    try:
        merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot apply the adapter {adapter_dir} to {base.name_or_path}: {exc}") from None
    merged.save_pretrained(out, safe_serialization=True)
    return out


def _adapter_base(adapter_dir: Path) -> str:
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    return cfg["base_model_name_or_path"]


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


def record_training(trainer, out_dir: Path, curves: list[str], png_name: str, title: str):
    """Write train_log.jsonl and the curves PNG; returns ``(summary, png path or None)``."""
    from rmr1_cli.reports.plots import plot_training_curves

    history, summary = history_metrics(trainer)
    write_history(history, out_dir)
    plot = plot_training_curves(history, curves, Path(out_dir) / png_name, title)
    return summary, plot


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
