"""What a reasoning-RM training run measures while it trains, on top of trl's own logs.

- ``HeldoutJudgeCallback``: judges held-out pairs with the model being trained, through the judge
  engine (both A/B orders, the same parser as the reward), at the start, every N steps and at the end,
  and logs ``heldout/accuracy``, ``heldout/valid_rate``, ``heldout/consistency`` into the trainer's log.
- ``StderrLogCallback`` / ``BarOnlyProgressCallback``: trl's log lines on the stderr console
  (transformers prints them to stdout, which is kept for results).

Under ``accelerate launch`` the held-out pairs are split over the processes and gathered back; on a
model sharded by ZeRO-3 or FSDP the ranks generate in step (``training/lockstep.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ProgressCallback

from rmr1_cli.config import JudgeSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.judging.records import summarize_pairs

log = logging.getLogger(__name__)


class StderrLogCallback(TrainerCallback):
    """One compact line per trainer log on stderr, in place of transformers' stdout PrinterCallback."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        from rmr1_cli.console import console, format_value

        shown = ", ".join(f"{key}={format_value(value)}" for key, value in logs.items())
        console.print(
            f"[dim]step {state.global_step}/{state.max_steps}[/dim] {shown}", highlight=False, soft_wrap=True
        )


class BarOnlyProgressCallback(ProgressCallback):
    """transformers' tqdm bar (on stderr) without its log lines (on stdout); StderrLogCallback logs."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return


class HeldoutJudgeCallback(TrainerCallback):
    """Judge ``pairs`` with the in-training model at the start, every ``every`` steps (0: never) and at the end.

    Call ``bind(trainer)`` after building the trainer: the evaluation needs its accelerator and model,
    and its metrics go through ``trainer.log`` so they reach train_log.jsonl, TensorBoard and W&B alike.
    ``history`` keeps ``(step, metrics)`` of every evaluation.
    """

    def __init__(
        self,
        pairs: Sequence[PreferencePair],
        tokenizer,
        judge: JudgeSpec,
        *,
        every: int = 0,
        seed: int = 0,
        prefix: str = "heldout",
        gather_weights: bool = True,
        synced: bool | None = None,
    ):
        self.pairs = list(pairs)
        # ZeRO-3: gather the full weights on every GPU to judge (fast), or judge on the shards (32B+)
        self.gather_weights = gather_weights
        self.synced = synced  # ranks in lockstep: None = when the model is sharded over several ranks
        self.tokenizer = tokenizer
        self.judge = judge
        self.every = every
        self.seed = seed
        self.prefix = prefix
        self.history: list[tuple[int, dict[str, float | None]]] = []
        self.trainer = None
        self._due = False
        self._logging = False

    def bind(self, trainer) -> HeldoutJudgeCallback:
        self.trainer = trainer
        return self

    # -- trainer events -----------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self._evaluate_and_log(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.every > 0 and state.global_step % self.every == 0:
            self._due = True
            control.should_log = True  # so this step's log entry is written and on_log fires

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._due and not self._logging:
            self._due = False
            self._evaluate_and_log(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if not self.history or self.history[-1][0] != state.global_step:
            self._evaluate_and_log(state.global_step)

    # -- evaluation ---------------------------------------------------------------------------------

    def _evaluate_and_log(self, step: int) -> None:
        if self.trainer is None or not self.pairs:
            return
        metrics = self.evaluate()
        self.history.append((step, metrics))
        self._logging = True
        try:
            # the base Trainer.log: GRPOTrainer.log would also flush (and so repeat) its pending step metrics
            Trainer.log(self.trainer, dict(metrics))
        finally:
            self._logging = False

    def evaluate(self) -> dict[str, float | None]:
        """Judge this process's share of the pairs with the unwrapped model; gather; summarise.

        Unwrapped as trl's GRPOTrainer does before it generates (trl/trainer/grpo_trainer.py:
        ``unwrap_model_for_generation`` with ``gather_deepspeed3_params``, then FSDP1's
        ``summon_full_params(recurse=False)``)."""
        from accelerate.utils import gather_object
        from trl.distributed import DistributedBackend
        from trl.models.utils import unwrap_model_for_generation

        from rmr1_cli.training import lockstep as step

        trainer = self.trainer
        acc = trainer.accelerator
        shard = [
            self.pairs[i] for i in step.shard_indices(len(self.pairs), acc.num_processes, acc.process_index)
        ]
        backend = DistributedBackend(acc)
        synced = self.synced
        if synced is None:
            synced = step.needed(acc.num_processes, backend.is_zero3, backend.is_fsdp)
        lockstep = step.Lockstep(step.torch_all_reduce_sum(acc.device)) if synced else None
        with (
            unwrap_model_for_generation(
                trainer.model_wrapped, acc, gather_deepspeed3_params=self.gather_weights
            ) as model,
            backend.summon_full_params(trainer.model_wrapped, recurse=False),
        ):
            was_training = model.training
            model.eval()
            try:
                results = judge_pairs(model, self.tokenizer, shard, self.judge, self.seed, lockstep=lockstep)
            finally:
                if was_training:
                    model.train()
        if acc.num_processes > 1:
            results = gather_object(results)
        return {f"{self.prefix}/{k}": v for k, v in summarize_pairs(results).items() if k != "outcomes"}


class EvaluateAtStartCallback(TrainerCallback):
    """``trainer.evaluate()`` once before the first step, so the log holds the untrained model's eval
    metrics at step 0 (an evaluate() before ``train()`` is lost: train() starts a fresh log)."""

    def __init__(self):
        self.trainer = None
        self.metrics: dict | None = None

    def bind(self, trainer) -> EvaluateAtStartCallback:
        self.trainer = trainer
        return self

    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer is not None and state.global_step == 0:
            self.metrics = self.trainer.evaluate()


def judge_pairs(model, tokenizer, pairs, judge: JudgeSpec, seed: int, *, lockstep=None) -> list:
    """Judge pairs with an in-memory model through the judge engine (no cache: the weights keep changing).

    With a ``Lockstep`` (a sharded model) every generate is announced, and once this rank's pairs are
    judged it runs idle generates until every rank is done; a rank with no pairs only runs those."""
    from rmr1_cli.generation.transformers import TransformersGenerator
    from rmr1_cli.judging import engine

    if not pairs and lockstep is None:
        return []
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        generator = TransformersGenerator(model, tokenizer, judge.generation, identity="in-training")
        generator.lockstep = lockstep
        generator.inference_mode = False  # the weights keep training: no inference tensors
        try:
            if not pairs:
                return []
            judging = engine.build_engine(judge, seed=seed, generator=generator)
            return judging.judge(pairs, description="held-out judging")
        finally:
            if lockstep is not None:
                lockstep.drain(generator.generate_idle)
    finally:
        tokenizer.padding_side = padding_side
