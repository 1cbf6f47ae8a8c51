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
from rmr1_cli.config import JudgeSetup, PolicyEvalRecipe
from rmr1_cli.console import summary_table
from rmr1_cli.errors import ConfigError
from rmr1_cli.generation.answers import policy_answers
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.run_dir import RunDir

# metrics.json; ``verifiable`` only when some prompts have an exact answer.
METRICS = ("prompts", "judges", "length", "identical_answers")
OPTIONAL_METRICS = ("verifiable",)


def run(recipe: PolicyEvalRecipe, *, engines: Mapping[str, JudgeEngine] | None = None) -> Path:
    """``engines`` lets ``grpo`` hand over the judge it already holds (by judge name)."""
    from rmr1_cli.evaluation.policy import compare_policies, write_outputs
    from rmr1_cli.judging.engine import build_engine

    engines = dict(engines or {})
    for key in ("policy", "baseline"):
        if not getattr(recipe, key).name_or_path:
            raise ConfigError(f"policy-eval: {key}.name_or_path is empty (a model folder or hub id)")
    setups: dict[str, JudgeSetup] = {"judge": recipe.judge}
    if recipe.second_judge.model.name_or_path:
        setups["second_judge"] = recipe.second_judge
    if "judge" not in engines and not _has_judge(recipe.judge):
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
    for name, setup in setups.items():
        if name in engines:  # the judge grpo already holds, writing to this evaluation's own cache
            engines[name] = _with_cache(engines[name], run_dir.path / "judgments.jsonl")
        else:
            engines[name] = build_engine(
                setup.model,
                setup.generation,
                setup.judge,
                cache_path=run_dir.path / "judgments.jsonl",
                seed=recipe.seed,
            )
    rows, metrics = compare_policies(prompts, policy, baseline, {n: engines[n] for n in setups})
    paths = write_outputs(
        run_dir.path, rows, metrics, policy=recipe.policy.name_or_path, baseline=recipe.baseline.name_or_path
    )
    table = {
        f"win rate ({name})": f"{j['win_rate']:.1%}  (W {j['wins']} / T {j['ties']} / L {j['losses']})"
        for name, j in metrics["judges"].items()
    }
    if "verifiable" in metrics:
        v = metrics["verifiable"]
        table["verifiable accuracy"] = (
            f"{v['baseline_accuracy']:.1%} -> {v['policy_accuracy']:.1%} (n={v['n']})"
        )
    summary_table("rmr1 policy-eval: trained vs initial", table | {"prompts": len(prompts)} | paths)
    return run_dir.finish(metrics)


def _with_cache(engine: JudgeEngine, cache_path: Path) -> JudgeEngine:
    """The same loaded judge with another cache file, so that rerunning this stage alone resumes."""
    from rmr1_cli.judging.cache import JudgmentCache

    return JudgeEngine(
        engine.generator,
        engine.template,
        engine.spec,
        engine.params,
        cache=JudgmentCache(cache_path),
        seed=engine.seed,
    )


def _has_judge(setup: JudgeSetup) -> bool:
    return bool(setup.model.name_or_path) or setup.generation.backend == "openai"
