"""Every shipped stage recipe loads with its stage's recipe class: no misspelt or stale key."""

from __future__ import annotations

import pytest

from rmr1_cli import config
from tests.conftest import ROOT

# The stage each file is run with (its name says it, except where the Makefile says otherwise).
STAGE_OF_NAME = {
    "base": "SFTRecipe",  # recipes/experiment: the base model's arithmetic SFT
    "policy": "SFTRecipe",  # recipes/experiment: the starting policy's SFT
    "rm-sft": "SFTRecipe",
    "rm-rl": "TrainRMRecipe",
    "rm-scalar": "TrainRMRecipe",
    "judge-base": "JudgeRecipe",
    "policy-eval": "PolicyEvalRecipe",
}
STAGE_OF_PREFIX = [
    ("sft", "SFTRecipe"),
    ("policy-sft", "SFTRecipe"),
    ("train-rm", "TrainRMRecipe"),
    ("judge", "JudgeRecipe"),
    ("eval", "EvalRecipe"),
    ("grpo", "GRPORecipe"),
    ("synth", "SynthRecipe"),
    ("refine", "RefineRecipe"),
    ("distill", "DistillRecipe"),
]


def recipe_class(stem: str) -> str:
    if stem in STAGE_OF_NAME:
        return STAGE_OF_NAME[stem]
    return next(cls for prefix, cls in STAGE_OF_PREFIX if stem.startswith(prefix))


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.glob("recipes/*/*.yaml")
        if p.parent.name not in ("accelerate", "eval")  # launcher configs; eval recipes: test_benchmarks.py
    ),
)
def test_shipped_recipe_loads_with_its_stage(path):
    stem = (ROOT / path).stem
    recipe = config.load_recipe(ROOT / path, getattr(config, recipe_class(stem)))
    assert recipe.output_dir  # every recipe names where its stage writes
