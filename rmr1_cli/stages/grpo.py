"""``rmr1 grpo``: train a policy with trl's GRPOTrainer, a reasoning RM (and optionally a scalar RM and a
verifiable answer check) giving the reward.

The judge's comparisons become one scalar per rollout through the recipe's adapter (``rewards/policy.py``);
a win counts only when it survives the A/B swap. Outputs in ``output_dir``: model/, train_log.jsonl,
curves.png, diagnostics.png (reward-hacking diagnostics per step), samples.jsonl (sampled rollouts
with the judge's verdicts), judgments.jsonl (the judgment cache), baseline_answers.jsonl (with
``reward.reference: baseline``), metrics.json, and policy-eval/ when ``eval_prompts_file`` is set.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import GenerationSpec, GRPORecipe, PolicyEvalRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.reports.formatting import arrow, number
from rmr1_cli.reports.plots import plot_training_curves
from rmr1_cli.run_dir import RunDir
from rmr1_cli.training import arguments, runner

CURVES = [
    "reward",
    "rewards/judge_reward/mean",
    "rewards/scalar_reward/mean",
    "rewards/verifiable_reward/mean",
    "completions/mean_length",
    "loss",
    "kl",
]
DIAGNOSTICS = [
    "hacking/reward_length_corr",
    "completions/mean_length",
    "judge/swap_flip_rate",
    "judge/invalid_rate",
    "hacking/verifiable_agreement",
    "judge/tie_rate",
    "judge/cache_hit_rate",
    "hacking/scalar_length_corr",
]


# metrics.json; OPTIONAL_METRICS: ``judge`` with a judge reward, ``policy_eval`` with
# eval_prompts_file, and first/last values of logged series.
METRICS = (
    "global_step", "prompts", "reward_weights", "reward_trend", "diagnostics", "reward_length_trend_corr",
)  # fmt: skip
OPTIONAL_METRICS = ("judge", "policy_eval", "reward_first", "reward_last", "loss_first", "loss_last")


def run(recipe: GRPORecipe) -> Path:
    from rmr1_cli.rewards.policy import check_reward_spec

    reward = recipe.reward
    prompts = data.load_prompts(recipe.prompts_file, limit=recipe.limit)
    has_answers = any(p.answer is not None for p in prompts)
    check_reward_spec(reward, has_answers=has_answers)
    _check_policy_eval(recipe)
    needs_reference = (
        reward.judge_weight and reward.adapter == "vs_reference" and reward.reference == "column"
    )
    missing = [p.id for p in prompts if not p.reference]
    if needs_reference and missing:
        raise DataError(
            f"{recipe.prompts_file}: rows {missing[:5]} have no 'reference' (reward.adapter=vs_reference with "
            "reward.reference=column); add the column or set reward.reference=baseline"
        )
    # checks done: now the heavy imports (trl takes seconds)
    runner.seed_everything(recipe.seed)
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli import models
    from rmr1_cli.generation.answers import policy_answers
    from rmr1_cli.rewards.policy import build_policy_rewards
    from rmr1_cli.training.distributed import on_rank_zero, rank_zero_rewards

    run_dir = RunDir.create("grpo", recipe)
    run_dir.record_input("prompts_file", recipe.prompts_file)

    fixed = {"model_init_kwargs": arguments.model_init_kwargs(recipe.model)}
    args = arguments.build_trl_args(GRPOConfig, recipe, fixed=fixed)
    _ = args.device  # sets this rank's device (and joins the process group) before any model loads
    tokenizer = models.load_tokenizer(recipe.model, padding_side="left")
    kept = [p for p in prompts if _prompt_tokens(tokenizer, p) <= recipe.max_prompt_length]
    if len(kept) < len(prompts):
        console.print(
            f"dropped {len(prompts) - len(kept)} prompts longer than max_prompt_length", style="yellow"
        )
    if not kept:
        raise DataError(
            f"{recipe.prompts_file}: every prompt is longer than max_prompt_length={recipe.max_prompt_length}"
        )

    references = {p.id: p.reference for p in kept}
    if reward.judge_weight and reward.adapter == "vs_reference" and reward.reference == "baseline":
        baseline = reward.baseline_model if reward.baseline_model.name_or_path else recipe.model
        answers = on_rank_zero(  # one process generates (and owns the cache); the others receive them
            lambda: policy_answers(
                baseline,
                _policy_generation(recipe),
                kept,
                cache_path=run_dir.path / "baseline_answers.jsonl",
                seed=recipe.seed,
                label="baseline",
            )
        )
        references = {pid: a["text"] for pid, a in answers.items() if a["finish_reason"] != "error"}
        if len(references) < len(kept):  # a prompt the baseline could not answer has no reference
            console.print(
                f"dropped {len(kept) - len(references)} prompts too long for the baseline's context",
                style="yellow",
            )
            kept = [p for p in kept if p.id in references]
    rows = [
        {"prompt": data.as_messages(p.prompt), "reference": references[p.id], "answer": p.answer}
        for p in kept
    ]

    # under accelerate launch rank 0 alone holds the judge and its cache (training/distributed.py)
    rewards = rank_zero_rewards(
        lambda: build_policy_rewards(reward, out_dir=run_dir.path, seed=recipe.seed, has_answers=has_answers)
    )
    args.reward_weights = rewards.weights
    runner.write_trl_args(args, run_dir.path)
    trainer = GRPOTrainer(
        model=recipe.model.name_or_path,
        reward_funcs=rewards.funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=arguments.peft_config(recipe.lora),
        quantization_config=arguments.quantization_config(recipe.lora, recipe.model),
    )
    runner.train(trainer)  # resumes from trainer.resume_from_checkpoint when the recipe names one
    model_dir = runner.save_final_model(trainer, tokenizer, run_dir.path, recipe.lora, base=recipe.model)
    if not trainer.is_world_process_zero():
        return run_dir.path
    history, summary = runner.history_metrics(trainer)
    del trainer  # free the policy and its optimizer before the evaluation loads two policies

    runner.write_history(history, run_dir.path)
    curves = plot_training_curves(history, CURVES, run_dir.path / "curves.png", "rmr1 grpo")
    diagnostics_png = plot_training_curves(
        history, DIAGNOSTICS, run_dir.path / "diagnostics.png", "rmr1 grpo: reward-hacking diagnostics"
    )
    metrics = summary | {
        "prompts": len(rows),
        "reward_weights": {f.__name__: w for f, w in zip(rewards.funcs, rewards.weights, strict=True)},
        "reward_trend": _trend(history, "reward"),
        "diagnostics": {key: _trend(history, key) for key in DIAGNOSTICS if any(key in h for h in history)},
        "reward_length_trend_corr": _step_correlation(history, "reward", "completions/mean_length"),
    }
    if rewards.engine is not None:
        metrics["judge"] = rewards.engine.stats.as_dict()
    table = {
        "prompts": len(rows),
        "steps": summary["global_step"],
        "reward first -> last": _arrow(metrics["reward_trend"]),
        "reward vs mean length over steps (r)": _num(metrics["reward_length_trend_corr"]),
        **{f"{key} (mean)": _num(value["mean"]) for key, value in metrics["diagnostics"].items()},
    }
    if recipe.eval_prompts_file:
        from rmr1_cli.stages import policy_eval

        engines = {"judge": rewards.engine} if rewards.engine is not None else None
        eval_dir = policy_eval.run(_policy_eval_recipe(recipe, model_dir), engines=engines)
        metrics["policy_eval"] = json.loads((eval_dir / "metrics.json").read_text())
        for name, judge in metrics["policy_eval"]["judges"].items():
            table[f"policy eval win rate ({name})"] = _num(judge["win_rate"])
    summary_table("rmr1 grpo", table | {"model": model_dir, "curves": curves, "diagnostics": diagnostics_png})
    return run_dir.finish(metrics)


def _check_policy_eval(recipe: GRPORecipe) -> None:
    if recipe.eval_prompts_file and not recipe.reward.judge.given:
        raise ConfigError(
            "eval_prompts_file is set but reward.judge.model is empty: the evaluation needs a judge"
        )


def _policy_eval_recipe(recipe: GRPORecipe, model_dir: Path) -> PolicyEvalRecipe:
    """The evaluation grpo runs after training, written as a recipe so it can be rerun on its own."""
    reward = recipe.reward
    return PolicyEvalRecipe(
        output_dir=str(Path(recipe.output_dir) / "policy-eval"),
        seed=recipe.seed,
        policy=dataclasses.replace(recipe.model, name_or_path=str(model_dir)),
        baseline=recipe.model,
        prompts_file=recipe.eval_prompts_file,
        limit=recipe.eval_limit,
        generation=_policy_generation(recipe),
        judge=reward.judge,
        second_judge=recipe.eval_second_judge,
    )


def _trend(history: list[dict], key: str) -> dict[str, float | int | None]:
    """First, last and mean of a logged series, and the means of its first and last quarter."""
    values = [float(h[key]) for h in history if key in h]
    if not values:
        return {
            "first": None,
            "last": None,
            "mean": None,
            "first_quarter": None,
            "last_quarter": None,
            "steps": 0,
        }
    q = max(1, len(values) // 4)
    return {
        "first": values[0],
        "last": values[-1],
        "mean": sum(values) / len(values),
        "first_quarter": sum(values[:q]) / q,
        "last_quarter": sum(values[-q:]) / q,
        "steps": len(values),
    }


def _step_correlation(history: list[dict], x: str, y: str) -> float | None:
    """Correlation of two logged series over the steps: a reward that rises with length is suspect."""
    from rmr1_cli.rewards.diagnostics import pearson

    steps = [h for h in history if x in h and y in h]
    return pearson([float(h[x]) for h in steps], [float(h[y]) for h in steps])


def _num(value: float | None) -> str:
    return number(value, missing="n/a")


def _arrow(trend: dict) -> str:
    """First -> last reward, with the first and last quarter's means (steadier than single steps)."""
    whole = arrow(trend["first"], trend["last"], _num, when_missing=None)
    quarters = arrow(trend["first_quarter"], trend["last_quarter"], _num, when_missing=None)
    return f"{whole} (first/last quarter {quarters})"


def _prompt_tokens(tokenizer, prompt: data.PromptRecord) -> int:
    messages = data.as_messages(prompt.prompt)
    return len(
        tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"]
    )


def _policy_generation(recipe: GRPORecipe) -> GenerationSpec:
    """Greedy answers as long as the training rollouts (baseline references, policy evaluation)."""
    length = int(recipe.trainer.get("max_completion_length", 256))
    return GenerationSpec(
        max_new_tokens=length, temperature=0.0, batch_size=recipe.reward.judge.generation.batch_size
    )
