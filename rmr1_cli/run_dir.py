"""What every stage leaves in its output directory, so that a run can be understood and reproduced.

<output_dir>/recipe.yaml     the resolved recipe (defaults + file + overrides), secrets masked
<output_dir>/manifest.json   versions, git commit, input file hashes, seed, command line, timings
<output_dir>/metrics.json    the stage's figures (documented per stage)

A run claims its folder with a lock (``.rmr1.lock``) before it writes anything there, so a second
process is refused without touching a running or finished run. A run that fails with an error puts the
folder back as it found it: the previous ``recipe.yaml`` returns, and a folder the run created keeps
only what it saved (caches to resume from), or is removed when nothing was saved (``guard``).
"""

from __future__ import annotations

import errno
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rmr1_cli import config
from rmr1_cli.data import file_sha256, write_json, write_text
from rmr1_cli.data.store import acquire_lock, release_lock
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.redaction import redact, redact_text

_PACKAGES = ("rmr1", "torch", "transformers", "trl", "datasets", "accelerate", "peft", "vllm")


_OPEN: list[RunDir] = []  # runs of this process that have claimed a folder and not finished
_WRITE_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


@dataclass
class RunDir:
    """An output directory being written by one stage."""

    path: Path
    stage: str
    recipe: Any
    started: float = field(default_factory=time.time)
    inputs: dict[str, str] = field(default_factory=dict)
    made: list[Path] = field(default_factory=list)  # folders this run created, deepest last
    previous_recipe: bytes | None = None
    lock: Path | None = None
    existing: set[Path] = field(default_factory=set)  # what the folder held when the run claimed it
    # under ``accelerate launch`` every rank runs the stage; rank 0 alone claims and records the folder
    main: bool = True

    @classmethod
    def create(cls, stage: str, recipe: Any) -> RunDir:
        """Claim ``recipe.output_dir`` (refused when it is a file or another process holds it), then
        write the resolved recipe."""
        path = Path(recipe.output_dir)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"output_dir: {path} is a file, not a folder; choose another output_dir")
        made = [p for p in (path, *path.parents) if not p.exists()][::-1]
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"output_dir: cannot create {path} ({exc.strerror or exc})") from None
        run = cls(path=path, stage=stage, recipe=recipe, made=made, existing=set(path.rglob("*")))
        if int(os.environ.get("RANK", "0")) != 0:
            run.main = False
            return run
        try:
            run.lock = acquire_lock(
                path / ".rmr1",
                busy=f"output_dir {path} is in use by another rmr1 process; wait for it to end or "
                "choose another output_dir",
            )
        except ConfigError:
            run._remove_stubs()
            raise
        recipe_file = path / "recipe.yaml"
        run.previous_recipe = recipe_file.read_bytes() if recipe_file.is_file() else None
        _OPEN.append(run)
        write_text(recipe_file, config.dump_yaml(recipe))
        return run

    def record_input(self, name: str, file: str | Path | None) -> None:
        """Hash an input file (or note a hub id / directory) for the manifest."""
        if file is None:
            return
        p = Path(file)
        self.inputs[name] = f"sha256:{file_sha256(p)}" if p.is_file() else redact_text(str(file))

    def finish(self, metrics: dict[str, Any]) -> Path:
        """Write metrics.json and manifest.json (rank 0 only); returns the output directory."""
        if not self.main:
            return self.path
        write_json(self.path / "metrics.json", metrics)
        write_json(self.path / "manifest.json", redact(self._manifest()))
        self._release()
        return self.path

    def abandon(self) -> None:
        """The run failed: restore the previous recipe.yaml and remove what only this run left."""
        if not self.main:
            return
        recipe_file = self.path / "recipe.yaml"
        try:
            if self.previous_recipe is not None:
                recipe_file.write_bytes(self.previous_recipe)
            elif not self.made:
                recipe_file.unlink(missing_ok=True)
        except OSError:
            pass  # a full disk: the run's own recipe stays, which still describes the folder
        self._release()
        self._remove_stubs()

    def _release(self) -> None:
        if self in _OPEN:
            _OPEN.remove(self)
        release_lock(self.lock)
        self.lock = None

    def _remove_stubs(self) -> None:
        """Drop what this run added without saving anything in it (empty files, lock files, empty
        folders, and its recipe in a folder it created); kept: caches with rows to resume from."""
        for file in sorted(self.path.rglob("*"), reverse=True):
            if file in self.existing or (file.name == ".rmr1.lock" and not self.made):
                continue  # the claim lock of a folder others may also open stays where it is
            try:
                if file.is_file() and (
                    (file.name == "recipe.yaml" and self.made)
                    or file.suffix == ".lock"
                    or file.stat().st_size == 0
                ):
                    file.unlink()
                elif file.is_dir() and not any(file.iterdir()):
                    file.rmdir()
            except OSError:
                continue
        for folder in reversed(self.made):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: it holds what the run saved

    def _manifest(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "seed": getattr(self.recipe, "seed", None),
            "command": [redact_text(arg) for arg in sys.argv],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 2),
            "inputs": self.inputs,
            "versions": package_versions(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git_commit": _git_commit(),
            "git_dirty": _git_dirty(),  # uncommitted changes to tracked files: the commit alone is not the code
        }


@contextmanager
def guard() -> Iterator[None]:
    """Run a stage: a failure abandons the runs it opened (``RunDir.abandon``), and a write refused
    for lack of space becomes a DataError naming the file (the caches resume once space is back)."""
    opened = len(_OPEN)
    try:
        yield
    except Exception as exc:
        runs = _OPEN[opened:]
        for run in reversed(runs):
            run.abandon()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRORS:
            where = exc.filename or (runs[-1].path if runs else "the output folder")
            raise DataError(
                f"{where}: {_WRITE_ERRORS[exc.errno]}; free some space and run the same command again "
                "(it resumes from what was saved)"
            ) from None
        raise


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
