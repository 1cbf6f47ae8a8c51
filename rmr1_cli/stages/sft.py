"""``rmr1 sft``: distillation SFT of a judge on Chain-of-Rubrics traces, with trl's SFTTrainer.

Rows are given to trl in its conversational prompt-completion layout (the judge prompt as ``prompt``,
the trace as ``completion``), so the loss falls on the trace only with any chat template. Traces may
come as ``messages`` rows or as template-free trace sources (pair + trace), which are rendered here
with the recipe's template.

Outputs in ``output_dir``: model/ (the trained judge), train_log.jsonl, loss.png, metrics.json.
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli import data, training
from rmr1_cli.artifacts import RunDir
from rmr1_cli.config import SFTRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import DataError
from rmr1_cli.plots import plot_training_curves


def load_sft_rows(path: str, template_name: str, limit: int | None) -> list[dict]:
    """Prompt-completion rows from ``messages`` rows or from trace sources rendered with a template."""
    first = next(data.read_rows(path), None)
    if first is None:
        raise DataError(f"{path}: no rows")
    if "messages" in first[1]:
        rows = data.load_traces(path, limit=limit)
        return [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
    from rmr1_cli.prompts import load_template

    template = load_template(template_name)
    rows = data.load_trace_sources(path, limit=limit)
    return [
        {
            "prompt": template.render(r["prompt"], r["answer_a"], r["answer_b"]),
            "completion": [{"role": "assistant", "content": r["trace"]}],
        }
        for r in rows
    ]


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


def run(recipe: SFTRecipe) -> Path:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from rmr1_cli import models

    rows = load_sft_rows(recipe.train_file, recipe.template, recipe.limit)
    eval_rows = load_sft_rows(recipe.eval_file, recipe.template, None) if recipe.eval_file else None
    run_dir = RunDir.create("sft", recipe)
    run_dir.record_input("train_file", recipe.train_file)
    run_dir.record_input("eval_file", recipe.eval_file)

    tokenizer = models.load_tokenizer(recipe.model, padding_side="right")
    args = training.build_trl_args(
        SFTConfig, recipe, fixed={"model_init_kwargs": training.model_init_kwargs(recipe.model)}
    )
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
        peft_config=training.peft_config(recipe.lora),
    )
    trainer.train()
    model_dir = training.save_final_model(trainer, tokenizer, run_dir.path, recipe.lora)

    history, summary = training.history_metrics(trainer)
    training.write_history(history, run_dir.path)
    plot = plot_training_curves(
        history,
        ["loss", "eval_loss", "mean_token_accuracy", "learning_rate"],
        run_dir.path / "loss.png",
        "rmr1 sft",
    )
    metrics = summary | {
        "examples": len(rows),
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
