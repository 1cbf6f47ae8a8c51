"""What every stage leaves in its output directory, so that a run can be understood and reproduced.

<output_dir>/recipe.yaml     the resolved recipe (defaults + file + overrides)
<output_dir>/manifest.json   versions, git commit, input file hashes, seed, command line, timings
<output_dir>/metrics.json    the stage's figures (documented per stage)
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rmr1_cli import config
from rmr1_cli.data import file_sha256, write_json, write_text

_PACKAGES = ("rmr1", "torch", "transformers", "trl", "datasets", "accelerate", "peft", "vllm")


@dataclass
class RunDir:
    """An output directory being written by one stage."""

    path: Path
    stage: str
    recipe: Any
    started: float = field(default_factory=time.time)
    inputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, stage: str, recipe: Any) -> RunDir:
        path = Path(recipe.output_dir)
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path=path, stage=stage, recipe=recipe)
        write_text(path / "recipe.yaml", config.dump_yaml(recipe))
        return run

    def record_input(self, name: str, file: str | Path | None) -> None:
        """Hash an input file (or note a hub id / directory) for the manifest."""
        if file is None:
            return
        p = Path(file)
        self.inputs[name] = f"sha256:{file_sha256(p)}" if p.is_file() else str(file)

    def finish(self, metrics: dict[str, Any]) -> Path:
        """Write metrics.json and manifest.json; returns the output directory."""
        write_json(self.path / "metrics.json", metrics)
        write_json(self.path / "manifest.json", self._manifest())
        return self.path

    def _manifest(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "seed": getattr(self.recipe, "seed", None),
            "command": sys.argv,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 2),
            "inputs": self.inputs,
            "versions": package_versions(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git_commit": _git_commit(),
            "git_dirty": _git_dirty(),  # uncommitted changes to tracked files: the commit alone is not the code
        }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _git_dirty() -> bool | None:
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None
