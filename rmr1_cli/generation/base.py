"""One interface over text-generation backends: chat messages in, text and token counts out.

The judge engine, refinement and policy evaluation all generate through a ``Generator`` so they work
the same on a laptop (transformers), on a GPU box (vLLM, ``generation/vllm.py``) or against a server
(OpenAI-compatible HTTP, ``generation/openai.py``; ``rmr1 serve`` is one such server).

Sampling is reproducible per row: each conversation of a call can carry its own seed
(``SamplingParams.seeds``), so sample ``i`` of a judgment comes out the same whichever batch it lands in
(the judge engine derives the seed from the judgment's cache key).
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from rmr1_cli.config import GenerationSpec, ModelSpec

if TYPE_CHECKING:
    from rmr1_cli.data import Message

log = logging.getLogger(__name__)

VERDICT_STOP = "</answer>"
MIN_SHARED_PREFIX = 32  # tokens: a shorter common start is not worth a separate forward pass


@dataclass(frozen=True)
class SamplingParams:
    """How to generate. ``temperature`` 0 is greedy decoding (seeds are then irrelevant).

    ``seeds`` holds one seed per conversation of a ``generate`` call; when empty, row ``i`` gets
    ``seed_for(i)``, derived from ``seed``.
    """

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0
    seeds: tuple[int, ...] = ()
    stop_after: str | None = (
        None  # a stop string counts only after this text ("</think>" for thinking judges)
    )

    @classmethod
    def from_spec(cls, spec: GenerationSpec, *, seed: int = 0, stop: tuple[str, ...] = ()) -> SamplingParams:
        return cls(spec.max_new_tokens, spec.temperature, spec.top_p, tuple(stop), seed)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def seed_for(self, row: int) -> int:
        """The sampling seed of row ``row`` of a call.

        >>> SamplingParams(seeds=(7, 9)).seed_for(1)
        9
        >>> SamplingParams(seed=3).seed_for(0) == SamplingParams(seed=3).seed_for(0) != SamplingParams(seed=3).seed_for(1)
        True
        """
        if self.seeds:
            return self.seeds[row]
        return derive_seed(self.seed, row)


def cut_at_stop(text: str, params: SamplingParams) -> tuple[str, bool]:
    """``text`` up to and including its first stop string (after ``stop_after`` when set); True if cut.

    >>> p = SamplingParams(stop=("</answer>",), stop_after="</think>")
    >>> cut_at_stop("<think>say <answer>[[A]]</answer></think><answer>[[B]]</answer> bye", p)
    ('<think>say <answer>[[A]]</answer></think><answer>[[B]]</answer>', True)
    >>> cut_at_stop("<think>say <answer>[[A]]</answer> and on", p)
    ('<think>say <answer>[[A]]</answer> and on', False)
    """
    start = 0
    if params.stop_after:
        found = text.find(params.stop_after)
        if found < 0:
            return text, False
        start = found + len(params.stop_after)
    cuts = [cut + len(stop) for stop in params.stop if (cut := text.find(stop, start)) >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def backend_stops(params: SamplingParams) -> tuple[str, ...]:
    """The stop strings a backend that stops unconditionally may be given: none while a stop must wait
    for ``stop_after`` (the text is cut afterwards with ``cut_at_stop``)."""
    return () if params.stop_after else params.stop


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (stable across runs and machines).

    >>> derive_seed("key", 0) == derive_seed("key", 0) != derive_seed("key", 1)
    True
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Generation:
    """One completion. ``finish_reason`` "error" means the backend refused this one request (``error``
    says why, e.g. an HTTP 400 for a prompt over the server's context); the text is then empty."""

    text: str
    num_tokens: int
    finish_reason: Literal["stop", "length", "error"]
    error: str | None = None
    prompt_tokens: int | None = None  # when the backend knows it


class Generator(ABC):
    """A backend. ``identity`` names the model and backend (part of judge cache keys).

    ``batch_size`` is how many conversations the caller should hand over per ``generate`` call for the
    backend to run at full speed (the judge engine flushes its cache after each such call).
    """

    identity: str
    context_length: int | None = None
    batch_size: int = 16

    @abstractmethod
    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[Generation]:
        """Generate one completion per conversation, in input order."""

    def generate_all(
        self, conversations: list[list[Message]], params: SamplingParams, *, description: str
    ) -> list[Generation]:
        """``generate`` as one step of a stage: ``description`` labels the progress bar of a generator
        that shows one (``CachedGenerator``); no conversations, no call."""
        return self.generate(conversations, params) if conversations else []

    def count_tokens(self, conversation: list[Message]) -> int | None:
        """Prompt length in tokens when the backend can tell (None when it cannot)."""
        return None

    def text_tokens(self, text: str) -> int | None:
        """Length of a piece of text in tokens (None when the backend cannot tell)."""
        return None

    def cut_text(self, text: str, max_tokens: int) -> str:
        """The longest start of ``text`` of at most ``max_tokens`` tokens (about 4 characters each when
        the backend has no tokenizer)."""
        return text[: max(0, max_tokens) * 4]

    def close(self) -> None:  # noqa: B027 - most backends hold nothing that needs freeing
        """Free the model or connection."""


def too_long(generator: Generator, conversation: list[Message], max_new_tokens: int) -> Generation | None:
    """An error ``Generation`` when the prompt plus ``max_new_tokens`` exceeds the generator's context
    (None when it fits, or when the backend cannot tell); such a prompt is never sent to the model."""
    limit = generator.context_length
    if limit is None:
        return None
    n = generator.count_tokens(conversation)
    if n is None or n + max_new_tokens <= limit:
        return None
    return Generation(
        "",
        0,
        "error",
        f"the prompt is {n} tokens; with max_tokens {max_new_tokens} it exceeds the model's context of "
        f"{limit} tokens",
        prompt_tokens=n,
    )


def generate_fitting(
    generator: Generator, conversations: list[list[Message]], params: SamplingParams
) -> list[Generation]:
    """``generator.generate`` for the prompts that fit its context; the others come back as
    ``finish_reason="error"`` (``too_long``), and each row keeps its own seed."""
    out: list[Generation | None] = [too_long(generator, c, params.max_new_tokens) for c in conversations]
    fits = [i for i, gen in enumerate(out) if gen is None]
    if fits:
        sub = replace(params, seeds=tuple(params.seed_for(i) for i in fits))
        for i, gen in zip(fits, generator.generate([conversations[i] for i in fits], sub), strict=True):
            out[i] = gen
    return out  # type: ignore[return-value]


def build_generator(model: ModelSpec, spec: GenerationSpec) -> Generator:
    """The backend named by the recipe."""
    if spec.backend == "transformers":
        from rmr1_cli.generation.transformers import TransformersGenerator

        return TransformersGenerator.load(model, spec)
    if spec.backend == "vllm":
        from rmr1_cli.generation.vllm import VLLMGenerator

        return VLLMGenerator.load(model, spec)
    if spec.backend == "openai":
        from rmr1_cli.generation.openai import OpenAIGenerator

        return OpenAIGenerator.from_spec(model, spec)
    raise ValueError(spec.backend)
