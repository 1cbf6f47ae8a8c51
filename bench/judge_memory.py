"""Peak memory of ``rmr1 judge`` against the number of pairs: streaming should keep it flat.

Each size runs ``rmr1 judge`` in its own process on a synthetic pair file (written to a temp folder),
with a scripted judge in place of a model (a verdict from the answers' text: no weights, so what is
measured is the stage itself: reading, planning, the judgment cache, results and metrics). The child
reports its own peak resident set (``ru_maxrss``). ``--whole`` also measures the path that loads every
pair and judges them in one ``JudgeEngine.judge`` call (what the stage did before it streamed).
It prints a table (stderr) and one JSON line (stdout):

    {"pairs": [10000, 100000], "peak_mb": [95.1, 110.2], "ratio": 1.16, "target": 1.3, ...}

Run from the repository root: ``.venv/bin/python bench/judge_memory.py`` (about a minute on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3
_REPLY = re.compile(r"\[Start of Chatbot ([AB])'s reply\]\n(.*?)\n\[End of Chatbot \1's reply\]", re.S)


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    from rmr1_cli.console import console, grid_table

    sizes = [int(n) for n in args.sizes.split(",")]
    modes = ["stream", "whole"] if args.whole else ["stream"]
    peaks: dict[str, list[float]] = {mode: [] for mode in modes}
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            pairs = Path(tmp) / f"pairs{n}.jsonl"
            write_pairs(pairs, n)
            for mode in modes:
                out = Path(tmp) / f"{mode}{n}"
                peak, seconds = measure(pairs, out, mode, args.chunk_size)
                peaks[mode].append(peak)
                rows = sum(1 for _ in open(out / "results.jsonl"))
                table.append([mode, n, rows, round(peak, 1), round(seconds, 1)])
                console.print(f"{mode} {n} pairs: peak {peak:.1f} MB in {seconds:.1f} s")
    grid_table(
        f"rmr1 judge peak memory (scripted judge, chunk_size {args.chunk_size})",
        ["path", "pairs", "result rows", "peak RSS MB", "seconds"],
        table,
    )
    line = {
        "pairs": sizes,
        "peak_mb": [round(p, 1) for p in peaks["stream"]],
        "ratio": round(peaks["stream"][-1] / peaks["stream"][0], 3),
        "target": TARGET,
        "chunk_size": args.chunk_size,
    }
    if args.whole:
        line["whole_peak_mb"] = [round(p, 1) for p in peaks["whole"]]
        line["whole_ratio"] = round(peaks["whole"][-1] / peaks["whole"][0], 3)
    print(json.dumps(line))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", default="10000,100000", help="comma-separated pair counts; ratio = last / first"
    )
    p.add_argument("--chunk-size", type=int, default=512)
    p.add_argument("--whole", action="store_true", help="also measure judging the whole list in one call")
    p.add_argument("--child", choices=["stream", "whole"], help=argparse.SUPPRESS)
    p.add_argument("--pairs", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p.parse_args()


def write_pairs(path: Path, n: int) -> None:
    """``n`` distinct pairs of realistic length (a question and two answers of a few hundred bytes)."""
    filler = "The reasoning goes step by step through the details of the question. " * 3
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            row = {
                "id": f"p{i}",
                "prompt": f"Question {i}: what is {i} + {i % 97}? Explain.",
                "chosen": f"good: {i + i % 97}. {filler}",
                "rejected": f"bad: {i + i % 97 + 1}. {filler}{'More words. ' * (i % 5)}",
            }
            handle.write(json.dumps(row) + "\n")


def measure(pairs: Path, out: Path, mode: str, chunk_size: int) -> tuple[float, float]:
    """Run one child; its peak RSS in MB and its wall-clock seconds."""
    report = out.with_suffix(".peak")
    command = [
        sys.executable, __file__, "--child", mode, "--pairs", str(pairs), "--out", str(out),
        "--chunk-size", str(chunk_size),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(
        command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "PEAK_FILE": str(report)}
    )
    return float(report.read_text()) / 1024, time.perf_counter() - started


# -- the child: rmr1 judge with a scripted judge ----------------------------------------------------


def child(args: argparse.Namespace) -> None:
    from rmr1_cli import generation
    from rmr1_cli.generation import Generation, Generator

    class Scripted(Generator):
        """Picks the answer that says ``good``: a verdict without a model."""

        identity = "scripted"
        batch_size = 64

        def generate(self, conversations, params):
            out = []
            for conversation in conversations:
                found = dict(_REPLY.findall(conversation[-1]["content"]))
                slot = "B" if "good" in found.get("B", "") else "A"
                out.append(
                    Generation(f"<type>Chat</type><eval>ok</eval><answer>[[{slot}]]</answer>", 12, "stop")
                )
            return out

    generation.build_generator = lambda model, spec: Scripted()
    overrides = [
        f"pairs_file={args.pairs}", f"output_dir={args.out}", "judge.model.name_or_path=scripted",
        f"chunk_size={args.chunk_size}",
    ]  # fmt: skip
    if args.child == "stream":
        from rmr1_cli.cli import app

        sys.argv = ["rmr1", "judge", *overrides]
        try:
            app()
        except SystemExit as done:
            if done.code:
                raise
    else:
        whole(overrides)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    Path(os.environ["PEAK_FILE"]).write_text(str(peak))


def whole(overrides: list[str]) -> None:
    """The stage as it ran before it streamed: every pair loaded, judged in one call, written at the end."""
    from rmr1_cli import config, data
    from rmr1_cli.judging.engine import build_engine
    from rmr1_cli.judging.records import summarize_pairs

    recipe = config.load_recipe(None, config.JudgeRecipe, overrides)
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = data.load_pairs(recipe.pairs_file)
    engine = build_engine(recipe.judge, seed=recipe.seed, cache_path=out / "judgments.jsonl")
    engine.show_progress = False
    results = engine.judge(pairs)
    data.write_jsonl(out / "results.jsonl", (r.to_row() for r in results))
    data.write_json(out / "metrics.json", summarize_pairs(results))


if __name__ == "__main__":
    main()
