"""vLLM offline inference for GPU machines (the ``vllm`` extra: ``pip install 'rmr1[vllm]'``).

Prefix caching is on: every judge prompt starts with the same long template text, and both A/B orders
and all k samples of a pair share even more, so most of the prompt is computed once. vLLM schedules its
own batches; ``batch_size`` here only sets how many prompts the judge engine hands over per cache flush.

Placement: vLLM has no device argument (``device`` was removed from its engine arguments in v0.10,
vllm-project/vllm#21349); it uses the GPUs ``CUDA_VISIBLE_DEVICES`` shows. ``model.device: cuda:N``
narrows that variable to GPU N before vLLM starts, which only works while this process has not used
CUDA yet; otherwise rmr1 stops and says how to run the judge elsewhere. vLLM takes
``generation.gpu_memory_utilization`` of the GPU's *total* memory and refuses to start when less than
that is free (a second engine, or a trainer, on the same GPU): rmr1 checks this first when it can and
names the setting.
"""

from __future__ import annotations

import logging
import os
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
        _place(model_spec.device, spec)
        try:
            llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            hint = f" ({MEMORY_HINT})" if "memory" in str(exc).lower() else ""
            raise ModelError(f"vLLM cannot load '{model_spec.name_or_path}': {exc}{hint}") from None
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


MEMORY_HINT = (
    "vLLM reserves generation.gpu_memory_utilization of the GPU's total memory and needs that much free; "
    "with a trainer or another vLLM engine on the same GPU lower it (e.g. "
    "judge.generation.gpu_memory_utilization=0.3), or give the judge its own GPU (model.device: cuda:N) "
    "or its own process (rmr1 serve, then generation.backend: openai)"
)


def _place(device: str, spec: GenerationSpec) -> None:
    """Honour ``model.device`` (vLLM has no device argument) and check free memory when CUDA is up."""
    import torch

    if device == "cpu":
        raise ModelError("generation.backend=vllm runs on GPUs only: use backend=transformers on the CPU")
    initialized = torch.cuda.is_initialized()
    if device.startswith("cuda:"):
        index = int(device.split(":", 1)[1])
        if initialized and torch.cuda.current_device() != index:
            raise ModelError(
                f"model.device={device}: vLLM picks its GPUs from CUDA_VISIBLE_DEVICES, which cannot change "
                "once this process uses CUDA (a trainer or another model already does). Serve the judge "
                f"instead: CUDA_VISIBLE_DEVICES={index} rmr1 serve ..., then generation.backend: openai"
            )
        if not initialized:
            if spec.tensor_parallel_size > 1:
                raise ModelError(
                    f"model.device={device} names one GPU but tensor_parallel_size="
                    f"{spec.tensor_parallel_size}: choose the GPUs with CUDA_VISIBLE_DEVICES instead"
                )
            visible = visible_devices(index, os.environ.get("CUDA_VISIBLE_DEVICES"))
            log.info("vLLM on %s: CUDA_VISIBLE_DEVICES=%s", device, visible)
            os.environ["CUDA_VISIBLE_DEVICES"] = visible
    if initialized:
        free, total = torch.cuda.mem_get_info()
        short = memory_shortfall(free, total, spec.gpu_memory_utilization)
        if short:
            raise ModelError(f"{short}: {MEMORY_HINT}")


def visible_devices(index: int, visible: str | None) -> str:
    """``CUDA_VISIBLE_DEVICES`` that shows only GPU ``index`` of those visible now.

    >>> visible_devices(1, None), visible_devices(1, "4,5,6"), visible_devices(0, "GPU-abc,GPU-def")
    ('1', '5', 'GPU-abc')
    >>> visible_devices(3, "4,5")
    Traceback (most recent call last):
    ...
    rmr1_cli.errors.ModelError: model.device=cuda:3 but CUDA_VISIBLE_DEVICES=4,5 shows 2 GPUs
    """
    if visible is None or not visible.strip():
        return str(index)
    shown = [v.strip() for v in visible.split(",") if v.strip()]
    if index >= len(shown):
        raise ModelError(
            f"model.device=cuda:{index} but CUDA_VISIBLE_DEVICES={visible} shows {len(shown)} GPUs"
        )
    return shown[index]


def memory_shortfall(free: int, total: int, utilization: float) -> str | None:
    """What vLLM's start-up check would refuse: ``utilization`` x total memory must be free.

    >>> memory_shortfall(70 * 2**30, 80 * 2**30, 0.9)
    'vLLM would reserve gpu_memory_utilization=0.9 x 80.0 GiB = 72.0 GiB but only 70.0 GiB is free on this GPU'
    >>> memory_shortfall(70 * 2**30, 80 * 2**30, 0.85) is None
    True
    """
    wanted = utilization * total
    if free >= wanted:
        return None
    return (
        f"vLLM would reserve gpu_memory_utilization={utilization} x {total / 2**30:.1f} GiB = "
        f"{wanted / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB is free on this GPU"
    )


def _max_model_len(llm) -> int | None:
    try:
        return int(llm.llm_engine.model_config.max_model_len)
    except AttributeError:
        return None
