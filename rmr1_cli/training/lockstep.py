"""Held-out judging on a sharded model (DeepSpeed ZeRO-3, FSDP) with every rank in step.

A sharded model's forward pass is a collective: each layer all-gathers its weights from every rank, so
all ranks must run the same number of forward passes. Held-out judging breaks that twice over:

- inside one ``generate`` call ranks stop after different numbers of tokens. transformers'
  ``synced_gpus=True`` keeps a finished rank running forward passes until every rank is done
  (``GenerationMixin._has_unfinished_sequences``, transformers/generation/utils.py). transformers turns it
  on by itself only for ZeRO-3 or a module its own ``apply_fsdp2`` sharded
  (``is_fsdp_managed_module``, transformers/distributed/fsdp.py), not for accelerate's FSDP2, so rmr1
  passes it explicitly;
- ranks make different numbers of ``generate`` calls: their shards differ in size (65 pairs on 8 GPUs:
  one rank has 9, the others 8), and the judge engine's calls depend on the data (pairs repeated,
  skipped as too long, retried as invalid). ``Lockstep`` evens that out: before each ``generate`` a rank
  with work says so (an all-reduce of 1); a rank whose judging is over keeps answering 0 and, while any
  rank still works, runs one idle ``generate`` (a one-token dummy prompt whose result is dropped). Every
  rank thus makes ``max over ranks`` calls, whatever the engine did, and the loop ends on all ranks in
  the same round (all see the same sum).

The shard arithmetic is kept pure (``shard_indices``) so it is tested for every size directly.
"""

from __future__ import annotations

from collections.abc import Callable


def needed(world: int, zero3: bool, fsdp: bool) -> bool:
    """Whether ranks must generate in lockstep: several of them, on a model whose forward is a
    collective (ZeRO-3 shards, even when gathered for generation, since transformers then still sets
    ``synced_gpus``; FSDP1 and FSDP2). Plain DDP generates on each rank's whole copy, no collectives.

    >>> needed(8, zero3=True, fsdp=False), needed(8, zero3=False, fsdp=True), needed(8, False, False)
    (True, True, False)
    >>> needed(1, zero3=True, fsdp=False)
    False
    """
    return world > 1 and (zero3 or fsdp)


def shard_indices(n: int, world: int, rank: int) -> list[int]:
    """The items rank ``rank`` of ``world`` judges: every ``world``-th, from ``rank`` (sizes differ by 1).

    >>> [shard_indices(5, 2, r) for r in range(2)]
    [[0, 2, 4], [1, 3]]
    >>> shard_indices(1, 4, 3)  # more ranks than items: an empty shard, the rank still runs in step
    []
    """
    return list(range(rank, n, world))


class Lockstep:
    """Keeps the ranks' ``generate`` calls equal in number (see the module docstring).

    ``all_reduce_sum(x)`` sums an int over the ranks (``torch.distributed`` in training, a barrier in
    the tests). A generator calls ``announce()`` before each real ``generate``; the caller calls
    ``drain(idle)`` once its judging is over, and ``idle()`` runs one dummy ``generate``.
    """

    def __init__(self, all_reduce_sum: Callable[[int], int]):
        self.all_reduce_sum = all_reduce_sum
        self.calls = 0  # real generate calls of this rank
        self.idle_calls = 0  # dummy ones, made while other ranks still had work

    def announce(self) -> None:
        """This rank has a batch to generate (the sum is at least 1, so every rank generates this round)."""
        self.all_reduce_sum(1)
        self.calls += 1

    def drain(self, idle: Callable[[], object]) -> None:
        """Run idle ``generate`` calls until no rank has work left."""
        while self.all_reduce_sum(0) > 0:
            idle()
            self.idle_calls += 1


def torch_all_reduce_sum(device) -> Callable[[int], int]:
    """``all_reduce_sum`` over the default process group (gloo on the CPU, NCCL on GPUs)."""
    import torch
    import torch.distributed as dist

    def reduce(value: int) -> int:
        flag = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.SUM)
        return int(flag.item())

    return reduce
