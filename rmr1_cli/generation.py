"""One interface over text-generation backends: chat messages in, text and token counts out.

The judge engine, refinement and policy evaluation all generate through a ``Generator`` so they work
the same on a laptop (transformers), on a GPU box (vLLM) or against a server (OpenAI-compatible HTTP).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rmr1_cli.config import GenerationSpec, ModelSpec

if TYPE_CHECKING:
    from rmr1_cli.data import Message

log = logging.getLogger(__name__)

VERDICT_STOP = "</answer>"


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    @classmethod
    def from_spec(cls, spec: GenerationSpec, *, seed: int = 0, stop: tuple[str, ...] = ()) -> SamplingParams:
        return cls(spec.max_new_tokens, spec.temperature, spec.top_p, stop, seed)


@dataclass(frozen=True)
class Generation:
    text: str
    num_tokens: int
    finish_reason: Literal["stop", "length"]


class Generator(ABC):
    """A backend. ``identity`` names the model and backend (part of judge cache keys)."""

    identity: str
    context_length: int | None = None

    @abstractmethod
    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[Generation]:
        """Generate one completion per conversation, in input order."""

    def count_tokens(self, conversation: list[Message]) -> int | None:
        """Prompt length in tokens when the backend can tell (None when it cannot)."""
        return None

    def close(self) -> None:  # noqa: B027 - most backends hold nothing that needs freeing
        """Free the model or connection."""


def build_generator(model: ModelSpec, spec: GenerationSpec) -> Generator:
    """The backend named by the recipe."""
    if spec.backend == "transformers":
        return TransformersGenerator.load(model, spec)
    if spec.backend == "vllm":
        from rmr1_cli.backends.vllm import VLLMGenerator

        return VLLMGenerator.load(model, spec)
    if spec.backend == "openai":
        from rmr1_cli.backends.openai import OpenAIGenerator

        return OpenAIGenerator.from_spec(model, spec)
    raise ValueError(spec.backend)


class TransformersGenerator(Generator):
    """Batched in-process generation: left padding, length-sorted batches, per-row early stop.

    Sorting prompts by length before batching keeps padding (wasted compute) small; each row stops at
    its end-of-turn token or at a stop string (the verdict's closing tag), and a batch ends as soon as
    every row has stopped.
    """

    def __init__(self, model, tokenizer, spec: GenerationSpec, identity: str):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = spec.batch_size
        self.identity = identity
        self.context_length = _context_length(model, tokenizer)

    @classmethod
    def load(cls, model_spec: ModelSpec, spec: GenerationSpec) -> TransformersGenerator:
        from rmr1_cli import models

        tokenizer = models.load_tokenizer(model_spec, padding_side="left")
        model = models.load_causal_lm(model_spec)
        model.eval()
        identity = f"transformers:{model_spec.name_or_path}:{models.model_identity(model_spec)}"
        return cls(model, tokenizer, spec, identity)

    def render(self, conversation: list[Message]) -> str:
        from rmr1_cli.errors import ModelError

        if not self.tokenizer.chat_template:
            raise ModelError("the judge model's tokenizer has no chat template; use an instruct/chat model")
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, conversation: list[Message]) -> int:
        return len(self._encode(self.render(conversation)))

    def _encode(self, text: str) -> list[int]:
        # The chat template already holds any BOS the model wants; do not add a second one.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[Generation]:
        prompts = [self._encode(self.render(c)) for c in conversations]
        return self.generate_ids(prompts, params)

    def generate_ids(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        """Generate from token ids (lets the judge engine truncate prompts itself)."""
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        results: list[Generation | None] = [None] * len(prompts)
        torch.manual_seed(params.seed)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, gen in zip(batch, self._generate_batch([prompts[i] for i in batch], params), strict=True):
                results[i] = gen
        return results  # type: ignore[return-value]

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        import torch

        tok = self.tokenizer
        width = max(len(p) for p in prompts)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        device = self.model.device
        sampling = params.temperature > 0
        kwargs = dict(
            max_new_tokens=params.max_new_tokens,
            do_sample=sampling,
            pad_token_id=pad,
            use_cache=True,
        )
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:  # silence "temperature is set but do_sample is False" from hub generation configs
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
            )
        eos_ids = _eos_ids(self.model, tok)
        gens = []
        for row in out[:, width:].tolist():
            gens.append(self._finish(row, eos_ids, pad, params))
        return gens

    def _finish(self, row: list[int], eos_ids: set[int], pad: int, params: SamplingParams) -> Generation:
        """Cut a generated row at its end: eos, padding after a stop, or a stop string."""
        ended = False
        kept = []
        for token in row:
            if token in eos_ids:
                ended = True
                break
            if token == pad and pad not in eos_ids:
                ended = True
                break
            kept.append(token)
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        for stop in params.stop:
            cut = text.find(stop)
            if cut >= 0:
                text = text[: cut + len(stop)]
                ended = True
        if not ended and len(kept) < params.max_new_tokens:
            ended = True
        return Generation(text=text, num_tokens=len(kept), finish_reason="stop" if ended else "length")


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found


def _context_length(model, tokenizer) -> int | None:
    n = getattr(model.config, "max_position_embeddings", None)
    if n is None:
        limit = getattr(tokenizer, "model_max_length", None)
        n = limit if limit and limit < 10**7 else None
    return n
