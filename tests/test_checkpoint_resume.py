"""Resuming skips a checkpoint whose save was cut short and reaches the uninterrupted run's weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rmr1_cli import config
from rmr1_cli.config import SFTRecipe
from rmr1_cli.errors import ConfigError
from rmr1_cli.training import runner

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "data" / "samples" / "traces_source.jsonl"


def _checkpoint(folder: Path, step: int, state: str | None) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"x")
    if state is not None:
        (path / "trainer_state.json").write_text(state)
    return path


def test_latest_skips_checkpoints_whose_save_did_not_finish(tmp_path):
    good = _checkpoint(tmp_path, 2, '{"global_step": 2}')
    _checkpoint(tmp_path, 3, None)  # killed before the trainer state was written
    _checkpoint(tmp_path, 4, '{"global_step": 4, "log_hist')  # killed while writing it
    _checkpoint(tmp_path, 5, '{"global_step": 4}')  # a state that belongs to another step
    assert runner.last_complete_checkpoint(tmp_path) == good
    args = type("Args", (), {"output_dir": str(tmp_path), "resume_from_checkpoint": "latest"})
    assert runner.resume_target(args) == str(good)
    args.resume_from_checkpoint = str(tmp_path / "checkpoint-4")
    with pytest.raises(ConfigError, match="incomplete checkpoint"):
        runner.resume_target(args)


@pytest.mark.slow
def test_resume_after_a_killed_save_matches_the_uninterrupted_run(tiny_model_dir, in_tmp_cwd):
    """Run A trains 3 steps in one go. Run B holds A's checkpoint-1 and a checkpoint-2 cut short in its
    save (what a SIGKILL leaves): resuming 'latest' must start from step 1 and end on A's weights."""
    import torch
    from safetensors.torch import load_file

    from rmr1_cli.stages import sft

    def recipe(out: str, *extra: str) -> SFTRecipe:
        return config.load_recipe(None, SFTRecipe, [
            f"output_dir={out}", f"model.name_or_path={tiny_model_dir}", f"train_file={TRACES}",
            "template=compact", "limit=6", "trainer.per_device_train_batch_size=2", "trainer.learning_rate=1e-3",
            "trainer.max_steps=3", "trainer.save_strategy=steps", "trainer.save_steps=1", *extra,
        ])  # fmt: skip

    whole = sft.run(recipe("whole"))
    resumed_dir = Path("resumed") / "trainer"
    resumed_dir.mkdir(parents=True)
    shutil.copytree(whole / "trainer" / "checkpoint-1", resumed_dir / "checkpoint-1")
    torn = shutil.copytree(whole / "trainer" / "checkpoint-2", resumed_dir / "checkpoint-2")
    state = (torn / "trainer_state.json").read_text()
    (torn / "trainer_state.json").write_text(state[: len(state) // 2])  # the save was killed here

    resumed = sft.run(recipe("resumed", "trainer.resume_from_checkpoint=latest"))
    assert json.loads((resumed / "metrics.json").read_text())["global_step"] == 3
    a = load_file(next((whole / "model").glob("*.safetensors")))
    b = load_file(next((resumed / "model").glob("*.safetensors")))
    assert set(a) == set(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
