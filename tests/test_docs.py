"""README.md stays true to the tree: its code map names every package and stage module, and what it
names (and links to) exists."""

from __future__ import annotations

import re

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE_MAP = README[README.index("## Code map") : README.index("## Documentation")]
PACKAGE = ROOT / "rmr1_cli"


def test_code_map_names_every_subpackage_and_stage_module():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    for name in packages:
        if name == "stages":  # a row per stage module instead, checked below
            continue
        assert f"`{name}/`" in CODE_MAP, f"rmr1_cli/{name}/ is missing from README.md's code map"
    for stage in sorted((PACKAGE / "stages").glob("*.py")):
        if stage.stem != "__init__":
            assert f"`stages/{stage.name}`" in CODE_MAP, f"stages/{stage.name} is missing from the code map"


def test_everything_the_code_map_names_exists():
    for path in re.findall(r"^\| `([\w/.]+)`", CODE_MAP, flags=re.M):
        assert (PACKAGE / path).exists(), f"README.md's code map names rmr1_cli/{path}, which does not exist"


def test_readme_links_point_at_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_code_map_names_every_module():
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        in_package = module.relative_to(PACKAGE).as_posix()
        named = any(f"`{name}`" in CODE_MAP for name in (module.name, module.stem, in_package))
        assert named, f"{module.relative_to(ROOT)} is missing from README.md's code map"


def _stage_examples() -> list[tuple[str, str]]:
    """Every ``rmr1 <stage command> ...`` example in README.md and docs/*.md, as (file, command line)."""
    from rmr1_cli.config import RECIPES

    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        spans = re.findall(r"`(rmr1 [^`\n]+)`", text) + re.findall(r"^\s*(rmr1 [^\n#]+)", text, flags=re.M)
        for span in spans:
            words = span.split()
            if len(words) > 2 and words[1] in RECIPES and ("=" in span or words[2].endswith(".yaml")):
                found.append((doc.name, span.strip()))
    return found


def test_every_stage_example_in_the_docs_loads_its_recipe_and_overrides():
    from rmr1_cli.config import RECIPES, load_recipe

    examples = _stage_examples()
    assert len(examples) >= 10
    for doc, line in examples:
        words = line.split()[1:]
        command, rest = words[0], [w for w in words[1:] if not w.startswith("--")]
        recipe = rest[0] if rest and rest[0].endswith(".yaml") else None
        overrides = [w for w in rest if "=" in w]
        if recipe is not None and recipe.startswith("runs/"):
            continue  # a recipe.yaml an earlier run wrote: there is nothing to load before that run
        assert recipe is None or (ROOT / recipe).is_file(), f"{doc}: {line}: no recipe {recipe}"
        load_recipe(ROOT / recipe if recipe else None, RECIPES[command], overrides)
