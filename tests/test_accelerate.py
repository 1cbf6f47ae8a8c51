"""`accelerate launch` with the shipped CPU config: two processes over gloo train one tiny SFT run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES


@pytest.mark.slow
def test_sft_under_accelerate_launch_with_two_cpu_processes(tiny_model_dir, tmp_path):
    out = tmp_path / "sft-ddp"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "recipes" / "accelerate" / "cpu-ddp.yaml"),
        "-m", "rmr1_cli", "sft", str(ROOT / "recipes" / "tiny" / "sft.yaml"),
        f"output_dir={out}", f"model.name_or_path={tiny_model_dir}", f"train_file={SAMPLES / 'traces_source.jsonl'}",
        "limit=8", "trainer.max_steps=2", "trainer.per_device_train_batch_size=2", "trainer.logging_steps=1",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 2
    args = json.loads((out / "trainer_args.json").read_text())
    assert args["use_cpu"] is True
    # only rank 0 prints the output folder and writes the model
    assert str(out) in done.stdout and done.stdout.count(str(out)) == 1
    assert (out / "model" / "config.json").is_file()


@pytest.mark.slow
def test_grpo_with_a_judge_under_accelerate_launch_judges_on_rank_zero(tiny_model_dir, tmp_path):
    """Two CPU processes, one judge: rank 0 builds it and judges both ranks' completions, so the judgment
    cache has one owner and the judge loads once; the baseline's answers are generated once, on rank 0
    (rmr1_cli/training/distributed.py)."""
    from rmr1_cli.training.tiny import build_scripted_model

    judge = build_scripted_model(
        tiny_model_dir, tmp_path / "judge", "<type>Chat</type><answer>[[A]]</answer>"
    )
    out = tmp_path / "grpo-ddp"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "recipes" / "accelerate" / "cpu-ddp.yaml"),
        "-m", "rmr1_cli", "grpo", str(ROOT / "recipes" / "tiny" / "grpo.yaml"),
        f"output_dir={out}", f"model.name_or_path={tiny_model_dir}", f"reward.judge.model.name_or_path={judge}",
        f"prompts_file={SAMPLES / 'prompts.jsonl'}", "limit=4", "trainer.max_steps=1",
        "trainer.per_device_train_batch_size=4", "trainer.num_generations=4", "trainer.max_completion_length=8",
        "reward.judge.generation.max_new_tokens=16", "trainer.logging_steps=1",
        "reward.reference=baseline",  # the baseline's answers: generated once, on rank 0, sent to rank 1
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 1
    # 2 ranks x 4 completions, each judged against the reference in both orders, all on rank 0
    assert (metrics["judge"]["pairs"], metrics["judge"]["judgments"]) == (8, 16), metrics["judge"]
    assert sorted(p.name for p in out.glob("judgments*.jsonl")) == ["judgments.jsonl"]
    assert (out / "judgments.jsonl").read_text().strip()
    assert len((out / "baseline_answers.jsonl").read_text().splitlines()) == 4
