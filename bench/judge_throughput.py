"""Judge throughput: the rmr1 engine against a naive loop and bare batched ``model.generate``.

On the same model, pairs (both A/B orders) and greedy settings, three ways to get the judgments:

    (a) naive    one prompt at a time through ``model.generate``
    (b) batched  ``model.generate`` on ``--batch-size`` prompts at a time, in input order, left padding
    (c) engine   ``JudgeEngine.judge`` (what ``rmr1 judge`` runs): length-sorted batches, a stop at the
                 closing verdict tag, parsing, aggregation and the JSONL cache writes included

Every run times the whole way from chat messages to decoded text. (a) and (b) stop only at the end of
turn, as a plain script would; the engine also stops a row at ``</answer>``. The three are run
interleaved ``--repeats`` times and the best time of each is kept. Rates are per CPU-second of the
process (one torch thread by default): on a CPU shared with other jobs, wall-clock time swings by 50%
between identical runs while CPU time stays within a few percent; wall-clock ratios are printed too.
It prints a table (stderr) and one JSON line per model (stdout):

    {"model": "tiny", "vs_naive": 5.2, "vs_batched": 1.1, "pairs_per_s": 40.0, ...}

Models: ``tiny`` (the random-weight ~1M-parameter test model, built on the fly unless ``--tiny PATH``)
and ``smol`` (SmolLM2-135M-Instruct at ``--smol PATH``, default models/smol; ``make smol-model``).
Run from the repository root: ``.venv/bin/python bench/judge_throughput.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIRS_FILE = ROOT / "data" / "samples" / "pairs_eval.jsonl"


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from rmr1_cli.console import console, grid_table

    if args.stop_check:
        stop_check(args)
        return
    lines = []
    for name in args.models.split(","):
        path, pairs, max_new = model_settings(name, args)
        if path is None:
            console.print(f"[yellow]skipping {name}: {args.smol} not found (run `make smol-model`)[/]")
            continue
        console.print(
            f"[bold]{name}[/]: {pairs} pairs x 2 orders, batch {args.batch_size}, "
            f"{args.samples} sample(s) each, max_new_tokens {max_new}, {args.threads} thread(s), "
            f"best of {args.repeats or (3 if name == 'tiny' else 1)}"
        )
        row, methods = bench_model(name, path, pairs, max_new, args)
        lines.append(row)
        engine = methods["engine"]
        table = []
        for label, m in methods.items():
            table.append([
                LABELS[label], round(pairs / m["cpu"], 3), round(m["tokens"] / m["cpu"], 1), m["tokens"],
                round(m["cpu"], 1), round(m["wall"], 1),
                "-" if label.startswith("engine") else f"{m['cpu'] / engine['cpu']:.2f}x",
                "-" if label.startswith("engine") else f"{m['wall'] / engine['wall']:.2f}x",
            ])  # fmt: skip
        grid_table(
            f"judge throughput: {name} (rates per CPU-second of one thread)",
            ["method", "pairs/s", "tokens/s", "tokens", "CPU s", "wall s", "engine: CPU", "engine: wall"],
            table,
        )
    for row in lines:
        print(json.dumps(row))


LABELS = {
    "naive": "(a) naive loop",
    "batched": "(b) bare batched generate",
    "engine": "(c) rmr1 judge engine",
    "engine_unshared": "(c) without prefix sharing",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="tiny,smol", help="comma-separated: tiny, smol")
    p.add_argument("--tiny", type=Path, default=None, help="a tiny model folder (default: build one)")
    p.add_argument("--smol", type=Path, default=ROOT / "models" / "smol")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--tiny-pairs", type=int, default=8)
    p.add_argument("--smol-pairs", type=int, default=8)
    p.add_argument("--tiny-max-new-tokens", type=int, default=64)
    p.add_argument("--smol-max-new-tokens", type=int, default=48)
    p.add_argument("--template", default="cor")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the CPU is shared: 1 is steadier)")
    p.add_argument(
        "--repeats", type=int, default=None, help="runs of each method, best kept (tiny 3, smol 1)"
    )
    p.add_argument("--samples", type=int, default=1, help="k samples per order (sampled at temperature 0.7)")
    p.add_argument("--ablate", action="store_true", help="also run the engine without prefix sharing")
    p.add_argument("--stop-check", action="store_true", help="only measure what stopping at </answer> saves")
    return p.parse_args()


def model_settings(name: str, args) -> tuple[Path | None, int, int]:
    if name == "tiny":
        path = args.tiny
        if path is None:
            from rmr1_cli.training.tiny import build_tiny_model

            path = Path(tempfile.mkdtemp(prefix="rmr1-bench-")) / "tiny"
            build_tiny_model(path, corpus_files=sorted((ROOT / "data" / "samples").glob("*.jsonl")), seed=0)
        return path, args.tiny_pairs, args.tiny_max_new_tokens
    if name == "smol":
        return (
            (args.smol if (args.smol / "config.json").is_file() else None),
            args.smol_pairs,
            args.smol_max_new_tokens,
        )
    sys.exit(f"unknown model {name!r}: use tiny or smol")


def bench_model(name: str, path: Path, n_pairs: int, max_new: int, args) -> dict:
    from rmr1_cli import models
    from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec
    from rmr1_cli.data import load_pairs
    from rmr1_cli.generation import VERDICT_STOP, SamplingParams
    from rmr1_cli.generation.transformers import TransformersGenerator
    from rmr1_cli.judging.cache import JudgmentCache
    from rmr1_cli.judging.engine import JudgeEngine
    from rmr1_cli.judging.prompts import load_template

    spec = ModelSpec(name_or_path=str(path))
    tok = models.load_tokenizer(spec, padding_side="left")
    model = models.load_causal_lm(spec).eval()
    pairs = load_pairs(PAIRS_FILE)[:n_pairs]
    template = load_template(args.template)
    convs = [
        template.render(p.prompt, a, b)
        for p in pairs
        for a, b in ((p.chosen, p.rejected), (p.rejected, p.chosen))
        for _ in range(args.samples)  # k samples of each: the same prompt k times
    ]
    eos = {tok.eos_token_id, tok.pad_token_id, *_as_list(model.generation_config.eos_token_id)}
    temperature = 0.7 if args.samples > 1 else 0.0
    bare = BareGenerate(model, tok, max_new, eos, temperature)
    generator = TransformersGenerator(model, tok, GenerationSpec(batch_size=args.batch_size), f"bench:{name}")
    params = SamplingParams(max_new_tokens=max_new, temperature=temperature, stop=(VERDICT_STOP,))

    def naive():
        return sum(bare.run([c]) for c in convs)

    def batched():
        return sum(bare.run(convs[i : i + args.batch_size]) for i in range(0, len(convs), args.batch_size))

    def engine(share_prefix=True):
        generator.share_prefix, generator._prefix = share_prefix, None
        with tempfile.TemporaryDirectory() as tmp:
            eng = JudgeEngine(
                generator,
                template,
                JudgeSpec(samples=args.samples),
                params,
                cache=JudgmentCache(Path(tmp) / "j.jsonl"),
            )
            eng.judge(pairs, description=f"engine ({name})")
            return eng.stats.tokens

    bare.run(convs[:1])  # warm-up: first-call allocations are not anyone's throughput
    runs = [("naive", naive), ("batched", batched), ("engine", engine)]
    if args.ablate:  # how much of the engine's lead is the shared prompt start
        runs.append(("engine_unshared", lambda: engine(share_prefix=False)))
    best: dict[str, dict] = {}
    repeats = args.repeats or (3 if name == "tiny" else 1)
    for _ in range(repeats):
        for label, fn in runs:
            wall, cpu = time.perf_counter(), time.process_time()
            tokens = fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            seen = best.setdefault(label, {"cpu": cpu, "wall": wall, "tokens": tokens})
            seen["cpu"], seen["wall"] = min(seen["cpu"], cpu), min(seen["wall"], wall)
    n = len(pairs)
    a, b, c = best["naive"], best["batched"], best["engine"]
    row = {
        "model": name,
        "vs_naive": round(a["cpu"] / c["cpu"], 2),
        "vs_batched": round(b["cpu"] / c["cpu"], 2),
        "pairs_per_s": round(n / c["cpu"], 3),
        "tokens_per_s": round(c["tokens"] / c["cpu"], 1),
        "vs_naive_wall": round(a["wall"] / c["wall"], 2),
        "vs_batched_wall": round(b["wall"] / c["wall"], 2),
        "pairs_per_s_wall": round(n / c["wall"], 3),
        "naive_pairs_per_s": round(n / a["cpu"], 3),
        "batched_pairs_per_s": round(n / b["cpu"], 3),
        "pairs": n,
        "batch_size": args.batch_size,
        "max_new_tokens": max_new,
        "generated_tokens": {label: m["tokens"] for label, m in best.items()},
        "threads": args.threads,
        "template": args.template,
        "samples": args.samples,
    }
    if "engine_unshared" in best:
        row["vs_unshared"] = round(best["engine_unshared"]["cpu"] / c["cpu"], 2)
    return row, best


class BareGenerate:
    """What a plain script does: chat template, tokenize with left padding, ``model.generate``, decode."""

    def __init__(self, model, tok, max_new: int, eos: set[int], temperature: float = 0.0):
        self.model, self.tok, self.max_new, self.eos = model, tok, max_new, eos - {None}
        sampled = temperature > 0
        self.sampling = {"do_sample": sampled, "temperature": temperature if sampled else None}

    def run(self, conversations) -> int:
        import torch

        texts = [
            self.tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations
        ]
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = self.model.generate(
                **enc.to(self.model.device),
                max_new_tokens=self.max_new,
                **self.sampling,
                top_p=None,
                top_k=None,
                pad_token_id=self.tok.pad_token_id,
            )
        tokens = 0
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            kept = []
            for t in row:
                if t in self.eos:
                    break
                kept.append(t)
            self.tok.decode(kept, skip_special_tokens=True)
            tokens += len(kept)
        return tokens


def stop_check(args) -> None:
    """Does stopping at ``</answer>`` save time, and what does checking for it cost per step?

    Two tiny models on a batch of 16 judge prompts: one rewired to write a verdict and then babble
    forever (so a stop saves the rest of the budget), and the random one, which never writes the stop
    string (so only the check's cost shows). Each runs without a stop, with rmr1's tail check, and with
    transformers' ``stop_strings``.
    """
    import torch
    from transformers import StoppingCriteriaList

    from rmr1_cli import models
    from rmr1_cli.config import ModelSpec
    from rmr1_cli.console import grid_table
    from rmr1_cli.data import load_pairs
    from rmr1_cli.generation import VERDICT_STOP
    from rmr1_cli.generation.transformers import _StopOnText
    from rmr1_cli.judging.prompts import load_template
    from rmr1_cli.training.tiny import build_tiny_model

    root = Path(tempfile.mkdtemp(prefix="rmr1-stop-"))
    random_dir = build_tiny_model(
        root / "random", corpus_files=sorted((ROOT / "data" / "samples").glob("*.jsonl"))
    )
    babbler_dir = _babbler(random_dir, root / "babbler")
    pairs = load_pairs(PAIRS_FILE)[:8]
    template = load_template(args.template)
    rows = []
    for label, folder, budget in (
        ("verdict then babble", babbler_dir, 256),
        ("random (never stops)", random_dir, 64),
    ):
        spec = ModelSpec(name_or_path=str(folder))
        tok = models.load_tokenizer(spec, padding_side="left")
        model = models.load_causal_lm(spec).eval()
        texts = [
            tok.apply_chat_template(template.render(p.prompt, a, b), tokenize=False, add_generation_prompt=True)
            for p in pairs for a, b in ((p.chosen, p.rejected), (p.rejected, p.chosen))
        ]  # fmt: skip
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        width = enc["input_ids"].shape[1]
        variants = {
            "no stop": {},
            "rmr1 tail check": {
                "stopping_criteria": StoppingCriteriaList([_StopOnText(tok, (VERDICT_STOP,), width)])
            },
            "transformers stop_strings": {"stop_strings": [VERDICT_STOP], "tokenizer": tok},
        }
        for name, extra in variants.items():
            start = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    **enc, max_new_tokens=budget, do_sample=False, pad_token_id=tok.pad_token_id, **extra
                )
            seconds = time.perf_counter() - start
            steps = out.shape[1] - width
            rows.append([label, name, steps, round(seconds, 2), round(1000 * seconds / max(1, steps), 1)])
    grid_table("stop at </answer> (batch 16)", ["model", "stop", "steps", "seconds", "ms/step"], rows)
    print(json.dumps({"bench": "stop_check", "rows": rows}))


def _babbler(source: Path, out: Path) -> Path:
    """The tiny model rewired so greedy decoding writes a verdict, then " A wins A wins ..." forever."""
    from rmr1_cli.training.tiny import build_scripted_model

    return build_scripted_model(source, out, "<type>Chat</type><answer>[[A]]</answer> A wins", then="repeat")


def _as_list(x) -> list:
    return [] if x is None else list(x) if isinstance(x, list | tuple) else [x]


if __name__ == "__main__":
    main()
