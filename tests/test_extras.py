"""pyproject's extras agree with what the installed stack supports (no network: package metadata only)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT


def _extra(name: str) -> list[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        pytest.skip("tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["optional-dependencies"][name]


def test_the_vllm_extra_is_trls_own_vllm_range():
    """trl's METADATA (site-packages/trl-*.dist-info) pins the vLLM releases its GRPO supports; a wider
    range lets pip pick a vLLM whose transformers cap breaks training (issue 15)."""
    from packaging.requirements import Requirement

    trl_vllm = [Requirement(r) for r in importlib.metadata.requires("trl") or () if 'extra == "vllm"' in r]
    theirs = next(r.specifier for r in trl_vllm if r.name == "vllm")
    ours = next(Requirement(r).specifier for r in _extra("vllm") if Requirement(r).name == "vllm")
    assert ours == theirs, f"pyproject vllm extra {ours} vs trl {theirs}"


def test_checkpointing_falls_back_to_the_old_names_on_an_older_transformers(tmp_path):
    """transformers < 5.23 (which a vLLM release can pull in) knows only gradient_checkpointing(_kwargs)."""
    from rmr1_cli.config import ModelSpec
    from rmr1_cli.training import arguments

    @dataclasses.dataclass
    class OldArgs:  # the fields of TrainingArguments before 5.23 that build_trl_args touches
        output_dir: str | None = None
        seed: int = 42
        bf16: bool | None = None
        fp16: bool = False
        use_cpu: bool = False
        report_to: str | list[str] | None = None
        run_name: str | None = None
        learning_rate: float = 5e-5
        gradient_checkpointing: bool = False
        gradient_checkpointing_kwargs: dict | None = None

    def recipe_with(trainer: dict, checkpointing: bool = False):  # the parts build_trl_args reads
        model = ModelSpec(name_or_path="m", gradient_checkpointing=checkpointing)
        return SimpleNamespace(output_dir=str(tmp_path), seed=0, model=model, trainer=trainer)

    args = arguments.build_trl_args(OldArgs, recipe_with({}, checkpointing=True))
    assert args.gradient_checkpointing is True
    assert args.gradient_checkpointing_kwargs == {"use_reentrant": False}
    # the new spelling in a recipe is translated down, not rejected
    spelled = recipe_with(
        {"activation_checkpointing": True, "activation_checkpointing_kwargs": {"use_reentrant": True}}
    )
    args = arguments.build_trl_args(OldArgs, spelled)
    assert args.gradient_checkpointing is True
    assert args.gradient_checkpointing_kwargs == {"use_reentrant": True}
