"""The command line: instant help, results on stdout, user errors as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RMR1 = [sys.executable, "-m", "rmr1_cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*RMR1, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_import_does_not_load_torch():
    code = "import sys, rmr1_cli.cli; print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_registered_command():
    from rmr1_cli.cli import app

    names = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]
    assert {"sft", "train-rm", "judge", "grpo", "eval"} <= set(names)
    assert len(names) == len(set(names)), "a command is registered twice"
    out = run("--help")
    assert out.returncode == 0
    listed = {
        line.split()[1] for line in out.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 1
    }
    assert set(names) <= listed, set(names) - listed


def test_every_stage_command_has_a_recipe_class_and_a_stage_module():
    import importlib

    from rmr1_cli import config
    from rmr1_cli.cli import STAGE_COMMANDS

    assert [name for name, _ in STAGE_COMMANDS] == list(config.RECIPES)
    for name, _ in STAGE_COMMANDS:
        module = importlib.import_module(f"rmr1_cli.stages.{name.replace('-', '_')}")
        assert callable(module.run), name


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "q", "chosen": "a" "rejected": "b"}\n',
         "pairs.jsonl:2: not valid JSON"),
        ('{"prompt": "p", "chosen": "a"}\n', "pairs.jsonl:1: missing field 'rejected'"),
        ('{"prompt": "p", "chosen": 3, "rejected": "b"}\n', "pairs.jsonl:1: field 'chosen'"),
    ],
)  # fmt: skip
def test_malformed_pairs_file_is_one_clear_line(tmp_path, content, expected):
    (tmp_path / "pairs.jsonl").write_text(content)
    out = run("judge", "pairs_file=pairs.jsonl", "judge.model.name_or_path=unused", cwd=tmp_path)
    assert out.returncode == 2
    assert expected in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_misspelt_recipe_key_exits_2_naming_the_closest(tmp_path):
    (tmp_path / "r.yaml").write_text("pairs_flie: x.jsonl\n")
    out = run("judge", "r.yaml", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown key 'pairs_flie'" in out.stderr and "did you mean 'pairs_file'" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_model_folder_is_a_clear_error(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    out = run(
        "judge",
        f"pairs_file={pairs}",
        f"output_dir={tmp_path / 'out'}",
        "judge.model.name_or_path=./no/such/model",
    )
    assert out.returncode == 2
    assert "no/such/model" in out.stderr and "does not exist" in out.stderr
