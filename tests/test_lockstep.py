"""Held-out judging on a sharded model: every rank makes the same number of ``generate`` calls.

Under DeepSpeed ZeRO-3 or FSDP each forward pass all-gathers weights from every rank, and transformers'
``synced_gpus`` loop all-reduces a "finished" flag each step (``GenerationMixin._has_unfinished_sequences``,
.venv/lib/python3.11/site-packages/transformers/generation/utils.py); a rank that makes one ``generate``
call fewer than another leaves that one waiting forever. transformers turns ``synced_gpus`` on by itself
only under ZeRO-3 or for modules its own ``apply_fsdp2`` sharded (``is_fsdp_managed_module``,
transformers/distributed/fsdp.py), so accelerate's FSDP2 needs it passed. These tests run the real judge
engine on every rank's shard (threads standing in for ranks, a barrier for the all-reduce) for every
held-out size 1..100 and world size 1..8, with data-dependent call counts (invalid verdicts retried).
"""

from __future__ import annotations

import threading

import pytest

from rmr1_cli.config import GenerationSpec, JudgeSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import Generation
from rmr1_cli.judging import engine
from rmr1_cli.training.lockstep import Lockstep, shard_indices
from tests.conftest import ScriptedGenerator

BATCH = 4


class _Group:
    """``world`` threads' all-reduce: each puts its value, waits for all, reads the sum, waits again."""

    def __init__(self, world: int):
        self.values = [0] * world
        self.barrier = threading.Barrier(world, timeout=20)  # a rank out of step breaks it, never hangs
        self.reduces = [0] * world

    def reducer(self, rank: int):
        def reduce(value: int) -> int:
            self.values[rank] = value
            self.reduces[rank] += 1
            self.barrier.wait()
            total = sum(self.values)
            self.barrier.wait()
            return total

        return reduce


class _RankGenerator(ScriptedGenerator):
    """A judge whose ``generate`` is one model call per ``BATCH`` prompts, each announced as
    TransformersGenerator._generate_batch announces it; ``model_calls`` counts real and idle calls."""

    def __init__(self, lockstep: Lockstep | None):
        super().__init__(_verdict_or_nothing, batch_size=BATCH)
        self.lockstep = lockstep
        self.model_calls = 0

    def generate(self, conversations, params):
        for _ in range(-(-len(conversations) // BATCH)):  # ceil: one model call per BATCH prompts
            if self.lockstep is not None:
                self.lockstep.announce()
            self.model_calls += 1
        return super().generate(conversations, params)

    def generate_idle(self) -> list[Generation]:
        self.model_calls += 1
        return []


def _verdict_or_nothing(a: str, b: str, seed: int, params) -> str:
    """Every third seed an unreadable reply (retried: the call count depends on the data)."""
    if seed % 3 == 0:
        return "no verdict"
    return "<type>Chat</type><answer>[[A]]</answer>"


def _pairs(n: int) -> list[PreferencePair]:
    return [PreferencePair(f"p{i}", f"question {i % 7}", f"good {i}", f"bad {i}") for i in range(n)]


def _run_ranks(n: int, world: int, synced: bool) -> list[int]:
    """Judge ``n`` pairs split over ``world`` ranks; each rank's model-call count."""
    group = _Group(world)
    spec = JudgeSpec(generation=GenerationSpec(max_new_tokens=8), retry_invalid=1)
    pairs = _pairs(n)
    counts = [0] * world
    errors: list[BaseException] = []

    def rank_main(rank: int) -> None:
        lockstep = Lockstep(group.reducer(rank)) if synced else None
        generator = _RankGenerator(lockstep)
        shard = [pairs[i] for i in shard_indices(n, world, rank)]
        try:
            if shard:
                engine.build_engine(spec, seed=0, generator=generator).judge(shard, description="t")
            if lockstep is not None:
                lockstep.drain(generator.generate_idle)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            group.barrier.abort()
        counts[rank] = generator.model_calls

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    if synced:
        assert len(set(group.reduces)) == 1, group.reduces  # the all-reduces themselves line up
    return counts


@pytest.mark.parametrize("world", range(1, 9))
def test_every_rank_makes_the_same_number_of_generate_calls(world):
    for n in range(1, 101):
        counts = _run_ranks(n, world, synced=True)
        assert len(set(counts)) == 1, (n, world, counts)


def test_without_lockstep_65_pairs_on_8_ranks_put_the_ranks_out_of_step():
    """The bug the lockstep fixes: rank 0 has 9 pairs, the others 8, and more batches."""
    counts = _run_ranks(65, 8, synced=False)
    assert len(set(counts)) > 1, counts
    assert _run_ranks(65, 8, synced=True) == [max(counts)] * 8  # every rank makes the busiest rank's count


def test_shards_cover_every_pair_once():
    for world in range(1, 9):
        for n in range(0, 101):
            got = sorted(i for r in range(world) for i in shard_indices(n, world, r))
            assert got == list(range(n))
            sizes = [len(shard_indices(n, world, r)) for r in range(world)]
            assert max(sizes) - min(sizes) <= 1


# ---- a real FSDP2-sharded model: 2 CPU processes over gloo ---------------------------------------------


def _fsdp2(model_dir, tmp_path, mode: str):
    """tests/fsdp2_heldout.py under torchrun: 3 held-out pairs on a fully_shard'ed model, 2 ranks."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT, SAMPLES

    out = tmp_path / f"{mode}.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        str(ROOT / "tests" / "fsdp2_heldout.py"), str(model_dir), str(SAMPLES / "pairs_eval.jsonl"), str(out), mode,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        return None, "hung"
    return done, out


@pytest.mark.slow
def test_held_out_judging_on_an_fsdp2_sharded_model_keeps_the_ranks_in_step(tiny_model_dir, tmp_path):
    """FSDP2 (torch.distributed.fsdp.fully_shard) all-gathers each layer's weights in every forward pass,
    and transformers does not turn ``synced_gpus`` on for it (``is_fsdp_managed_module`` looks for an
    attribute only its own ``apply_fsdp2`` sets: transformers/distributed/fsdp.py). With rmr1's lockstep
    rank 1 (1 pair, 2 prompts) pads with 2 idle generates to match rank 0's 4 (2 pairs x 2 orders)."""
    import json

    done, out = _fsdp2(tiny_model_dir, tmp_path, "lockstep")
    assert done is not None and done.returncode == 0, done.stderr[-3000:] if done else out
    assert json.loads(out.read_text()) == [[2, 4, 0], [1, 2, 2]]  # [pairs judged, real calls, idle calls]


@pytest.mark.slow
def test_held_out_judging_on_fsdp2_without_lockstep_fails(tiny_model_dir, tmp_path):
    """The bug, reproduced: the same judging without the lockstep puts the ranks out of step (rank 1
    reaches the results gather while rank 0 still all-gathers weights: gloo errors or hangs), and under
    ``inference_mode`` FSDP2 fails at once (its gathered weights are inference tensors)."""
    for mode in ("unsynced", "plain"):
        done, _ = _fsdp2(tiny_model_dir, tmp_path, mode)
        assert done is None or done.returncode != 0, (mode, done.stdout[-2000:])
