"""Recipes: one frozen dataclass per command, loaded from YAML plus ``key=value`` overrides.

- ``specs``: the blocks recipes are made of (model, LoRA, generation, judge, benchmark, reward, teacher)
- ``recipes``: one recipe class per command (``RECIPES``) and the trl settings rmr1 chooses
- ``loader``: YAML + overrides -> a typed recipe; unknown keys name the closest valid one, renamed
  keys say their new name
- ``checks``: the range checks each class runs on itself, so a bad value fails as the recipe loads
"""

from rmr1_cli.config.checks import FieldError
from rmr1_cli.config.loader import RENAMED, build, coerce, dump_yaml, load_recipe, suggest, to_dict  # noqa: I001
from rmr1_cli.config.recipes import (
    POLICY_GRPO_DEFAULTS,
    RECIPES,
    RM_GRPO_DEFAULTS,
    RM_SCALAR_DEFAULTS,
    SFT_TRAINER_DEFAULTS,
    DistillRecipe,
    EvalRecipe,
    GRPORecipe,
    JudgeRecipe,
    PolicyEvalRecipe,
    RefineRecipe,
    ServeRecipe,
    SFTRecipe,
    SynthRecipe,
    TrainRMRecipe,
)
from rmr1_cli.config.specs import (
    BenchmarkSpec,
    GenerationSpec,
    JudgeSpec,
    LoraSpec,
    ModelSpec,
    PairSource,
    RewardSpec,
    TeacherSpec,
)

__all__ = [
    "POLICY_GRPO_DEFAULTS",
    "RECIPES",
    "RENAMED",
    "RM_GRPO_DEFAULTS",
    "RM_SCALAR_DEFAULTS",
    "SFT_TRAINER_DEFAULTS",
    "BenchmarkSpec",
    "DistillRecipe",
    "EvalRecipe",
    "FieldError",
    "GRPORecipe",
    "GenerationSpec",
    "JudgeRecipe",
    "JudgeSpec",
    "LoraSpec",
    "ModelSpec",
    "PairSource",
    "PolicyEvalRecipe",
    "RefineRecipe",
    "RewardSpec",
    "SFTRecipe",
    "ServeRecipe",
    "SynthRecipe",
    "TeacherSpec",
    "TrainRMRecipe",
    "build",
    "coerce",
    "dump_yaml",
    "load_recipe",
    "suggest",
    "to_dict",
]
