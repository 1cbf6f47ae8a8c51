"""Shared fixtures: one tiny model for the whole session, sample files, and a scripted generator."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight tiny chat model (built once per test session, ~5 s)."""
    from rmr1_cli.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "model"
    return build_tiny_model(out, corpus_files=sorted(SAMPLES.glob("*.jsonl")), seed=0)


@pytest.fixture()
def in_tmp_cwd(tmp_path, monkeypatch) -> Path:
    """Run a test inside a fresh folder (stages write relative output paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
