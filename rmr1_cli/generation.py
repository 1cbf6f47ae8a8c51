"""One interface over text-generation backends: chat messages in, text and token counts out.

The judge engine, refinement and policy evaluation all generate through a ``Generator`` so they work
the same on a laptop (transformers), on a GPU box (vLLM, ``backends/vllm.py``) or against a server
(OpenAI-compatible HTTP, ``backends/openai.py``; ``rmr1 serve`` is one such server).

Sampling is reproducible per row: each conversation of a call can carry its own seed
(``SamplingParams.seeds``), so sample ``i`` of a judgment comes out the same whichever batch it lands in
(the judge engine derives the seed from the judgment's cache key).
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
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

    Sorting prompts by length before batching keeps padding (wasted compute) small; the prompts' common
    start (template and instructions) is run once and its KV cache shared by every row; each row stops
    at its end-of-turn token or at a stop string (the verdict's closing tag), and a batch ends as soon
    as every row has stopped. Sampling draws each row from its own seeded generator.
    """

    def __init__(self, model, tokenizer, spec: GenerationSpec, identity: str):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = spec.batch_size
        self.identity = identity
        self.context_length = _context_length(model, tokenizer)
        self._eos_ids = _eos_ids(model, tokenizer)
        self.share_prefix = True  # compute the prompts' common start once per batch (see _shared_prefix)
        self._prefix = None  # (token ids, KV cache for one row) of the last shared start
        import inspect

        forward = inspect.signature(model.forward).parameters
        self._cache_kwarg = (
            "cache" if "cache" in forward else "past_key_values"
        )  # renamed in transformers 5.x

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

    def text_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def cut_text(self, text: str, max_tokens: int) -> str:
        ids = self._encode(text)
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[: max(0, max_tokens)], skip_special_tokens=False)

    def _encode(self, text: str) -> list[int]:
        # The chat template already holds any BOS the model wants; do not add a second one.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[Generation]:
        prompts = [self._encode(self.render(c)) for c in conversations]
        return self.generate_ids(prompts, params)

    def generate_ids(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        """Generate from token ids, longest prompts first, ``batch_size`` rows at a time."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            seeds = [params.seed_for(i) for i in batch]
            gens = self._generate_batch([prompts[i] for i in batch], params, seeds)
            for i, gen in zip(batch, gens, strict=True):
                results[i] = gen
        return results  # type: ignore[return-value]

    def _generate_batch(
        self, prompts: list[list[int]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        pad = self.tokenizer.pad_token_id
        shared = self._shared_prefix(prompts)
        if shared is not None:  # [prefix][padding][rest]: positions follow the attention mask
            prefix_len, cache = shared
            rests = [p[prefix_len:] for p in prompts]
            rest_width = max(len(r) for r in rests)
            rows = [
                p[:prefix_len] + [pad] * (rest_width - len(r)) + r
                for p, r in zip(prompts, rests, strict=True)
            ]
            masks = [[1] * prefix_len + [0] * (rest_width - len(r)) + [1] * len(r) for r in rests]
        else:  # plain left padding
            rest_width = max(len(p) for p in prompts)
            rows = [[pad] * (rest_width - len(p)) + p for p in prompts]
            masks = [[0] * (rest_width - len(p)) + [1] * len(p) for p in prompts]
        width = len(rows[0])
        device = self.model.device
        # Decoding is always "greedy" over processed scores; for sampling, _RowSampler has already
        # drawn each row's token from that row's own generator and masked every other token.
        kwargs = dict(
            max_new_tokens=params.max_new_tokens,
            do_sample=False,
            temperature=None,  # silence "temperature is set but do_sample is False" from hub configs
            top_p=None,
            top_k=None,
            pad_token_id=pad,
            use_cache=True,
        )
        if shared is not None:
            kwargs[self._cache_kwarg] = cache
        if not params.greedy:
            kwargs["logits_processor"] = LogitsProcessorList([_RowSampler(seeds, params)])
        if params.stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [_StopOnText(self.tokenizer, params.stop, width)]
            )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor(rows, device=device),
                attention_mask=torch.tensor(masks, device=device),
                **kwargs,
            )
        generated = out[:, width:].tolist()
        return [self._finish(row, pad, params, len(p)) for row, p in zip(generated, prompts, strict=True)]

    def _shared_prefix(self, prompts: list[list[int]]):
        """(length, KV cache expanded to the batch) of the prompts' common start, or None.

        Judge prompts share a long start (chat template, system prompt, instructions: ~80% of a CoR
        prompt), so it is computed once and reused by every row and, while it stays shared, by later
        batches. Only for plain KV caches; any trouble falls back to ordinary batches for good.
        """
        import copy

        import torch

        if not self.share_prefix or len(prompts) < 2:
            return None
        first, shortest = prompts[0], min(len(p) for p in prompts)
        known = self._prefix
        if (
            known is not None
            and len(known[0]) < shortest
            and all(p[: len(known[0])] == known[0] for p in prompts)
        ):
            prefix, cache = known  # the kept start is shared by this batch too
        else:
            n = 0
            limit = shortest - 1  # every row keeps at least one token to feed the model
            while n < limit and all(p[n] == first[n] for p in prompts):
                n += 1
            if n < MIN_SHARED_PREFIX:
                return None
            prefix = first[:n]
            try:
                with torch.inference_mode():
                    out = self.model(
                        input_ids=torch.tensor([prefix], device=self.model.device), use_cache=True
                    )
                cache = getattr(out, "cache", None) or out.past_key_values
                if any(type(layer).__name__ != "DynamicLayer" for layer in cache.layers):
                    raise TypeError(f"{type(cache.layers[0]).__name__} layers (sliding window?)")
            except (AttributeError, TypeError, RuntimeError, ValueError) as exc:
                log.debug("prefix sharing off for this model: %s", exc)
                self.share_prefix = False
                return None
            self._prefix = (prefix, cache)
        expanded = copy.deepcopy(cache)
        expanded.batch_repeat_interleave(len(prompts))
        return len(prefix), expanded

    def _finish(self, row: list[int], pad: int, params: SamplingParams, prompt_tokens: int) -> Generation:
        """Cut a generated row at its end: eos, padding after a stop, or a stop string."""
        ended = False
        kept = []
        for token in row:
            if token in self._eos_ids:
                ended = True
                break
            if token == pad:  # a finished row is filled with padding (pad == eos is caught above)
                ended = True
                break
            kept.append(token)
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        for stop in params.stop:
            cut = text.find(stop)
            if cut >= 0:
                text = text[: cut + len(stop)]
                ended = True
        finish = "stop" if ended else "length"
        return Generation(text, len(kept), finish, prompt_tokens=prompt_tokens)


class _RowSampler:
    """Temperature / top-p sampling with one seeded ``torch.Generator`` per row.

    transformers' own sampling draws from one global generator, so a row's sample would depend on the
    other rows of its batch; here a row's draws depend only on its seed (up to float noise from
    padding). It returns scores with every token but the drawn one at -inf, so greedy search picks it.
    """

    def __init__(self, seeds: list[int], params: SamplingParams):
        self.seeds = seeds
        self.temperature = params.temperature
        self.top_p = params.top_p
        self.generators = None

    def __call__(self, input_ids, scores):
        import torch

        if self.generators is None:
            self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, index = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(-1) - sorted_probs > self.top_p  # keep the smallest nucleus
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, index, sorted_probs)
        picks = torch.stack(
            [torch.multinomial(probs[i], 1, generator=g)[0] for i, g in enumerate(self.generators)]
        )
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(picks), device=scores.device), picks] = 0.0
        return out


class _StopOnText:
    """Stop a row once its generated text contains a stop string.

    Decodes only the last few generated tokens of each row (enough to span the longest stop string),
    which costs far less per step than transformers' ``stop_strings`` machinery needs to set up.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...], prompt_width: int):
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_width = prompt_width
        self.window = max(len(s) for s in stops) + 2  # a token holds at least one character

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.window) :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=False)
        done = [any(s in t for s in self.stops) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


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
