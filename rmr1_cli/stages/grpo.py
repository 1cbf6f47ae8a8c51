"""``rmr1 grpo``: train a policy with trl's GRPOTrainer, a generative RM giving the reward.

Each rollout is judged against the prompt's reference answer in both A/B orders; a win counts only
when it survives the swap (``policy_reward``). Outputs in ``output_dir``: model/, train_log.jsonl,
curves.png, metrics.json, and judgments.jsonl (every judgment the reward asked for).
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli import data, training
from rmr1_cli.artifacts import RunDir
from rmr1_cli.config import GRPORecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.plots import plot_training_curves

CURVES = [
    "reward",
    "rewards/judge_reward/mean",
    "judge/invalid_rate",
    "judge/swap_flip_rate",
    "completions/mean_length",
    "loss",
    "kl",
]


def run(recipe: GRPORecipe) -> Path:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli import models
    from rmr1_cli.judging import build_engine
    from rmr1_cli.policy_reward import JudgeReward

    if recipe.reward.adapter != "vs_reference" or recipe.reward.reference != "column":
        raise ConfigError(
            "grpo: only reward.adapter=vs_reference with reward.reference=column is available here"
        )
    prompts = data.load_prompts(recipe.prompts_file, limit=recipe.limit)
    missing = [p.id for p in prompts if not p.reference]
    if missing:
        raise DataError(
            f"{recipe.prompts_file}: rows {missing[:5]} have no 'reference' (needed by vs_reference)"
        )
    run_dir = RunDir.create("grpo", recipe)
    run_dir.record_input("prompts_file", recipe.prompts_file)

    tokenizer = models.load_tokenizer(recipe.model, padding_side="left")
    rows = []
    for p in prompts:
        messages = data.as_messages(p.prompt)
        n = len(
            tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"]
        )
        if n <= recipe.max_prompt_length:
            rows.append({"prompt": messages, "reference": p.reference})
    if len(rows) < len(prompts):
        console.print(
            f"dropped {len(prompts) - len(rows)} prompts longer than max_prompt_length", style="yellow"
        )

    engine = build_engine(
        recipe.reward.judge_model,
        recipe.reward.generation,
        recipe.reward.judge,
        cache_path=run_dir.path / "judgments.jsonl",
        seed=recipe.seed,
    )
    args = training.build_trl_args(
        GRPOConfig, recipe, fixed={"model_init_kwargs": training.model_init_kwargs(recipe.model)}
    )
    trainer = GRPOTrainer(
        model=recipe.model.name_or_path,
        reward_funcs=[JudgeReward(engine)],
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=training.peft_config(recipe.lora),
    )
    trainer.train()
    model_dir = training.save_final_model(trainer, tokenizer, run_dir.path, recipe.lora)

    history, summary = training.history_metrics(trainer)
    training.write_history(history, run_dir.path)
    plot = plot_training_curves(history, CURVES, run_dir.path / "curves.png", "rmr1 grpo")
    metrics = summary | {"prompts": len(rows), "judge": engine.stats.as_dict()}
    summary_table(
        "rmr1 grpo",
        {
            "prompts": len(rows),
            "steps": summary["global_step"],
            "reward first -> last": f"{summary.get('reward_first', float('nan')):.3f} -> {summary.get('reward_last', float('nan')):.3f}",
            "judgments (valid rate)": f"{engine.stats.judgments} ({engine.stats.as_dict()['valid_rate'] or 0:.1%})",
            "model": model_dir,
            "curves": plot,
        },
    )
    return run_dir.finish(metrics)
