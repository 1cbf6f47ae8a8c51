"""A full disk during judge and eval: one red line naming the file, exit code 2, and the same command
resumes once space is back (simulated: the cache's fsync fails with ENOSPC after its first batch)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import typer

from rmr1_cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "data" / "samples" / "pairs_eval.jsonl"


def _fill_disk_after(monkeypatch, name: str, batches: int) -> None:
    """fsync of ``name`` fails with ENOSPC once ``batches`` batches of it were written."""
    real = os.fsync
    seen = {"n": 0}

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(name):
            seen["n"] += 1
            if seen["n"] > batches:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage, extra",
    [
        ("judge", [f"pairs_file={PAIRS}"]),
        ("eval", [f"benchmark.path={PAIRS}", "plots=false", "bootstrap=0"]),
    ],
)
def test_a_full_disk_is_a_clear_error_and_the_run_resumes(
    stage, extra, tiny_model_dir, tmp_path, capsys, monkeypatch
):
    out = tmp_path / stage
    overrides = [
        f"output_dir={out}", f"judge.model.name_or_path={tiny_model_dir}", "limit=6",
        "judge.generation.batch_size=4", "judge.generation.max_new_tokens=8", *extra,
    ]  # fmt: skip
    with monkeypatch.context() as patch:
        _fill_disk_after(patch, "judgments.jsonl", batches=1)
        with pytest.raises(typer.Exit) as exit_info:
            cli._run_stage(stage, None, overrides, False)
    err = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.exit_code == 2 and "Traceback" not in err
    assert f"{out / 'judgments.jsonl'}: no space left on device" in err
    assert not (out / "metrics.json").exists()
    saved = (out / "judgments.jsonl").read_text().count("\n")
    assert saved >= 4  # the first batch is kept for the rerun

    cli._run_stage(stage, None, overrides, False)  # space is back: the same command resumes
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["engine"]["cached"] >= 4
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    engine = metrics["engine"]
    assert len(rows) == len({r["key"] for r in rows}) == engine["generated"] + engine["cached"]  # none twice
