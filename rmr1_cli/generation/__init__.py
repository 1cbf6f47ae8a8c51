"""Text generation behind one interface (``base``) with three backends: ``transformers`` (in-process),
``vllm`` (GPU) and ``openai`` (any OpenAI-compatible server); ``cache`` makes any of them resumable and
``answers`` caches a policy's answers to prompts."""

from rmr1_cli.generation.base import (
    VERDICT_STOP,
    Generation,
    Generator,
    SamplingParams,
    build_generator,
    derive_seed,
)

__all__ = ["VERDICT_STOP", "Generation", "Generator", "SamplingParams", "build_generator", "derive_seed"]
