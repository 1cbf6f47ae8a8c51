"""Scalar reward models: score each answer with a sequence classifier and compare.

The counterpart of the judge engine for Bradley-Terry RMs, used by ``eval`` (``kind: scalar``), by
``train-rm`` for its held-out accuracy and by ``grpo`` when the reward is a scalar RM.
"""

from __future__ import annotations

from collections.abc import Sequence

from rmr1_cli.config import ModelSpec
from rmr1_cli.data import Conversation, PreferencePair, as_messages


class ScalarScorer:
    """Scores (conversation, answer) texts in length-sorted batches."""

    def __init__(self, spec: ModelSpec, *, batch_size: int = 8, max_length: int | None = None):
        from rmr1_cli import models

        self.tokenizer = models.load_tokenizer(spec, padding_side="right")
        self.model = models.load_sequence_classifier(spec)
        self.model.eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        self.max_length = max_length or getattr(self.model.config, "max_position_embeddings", 4096)

    def score(self, items: Sequence[tuple[Conversation, str]]) -> list[float]:
        import torch

        texts = [
            self.tokenizer.apply_chat_template(
                as_messages(c) + [{"role": "assistant", "content": a}], tokenize=False
            )
            for c, a in items
        ]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        scores = [0.0] * len(texts)
        device = self.model.device
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
                return_tensors="pt",
            ).to(device)
            with torch.inference_mode():
                logits = self.model(**enc).logits[:, 0].float().tolist()
            for i, s in zip(idx, logits, strict=True):
                scores[i] = s
        return scores


def score_pairs(
    spec: ModelSpec, pairs: Sequence[PreferencePair], *, batch_size: int = 8
) -> list[tuple[float, float]]:
    """(score of chosen, score of rejected) for every pair."""
    scorer = ScalarScorer(spec, batch_size=batch_size)
    flat = scorer.score([(p.prompt, a) for p in pairs for a in (p.chosen, p.rejected)])
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(len(pairs))]
