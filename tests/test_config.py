"""Recipes: YAML + overrides typed by the dataclass fields; unknown keys name the closest valid key,
renamed keys their new name, and values out of range fail as the recipe loads, naming file and key."""

from __future__ import annotations

import pytest

from rmr1_cli import config
from rmr1_cli.config import (
    EvalRecipe,
    GenerationSpec,
    GRPORecipe,
    JudgeRecipe,
    JudgeSpec,
    PolicyEvalRecipe,
    RefineRecipe,
    ServeRecipe,
    SFTRecipe,
    TrainRMRecipe,
    load_recipe,
)
from rmr1_cli.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, "output_dir: out\njudge:\n  model:\n    name_or_path: m\n  samples: 1\n")
    overrides = ["judge.samples=5", "judge.generation.temperature=0.7", "limit=3"]
    recipe = load_recipe(path, JudgeRecipe, overrides)
    assert recipe.output_dir == "out" and recipe.judge.model.name_or_path == "m"
    assert recipe.judge.samples == 5 and isinstance(recipe.judge.samples, int)
    assert recipe.judge.generation.temperature == 0.7
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
        load_recipe(None, JudgeRecipe, ["judge.generation.temprature=0.5"])


def test_bad_values_are_reported_with_their_key():
    with pytest.raises(ConfigError, match=r"<defaults>: judge.samples: expected int"):
        load_recipe(None, JudgeRecipe, ["judge.samples=many"])
    with pytest.raises(ConfigError, match=r"judge.model.dtype: 'float8' is not one of"):
        load_recipe(None, JudgeRecipe, ["judge.model.dtype=float8"])
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


# -- one judge block: the old spellings of a judge answer with their new names -----------------------

RENAMES = [  # recipe class, an old key, its old prefix, the prefix's new name
    (JudgeRecipe, "model.name_or_path", "model", "judge.model"),
    (JudgeRecipe, "generation.max_new_tokens", "generation", "judge.generation"),
    (ServeRecipe, "model.name_or_path", "model", "judge.model"),
    (ServeRecipe, "generation.temperature", "generation", "judge.generation"),
    (EvalRecipe, "model.name_or_path", "model", "judge.model"),
    (EvalRecipe, "generation.batch_size", "generation", "judge.generation"),
    (GRPORecipe, "reward.judge_model.name_or_path", "reward.judge_model", "reward.judge.model"),
    (GRPORecipe, "reward.generation.max_new_tokens", "reward.generation", "reward.judge.generation"),
    (GRPORecipe, "eval_second_judge.judge.template", "eval_second_judge.judge", "eval_second_judge"),
    (PolicyEvalRecipe, "judge.judge.template", "judge.judge", "judge"),
    (PolicyEvalRecipe, "second_judge.judge.samples", "second_judge.judge", "second_judge"),
    (RefineRecipe, "judge_model.name_or_path", "judge_model", "judge.model"),
    (RefineRecipe, "judge_generation.max_new_tokens", "judge_generation", "judge.generation"),
]


@pytest.mark.parametrize(("cls", "key", "old", "new"), RENAMES)
def test_an_old_judge_key_in_an_override_says_its_new_name(cls, key, old, new):
    with pytest.raises(ConfigError) as caught:
        load_recipe(None, cls, [f"{key}=1"])
    message = str(caught.value)
    assert message.startswith(f"override '{key}': '{old}' was renamed to '{new}'")
    assert message.endswith(f"; write '{new}{key[len(old) :]}'")


def nested(key: str, value: str) -> str:
    """``a.b.c`` -> the YAML mapping ``a: {b: {c: value}}`` written out with indentation."""
    lines = [f"{'  ' * depth}{part}:" for depth, part in enumerate(key.split("."))]
    return "\n".join(lines) + f" {value}\n"


@pytest.mark.parametrize(("cls", "key", "old", "new"), RENAMES)
def test_an_old_judge_key_in_a_file_says_its_new_name_and_the_file(tmp_path, cls, key, old, new):
    path = write(tmp_path, nested(key, "1"))
    with pytest.raises(ConfigError) as caught:
        load_recipe(path, cls)
    assert str(caught.value).startswith(f"{path}: '{old}' was renamed to '{new}'")


def test_evals_old_model_key_names_both_new_places():
    with pytest.raises(
        ConfigError, match=r"'model' was renamed to 'judge.model' \(or scalar_model with kind=scalar\)"
    ):
        load_recipe(None, EvalRecipe, ["kind=scalar", "model.name_or_path=rm"])


def test_the_new_judge_block_is_the_same_in_every_recipe(tmp_path):
    block = (
        "judge:\n  model:\n    name_or_path: j\n  generation:\n    max_new_tokens: 7\n  template: compact\n"
    )
    for cls in (JudgeRecipe, ServeRecipe, EvalRecipe, PolicyEvalRecipe, RefineRecipe):
        judge = load_recipe(write(tmp_path, block), cls).judge
        assert (judge.model.name_or_path, judge.generation.max_new_tokens, judge.template) == (
            "j",
            7,
            "compact",
        )
    grpo = load_recipe(
        write(tmp_path, "reward:\n" + "".join(f"  {line}\n" for line in block.splitlines())), GRPORecipe
    )
    assert grpo.reward.judge.model.name_or_path == "j" and grpo.reward.judge.template == "compact"
    second = load_recipe(None, PolicyEvalRecipe, ["second_judge.model.name_or_path=k"]).second_judge
    assert second.given and not load_recipe(None, PolicyEvalRecipe).second_judge.given  # empty model: none


# -- range checks: at load time, naming the file and the dotted key -----------------------------------

OUT_OF_RANGE = [
    (JudgeRecipe, "limit=0", "limit: must be at least 1, got 0"),
    (JudgeRecipe, "judge.samples=0", "judge.samples: must be at least 1, got 0"),
    (
        JudgeRecipe,
        "judge.samples=3",
        "judge.samples: 3 samples with generation.temperature=0 would be 3 identical",
    ),
    (JudgeRecipe, "judge.retry_invalid=-1", "judge.retry_invalid: must be at least 0, got -1"),
    (JudgeRecipe, "judge.max_prompt_tokens=0", "judge.max_prompt_tokens: must be at least 1"),
    (JudgeRecipe, "judge.generation.max_new_tokens=0", "judge.generation.max_new_tokens: must be at least 1"),
    (JudgeRecipe, "judge.generation.batch_size=0", "judge.generation.batch_size: must be at least 1"),
    (JudgeRecipe, "judge.generation.temperature=-0.1", "judge.generation.temperature: must be at least 0"),
    (JudgeRecipe, "judge.generation.top_p=0", "judge.generation.top_p: must be in (0, 1], got 0.0"),
    (JudgeRecipe, "judge.generation.top_p=1.5", "judge.generation.top_p: must be in (0, 1], got 1.5"),
    (ServeRecipe, "port=65536", "port: must be in [0, 65535], got 65536"),
    (ServeRecipe, "judge.solve_first=true", "judge.solve_first: needs generation.backend=transformers"),
    (EvalRecipe, "batch_size=0", "batch_size: must be at least 1"),
    (EvalRecipe, "bootstrap=-1", "bootstrap: must be at least 0"),
    (TrainRMRecipe, "eval_limit=0", "eval_limit: must be at least 1"),
    (TrainRMRecipe, "generation.max_new_tokens=0", "generation.max_new_tokens: must be at least 1"),
    (SFTRecipe, "lora.r=0", "lora.r: must be at least 1"),
    (GRPORecipe, "reward.judge.both_orders=false", "reward.judge.both_orders: must be true"),
    (GRPORecipe, "reward.judge_weight=0", "reward.judge_weight: every weight is 0"),
    (GRPORecipe, "eval_limit=0", "eval_limit: must be at least 1"),
    (GRPORecipe, "eval_second_judge.samples=0", "eval_second_judge.samples: must be at least 1"),
    (PolicyEvalRecipe, "second_judge.generation.top_p=2", "second_judge.generation.top_p: must be in (0, 1]"),
    (RefineRecipe, "samples_per_prompt=0", "samples_per_prompt: must be at least 1"),
    (RefineRecipe, "teacher.attempts=0", "teacher.attempts: must be at least 1"),
    (RefineRecipe, "select=", "select: give at least one rule"),
    (RefineRecipe, "low_reward_threshold=2", "low_reward_threshold: must be in [0, 1]"),
]


@pytest.mark.parametrize(("cls", "override", "message"), OUT_OF_RANGE)
def test_values_out_of_range_fail_at_load_naming_the_key(cls, override, message):
    extra = ["judge.generation.backend=vllm"] if "solve_first" in override else []
    with pytest.raises(ConfigError) as caught:
        load_recipe(None, cls, [override, *extra])
    assert str(caught.value).startswith(f"<defaults>: {message}")


def test_a_value_out_of_range_in_a_file_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path, "reward:\n  judge:\n    generation:\n      batch_size: 0\n")
    with pytest.raises(
        ConfigError, match=rf"^{path}: reward.judge.generation.batch_size: must be at least 1, got 0$"
    ):
        load_recipe(path, GRPORecipe)


def test_sampled_judgments_and_limits_in_range_load():
    recipe = load_recipe(
        None, JudgeRecipe, ["judge.samples=3", "judge.generation.temperature=0.7", "limit=null"]
    )
    assert recipe.judge.samples == 3 and recipe.limit is None
    assert load_recipe(None, ServeRecipe, ["port=0"]).port == 0  # 0: a free port


def test_specs_built_in_code_check_themselves_too():
    with pytest.raises(ConfigError, match="identical"):
        JudgeSpec(samples=2)
    assert JudgeSpec(samples=2, generation=GenerationSpec(temperature=0.7)).samples == 2
    with pytest.raises(ConfigError, match="top_p"):
        GenerationSpec(top_p=0.0)


def test_eval_reads_the_rm_from_its_kinds_block():
    scalar = load_recipe(None, EvalRecipe, ["kind=scalar", "scalar_model.name_or_path=s"])
    assert scalar.rm.name_or_path == "s"
    assert load_recipe(None, EvalRecipe, ["judge.model.name_or_path=g"]).rm.name_or_path == "g"
    with pytest.raises(
        ConfigError, match=r"judge.model: is read with kind=generative; a scalar RM goes in scalar_model"
    ):
        load_recipe(None, EvalRecipe, ["kind=scalar", "judge.model.name_or_path=g"])
    with pytest.raises(
        ConfigError, match=r"scalar_model: is read with kind=scalar; a generative RM goes in judge.model"
    ):
        load_recipe(None, EvalRecipe, ["scalar_model.name_or_path=s"])


def test_an_unknown_benchmark_name_fails_at_load_naming_the_closest_rule():
    with pytest.raises(
        ConfigError, match=r"benchmark.name: 'rm-bnech' is not a benchmark; did you mean 'rm-bench'"
    ):
        load_recipe(None, EvalRecipe, ["benchmark.name=rm-bnech"])
