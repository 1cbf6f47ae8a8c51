"""vLLM offline inference for GPU machines (the ``vllm`` extra: ``pip install 'rmr1[vllm]'``).

Prefix caching is on: every judge prompt starts with the same long template text, and both A/B orders
and all k samples of a pair share even more, so most of the prompt is computed once. vLLM schedules its
own batches; ``batch_size`` here only sets how many prompts the judge engine hands over per cache flush.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.errors import ModelError
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.generation.base import backend_stops, cut_at_stop, too_long

log = logging.getLogger(__name__)


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise ModelError(
            "generation.backend=vllm needs vLLM: `pip install 'rmr1[vllm]'` on a machine with a GPU "
            "(or use backend=transformers)"
        ) from None
    return vllm


class VLLMGenerator(Generator):
    """Chat generation through ``vllm.LLM.chat`` with per-request seeds and stop strings kept in the text."""

    def __init__(self, llm, spec: GenerationSpec, identity: str):
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()
        self.identity = identity
        self.batch_size = max(spec.batch_size, 256)
        self.context_length = _max_model_len(llm)

    @classmethod
    def load(cls, model_spec: ModelSpec, spec: GenerationSpec) -> VLLMGenerator:
        from rmr1_cli import models

        vllm = _import_vllm()
        if not model_spec.name_or_path:
            raise ModelError("no model given: set model.name_or_path in the recipe (a folder or a hub id)")
        kwargs = dict(
            model=model_spec.name_or_path,
            dtype="auto" if model_spec.dtype == "auto" else model_spec.dtype,
            trust_remote_code=model_spec.trust_remote_code,
            enable_prefix_caching=True,
            gpu_memory_utilization=spec.gpu_memory_utilization,
            tensor_parallel_size=spec.tensor_parallel_size,
        )
        if model_spec.revision:
            kwargs["revision"] = model_spec.revision
        try:
            llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(f"vLLM cannot load '{model_spec.name_or_path}': {exc}") from None
        identity = f"vllm:{model_spec.name_or_path}:{models.model_identity(model_spec)}"
        return cls(llm, spec, identity)

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        """Prompts over the context come back as ``finish_reason="error"`` and are never sent: vLLM
        raises on one such prompt and would lose the whole batch with it."""
        out: list[Generation | None] = [too_long(self, c, params.max_new_tokens) for c in conversations]
        fits = [i for i, gen in enumerate(out) if gen is None]
        if fits:
            sub = replace(params, seeds=tuple(params.seed_for(i) for i in fits))
            sent = [conversations[i] for i in fits]
            for i, gen in zip(fits, self._generate_or_split(sent, sub), strict=True):
                out[i] = gen
        return out  # type: ignore[return-value]

    def _generate_or_split(self, conversations, params: SamplingParams) -> list[Generation]:
        """One ``LLM.chat`` call; when vLLM refuses the batch (a ValueError for one bad prompt), each
        prompt is sent on its own so only the refused ones come back as errors."""
        try:
            return self._chat(conversations, params)
        except ValueError as exc:
            if len(conversations) == 1:
                return [Generation("", 0, "error", f"vLLM refused the prompt: {exc}")]
        out = []
        for i, conversation in enumerate(conversations):
            one = replace(params, seeds=(params.seed_for(i),))
            out.extend(self._generate_or_split([conversation], one))
        return out

    def _chat(self, conversations, params: SamplingParams) -> list[Generation]:
        vllm = _import_vllm()
        sampling = [
            vllm.SamplingParams(
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=list(backend_stops(params)) or None,
                include_stop_str_in_output=True,  # the parser needs the closing verdict tag
                seed=None if params.greedy else params.seed_for(i) % (2**31),
            )
            for i in range(len(conversations))
        ]
        outputs = self.llm.chat(conversations, sampling, use_tqdm=False, add_generation_prompt=True)
        gens = []
        for out in outputs:
            completion = out.outputs[0]
            finish = "length" if completion.finish_reason == "length" else "stop"
            text, cut = cut_at_stop(completion.text, params)
            gens.append(Generation(text, len(completion.token_ids), "stop" if cut else finish))
        return gens

    def count_tokens(self, conversation) -> int:
        """Prompt tokens as vLLM's chat counts them (its tokenizer is the model's transformers tokenizer).

        transformers 5 returns a BatchEncoding (a mapping, not a dict) from ``apply_chat_template``;
        taking ``len`` of it counted its two keys, so every prompt looked 2 tokens long.
        """
        ids = self.tokenizer.apply_chat_template(conversation, tokenize=True, add_generation_prompt=True)
        if isinstance(ids, Mapping) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        if ids and isinstance(ids[0], list):  # a batch of one
            ids = ids[0]
        return len(ids)

    def text_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def cut_text(self, text: str, max_tokens: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= max_tokens else self.tokenizer.decode(ids[: max(0, max_tokens)])

    def close(self) -> None:
        self.llm = None


def _max_model_len(llm) -> int | None:
    try:
        return int(llm.llm_engine.model_config.max_model_len)
    except AttributeError:
        return None
