"""Every GPU path one GPU can exercise, end to end on tiny models built in place (no network).

Run through ``bench/gpu_check.sh``. Each step prints ``PASS``, ``FAIL`` or ``SKIP`` with a reason;
the last line is one JSON object with every step's result. Without CUDA the same stages run on the
CPU (GPU-only checks say SKIP), so the script itself is tested wherever it runs. Stage output goes to
``<work>/log.txt``; a failed step prints the end of its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
sys.path.insert(0, str(ROOT))


def _model_device(generator) -> str:
    """Where a (possibly wrapped) transformers generator keeps its model."""
    while not hasattr(generator, "model") and hasattr(generator, "inner"):
        generator = generator.inner
    model = getattr(generator, "model", None)
    return str(next(model.parameters()).device) if model is not None else "unknown"


class Skip(Exception):
    """A step that cannot run here (no CUDA, no vLLM)."""


class Check:
    def __init__(self, work: Path, cuda: bool):
        self.work = work
        self.cuda = cuda
        self.device = "cuda" if cuda else "cpu"
        self.results: dict[str, dict] = {}
        self.log = open(work / "log.txt", "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def step(self, name: str, func) -> None:
        start = time.time()
        status, detail = "PASS", ""
        with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
            try:
                detail = func() or ""
            except Skip as why:
                status, detail = "SKIP", str(why)
            except Exception as exc:  # a failed step is reported, the next one still runs
                status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
        seconds = round(time.time() - start, 1)
        self.results[name] = {"status": status, "seconds": seconds, "detail": str(detail)[:300]}
        print(f"{status:4}  {name:22} {seconds:6.1f}s  {detail}", flush=True)

    # ---- models --------------------------------------------------------------------------------

    def build_models(self) -> str:
        from rmr1_cli.training.tiny import build_scripted_model, build_tiny_model

        corpus = sorted(SAMPLES.glob("*.jsonl"))
        self.base = build_tiny_model(self.work / "base", corpus_files=corpus, seed=0)
        self.qwen2 = build_tiny_model(self.work / "qwen2", corpus_files=corpus, seed=0, arch="qwen2")
        reply = "<type>Chat</type><answer>[[A]]</answer>"
        self.judge = build_scripted_model(self.base, self.work / "judge", reply)
        return f"tiny llama + qwen2 + scripted judge in {self.work}"

    # ---- training ------------------------------------------------------------------------------

    def _stage(self, stage: str, recipe_file: str, overrides: list[str]) -> Path:
        from rmr1_cli import config
        from rmr1_cli.stages import grpo, sft, train_rm

        cls, module = {
            "sft": (config.SFTRecipe, sft),
            "train-rm": (config.TrainRMRecipe, train_rm),
            "grpo": (config.GRPORecipe, grpo),
        }[stage]
        recipe = config.load_recipe(ROOT / recipe_file, cls, overrides)
        return module.run(recipe)

    def _precision(self) -> list[str]:
        return ["model.dtype=bfloat16", "trainer.bf16=true"] if self.cuda else []

    def sft_resume(self) -> str:
        def run(steps: int, *extra: str) -> Path:
            return self._stage(
                "sft",
                "recipes/tiny/sft.yaml",
                [
                    f"output_dir={self.work / 'sft'}", f"model.name_or_path={self.qwen2}",
                    f"model.device={self.device}", f"train_file={SAMPLES / 'traces_source.jsonl'}",
                    "limit=8", f"trainer.max_steps={steps}", "trainer.save_strategy=steps",
                    "trainer.save_steps=1", "trainer.logging_steps=1", *self._precision(), *extra,
                ],
            )  # fmt: skip

        run(2)
        out = run(3, "trainer.resume_from_checkpoint=latest")
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["global_step"] == 3, metrics
        steps = [json.loads(line).get("step") for line in (out / "train_log.jsonl").read_text().splitlines()]
        assert [s for s in steps if s is not None][:3] == [1, 2, 3], steps
        args = json.loads((out / "trainer_args.json").read_text())
        if self.cuda:
            assert args["bf16"] is True, "bf16 autocast is off"
            assert "float32" in str(args["model_init_kwargs"]["dtype"]), "no fp32 master weights"
            saved = json.loads((out / "model" / "config.json").read_text())
            assert saved.get("dtype", saved.get("torch_dtype")) == "bfloat16", "saved weights are not bf16"
            return "bf16 autocast over fp32 masters, resumed 2 -> 3 steps, saved in bf16"
        return "resumed 2 -> 3 steps (fp32 on the CPU)"

    def rlvr_heldout(self) -> str:
        out = self._stage(
            "train-rm",
            "recipes/tiny/train-rm.yaml",
            [
                f"output_dir={self.work / 'rlvr'}", f"model.name_or_path={self.judge}", f"model.device={self.device}",
                "limit=4", "eval_limit=4", "eval_every_steps=1", "generation.max_new_tokens=16",
                "trainer.max_steps=2", "trainer.max_completion_length=16", "trainer.num_generations=4",
                "trainer.per_device_train_batch_size=4", *self._precision(),
            ],
        )  # fmt: skip
        metrics = json.loads((out / "metrics.json").read_text())
        before, after = metrics["heldout_before"], metrics["heldout_after"]
        assert metrics["global_step"] == 2 and before and after, metrics
        return f"held-out accuracy {before.get('accuracy')} -> {after.get('accuracy')}"

    def heldout_lockstep(self) -> str:
        """The 7B RLVR recipe (shrunk) under accelerate launch, 2 CPU processes over gloo, its held-out
        judging in lockstep with synced_gpus as on ZeRO-3 / FSDP (tests/ddp_recipes.py): 3 pairs over 2
        ranks must give both ranks the same number of model calls (a rank out of step hangs: timeout)."""
        import os
        import subprocess

        recipe = "recipes/qwen2.5-7b-instruct/train-rm.yaml"
        out = self.work / "lockstep"
        out.mkdir(exist_ok=True)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "accelerate.commands.launch",
            "--config_file", str(ROOT / "recipes" / "accelerate" / "cpu-ddp.yaml"),
            str(ROOT / "tests" / "ddp_recipes.py"), str(out), str(self.qwen2), str(self.qwen2), recipe,
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        self.log.write(done.stderr[-20000:])
        assert done.returncode == 0, done.stderr[-1500:]
        ranks = [json.loads((out / f"rank{r}.json").read_text())[recipe] for r in range(2)]
        totals = [r["real"] + r["idle"] for r in ranks]
        assert totals[0] == totals[1], ranks
        return f"2 ranks x {totals[0]} generate calls (real, idle): {[(r['real'], r['idle']) for r in ranks]}"

    def scalar_rm(self) -> str:
        out = self._stage(
            "train-rm",
            "recipes/tiny/train-rm-scalar.yaml",
            [
                f"output_dir={self.work / 'scalar'}", f"model.name_or_path={self.base}", f"model.device={self.device}",
                "limit=16", "eval_limit=8", "trainer.max_steps=4", *self._precision(),
            ],
        )  # fmt: skip
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["heldout_after"]["accuracy"] is not None, metrics
        return f"pairwise accuracy after {metrics['heldout_after']['accuracy']:.3f}"

    def seeded_reproducibility(self) -> str:
        def losses(name: str) -> list[float]:
            out = self._stage(
                "sft",
                "recipes/tiny/sft.yaml",
                [
                    f"output_dir={self.work / name}", f"model.name_or_path={self.base}", f"model.device={self.device}",
                    f"train_file={SAMPLES / 'traces_source.jsonl'}", "limit=8", "trainer.max_steps=3",
                    "trainer.logging_steps=1", "seed=7", *self._precision(),
                ],
            )  # fmt: skip
            rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
            return [row["loss"] for row in rows if "loss" in row]

        first, second = losses("repro-a"), losses("repro-b")
        assert len(first) == 3 and len(first) == len(second), (first, second)
        worst = max(abs(a - b) / max(abs(a), 1e-8) for a, b in zip(first, second, strict=True))
        assert worst <= (1e-3 if self.cuda else 1e-6), f"losses differ: {first} vs {second}"
        return f"same seed, same losses (largest relative difference {worst:.1e})"

    def grpo_with_judge(self) -> str:
        """Policy GRPO, the judge on the same device as the policy (one process)."""
        out = self._stage(
            "grpo",
            "recipes/tiny/grpo.yaml",
            [
                f"output_dir={self.work / 'grpo'}", f"model.name_or_path={self.base}", f"model.device={self.device}",
                f"reward.judge.model.name_or_path={self.judge}", f"reward.judge.model.device={self.device}",
                f"prompts_file={SAMPLES / 'prompts.jsonl'}", "limit=4", "trainer.max_steps=1",
                "trainer.per_device_train_batch_size=4", "trainer.num_generations=4",
                "trainer.max_completion_length=8", "reward.judge.generation.max_new_tokens=16", *self._precision(),
            ],
        )  # fmt: skip
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["global_step"] == 1 and metrics["judge"]["judgments"] == 8, metrics.get("judge")
        return (
            f"1 step, {metrics['judge']['judgments']} judgments, valid rate {metrics['judge']['valid_rate']}"
        )

    # ---- judging -------------------------------------------------------------------------------

    def _judge_spec(self):
        from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec

        model = ModelSpec(name_or_path=str(self.judge), device=self.device)
        return JudgeSpec(model=model, generation=GenerationSpec(max_new_tokens=16), template="compact")

    def judge_on_device(self) -> str:
        from rmr1_cli.config import JudgeRecipe
        from rmr1_cli.stages import judge

        recipe = JudgeRecipe(
            output_dir=str(self.work / "judge-run"),
            judge=self._judge_spec(),
            pairs_file=str(SAMPLES / "pairs_eval.jsonl"),
            limit=6,
        )
        metrics = json.loads((judge.run(recipe) / "metrics.json").read_text())
        assert metrics["valid_rate"] == 1.0, metrics
        return f"{metrics['pairs']} pairs on {self.device}, every verdict valid"

    def serve_on_device(self) -> str:
        import http.client
        from urllib.parse import urlsplit

        from rmr1_cli.config import ServeRecipe
        from rmr1_cli.judging.server import build_server

        server = build_server(ServeRecipe(port=0, judge=self._judge_spec(), served_model_name="judge"))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            rows = [
                {"id": f"p{i}", "prompt": f"Question {i}?", "chosen": f"good {i}", "rejected": f"bad {i}"}
                for i in range(3)
            ]
            parts = urlsplit(server.url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            conn.request("POST", "/judge", json.dumps({"pairs": rows}), {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = json.loads(response.read())
            assert response.status == 200, payload
            verdicts = [j["verdict"] for r in payload["results"] for j in r["judgments"]]
            assert verdicts and set(verdicts) == {"A"}, verdicts
            device = _model_device(server.generator)
            if self.cuda:
                assert device.startswith("cuda"), f"the served judge is on {device}"
            return f"/judge answered {len(verdicts)} judgments from {device}"
        finally:
            server.shutdown()
            server.server_close()
            server.generator.close()

    def vllm_backend(self) -> str:
        import importlib.util

        if not self.cuda:
            raise Skip("needs CUDA")
        if importlib.util.find_spec("vllm") is None:
            raise Skip("vllm is not installed (pip install 'rmr1[vllm]')")
        from rmr1_cli.config import GenerationSpec, ModelSpec
        from rmr1_cli.generation import SamplingParams
        from rmr1_cli.generation.vllm import VLLMGenerator

        gen = VLLMGenerator.load(
            ModelSpec(name_or_path=str(self.judge)), GenerationSpec(gpu_memory_utilization=0.3)
        )
        try:
            short = [
                {"role": "user", "content": "[Start of Chatbot A's reply]\nx\n[End of Chatbot A's reply]"}
            ]
            long = [{"role": "user", "content": "judge " * (gen.context_length or 4096)}]
            assert gen.count_tokens(short) > 2
            out = gen.generate([short, long, short], SamplingParams(max_new_tokens=16, temperature=0.0))
            reasons = [g.finish_reason for g in out]
            assert reasons[1] == "error" and reasons[0] != "error", reasons
            assert "[[A]]" in out[0].text, out[0].text
            return f"vLLM {__import__('vllm').__version__}: verdicts written, too-long prompt refused alone"
        finally:
            gen.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="folder for models and runs (default: a fresh temporary one)")
    parser.add_argument("--cpu", action="store_true", help="run the CPU equivalents even with CUDA")
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available() and not args.cpu
    work = Path(args.work or tempfile.mkdtemp(prefix="rmr1-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    check = Check(work, cuda)
    where = torch.cuda.get_device_name(0) if cuda else "CPU (GPU steps run their CPU equivalents)"
    print(f"rmr1 gpu_check on {where}; torch {torch.__version__}; log in {work / 'log.txt'}", flush=True)
    start = time.time()
    check.step("build_models", check.build_models)
    if check.results["build_models"]["status"] == "PASS":
        for name in ("sft_resume", "rlvr_heldout", "heldout_lockstep", "scalar_rm", "grpo_with_judge", "seeded_reproducibility",
                     "judge_on_device", "serve_on_device", "vllm_backend"):  # fmt: skip
            check.step(name, getattr(check, name))
    failed = [name for name, r in check.results.items() if r["status"] == "FAIL"]
    summary = {
        "gpu_check": "FAIL" if failed else "PASS",
        "device": where,
        "cuda": cuda,
        "torch": torch.__version__,
        "seconds": round(time.time() - start, 1),
        "steps": {name: r["status"] for name, r in check.results.items()},
        "failed": failed,
    }
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
