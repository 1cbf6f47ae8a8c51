"""A policy's answers to a prompt set, generated once and cached: the frozen baseline's references for
the vs-reference reward, and both policies' answers in a policy evaluation.

Each answer is keyed by a hash of what determines it (model identity, prompt, sampling settings) and
appended to a JSONL file batch by batch, so a rerun or a resumed run generates only what is missing,
and retraining into the same model folder (a new identity) does not reuse stale answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.data import PromptRecord, append_jsonl, as_messages


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


def read_cache(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["key"]] = row
    return rows


def policy_answers(
    model: ModelSpec,
    generation: GenerationSpec,
    prompts: Sequence[PromptRecord],
    *,
    cache_path: str | Path,
    seed: int = 0,
    label: str = "policy",
) -> dict[str, dict]:
    """``prompt id -> {"text", "num_tokens", "finish_reason"}`` for every prompt (cached ones reused)."""
    from rmr1_cli import models
    from rmr1_cli.console import progress
    from rmr1_cli.generation import SamplingParams, build_generator

    cache_path = Path(cache_path)
    identity = f"{model.name_or_path}:{models.model_identity(model)}"
    keys = {p.id: answer_key(identity, p, generation, seed) for p in prompts}
    cache = read_cache(cache_path)
    todo = [p for p in prompts if keys[p.id] not in cache]
    if todo:
        generator = build_generator(model, generation)
        params = SamplingParams.from_spec(generation, seed=seed)  # no stop strings: a whole answer
        chunk = max(1, generation.batch_size)
        try:
            with progress() as bar:
                task = bar.add_task(f"{label} answers", total=len(todo))
                for start in range(0, len(todo), chunk):
                    batch = todo[start : start + chunk]
                    gens = generator.generate([as_messages(p.prompt) for p in batch], params)
                    rows = [
                        {
                            "key": keys[p.id],
                            "prompt_id": p.id,
                            "model": model.name_or_path,
                            "text": g.text,
                            "num_tokens": g.num_tokens,
                            "finish_reason": g.finish_reason,
                        }
                        for p, g in zip(batch, gens, strict=True)
                    ]
                    append_jsonl(cache_path, rows)
                    cache.update((r["key"], r) for r in rows)
                    bar.advance(task, len(batch))
        finally:
            generator.close()
    return {p.id: {k: cache[keys[p.id]][k] for k in ("text", "num_tokens", "finish_reason")} for p in prompts}
