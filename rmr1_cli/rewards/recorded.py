"""RM-R1's verdict reward as the GRPO reward function of ``rmr1 train-rm``, with a record of each rollout.

Besides the reward it logs the verdict accuracy of each batch and writes every rollout with its reward to
a JSONL file, so the logged reward can be recomputed from the logged completions. Under ``accelerate
launch`` each process records its own rollouts (``rollouts.jsonl`` on rank 0, ``rollouts.rank<N>.jsonl``
elsewhere).
"""

from __future__ import annotations

from pathlib import Path

from rmr1_cli.data import append_jsonl
from rmr1_cli.rewards import verdict


class RecordedVerdictReward:
    """``verdict.verdict_reward`` for GRPOTrainer, plus per-batch logs and a JSONL record of each rollout.

    Logged through trl's ``log_metric``: ``verdict_reward/accuracy`` (share of completions whose final
    verdict is the correct one) next to the invalid rate the reward itself logs. Each rollout row holds
    ``step`` (the optimizer step whose log carries its reward, when one generation batch feeds one step,
    trl's default), ``pair_id``, ``label``, ``completion`` and ``reward``.
    """

    def __init__(
        self, rollouts_file: str | Path | None = None, *, after_think: bool = False, rule: str = "rmr1"
    ):
        self.__name__ = "verdict_reward"  # trl names the logged series after it: rewards/verdict_reward/mean
        self.rollouts_file = Path(rollouts_file) if rollouts_file else None
        self.options = {"after_think": after_think, "rule": rule}  # the judge template's rule, as in eval

    def __call__(self, completions, label, **kwargs) -> list[float]:
        scores = verdict.verdict_reward(completions, label, **self.options, **kwargs)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and scores:
            log_metric("verdict_reward/accuracy", sum(s > 0 for s in scores) / len(scores))
        if self.rollouts_file is not None:
            state = kwargs.get("trainer_state")
            step = state.global_step + 1 if state is not None else None
            pair_ids = kwargs.get("pair_id") or [None] * len(scores)
            append_jsonl(
                self.rollouts_file,
                [
                    {
                        "step": step,
                        "pair_id": pid,
                        "label": lab,
                        "completion": verdict.completion_text(c),
                        "reward": s,
                    }
                    for c, lab, pid, s in zip(completions, label, pair_ids, scores, strict=True)
                ],
            )
        return scores


def rollouts_path(out_dir: Path, process_index: int) -> Path:
    """rollouts.jsonl for the main process, rollouts.rank<N>.jsonl for the others."""
    name = "rollouts.jsonl" if process_index == 0 else f"rollouts.rank{process_index}.jsonl"
    return Path(out_dir) / name
