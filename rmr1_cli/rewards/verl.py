"""An rmr1 judge as a verl custom reward function (docs/policy.md, "verl").

verl loads ``custom_reward_function.path`` as a file and calls ``name`` once per response as
``compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)``. The response is
judged against ``ground_truth`` as the reference answer, in both A/B orders; the reward is the
swap-safe win probability in [0, 1] (0.5 when the orders disagree). The question comes from
``extra_info["question"]`` (verl's example preprocessing puts it there) or ``extra_info["prompt"]``.

Two ways to judge, chosen by the reward kwargs:
- ``rmr1_url`` (or the ``RMR1_JUDGE_URL`` environment variable): a running ``rmr1 serve``, through its
  ``/judge`` endpoint; ``rmr1_token_env`` names the variable holding its bearer token.
- ``rmr1_recipe``: a serve recipe file, whose judge is loaded once in this process.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from typing import Any

from rmr1_cli.data import Conversation
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.rewards.adapters import TIE, swap_safe_score

URL_ENV = "RMR1_JUDGE_URL"
_engines: dict[str, Any] = {}
_lock = threading.Lock()


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl's reward function: ``{"score": win probability vs ground_truth, "judge_swap_flip", ...}``."""
    question = _question(extra_info)
    reference = str(ground_truth)
    if solution_str == reference:
        return {"score": TIE, "judge_swap_flip": 0.0, "judge_invalid_rate": 0.0}
    url = kwargs.get("rmr1_url") or os.environ.get(URL_ENV)
    recipe = kwargs.get("rmr1_recipe")
    if recipe:
        from rmr1_cli.rewards.reference import score_against_references

        (scored,) = score_against_references(_engine(str(recipe)), [question], [solution_str], [reference])
        return {
            "score": scored.score,
            "judge_swap_flip": float(scored.flipped),
            "judge_invalid_rate": scored.invalid_rate,
        }
    if not url:
        raise ConfigError(
            f"rmr1 verl reward: set reward_kwargs.rmr1_url (or ${URL_ENV}) to a running rmr1 serve, "
            "or reward_kwargs.rmr1_recipe to a serve recipe to judge in this process"
        )
    return _remote(str(url), question, solution_str, reference, kwargs)


def _question(extra_info: dict | None) -> Conversation:
    info = extra_info or {}
    for key in ("question", "prompt"):
        value = info.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
            return [{"role": m["role"], "content": m["content"]} for m in value]
    raise DataError(
        "rmr1 verl reward: extra_info has no 'question' (or 'prompt'); the judge needs the question: "
        "add it to extra_info in your dataset preprocessing"
    )


def _remote(url: str, question: Conversation, response: str, reference: str, kwargs: dict) -> dict:
    """One ``/judge`` call: the response as "chosen", the reference as "rejected", both orders."""
    headers = {"Content-Type": "application/json"}
    token_env = kwargs.get("rmr1_token_env")
    if token_env:
        headers["Authorization"] = f"Bearer {os.environ.get(str(token_env), '')}"
    body = {"pairs": [{"prompt": question, "chosen": response, "rejected": reference}], "include_text": False}
    request = urllib.request.Request(
        url.rstrip("/") + "/judge", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    timeout = float(kwargs.get("rmr1_timeout_s", 600))
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        (result,) = json.loads(answer.read())["results"]
    if result.get("consistent") is None and result.get("n_valid"):
        # one order only: a win cannot be checked against the swap
        orders = {j["order"] for j in result.get("judgments", [])}
        if len(orders) < 2:
            raise ConfigError(
                f"{url} judges one A/B order only; start rmr1 serve with judge.both_orders=true"
            )
    judgments = result.get("n_judgments") or 0
    invalid = (judgments - (result.get("n_valid") or 0)) / judgments if judgments else 0.0
    return {
        "score": swap_safe_score(result.get("p_chosen"), result.get("consistent")),
        "judge_swap_flip": float(result.get("consistent") is False),
        "judge_invalid_rate": invalid,
    }


def _engine(recipe_path: str):
    """The in-process judge of a serve recipe, loaded once per process."""
    with _lock:
        if recipe_path not in _engines:
            from rmr1_cli.config import ServeRecipe, load_recipe
            from rmr1_cli.judging.engine import build_engine

            recipe = load_recipe(recipe_path, ServeRecipe)
            _engines[recipe_path] = build_engine(
                recipe.judge, seed=recipe.seed, cache_path=recipe.cache_file or None
            )
        return _engines[recipe_path]


def use_engine(recipe_path: str, engine) -> None:
    """Judge ``rmr1_recipe=recipe_path`` with an engine already built (tests; a judge already loaded)."""
    with _lock:
        _engines[recipe_path] = engine
