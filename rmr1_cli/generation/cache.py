"""A generator that remembers: completions keyed by content hash in an append-only JSONL file.

``rmr1 distill`` and ``rmr1 refine`` wrap their teacher and policy in it, so an interrupted run resumes
where it stopped and a rerun with the same settings generates nothing. The key covers the backend's
identity, the messages, the sampling settings (the seed only when sampling) and the occurrence of an
identical request within one call (k samples of the same prompt are k different completions). The file
is a ``JsonlStore``: appended per chunk, one writer at a time, a line torn by a killed run cut off.
A prompt longer than the model's context is not sent: it comes back as an error and is counted
(``too_long``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from rmr1_cli.data import Message
from rmr1_cli.data.store import JsonlStore
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.generation.base import generate_fitting


class CachedGenerator(Generator):
    """Wraps any ``Generator``; ``hits``/``misses`` count cached and fresh completions."""

    def __init__(self, inner: Generator, path: str | Path):
        self.inner = inner
        self.identity = inner.identity
        self.context_length = inner.context_length
        self.batch_size = getattr(inner, "batch_size", 16)
        self.store = JsonlStore(path, what="completion")
        self.path = self.store.path
        self.hits = 0
        self.misses = 0
        self.tokens = 0  # generated (not cached) tokens
        self.too_long = 0  # prompts over the context: answered with an error, never sent nor stored

    @property
    def records(self) -> Mapping[str, dict]:
        """The stored completions by key, read from disk on access."""
        return self.store

    def key(self, conversation: list[Message], params: SamplingParams, occurrence: int) -> str:
        sampled = params.temperature > 0
        settings = [params.max_new_tokens, params.temperature, params.top_p, list(params.stop)]
        blob = [self.identity, conversation, settings, params.seed if sampled else None, occurrence]
        return hashlib.sha256(json.dumps(blob, ensure_ascii=False).encode()).hexdigest()[:32]

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, *, description: str = "generating"
    ) -> list[Generation]:
        from rmr1_cli.console import progress

        seen: Counter[str] = Counter()
        keys = []
        for conversation in conversations:
            text = json.dumps(conversation, ensure_ascii=False, sort_keys=True)
            keys.append(self.key(conversation, params, seen[text]))
            seen[text] += 1
        pending = [i for i, key in enumerate(keys) if key not in self.store]
        self.hits += len(keys) - len(pending)
        self.misses += len(pending)
        fresh: dict[str, Generation] = {}
        chunk = max(1, self.batch_size) * 4
        with progress() as bar:
            task = bar.add_task(description, total=len(pending))
            for start in range(0, len(pending), chunk):
                batch = pending[start : start + chunk]
                generated = generate_fitting(self.inner, [conversations[i] for i in batch], params)
                self.too_long += sum(g.finish_reason == "error" for g in generated)
                self.store.append(
                    {
                        "key": keys[i],
                        "text": g.text,
                        "num_tokens": g.num_tokens,
                        "finish_reason": g.finish_reason,
                    }
                    for i, g in zip(batch, generated, strict=True)
                    if g.finish_reason != "error"
                )
                for i, g in zip(batch, generated, strict=True):
                    fresh[keys[i]] = g
                    self.tokens += g.num_tokens
                bar.advance(task, len(batch))
        return [fresh[key] if key in fresh else _as_generation(self.store[key]) for key in keys]

    def generate_all(
        self, conversations: list[list[Message]], params: SamplingParams, *, description: str
    ) -> list[Generation]:
        return self.generate(conversations, params, description=description) if conversations else []

    def count_tokens(self, conversation: list[Message]) -> int | None:
        return self.inner.count_tokens(conversation)

    def close(self) -> None:
        self.inner.close()
        self.store.close()


def _as_generation(row: dict) -> Generation:
    return Generation(row["text"], row["num_tokens"], row["finish_reason"])
