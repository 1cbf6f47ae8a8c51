"""An rmr1 judge as one reward function for your own trl ``GRPOTrainer`` script (docs/policy.md, "trl").

``judge_reward(...)`` returns a single reward function: the judge's swap-safe reward with one adapter.
It is the whole reward, so trl's default ``reward_weights`` (1.0 each) are right and there is no weight
to forget. When the dataset has an ``answer`` column, the share of verifiably correct rollouts is logged
as ``rewards/verifiable_reward/mean`` without entering the reward.

    from rmr1_cli.rewards.trl import judge_reward
    reward = judge_reward("runs/tiny/train-rm/model", "judge.template=compact")
    trainer = GRPOTrainer(model=..., reward_funcs=reward, train_dataset=rows_with_a_reference_column, ...)
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli.generation import Generator
from rmr1_cli.rewards.policy import JudgeReward


def judge_reward(
    model: str,
    *overrides: str,
    adapter: str = "vs_reference",
    round_robin_score: str = "win_rate",
    cache_file: str | Path | None = None,
    seed: int = 0,
    generator: Generator | None = None,
) -> JudgeReward:
    """A trl reward function judging with ``model`` (a folder or hub name).

    ``overrides`` are ``judge.*`` settings as on the command line (``"judge.samples=3"``,
    ``"judge.generation.temperature=0.7"``; docs/judging.md lists them); ``adapter`` is ``vs_reference``
    (the dataset needs a ``reference`` column), ``round_robin`` or ``knockout``; ``cache_file`` keeps
    every judgment so a resumed run does not judge again; ``generator`` is a judge already loaded.
    """
    from rmr1_cli.config import ServeRecipe, load_recipe
    from rmr1_cli.judging.engine import build_engine

    recipe = load_recipe(None, ServeRecipe, [f"judge.model.name_or_path={model}", *overrides])
    engine = build_engine(recipe.judge, seed=seed, cache_path=cache_file, generator=generator)
    return JudgeReward(engine, adapter=adapter, round_robin_score=round_robin_score, seed=seed)
