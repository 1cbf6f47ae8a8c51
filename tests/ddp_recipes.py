"""Run by tests/test_recipe_trainers.py under ``accelerate launch`` (2 CPU processes over gloo).

Each process runs every GPU training recipe's stage for one optimizer step on a tiny Qwen2 model (the
recipe file as written; only models, data, lengths, batch products and steps shrunk, vLLM off), then
writes what its rank saw to ``<out>/rank<N>.json``. The RLVR recipe's held-out judging runs with the
ranks in lockstep (``synced=True``, as on a ZeRO-3 / FSDP model) on 3 pairs, one prompt per batch, so
rank 0 has twice rank 1's prompts: every ``model.generate`` call is counted per rank.

    python -m accelerate.commands.launch --config_file recipes/accelerate/cpu-ddp.yaml \
        tests/ddp_recipes.py OUT TINY_QWEN2 TINY_QWEN2_SCORER RECIPE...
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from gloo_exit import exit_skipping_gloo_teardown

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the batch products the recipes set for 8 or 32 GPUs, brought down to 2 processes x 1 row
_RUN_SHRINK = {
    "sft": ["trainer.gradient_accumulation_steps=1", "trainer.max_steps=1"],
    "train-rm": ["trainer.gradient_accumulation_steps=1", "trainer.max_steps=1"],
}
_RLVR_SHRINK = [  # 2 processes x 1 completion x 7 accumulation = 14 = 2 prompts x 7 generations
    "trainer.gradient_accumulation_steps=7",
    "trainer.generation_batch_size=14",
]
_LOCKSTEP = ["eval_limit=3", "generation.batch_size=1", "eval_every_steps=0"]


def main() -> int:
    from accelerate import PartialState

    from rmr1_cli import config
    from rmr1_cli.generation.transformers import TransformersGenerator
    from rmr1_cli.training import callbacks
    from tests.test_recipe_trainers import _STAGES, _stage, shrunk_overrides

    out, model, scorer, *recipes = sys.argv[1:]
    out, model, scorer = Path(out), Path(model), Path(scorer)
    calls = {"real": 0, "idle": 0}
    real_batch, real_idle = TransformersGenerator._generate_batch, TransformersGenerator.generate_idle

    def counted_batch(self, *args, **kwargs):
        calls["real"] += 1
        return real_batch(self, *args, **kwargs)

    def counted_idle(self):
        calls["idle"] += 1
        return real_idle(self)

    TransformersGenerator._generate_batch = counted_batch
    TransformersGenerator.generate_idle = counted_idle
    real_init = callbacks.HeldoutJudgeCallback.__init__

    def synced_init(self, *args, **kwargs):
        real_init(self, *args, **{**kwargs, "synced": True})

    callbacks.HeldoutJudgeCallback.__init__ = synced_init  # lockstep as on a sharded model
    seen: dict[str, dict] = {}
    for path in recipes:
        file = ROOT / path
        stage = _stage(file)
        name = path.replace("/", "_").removesuffix(".yaml")
        overrides = shrunk_overrides(file, model, out / name, scorer) + _RUN_SHRINK.get(stage, [])
        recipe = config.load_recipe(file, _STAGES[stage], overrides)
        reasoning = stage == "train-rm" and recipe.method == "reasoning"
        if reasoning:
            recipe = config.load_recipe(file, _STAGES[stage], overrides + _RLVR_SHRINK + _LOCKSTEP)
        before = dict(calls)
        module = importlib.import_module(f"rmr1_cli.stages.{stage.replace('-', '_')}")
        module.run(recipe)
        seen[path] = {key: calls[key] - before[key] for key in calls}
    state = PartialState()
    (out / f"rank{state.process_index}.json").write_text(json.dumps(seen), encoding="utf-8")
    state.wait_for_everyone()
    return 0


if __name__ == "__main__":
    exit_skipping_gloo_teardown(main())
