"""Every shipped stage recipe loads with the recipe class of the command that runs it, and loading keeps
every value the file sets: no misspelt or stale key, no value dropped or changed on the way in."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rmr1_cli import config
from tests.conftest import ROOT

RECIPE_FILES = sorted(
    p.relative_to(ROOT).as_posix()
    for p in ROOT.glob("recipes/**/*.yaml")
    if p.parent.name != "accelerate"  # accelerate's launcher configs, not stage recipes
)

_ASSIGNMENT = re.compile(r"^([A-Z_0-9]+)\s*[:?]?=\s*(\S+)\s*$", re.M)  # NAME := value, NAME ?= value
_RUN = re.compile(r"\$\(RMR1\)\s+([a-z-]+)\s+(\S+\.yaml)")


def commands_in_makefiles() -> dict[str, str]:
    """recipe path -> the command the Makefile (or mk/*.mk) runs it with, e.g. `$(RMR1) sft $(TINY)/sft.yaml`."""
    texts = [(ROOT / "Makefile").read_text(), *(p.read_text() for p in sorted((ROOT / "mk").glob("*.mk")))]
    variables = {name: value for text in texts for name, value in _ASSIGNMENT.findall(text)}
    found: dict[str, str] = {}
    for text in texts:
        for command, path in _RUN.findall(text):
            for _ in range(3):  # variables may name variables
                path = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), path)
            found[path] = command
    return found


MAKE_COMMANDS = commands_in_makefiles()


def command_of(path: str) -> str:
    """The Makefile's command for a recipe; else the longest command its name starts with; else its folder's."""
    if path in MAKE_COMMANDS:
        return MAKE_COMMANDS[path]
    stem, folder = Path(path).stem, Path(path).parent.name
    by_name = [name for name in config.RECIPES if stem == name or stem.startswith(name + "-")]
    if by_name:
        return max(by_name, key=len)
    assert folder in config.RECIPES, f"{path}: no Makefile line runs it and its name names no command"
    return folder


def test_the_makefiles_run_shipped_recipes_with_known_commands():
    assert MAKE_COMMANDS, "no `$(RMR1) <command> <recipe>.yaml` line found in the Makefile or mk/"
    for path, command in MAKE_COMMANDS.items():
        assert command in config.RECIPES, f"the Makefile runs {path} with unknown command {command!r}"
        assert (ROOT / path).is_file(), f"the Makefile runs {path}, which does not exist"


def assert_kept(file_value: Any, loaded: Any, where: str) -> None:
    """Every key the file sets is in the loaded recipe with the file's value (converted to its type)."""
    if isinstance(file_value, dict):
        for key, value in file_value.items():
            if dataclasses.is_dataclass(loaded):
                assert hasattr(loaded, key), f"{where}.{key}: set in the file, missing from the recipe"
                inner = getattr(loaded, key)
            else:
                assert isinstance(loaded, dict) and key in loaded, (
                    f"{where}.{key}: set in the file, not loaded"
                )
                inner = loaded[key]
            assert_kept(value, inner, f"{where}.{key}")
    elif isinstance(file_value, list):
        assert isinstance(loaded, (list, tuple)) and len(loaded) == len(file_value), (
            f"{where}: the file's list of {len(file_value)} became {loaded!r}"
        )
        for i, (value, inner) in enumerate(zip(file_value, loaded, strict=True)):
            assert_kept(value, inner, f"{where}[{i}]")
    elif isinstance(loaded, float) and type(file_value) in (int, str):  # YAML reads 1e-6 as a string
        assert float(file_value) == loaded, f"{where}: file {file_value!r}, loaded {loaded!r}"
    else:
        assert loaded == file_value and type(loaded) is type(file_value), (
            f"{where}: file {file_value!r}, loaded {loaded!r}"
        )


@pytest.mark.parametrize("path", RECIPE_FILES)
def test_shipped_recipe_loads_with_the_values_it_sets(path):
    command = command_of(path)
    recipe = config.load_recipe(ROOT / path, config.RECIPES[command])
    assert isinstance(recipe, config.RECIPES[command])
    data = yaml.safe_load((ROOT / path).read_text()) or {}
    assert data, f"{path}: an empty recipe (every shipped recipe sets at least its output_dir)"
    assert_kept(data, recipe, path)
    # what the file leaves out comes from the class's defaults, and it round-trips through recipe.yaml
    assert config.build(type(recipe), yaml.safe_load(config.dump_yaml(recipe)), path) == recipe


@pytest.mark.parametrize(
    ("synth_recipe", "sft_recipes"),
    [
        ("recipes/tiny/synth.yaml", ["recipes/tiny/policy-sft-synth.yaml", "recipes/tiny/sft-synth.yaml"]),
        ("recipes/experiment/synth.yaml", ["recipes/experiment/base.yaml", "recipes/experiment/policy.yaml",
                                           "recipes/experiment/rm-sft.yaml"]),
    ],
)  # fmt: skip
def test_sft_recipes_accept_the_files_synth_writes_for_them(tmp_path, synth_recipe, sft_recipes):
    """The SFT recipes the Makefile runs on `rmr1 synth` output load that output under their own checks
    (a policy's question-answer rows carry no verdict; judge traces must)."""
    from rmr1_cli.stages import sft, synth

    folder = synth.run(
        config.load_recipe(ROOT / synth_recipe, config.RECIPES["synth"], [f"output_dir={tmp_path}"])
    )
    for path in sft_recipes:
        recipe = config.load_recipe(ROOT / path, config.RECIPES["sft"])
        train_file = folder / Path(recipe.train_file).name
        rows = sft.load_sft_rows(str(train_file), recipe.template, 8, recipe.require_verdict)
        assert len(rows) == 8, path
