"""``rmr1 train-rm``: train a reward model on preference pairs.

``method: reasoning`` (RM-R1 stage 2, RLVR): trl's GRPOTrainer on pairs rendered with the judge
template. The reward is the paper's: +1 when the final verdict tag is the correct one and the other is
absent, else -1 (``verdict.verdict_reward``, the same parser as evaluation); ``format_reward_weight > 0``
adds a small Chain-of-Rubrics shaping term. With ``both_orders`` each pair is shown twice (chosen as A,
then as B), so labels are exactly balanced; without it each pair gets one slot, alternating from the seed.
Prompts longer than ``max_prompt_length`` tokens are dropped and counted (trl has no prompt limit).
Logged per step, next to trl's own series: ``reward``, ``verdict_reward/accuracy``,
``verdict_reward/invalid_rate``, ``completions/mean_length``; with ``eval_file``, held-out judging
through the judge engine at the start, every ``eval_every_steps`` and at the end (``heldout/*``).

``method: scalar``: trl's RewardTrainer (Bradley-Terry) on the same pairs, the baseline to beat; with
``eval_file`` its pairwise ``eval_accuracy`` is logged before training, per epoch (or every
``eval_every_steps``) and at the end.

Outputs in ``output_dir``: model/, train_log.jsonl, curves.png, rollouts.jsonl (reasoning),
trainer_args.json, metrics.json (with held-out accuracy before and after), manifest.json, recipe.yaml.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from rmr1_cli import config, data
from rmr1_cli.config import TrainRMRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.data import PreferencePair
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.run_dir import RunDir
from rmr1_cli.training import arguments, runner

CURVES = [
    "reward",
    "verdict_reward/accuracy",
    "verdict_reward/invalid_rate",
    "completions/mean_length",
    "heldout/accuracy",
    "heldout/valid_rate",
    "loss",
    "accuracy",
    "margin",
    "eval_accuracy",
    "kl",
]


def verdict_rows(pairs: list[PreferencePair], template, *, both_orders: bool, seed: int) -> list[dict]:
    """GRPO rows ``{"prompt": judge messages, "label": "A"|"B", "pair_id": ...}``.

    With ``both_orders`` every pair appears twice (chosen in slot A, then in slot B); otherwise each pair
    gets one slot from a seeded shuffle of an alternating A/B list, so the labels are balanced to one.
    """
    rows = []
    rng = random.Random(seed)
    slots = ["A", "B"] * (len(pairs) // 2 + 1)
    slots = slots[: len(pairs)]
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
        n = len(ids if isinstance(ids, list) else ids["input_ids"])  # transformers 5: a BatchEncoding
        if n <= max_tokens:
            kept.append(row)
    return kept, len(rows) - len(kept)


# metrics.json (``heldout_*`` are null without eval_file). OPTIONAL_METRICS: what the reasoning method
# adds, and first/last values of logged series (``reward`` for reasoning, ``accuracy`` for scalar).
METRICS = ("method", "rows", "global_step", "heldout_before", "heldout_after")
OPTIONAL_METRICS = (
    "dropped_too_long", "format_reward_weight", "label_share_A", "loss_first", "loss_last", "reward_first",
    "reward_last", "accuracy_first", "accuracy_last", "eval_accuracy_first", "eval_accuracy_last",
)  # fmt: skip


def run(recipe: TrainRMRecipe) -> Path:
    defaults = config.RM_GRPO_DEFAULTS if recipe.method == "reasoning" else config.RM_SCALAR_DEFAULTS
    recipe = dataclasses.replace(recipe, trainer={**defaults, **recipe.trainer})
    runner.seed_everything(recipe.seed)
    judge_rows = _judge_prompt_rows(recipe)  # RM-R1's RL rows: prompts already holding both answers
    pairs = [] if judge_rows is not None else data.load_pairs(recipe.train_file, limit=recipe.limit)
    eval_pairs = data.load_pairs(recipe.eval_file, limit=recipe.eval_limit) if recipe.eval_file else []
    if recipe.eval_every_steps < 0:
        raise ConfigError(
            f"eval_every_steps must be 0 (off) or a positive step count, got {recipe.eval_every_steps}"
        )
    run_dir = RunDir.create("train-rm", recipe)
    run_dir.record_input("train_file", recipe.train_file)
    run_dir.record_input("eval_file", recipe.eval_file)

    if recipe.method == "reasoning":
        trainer, tokenizer, extra, heldout = _train_reasoning(
            recipe, pairs, eval_pairs, run_dir.path, judge_rows
        )
        task = "causal"
    else:
        trainer, tokenizer, extra, heldout = _train_scalar(recipe, pairs, eval_pairs, run_dir.path)
        task = "seq_cls"
    model_dir = runner.save_final_model(
        trainer, tokenizer, run_dir.path, recipe.lora, base=recipe.model, task=task
    )
    if not trainer.is_world_process_zero():
        return run_dir.path

    title = f"rmr1 train-rm ({recipe.method})"
    summary, plot = runner.record_training(trainer, run_dir.path, CURVES, "curves.png", title)
    before, after = heldout
    metrics = summary | extra | {"method": recipe.method, "heldout_before": before, "heldout_after": after}
    table = {
        "method": recipe.method,
        "pairs": len(pairs) if judge_rows is None else f"{len(judge_rows)} judge prompts (as in the file)",
        **extra,
        "steps": summary["global_step"],
        "model": model_dir,
        "curves": plot,
    }
    if before and after and before.get("accuracy") is not None and after.get("accuracy") is not None:
        table["held-out accuracy before -> after"] = f"{before['accuracy']:.3f} -> {after['accuracy']:.3f}"
    if before and after:  # judge traces that ran out of generation.max_new_tokens
        table["held-out traces cut off before -> after"] = (
            f"{before.get('cut_off', 0)} -> {after.get('cut_off', 0)}"
        )
    summary_table("rmr1 train-rm", table)
    return run_dir.finish(metrics)


def _judge_prompt_rows(recipe: TrainRMRecipe) -> list[dict] | None:
    """Rows of RM-R1's RL layout (``context_messages`` + ``winner``), or None for preference pairs."""
    first = next(data.read_rows(recipe.train_file), None)
    if first is None or "context_messages" not in first[1]:
        return None
    if recipe.method != "reasoning":
        raise ConfigError(
            f"{recipe.train_file}: RM-R1's layout holds judge prompts, not chosen/rejected answers; "
            "it trains method: reasoning only"
        )
    rows = data.load_judge_prompts(recipe.train_file, limit=recipe.limit)
    return [{"prompt": r["prompt"], "label": r["label"], "pair_id": r["id"]} for r in rows]


def _train_reasoning(recipe: TrainRMRecipe, pairs, eval_pairs, out_dir: Path, judge_rows=None):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli import models
    from rmr1_cli.judging.prompts import load_template
    from rmr1_cli.rewards import verdict
    from rmr1_cli.rewards.recorded import RecordedVerdictReward, rollouts_path
    from rmr1_cli.training.callbacks import HeldoutJudgeCallback

    template = load_template(recipe.template)
    tokenizer = models.load_tokenizer(recipe.model, padding_side="left")
    models.require_chat_template(tokenizer, recipe.model)
    if judge_rows is not None:
        rows = judge_rows
    else:
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
    fixed: dict = {"model_init_kwargs": arguments.model_init_kwargs(recipe.model)}
    if recipe.format_reward_weight > 0:
        fixed["reward_weights"] = [1.0, recipe.format_reward_weight]
    args = arguments.build_trl_args(GRPOConfig, recipe, fixed=fixed)
    runner.write_trl_args(args, out_dir)
    rollouts = rollouts_path(out_dir, args.process_index) if recipe.log_rollouts else None
    if rollouts is not None and not runner.resume_target(args):
        rollouts.unlink(missing_ok=True)  # a fresh run starts a fresh record; a resumed one appends
    reward_funcs = [RecordedVerdictReward(rollouts, after_think=template.thinks, rule=recipe.verdict_rule)]
    if recipe.format_reward_weight > 0:
        reward_funcs.append(verdict.format_reward)
    heldout = HeldoutJudgeCallback(
        eval_pairs,
        tokenizer,
        config.JudgeSpec(
            generation=recipe.generation, template=recipe.template, verdict_rule=recipe.verdict_rule
        ),
        every=recipe.eval_every_steps,
        seed=recipe.seed,
        gather_weights=recipe.eval_gather_weights,
    )
    trainer = GRPOTrainer(
        model=recipe.model.name_or_path,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=arguments.peft_config(recipe.lora),
        quantization_config=arguments.quantization_config(recipe.lora, recipe.model),
        callbacks=[heldout] if eval_pairs else None,
    )
    heldout.bind(trainer)
    runner.train(trainer)
    labels = [r["label"] for r in rows]
    extra = {
        "rows": len(rows),
        "dropped_too_long": dropped,
        "label_share_A": labels.count("A") / len(labels),
        "format_reward_weight": recipe.format_reward_weight,
    }
    before = _strip(heldout.history[0][1]) if heldout.history else None
    after = _strip(heldout.history[-1][1]) if heldout.history else None
    return trainer, tokenizer, extra, (before, after)


def _train_scalar(recipe: TrainRMRecipe, pairs, eval_pairs, out_dir: Path):
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from rmr1_cli import models
    from rmr1_cli.training.callbacks import EvaluateAtStartCallback

    tokenizer = models.load_tokenizer(recipe.model, padding_side="right")
    models.require_chat_template(tokenizer, recipe.model)
    init = arguments.model_init_kwargs(recipe.model) | {"num_labels": 1}
    fixed: dict = {"model_init_kwargs": init}
    if eval_pairs and "eval_strategy" not in recipe.trainer:
        fixed["eval_strategy"] = "steps" if recipe.eval_every_steps else "epoch"
        if recipe.eval_every_steps:
            fixed["eval_steps"] = recipe.eval_every_steps
    args = arguments.build_trl_args(RewardConfig, recipe, fixed=fixed)
    runner.write_trl_args(args, out_dir)
    at_start = EvaluateAtStartCallback()
    trainer = RewardTrainer(
        model=recipe.model.name_or_path,
        args=args,
        train_dataset=Dataset.from_list(preference_rows(pairs)),
        eval_dataset=Dataset.from_list(preference_rows(eval_pairs)) if eval_pairs else None,
        processing_class=tokenizer,
        peft_config=arguments.peft_config(recipe.lora, task_type="SEQ_CLS"),
        quantization_config=arguments.quantization_config(recipe.lora, recipe.model),
        callbacks=[at_start] if eval_pairs else None,
    )
    at_start.bind(trainer)
    if trainer.model.config.pad_token_id is None:
        trainer.model.config.pad_token_id = tokenizer.pad_token_id
    runner.train(trainer)
    if not eval_pairs:
        return trainer, tokenizer, {"rows": len(pairs)}, (None, None)
    before = _pairwise(at_start.metrics) if at_start.metrics else None
    return trainer, tokenizer, {"rows": len(pairs)}, (before, _pairwise(trainer.evaluate()))


def preference_rows(pairs: list[PreferencePair]) -> list[dict]:
    """trl's conversational preference layout: ``prompt`` messages, one-message ``chosen`` / ``rejected``."""
    return [
        {
            "prompt": data.as_messages(p.prompt),
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]


def _pairwise(result: dict) -> dict:
    """Pairwise accuracy (chosen scored above rejected) and mean margin from RewardTrainer's eval metrics."""
    return {"accuracy": result.get("eval_accuracy"), "margin": result.get("eval_margin")}


def _strip(metrics: dict) -> dict:
    """``heldout/accuracy`` -> ``accuracy`` for metrics.json."""
    return {key.split("/", 1)[-1]: value for key, value in metrics.items()}
