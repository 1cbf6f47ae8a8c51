"""What rmr1 adds on top of trl when it trains: step time and peak memory of ``rmr1 sft`` and
``rmr1 train-rm`` against a plain trl script with identical settings on the same rows.

Each run is a fresh process (so peak RSS is the run's own), the two sides alternate, and each side runs
``--repeats`` times; medians are compared. Step time = trl's own ``train_runtime / global_step`` (the
training loop, where rmr1's callbacks and reward wrapper act); wall time covers the whole process
(imports, data checks, saving, plots, metrics). Target: step-time overhead under 5%.

    .venv/bin/python bench/train_overhead.py                     # tiny model, CPU, ~5-10 min on 2 cores
    .venv/bin/python bench/train_overhead.py --model models/smol --steps 4 --repeats 1

It prints a table (stderr) and ends with one JSON line per stage on stdout, e.g.
    {"stage": "sft", "overhead": 0.02, "rmr1_step_s": ..., "trl_step_s": ..., ...}

Noise: on a shared machine the run-to-run spread (printed as ``spread``) can exceed the overhead itself;
compare the overhead with the spread before drawing conclusions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "data" / "samples" / "traces_source.jsonl"
PAIRS = ROOT / "data" / "samples" / "pairs.jsonl"
TEMPLATE = "compact"


# --------------------------------------------------------------------------------------------------
# The plain trl side: what a user would write without rmr1 (run with --worker, in its own process)


def _plain_setup(spec: dict, config_cls, padding_side: str):
    """Rows, tokenizer and trl config exactly as a plain script would build them (fp32, no logging)."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer

    rows = [json.loads(line) for line in Path(spec["rows"]).read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(spec["model"])
    tok.padding_side = padding_side
    args = config_cls(
        output_dir=spec["out"],
        seed=0,
        bf16=False,
        fp16=False,
        report_to="none",
        model_init_kwargs={"dtype": torch.float32},
        **spec["settings"],
    )
    return Dataset.from_list(rows), tok, args


def plain_sft(spec: dict) -> dict:
    from trl import SFTConfig, SFTTrainer

    dataset, tok, args = _plain_setup(spec, SFTConfig, "right")
    trainer = SFTTrainer(model=spec["model"], args=args, train_dataset=dataset, processing_class=tok)
    out = trainer.train()
    trainer.save_model(str(Path(spec["out"]) / "model"))
    return _result(trainer, out, spec)


def plain_grpo(spec: dict) -> dict:
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli.rewards import verdict_reward  # the paper's +1/-1 reward, as a plain script would define it

    dataset, tok, args = _plain_setup(spec, GRPOConfig, "left")
    trainer = GRPOTrainer(
        model=spec["model"],
        reward_funcs=[verdict_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tok,
    )
    out = trainer.train()
    trainer.save_model(str(Path(spec["out"]) / "model"))
    return _result(trainer, out, spec)


def _result(trainer, out, spec: dict) -> dict:
    log = Path(spec["out"]) / "train_log.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in trainer.state.log_history))
    return {
        "train_runtime": out.metrics["train_runtime"],
        "steps": trainer.state.global_step,
        "log": str(log),
    }


# --------------------------------------------------------------------------------------------------
# Running one side in a child process and measuring it


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; returns (wall seconds, peak RSS in MB of that process, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024, text


def rmr1_side(stage: str, recipe: Path, env: dict | None = None) -> dict:
    wall, peak, out = run_child([str(ROOT / ".venv" / "bin" / "rmr1"), stage, str(recipe)], env)
    run_dir = Path(out.strip().splitlines()[-1])
    log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    steps = json.loads((run_dir / "metrics.json").read_text())["global_step"]
    return _side(wall, peak, log, steps)


def trl_side(worker: str, spec_file: Path, env: dict | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", worker, "--spec", str(spec_file)]
    wall, peak, out = run_child(cmd, env)
    result = json.loads(out.strip().splitlines()[-1])
    log = [json.loads(line) for line in Path(result["log"]).read_text().splitlines()]
    return _side(wall, peak, log, result["steps"])


def _side(wall: float, peak: float, log: list[dict], steps: int) -> dict:
    """Step time from trl's own train_runtime; for GRPO also the mean completion length (equal on both
    sides means both generated the same amount of text, so their step times are comparable)."""
    runtime = next(e["train_runtime"] for e in log if "train_runtime" in e)
    lengths = [e["completions/mean_length"] for e in log if "completions/mean_length" in e]
    gen_len = round(statistics.mean(lengths), 2) if lengths else None
    return {"wall_s": wall, "peak_mb": peak, "step_s": runtime / steps, "steps": steps, "gen_len": gen_len}


# --------------------------------------------------------------------------------------------------
# The two stages, set up identically on both sides


def setups(model: str, work: Path, steps: int) -> list[dict]:
    import yaml

    from rmr1_cli import config, data
    from rmr1_cli.judging.prompts import load_template
    from rmr1_cli.stages.sft import load_sft_rows
    from rmr1_cli.stages.train_rm import verdict_rows

    # settings both sides get verbatim; trl's own defaults would otherwise differ from rmr1's
    # (trl turns activation checkpointing on; rmr1 takes it from model.gradient_checkpointing, off here)
    same = {"activation_checkpointing": False, "disable_tqdm": True}
    sft_settings = {
        **same,
        **config.SFT_TRAINER_DEFAULTS,
        "learning_rate": 1e-3,
        "per_device_train_batch_size": 4,
        "max_steps": steps,
        "max_length": 1024,
        "logging_steps": 1,
    }
    sft_rows = load_sft_rows(str(TRACES), TEMPLATE, limit=16)
    grpo_settings = {
        **same,
        **config.RM_GRPO_DEFAULTS,
        "learning_rate": 1e-4,
        "max_steps": steps,
        "num_generations": 4,
        "per_device_train_batch_size": 8,
        "max_completion_length": 64,
        "logging_steps": 1,
    }
    pairs = data.load_pairs(PAIRS, limit=8)
    grpo_rows = verdict_rows(pairs, load_template(TEMPLATE), both_orders=True, seed=0)

    out = []
    for stage, worker, rows, settings, recipe in (
        (
            "sft",
            "plain-sft",
            sft_rows,
            sft_settings,
            {"train_file": str(TRACES), "template": TEMPLATE, "limit": 16},
        ),
        (
            "train-rm",
            "plain-grpo",
            grpo_rows,
            grpo_settings,
            {
                "method": "reasoning",
                "train_file": str(PAIRS),
                "template": TEMPLATE,
                "limit": 8,
                "both_orders": True,
            },
        ),
    ):
        folder = work / stage
        folder.mkdir(parents=True, exist_ok=True)
        data.write_jsonl(folder / "rows.jsonl", rows)
        spec = {
            "model": model,
            "rows": str(folder / "rows.jsonl"),
            "out": str(folder / "trl"),
            "settings": settings,
        }
        (folder / "spec.json").write_text(json.dumps(spec))
        recipe = {"output_dir": str(folder / "rmr1"), "seed": 0, "model": {"name_or_path": model}, **recipe}
        recipe["trainer"] = settings
        (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
        out.append(
            {"stage": stage, "worker": worker, "spec": folder / "spec.json", "recipe": folder / "recipe.yaml"}
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: a tiny model built for the run)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for both sides (1 is steadier on a busy machine)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:  # the plain-trl child process
        spec = json.loads(Path(args.spec).read_text())
        result = {"plain-sft": plain_sft, "plain-grpo": plain_grpo}[args.worker](spec)
        print(json.dumps(result))
        return

    work = Path(args.work or tempfile.mkdtemp(prefix="rmr1-overhead-"))
    model = args.model
    if model is None:
        from rmr1_cli.training.tiny import build_tiny_model

        model = str(
            build_tiny_model(work / "tiny", corpus_files=sorted((ROOT / "data" / "samples").glob("*.jsonl")))
        )

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)} if args.threads else None
    lines = []
    for setup in setups(model, work, args.steps):
        runs: dict[str, list[dict]] = {"rmr1": [], "trl": []}
        for _ in range(args.repeats):
            runs["trl"].append(trl_side(setup["worker"], setup["spec"], env))
            runs["rmr1"].append(rmr1_side(setup["stage"], setup["recipe"], env))
        med = {
            side: {k: statistics.median(r[k] for r in rs) for k in ("step_s", "peak_mb", "wall_s")}
            for side, rs in runs.items()
        }
        spread = max(
            (max(r["step_s"] for r in rs) - min(r["step_s"] for r in rs))
            / statistics.median(r["step_s"] for r in rs)
            for rs in runs.values()
        )
        lines.append(
            {
                "stage": setup["stage"],
                "overhead": round(med["rmr1"]["step_s"] / med["trl"]["step_s"] - 1, 4),
                "rmr1_step_s": round(med["rmr1"]["step_s"], 4),
                "trl_step_s": round(med["trl"]["step_s"], 4),
                "peak_overhead": round(med["rmr1"]["peak_mb"] / med["trl"]["peak_mb"] - 1, 4),
                "peak_extra_mb": round(med["rmr1"]["peak_mb"] - med["trl"]["peak_mb"], 1),
                "rmr1_peak_mb": round(med["rmr1"]["peak_mb"], 1),
                "trl_peak_mb": round(med["trl"]["peak_mb"], 1),
                "rmr1_wall_s": round(med["rmr1"]["wall_s"], 2),
                "trl_wall_s": round(med["trl"]["wall_s"], 2),
                "spread": round(spread, 4),
                "rmr1_completion_len": runs["rmr1"][0]["gen_len"],
                "trl_completion_len": runs["trl"][0]["gen_len"],
                "steps": runs["rmr1"][0]["steps"],
                "repeats": args.repeats,
                "model": model,
                "device": "cpu" if not _cuda() else "cuda",
            }
        )

    _table(lines)
    for line in lines:
        print(json.dumps(line))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _table(lines: list[dict]) -> None:
    from rmr1_cli.console import grid_table

    rows = [
        [
            line["stage"],
            f"{line['trl_step_s']:.3f}",
            f"{line['rmr1_step_s']:.3f}",
            f"{100 * line['overhead']:+.1f}%",
            f"{line['trl_peak_mb']:.0f}",
            f"{line['rmr1_peak_mb']:.0f}",
            f"{100 * line['peak_overhead']:+.1f}%",
            f"{line['trl_wall_s']:.1f}",
            f"{line['rmr1_wall_s']:.1f}",
            f"{100 * line['spread']:.1f}%",
        ]
        for line in lines
    ]
    header = [
        "stage",
        "trl s/step",
        "rmr1 s/step",
        "overhead",
        "trl peak MB",
        "rmr1 peak MB",
        "peak +",
        "trl wall s",
        "rmr1 wall s",
        "spread",
    ]
    grid_table("train overhead: rmr1 vs plain trl (medians)", header, rows)


if __name__ == "__main__":
    main()
