"""One set of reward models for every process of ``accelerate launch`` (policy GRPO with a judge).

trl calls each reward function on every rank with that rank's share of the completions. Built on every
rank, a judge would load once per process (all on the first GPU when built before the rank's device is
set) and every rank would claim the same judgment cache. Here rank 0 alone builds the rewards: each
call gathers all ranks' completions (and their dataset columns) to rank 0, which judges the whole
generation batch at once (a GRPO group split across ranks is judged whole, which round-robin and
knockout adapters need) and sends each rank its slice of the rewards and of any ``log_extra`` columns.
Metrics a reward logs with ``log_metric`` are logged on rank 0 only; trl averages each metric over the
ranks that logged it. All ranks call the reward together (trl scores every generation batch on every
rank), so the collective calls line up.

To keep the judge off the training GPUs, give it its own device (``reward.judge.model.device: cuda:N``)
or serve it (``rmr1 serve``, then ``reward.judge.generation.backend: openai``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

# trl's reward keyword arguments that are not per-sample columns: rank 0 uses its own
_LOCAL_KWARGS = ("trainer_state", "log_metric", "log_extra", "environments")


class RankZeroReward:
    """A reward function that runs on rank 0 for the completions of all ranks (``func`` is None elsewhere)."""

    def __init__(self, func: Callable | None, name: str):
        self.func = func
        self.__name__ = name

    def __call__(self, prompts, completions, completion_ids=None, **kwargs) -> list[float | None]:
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list, gather_object

        state = PartialState()
        n = len(prompts)
        columns = {
            key: value
            for key, value in kwargs.items()
            if key not in _LOCAL_KWARGS and isinstance(value, list) and len(value) == n
        }
        local = {"prompts": prompts, "completions": completions, "completion_ids": completion_ids, **columns}
        shares = gather_object([local])  # one dict per rank, in rank order
        payload: list[Any] = [None, None]
        if state.is_main_process:
            merged = {key: _concat([share[key] for share in shares]) for key in local}
            extra: dict[str, list] = defaultdict(list)
            passed = {key: value for key, value in kwargs.items() if key in _LOCAL_KWARGS}
            passed["log_extra"] = lambda column, values: extra[column].extend(values)
            rewards = self.func(**merged, **passed)
            payload = [list(rewards), dict(extra)]
        broadcast_object_list(payload, from_process=0)
        rewards, extra = payload
        sizes = [len(share["prompts"]) for share in shares]
        start = sum(sizes[: state.process_index])
        log_extra = kwargs.get("log_extra")
        if log_extra is not None:
            for column, values in extra.items():
                log_extra(column, values[start : start + n])
        return rewards[start : start + n]


def _concat(parts: list) -> Any:
    if any(part is None for part in parts):
        return None
    return [item for part in parts for item in part]


def on_rank_zero(func: Callable[[], Any]) -> Any:
    """``func()`` run by rank 0 alone, its (picklable) result sent to every rank; in one process, just
    ``func()``. For work whose files only one process may own, such as the baseline answers' cache."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    if state.num_processes == 1:
        return func()
    result = [func() if state.is_main_process else None]
    broadcast_object_list(result, from_process=0)
    return result[0]


def rank_zero_rewards(build: Callable[[], Any]) -> Any:
    """``build()`` (an object with ``funcs``, ``weights`` and ``engine``) in one process; under
    ``accelerate launch`` it runs on rank 0 only and every rank gets proxies with the same names and
    weights (``engine`` is None on the other ranks).

    The process group must exist already (``args.device`` of the trl config sets it up, and sets this
    rank's device, so a judge built here lands on rank 0's device, not every rank on the first GPU).
    """
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    if state.num_processes == 1:
        return build()
    built = build() if state.is_main_process else None
    meta: list[Any] = [
        [(f.__name__, w) for f, w in zip(built.funcs, built.weights, strict=True)] if built else None
    ]
    broadcast_object_list(meta, from_process=0)
    names = meta[0]
    funcs = built.funcs if built else [None] * len(names)
    proxies = [RankZeroReward(f, name) for f, (name, _) in zip(funcs, names, strict=True)]
    if built is None:
        from types import SimpleNamespace

        return SimpleNamespace(funcs=proxies, weights=[w for _, w in names], engine=None, judge=None)
    built.funcs = proxies
    return built
