"""The vLLM backend against a stand-in ``vllm`` module and a real transformers tokenizer (no GPU needed).

The stand-in mirrors the parts of vLLM's API the backend uses (vllm-project/vllm):
``vllm/entrypoints/llm.py`` (``LLM(...)``, ``LLM.get_tokenizer()`` returning the model's transformers
tokenizer, ``LLM.chat(messages, sampling_params, use_tqdm=..., add_generation_prompt=...)``,
``llm.llm_engine.model_config.max_model_len``), ``vllm/sampling_params.py`` (``SamplingParams``
keyword arguments) and the input processor's refusal of a whole ``generate`` call with
``ValueError("The decoder prompt (length N) is longer than the maximum model length of M")``.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.generation import SamplingParams


class _FakeLLM:
    max_model_len = 64

    def __init__(self, model: str, **kwargs):
        from transformers import AutoTokenizer

        self.kwargs = kwargs
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=self.max_model_len))
        self.calls: list[int] = []

    def get_tokenizer(self):
        return self.tokenizer

    def chat(self, messages, sampling_params, use_tqdm=True, add_generation_prompt=True):
        self.calls.append(len(messages))
        lengths = []
        for conversation in messages:
            text = self.tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=add_generation_prompt
            )
            lengths.append(len(self.tokenizer(text, add_special_tokens=False)["input_ids"]))
        for n in lengths:
            if n > self.max_model_len:
                raise ValueError(
                    f"The decoder prompt (length {n}) is longer than the maximum model length of "
                    f"{self.max_model_len}."
                )
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=f"<answer>[[A]]</answer> {n}", token_ids=[1, 2, 3],
                                                      finish_reason="stop")])
            for n in lengths
        ]  # fmt: skip


@pytest.fixture()
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def _generator(model_dir, max_model_len=64):
    from rmr1_cli.generation.vllm import VLLMGenerator

    _FakeLLM.max_model_len = max_model_len
    return VLLMGenerator.load(ModelSpec(name_or_path=str(model_dir)), GenerationSpec(max_new_tokens=8))


def _chat(words: int) -> list[dict]:
    return [{"role": "user", "content": " ".join(["judge"] * words)}]


def test_prompt_tokens_are_counted_with_the_real_tokenizer(fake_vllm, tiny_model_dir):
    gen = _generator(tiny_model_dir)
    tok = gen.tokenizer
    expected = len(tok(tok.apply_chat_template(_chat(30), tokenize=False, add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"])  # fmt: skip
    assert gen.count_tokens(_chat(30)) == expected > 30  # not 2 (the keys of a BatchEncoding)
    assert gen.context_length == 64


def test_a_prompt_over_the_context_is_refused_alone(fake_vllm, tiny_model_dir):
    gen = _generator(tiny_model_dir)
    params = SamplingParams(max_new_tokens=8, temperature=0.0)
    out = gen.generate([_chat(3), _chat(200), _chat(5)], params)
    assert [g.finish_reason for g in out] == ["stop", "error", "stop"]
    assert "exceeds the model's context" in out[1].error
    assert gen.llm.calls == [2]  # the long prompt was never sent


def test_a_batch_vllm_refuses_is_split_so_one_prompt_fails_not_all(fake_vllm, tiny_model_dir):
    gen = _generator(tiny_model_dir)
    gen.context_length = None  # the backend cannot tell: vLLM's own refusal must not lose the batch
    params = SamplingParams(max_new_tokens=8, temperature=0.7, seeds=(11, 12, 13))
    out = gen.generate([_chat(3), _chat(200), _chat(5)], params)
    assert [g.finish_reason for g in out] == ["stop", "error", "stop"]
    assert "maximum model length" in out[1].error


def test_generate_fitting_refuses_a_too_long_prompt_by_its_real_count(fake_vllm, tiny_model_dir, tmp_path):
    """The shared too-long check (the judge engine and policy answers use it) sees real counts."""
    from rmr1_cli.generation.base import generate_fitting

    gen = _generator(tiny_model_dir)
    params = SamplingParams(max_new_tokens=8, temperature=0.0)
    out = generate_fitting(gen, [_chat(200), _chat(2)], params)
    assert [g.finish_reason for g in out] == ["error", "stop"]
    assert out[0].prompt_tokens > 64


# ---- placement and memory (vLLM has no device argument since v0.10, vllm-project/vllm#21349) ----------


def test_model_device_narrows_cuda_visible_devices_before_vllm_starts(fake_vllm, tiny_model_dir, monkeypatch):
    import os

    import torch

    from rmr1_cli.generation.vllm import VLLMGenerator

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    VLLMGenerator.load(ModelSpec(name_or_path=str(tiny_model_dir), device="cuda:3"), GenerationSpec())
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"


def test_model_device_after_cuda_is_in_use_is_refused_with_the_way_out(
    fake_vllm, tiny_model_dir, monkeypatch
):
    import torch

    from rmr1_cli.errors import ModelError
    from rmr1_cli.generation.vllm import VLLMGenerator

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    with pytest.raises(ModelError, match="rmr1 serve"):
        VLLMGenerator.load(ModelSpec(name_or_path=str(tiny_model_dir), device="cuda:7"), GenerationSpec())


def test_a_second_engine_without_free_memory_names_gpu_memory_utilization(
    fake_vllm, tiny_model_dir, monkeypatch
):
    """vLLM reserves gpu_memory_utilization x total memory and refuses to start when less is free
    (vllm/v1/worker/gpu_worker.py); rmr1 says so before vLLM starts, naming the setting."""
    import torch

    from rmr1_cli.errors import ModelError
    from rmr1_cli.generation.vllm import VLLMGenerator

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "mem_get_info", lambda *a: (40 * 2**30, 80 * 2**30)
    )  # trl's vLLM holds half
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    with pytest.raises(ModelError, match="gpu_memory_utilization"):
        VLLMGenerator.load(model, GenerationSpec(gpu_memory_utilization=0.85))
    built = VLLMGenerator.load(model, GenerationSpec(gpu_memory_utilization=0.4))
    assert built.llm.kwargs["gpu_memory_utilization"] == 0.4
