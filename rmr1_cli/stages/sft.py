"""``rmr1 sft``: distillation SFT of a judge on Chain-of-Rubrics traces, with trl's SFTTrainer (RM-R1 stage 1).

Rows are given to trl in its conversational prompt-completion layout (the judge prompt as ``prompt``,
the trace as ``completion``). trl renders the prompt alone (with the generation prompt) and prompt +
trace with the tokenizer's chat template and puts the loss only on the tokens after their common
prefix: the trace and the end-of-turn token, with any chat template and without ``{% generation %}``
markers (``tests/test_sft.py`` checks this token by token). Traces may come as ``messages`` rows or as
template-free trace sources (pair + trace), rendered here with the recipe's template.

Traces longer than ``trainer.max_length`` are dropped (``over_length: drop``, the default: a cut
trace would teach the judge to stop before its verdict) or cut by trl (``truncate``); either way they
are counted in metrics.json. ``trainer.packing: true`` packs rows (trl's BFD packing keeps the loss mask).

Outputs in ``output_dir``: model/ (the trained judge), train_log.jsonl, loss.png, trainer_args.json,
metrics.json, manifest.json, recipe.yaml.
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import SFTRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import DataError
from rmr1_cli.run_dir import RunDir
from rmr1_cli.training import arguments, runner

CURVES = ["loss", "eval_loss", "mean_token_accuracy", "learning_rate"]


def load_sft_rows(
    path: str, template_name: str, limit: int | None, require_verdict: bool = True
) -> list[dict]:
    """Prompt-completion rows from any trace layout (``data/layouts.py``) or from trace sources rendered
    with a template; with ``require_verdict`` a trace without a valid verdict stops the run (file:line)."""
    first = next(data.read_rows(path), None)
    if first is None:
        raise DataError(f"{path}: no rows")
    check = check_trace if require_verdict else None
    if not {"answer_a", "answer_b", "trace"} <= set(first[1]):
        rows = data.load_sft_examples(path, limit=limit)
        if check is not None:
            for row in rows:
                check(row["location"], "".join(m["content"] for m in row["completion"]))
        return [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    from rmr1_cli.judging.prompts import load_template

    template = load_template(template_name)
    rows = data.load_trace_sources(path, limit=limit, check=check)
    return [
        {
            "prompt": template.render(r["prompt"], r["answer_a"], r["answer_b"]),
            "completion": [{"role": "assistant", "content": r["trace"]}],
        }
        for r in rows
    ]


def check_trace(location: str, trace: str) -> None:
    """Refuse a trace the verdict parser rejects (read after ``</think>`` when the trace thinks): the
    judge would learn to end without a verdict, which the reward and the evaluation count as wrong."""
    from rmr1_cli.judging.verdicts import THINK_CLOSE, parse_judgment

    judgment = parse_judgment(trace, after_think=THINK_CLOSE in trace)
    if not judgment.valid:
        raise DataError(
            f"{location}: the trace has no valid final verdict ({judgment.reason}); a judge trace ends with "
            "<answer>[[A]]</answer> or <answer>[[B]]</answer>. Fix or drop the row, or set "
            "require_verdict=false to train on it anyway"
        )


def apply_length_policy(rows: list[dict], tokenizer, max_length: int, policy: str) -> tuple[list[dict], int]:
    """Drop rows longer than ``max_length`` tokens (policy ``drop``) or keep them for trl to truncate."""
    over = []
    for row in rows:
        text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        over.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_length)
    n_over = sum(over)
    if policy == "drop":
        rows = [r for r, too_long in zip(rows, over, strict=True) if not too_long]
    return rows, n_over


# metrics.json; OPTIONAL_METRICS: first and last value of a series the trainer logged.
METRICS = ("examples", "mixed_in", "over_length", "over_length_policy", "global_step")
OPTIONAL_METRICS = ("loss_first", "loss_last")


def run(recipe: SFTRecipe) -> Path:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from rmr1_cli import models

    runner.seed_everything(recipe.seed)
    need = recipe.require_verdict
    rows = load_sft_rows(recipe.train_file, recipe.template, recipe.limit, need)
    mixed = {path: load_sft_rows(path, recipe.template, None, False) for path in recipe.mix_files}
    rows += [row for extra in mixed.values() for row in extra]
    eval_rows = load_sft_rows(recipe.eval_file, recipe.template, None, need) if recipe.eval_file else None
    run_dir = RunDir.create("sft", recipe)
    run_dir.record_input("train_file", recipe.train_file)
    run_dir.record_input("eval_file", recipe.eval_file)
    for i, path in enumerate(recipe.mix_files):
        run_dir.record_input(f"mix_files[{i}]", path)

    tokenizer = models.load_tokenizer(recipe.model, padding_side="right")
    models.require_chat_template(tokenizer, recipe.model)
    fixed = {"model_init_kwargs": arguments.model_init_kwargs(recipe.model)}
    if eval_rows and "eval_strategy" not in recipe.trainer:
        fixed["eval_strategy"] = "epoch"
    args = arguments.build_trl_args(SFTConfig, recipe, fixed=fixed)
    runner.write_trl_args(args, run_dir.path)
    rows, n_over = apply_length_policy(rows, tokenizer, args.max_length, recipe.over_length)
    if not rows:
        raise DataError(
            f"{recipe.train_file}: every trace is longer than trainer.max_length={args.max_length}"
        )
    if n_over:
        console.print(
            f"{n_over} traces exceed max_length={args.max_length}: {recipe.over_length}ped", style="yellow"
        )

    trainer = SFTTrainer(
        model=recipe.model.name_or_path,
        args=args,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=arguments.peft_config(recipe.lora),
        quantization_config=arguments.quantization_config(recipe.lora, recipe.model),
    )
    runner.train(trainer)
    model_dir = runner.save_final_model(trainer, tokenizer, run_dir.path, recipe.lora, base=recipe.model)
    if not trainer.is_world_process_zero():
        return run_dir.path

    summary, plot = runner.record_training(trainer, run_dir.path, CURVES, "loss.png", "rmr1 sft")
    metrics = summary | {
        "examples": len(rows),
        "mixed_in": {path: len(extra) for path, extra in mixed.items()},
        "over_length": n_over,
        "over_length_policy": recipe.over_length,
    }
    summary_table(
        "rmr1 sft",
        {
            "examples": len(rows),
            f"over max_length ({recipe.over_length})": n_over,
            "steps": summary["global_step"],
            "loss first -> last": f"{summary.get('loss_first', float('nan')):.4f} -> {summary.get('loss_last', float('nan')):.4f}",
            "model": model_dir,
            "curves": plot,
        },
    )
    return run_dir.finish(metrics)
