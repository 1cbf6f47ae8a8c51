"""Scalar reward models: score each answer with a sequence classifier and compare.

The counterpart of the judge engine for Bradley-Terry RMs, used by ``eval`` (``kind: scalar``), by
``train-rm`` for its held-out accuracy and by ``grpo`` when the reward is a scalar RM.

An input longer than the context loses its start (the opening of the prompt), never its end, so the
answer being scored survives a long prompt; such inputs are flagged as truncated. The model must hold a
trained score head (``models.load_sequence_classifier``), else scores would be random.
"""

from __future__ import annotations

from collections.abc import Sequence

from rmr1_cli.config import ModelSpec
from rmr1_cli.data import Conversation, as_messages


class ScalarScorer:
    """Scores (conversation, answer) texts in length-sorted batches."""

    def __init__(self, spec: ModelSpec, *, batch_size: int = 8, max_length: int | None = None):
        from rmr1_cli import models

        self.tokenizer = models.load_tokenizer(spec, padding_side="right")
        self.model = models.load_sequence_classifier(spec, trained_head=True)
        self.model.eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        self.max_length = max_length or getattr(self.model.config, "max_position_embeddings", 4096)

    def score(self, items: Sequence[tuple[Conversation, str]]) -> list[float]:
        return [s for s, _ in self.score_and_flag(items)]

    def score_and_flag(self, items: Sequence[tuple[Conversation, str]]) -> list[tuple[float, bool]]:
        """(score, truncated) per (conversation, answer); truncated: the input lost its start to fit."""
        import torch

        texts = [
            self.tokenizer.apply_chat_template(
                as_messages(c) + [{"role": "assistant", "content": a}], tokenize=False
            )
            for c, a in items
        ]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out: list[tuple[float, bool]] = [(0.0, False)] * len(texts)
        device = self.model.device
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            ids = self.tokenizer([texts[i] for i in idx], add_special_tokens=False)["input_ids"]
            cut = [len(x) > self.max_length for x in ids]
            ids = [x[-self.max_length :] for x in ids]  # keep the end: the answer
            enc = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt").to(device)
            with torch.inference_mode():
                logits = self.model(**enc).logits[:, 0].float().tolist()
            for i, s, c in zip(idx, logits, cut, strict=True):
                out[i] = (s, c)
        return out
