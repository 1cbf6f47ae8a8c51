"""Run by tests/test_lockstep.py under ``torchrun --nproc-per-node 2`` (CPU, gloo).

Held-out judging on a model sharded by FSDP2 (``torch.distributed.fsdp.fully_shard``, the API
accelerate's FSDP2 plugin applies): every forward pass all-gathers each layer's weights, so the ranks
must run forward passes in step. 3 pairs over 2 ranks, one prompt per batch: rank 0 has 4 prompts,
rank 1 has 2. ``lockstep`` mode uses rmr1's held-out judging as the callback does on a sharded model;
``unsynced`` is the judging without it, which puts the ranks out of step (rank 1 is done while rank 0
still all-gathers weights: a hang or a gloo error); ``plain`` is what rmr1 did before, also under
``inference_mode``, in which FSDP2 fails outright.

    torchrun --nproc-per-node 2 tests/fsdp2_heldout.py MODEL PAIRS OUT lockstep|plain|unsynced
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gloo_exit import exit_skipping_gloo_teardown

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rmr1_cli import data
    from rmr1_cli.config import GenerationSpec, JudgeSpec
    from rmr1_cli.training import lockstep as step
    from rmr1_cli.training.callbacks import judge_pairs

    model_dir, pairs_file, out, mode = sys.argv[1:]
    if mode == "plain":  # as the generator was: inference_mode for every model
        from rmr1_cli.generation.transformers import TransformersGenerator

        TransformersGenerator._no_grad = lambda self: __import__("torch").inference_mode()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (world,))
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pairs = data.load_pairs(pairs_file, limit=3)
    shard = [pairs[i] for i in step.shard_indices(len(pairs), world, rank)]
    judge = JudgeSpec(generation=GenerationSpec(max_new_tokens=8, batch_size=1))
    lockstep = step.Lockstep(step.torch_all_reduce_sum("cpu")) if mode == "lockstep" else None
    results = judge_pairs(model, tokenizer, shard, judge, 0, lockstep=lockstep)
    gathered = [None] * world
    dist.all_gather_object(gathered, [len(results), lockstep.calls if lockstep else None,
                                      lockstep.idle_calls if lockstep else None])  # fmt: skip
    if rank == 0:
        Path(out).write_text(json.dumps(gathered), encoding="utf-8")
    dist.barrier()
    return 0


if __name__ == "__main__":
    exit_skipping_gloo_teardown(main())
