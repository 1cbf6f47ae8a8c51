"""Recipes: YAML + overrides typed by the dataclass fields; unknown keys name the closest valid key."""

from __future__ import annotations

import pytest

from rmr1_cli import config
from rmr1_cli.config import EvalRecipe, JudgeRecipe, SFTRecipe, TrainRMRecipe, load_recipe
from rmr1_cli.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, "output_dir: out\nmodel:\n  name_or_path: m\njudge:\n  samples: 2\n")
    recipe = load_recipe(path, JudgeRecipe, ["judge.samples=5", "generation.temperature=0.7", "limit=3"])
    assert recipe.output_dir == "out"
    assert recipe.judge.samples == 5 and isinstance(recipe.judge.samples, int)
    assert recipe.generation.temperature == 0.7
    assert recipe.limit == 3
    assert recipe.judge.both_orders is True  # untouched default


def test_bool_none_list_and_literal_conversions():
    recipe = load_recipe(
        None, EvalRecipe, ["judge.both_orders=false", "limit=null", "subsets=chat,math", "kind=scalar"]
    )
    assert recipe.judge.both_orders is False
    assert recipe.limit is None
    assert recipe.subsets == ["chat", "math"]
    assert recipe.kind == "scalar"


def test_misspelt_key_in_file_names_the_closest(tmp_path):
    path = write(tmp_path, "output_dir: x\nmodle:\n  name_or_path: m\n")
    with pytest.raises(ConfigError, match=r"unknown key 'modle'.*did you mean 'model'"):
        load_recipe(path, SFTRecipe)


def test_misspelt_nested_key_in_override():
    with pytest.raises(ConfigError, match=r"unknown key 'temprature'.*did you mean 'temperature'"):
        load_recipe(None, JudgeRecipe, ["generation.temprature=0.5"])


def test_bad_values_are_reported_with_their_key():
    with pytest.raises(ConfigError, match=r"judge: samples: expected int"):
        load_recipe(None, JudgeRecipe, ["judge.samples=many"])
    with pytest.raises(ConfigError, match=r"'float8' is not one of"):
        load_recipe(None, JudgeRecipe, ["model.dtype=float8"])
    with pytest.raises(ConfigError, match="key=value"):
        load_recipe(None, JudgeRecipe, ["judge.samples"])


def test_trainer_settings_lay_over_the_stage_defaults(tmp_path):
    path = write(tmp_path, "trainer:\n  learning_rate: 1.0e-4\n")
    recipe = load_recipe(path, SFTRecipe, ["trainer.num_train_epochs=3", "trainer.packing=true"])
    assert recipe.trainer["learning_rate"] == 1e-4
    assert recipe.trainer["num_train_epochs"] == 3
    assert recipe.trainer["packing"] is True
    # defaults not mentioned survive
    assert recipe.trainer["lr_scheduler_type"] == config.SFT_TRAINER_DEFAULTS["lr_scheduler_type"]


def test_missing_and_invalid_recipe_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "nope.yaml", SFTRecipe)
    with pytest.raises(ConfigError, match="mapping"):
        load_recipe(write(tmp_path, "- a\n- b\n"), SFTRecipe)


def test_resolved_recipe_round_trips_through_yaml(tmp_path):
    recipe = load_recipe(None, TrainRMRecipe, ["method=scalar", "trainer.max_steps=2"])
    again = load_recipe(write(tmp_path, config.dump_yaml(recipe)), TrainRMRecipe)
    assert again == recipe


def test_trl_settings_are_checked_against_trl(tmp_path):
    from trl import SFTConfig

    from rmr1_cli.training import arguments

    recipe = load_recipe(None, SFTRecipe, [f"output_dir={tmp_path}", "trainer.learning_rate=1e-5"])
    args = arguments.build_trl_args(SFTConfig, recipe)
    assert args.learning_rate == 1e-5 and isinstance(args.learning_rate, float)  # YAML reads 1e-5 as a string
    assert args.bf16 is False  # no CUDA here: trl's bf16 default is switched off
    bad = load_recipe(None, SFTRecipe, [f"output_dir={tmp_path}", "trainer.learnig_rate=1e-5"])
    with pytest.raises(ConfigError, match=r"trainer.learnig_rate.*did you mean 'learning_rate'"):
        arguments.build_trl_args(SFTConfig, bad)
