"""``rmr1 policy-eval``: a trained policy against its initial one on held-out prompts.

Both policies answer greedily (answers cached in ``answers_cache.jsonl``), each judge compares the two
answers in both A/B orders (judgments cached in ``judgments.jsonl``), so a rerun only redoes what
changed. Outputs: metrics.json, report.md, policy_eval.png, answers.jsonl (see ``evaluation/policy.py``).
``rmr1 grpo`` runs this stage itself when its recipe has ``eval_prompts_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import JudgeSpec, PolicyEvalRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.generation.answers import policy_answers
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.run_dir import RunDir

# metrics.json; ``verifiable`` only when some prompts have an exact answer.
METRICS = ("prompts", "judges", "length", "identical_answers", "skipped_too_long")
OPTIONAL_METRICS = ("verifiable",)


def run(recipe: PolicyEvalRecipe, *, engines: Mapping[str, JudgeEngine] | None = None) -> Path:
    """``engines`` lets ``grpo`` hand over the judge it already holds (by judge name)."""
    from rmr1_cli.evaluation.policy import compare_policies, write_outputs
    from rmr1_cli.judging.engine import build_engine

    engines = dict(engines or {})
    for key in ("policy", "baseline"):
        if not getattr(recipe, key).name_or_path:
            raise ConfigError(f"policy-eval: {key}.name_or_path is empty (a model folder or hub id)")
    judges: dict[str, JudgeSpec] = {"judge": recipe.judge}
    if recipe.second_judge.given:
        judges["second_judge"] = recipe.second_judge
    if "judge" not in engines and not recipe.judge.given:
        raise ConfigError("policy-eval: judge.model.name_or_path is empty (the RM that compares the answers)")
    prompts = data.load_prompts(recipe.prompts_file, limit=recipe.limit)
    run_dir = RunDir.create("policy-eval", recipe)
    run_dir.record_input("prompts_file", recipe.prompts_file)

    cache = run_dir.path / "answers_cache.jsonl"
    baseline = policy_answers(
        recipe.baseline, recipe.generation, prompts, cache_path=cache, seed=recipe.seed, label="initial"
    )
    policy = policy_answers(
        recipe.policy, recipe.generation, prompts, cache_path=cache, seed=recipe.seed, label="trained"
    )
    fitting = [
        p for p in prompts if "error" not in (baseline[p.id]["finish_reason"], policy[p.id]["finish_reason"])
    ]
    too_long = len(prompts) - len(fitting)
    if too_long:
        console.print(f"{too_long} prompts are too long for a policy's context: left out", style="yellow")
    if not fitting:
        raise DataError(f"{recipe.prompts_file}: every prompt is too long for a policy's context")
    prompts = fitting
    for name, judge in judges.items():
        # a judge grpo already holds is used as loaded, writing to this evaluation's own cache
        held = engines[name].generator if name in engines else None
        engines[name] = build_engine(
            judge, seed=recipe.seed, cache_path=run_dir.path / "judgments.jsonl", generator=held
        )
    rows, metrics = compare_policies(prompts, policy, baseline, {n: engines[n] for n in judges})
    metrics["skipped_too_long"] = too_long
    paths = write_outputs(
        run_dir.path, rows, metrics, policy=recipe.policy.name_or_path, baseline=recipe.baseline.name_or_path
    )
    table = {
        f"win rate ({name})": f"{j['win_rate']:.1%}  (W {j['wins']} / T {j['ties']} / L {j['losses']})"
        for name, j in metrics["judges"].items()
    }
    for name, j in metrics["judges"].items():  # a judge budget too small for its traces shows here
        table[f"judge traces cut off ({name})"] = j["cut_off"]
    if "verifiable" in metrics:
        v = metrics["verifiable"]
        table["verifiable accuracy"] = (
            f"{v['baseline_accuracy']:.1%} -> {v['policy_accuracy']:.1%} (n={v['n']})"
        )
    summary_table("rmr1 policy-eval: trained vs initial", table | {"prompts": len(prompts)} | paths)
    return run_dir.finish(metrics)
