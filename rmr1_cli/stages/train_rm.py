"""``rmr1 train-rm``: train a reward model on preference pairs.

``method: reasoning`` (RM-R1 stage 2): trl's GRPOTrainer on pairs rendered with the judge template; the
reward is +1 for the correct final verdict tag (the other absent), else -1 (``rewards.verdict_reward``).
``method: scalar``: trl's RewardTrainer (Bradley-Terry) on the same pairs, the baseline to beat.

Outputs in ``output_dir``: model/, train_log.jsonl, curves.png, metrics.json (with held-out verdict
accuracy before and after training when ``eval_file`` is given).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from rmr1_cli import config, data, training
from rmr1_cli.artifacts import RunDir
from rmr1_cli.config import TrainRMRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.data import PreferencePair
from rmr1_cli.errors import DataError
from rmr1_cli.plots import plot_training_curves

CURVES = [
    "reward",
    "rewards/verdict_reward/mean",
    "verdict_reward/invalid_rate",
    "completions/mean_length",
    "loss",
    "accuracy",
    "margin",
    "eval_accuracy",
    "kl",
]


def verdict_rows(pairs: list[PreferencePair], template, *, both_orders: bool, seed: int) -> list[dict]:
    """GRPO rows ``{"prompt": judge messages, "label": "A"|"B"}``.

    With ``both_orders`` every pair appears twice (chosen in slot A, then in slot B); otherwise each pair
    gets one slot drawn from the seed, alternating so that labels stay balanced.
    """
    rows = []
    rng = random.Random(seed)
    slots = ["A", "B"] * (len(pairs) // 2 + 1)
    rng.shuffle(slots)
    for i, pair in enumerate(pairs):
        for slot in ("A", "B") if both_orders else (slots[i],):
            a, b = (pair.chosen, pair.rejected) if slot == "A" else (pair.rejected, pair.chosen)
            rows.append({"prompt": template.render(pair.prompt, a, b), "label": slot, "pair_id": pair.id})
    return rows


def drop_long_prompts(rows: list[dict], tokenizer, max_tokens: int) -> tuple[list[dict], int]:
    """Drop rows whose rendered prompt exceeds ``max_tokens`` (the paper drops them too)."""
    kept = []
    for row in rows:
        ids = tokenizer.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True)
        n = len(ids["input_ids"] if isinstance(ids, dict) else ids)
        if n <= max_tokens:
            kept.append(row)
    return kept, len(rows) - len(kept)


def run(recipe: TrainRMRecipe) -> Path:
    defaults = config.RM_GRPO_DEFAULTS if recipe.method == "reasoning" else config.RM_SCALAR_DEFAULTS
    recipe = dataclasses.replace(recipe, trainer={**defaults, **recipe.trainer})
    pairs = data.load_pairs(recipe.train_file, limit=recipe.limit)
    eval_pairs = data.load_pairs(recipe.eval_file, limit=recipe.eval_limit) if recipe.eval_file else []
    run_dir = RunDir.create("train-rm", recipe)
    run_dir.record_input("train_file", recipe.train_file)
    run_dir.record_input("eval_file", recipe.eval_file)

    before = heldout_accuracy(recipe, recipe.model, eval_pairs, "before") if eval_pairs else None
    if recipe.method == "reasoning":
        trainer, extra = _train_reasoning(recipe, pairs)
    else:
        trainer, extra = _train_scalar(recipe, pairs)
    from rmr1_cli import models

    tokenizer = models.load_tokenizer(recipe.model)
    model_dir = training.save_final_model(trainer, tokenizer, run_dir.path, recipe.lora)
    trained = dataclasses.replace(recipe.model, name_or_path=str(model_dir))
    after = heldout_accuracy(recipe, trained, eval_pairs, "after") if eval_pairs else None

    history, summary = training.history_metrics(trainer)
    training.write_history(history, run_dir.path)
    plot = plot_training_curves(
        history, CURVES, run_dir.path / "curves.png", f"rmr1 train-rm ({recipe.method})"
    )
    metrics = summary | extra | {"method": recipe.method, "heldout_before": before, "heldout_after": after}
    table = {
        "method": recipe.method,
        "pairs": len(pairs),
        **{k: v for k, v in extra.items()},
        "steps": summary["global_step"],
        "model": model_dir,
        "curves": plot,
    }
    if before is not None and after is not None:
        table["held-out accuracy before -> after"] = f"{before['accuracy']:.3f} -> {after['accuracy']:.3f}"
    summary_table("rmr1 train-rm", table)
    return run_dir.finish(metrics)


def _train_reasoning(recipe: TrainRMRecipe, pairs: list[PreferencePair]):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli import models, rewards
    from rmr1_cli.prompts import load_template

    template = load_template(recipe.template)
    tokenizer = models.load_tokenizer(recipe.model, padding_side="left")
    rows = verdict_rows(pairs, template, both_orders=recipe.both_orders, seed=recipe.seed)
    rows, dropped = drop_long_prompts(rows, tokenizer, recipe.max_prompt_length)
    if not rows:
        raise DataError(
            f"{recipe.train_file}: every prompt is longer than max_prompt_length={recipe.max_prompt_length}"
        )
    if dropped:
        console.print(
            f"dropped {dropped} prompts longer than max_prompt_length={recipe.max_prompt_length}",
            style="yellow",
        )
    reward_funcs = [rewards.verdict_reward]
    fixed = {"model_init_kwargs": training.model_init_kwargs(recipe.model)}
    if recipe.format_reward_weight > 0:
        reward_funcs.append(rewards.format_reward)
        fixed["reward_weights"] = [1.0, recipe.format_reward_weight]
    args = training.build_trl_args(GRPOConfig, recipe, fixed=fixed)
    trainer = GRPOTrainer(
        model=recipe.model.name_or_path,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=training.peft_config(recipe.lora),
    )
    trainer.train()
    labels = [r["label"] for r in rows]
    return trainer, {
        "rows": len(rows),
        "dropped_too_long": dropped,
        "label_share_A": labels.count("A") / len(labels),
    }


def _train_scalar(recipe: TrainRMRecipe, pairs: list[PreferencePair]):
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from rmr1_cli import models

    tokenizer = models.load_tokenizer(recipe.model, padding_side="right")
    rows = [
        {
            "prompt": data.as_messages(p.prompt),
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]
    init = training.model_init_kwargs(recipe.model) | {"num_labels": 1}
    args = training.build_trl_args(RewardConfig, recipe, fixed={"model_init_kwargs": init})
    trainer = RewardTrainer(
        model=recipe.model.name_or_path,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=training.peft_config(recipe.lora, task_type="SEQ_CLS"),
    )
    if trainer.model.config.pad_token_id is None:
        trainer.model.config.pad_token_id = tokenizer.pad_token_id
    trainer.train()
    return trainer, {"rows": len(rows)}


def heldout_accuracy(
    recipe: TrainRMRecipe, model: config.ModelSpec, pairs: list[PreferencePair], tag: str
) -> dict:
    """Verdict accuracy on held-out pairs: the judge engine for a reasoning RM, scores for a scalar one."""
    if recipe.method == "scalar":
        from rmr1_cli.scoring import score_pairs

        scores = score_pairs(model, pairs, batch_size=recipe.generation.batch_size)
        correct = [float(c > r) + 0.5 * float(c == r) for c, r in scores]
        return {"accuracy": sum(correct) / len(correct), "n": len(correct)}
    from rmr1_cli.judging import build_engine
    from rmr1_cli.stages.judge import judge_metrics

    engine = build_engine(
        model,
        recipe.generation,
        config.JudgeSpec(template=recipe.template),
        cache_path=None,
        seed=recipe.seed,
    )
    results = engine.judge(pairs, description=f"held-out eval ({tag})")
    engine.generator.close()
    stats = engine.stats.as_dict()
    return judge_metrics(results) | {"valid_rate": stats["valid_rate"], "n": len(results)}
