"""A policy's answers to a prompt set, generated once and cached: the frozen baseline's references for
the vs-reference reward, and both policies' answers in a policy evaluation.

Each answer is keyed by a hash of what determines it (model identity, prompt, sampling settings) and
appended to a ``JsonlStore`` batch by batch, so a rerun or a resumed run generates only what is
missing, a line torn by a killed run is cut off, and retraining into the same model folder (a new
identity) does not reuse stale answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.data import PromptRecord, as_messages
from rmr1_cli.data.store import JsonlStore

ANSWER_FIELDS = ("text", "num_tokens", "finish_reason")  # what a caller gets of each cached row


def answer_key(identity: str, prompt: PromptRecord, generation: GenerationSpec, seed: int) -> str:
    """What determines an answer: the weights, the conversation and the sampling settings."""
    sampled = generation.temperature > 0
    blob = json.dumps(
        [
            identity,
            prompt.prompt,
            generation.max_new_tokens,
            generation.temperature,
            generation.top_p if sampled else None,
            seed if sampled else None,  # greedy answers do not depend on the seed
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def policy_answers(
    model: ModelSpec,
    generation: GenerationSpec,
    prompts: Sequence[PromptRecord],
    *,
    cache_path: str | Path,
    seed: int = 0,
    label: str = "policy",
) -> dict[str, dict]:
    """``prompt id -> {"text", "num_tokens", "finish_reason"}`` for every prompt (cached ones reused).

    A prompt longer than the model's context is not sent: its answer is empty with finish_reason
    ``"error"`` (not cached), for the caller to leave out and count.
    """
    from rmr1_cli import models

    identity = f"{model.name_or_path}:{models.model_identity(model)}"
    keys = {p.id: answer_key(identity, p, generation, seed) for p in prompts}
    with JsonlStore(cache_path, what="answer") as cache:
        todo = [p for p in prompts if keys[p.id] not in cache]
        refused = _generate(model, generation, todo, keys, cache, seed=seed, label=label) if todo else {}
        return {
            p.id: refused[p.id] if p.id in refused else {k: cache[keys[p.id]][k] for k in ANSWER_FIELDS}
            for p in prompts
        }


def _generate(
    model: ModelSpec,
    generation: GenerationSpec,
    todo: Sequence[PromptRecord],
    keys: dict[str, str],
    cache: JsonlStore,
    *,
    seed: int,
    label: str,
) -> dict[str, dict]:
    """Generate the missing answers batch by batch, appending each batch to the cache as it is done;
    returns the answers refused as too long for the context (not cached)."""
    from rmr1_cli.console import progress
    from rmr1_cli.generation import SamplingParams, build_generator
    from rmr1_cli.generation.base import generate_fitting

    generator = build_generator(model, generation)
    params = SamplingParams.from_spec(generation, seed=seed)  # no stop strings: a whole answer
    chunk = max(1, generation.batch_size)
    refused: dict[str, dict] = {}
    try:
        with progress() as bar:
            task = bar.add_task(f"{label} answers", total=len(todo))
            for start in range(0, len(todo), chunk):
                batch = todo[start : start + chunk]
                gens = generate_fitting(generator, [as_messages(p.prompt) for p in batch], params)
                for p, g in zip(batch, gens, strict=True):
                    if g.finish_reason == "error":
                        refused[p.id] = {"text": "", "num_tokens": 0, "finish_reason": "error"}
                cache.append(
                    {
                        "key": keys[p.id],
                        "prompt_id": p.id,
                        "model": model.name_or_path,
                        "text": g.text,
                        "num_tokens": g.num_tokens,
                        "finish_reason": g.finish_reason,
                    }
                    for p, g in zip(batch, gens, strict=True)
                    if g.finish_reason != "error"
                )
                bar.advance(task, len(batch))
    finally:
        generator.close()
    return refused
