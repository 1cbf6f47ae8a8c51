"""Generation backends: batched transformers generation on the tiny model, and the vLLM / HTTP backends'
request building (vLLM is not installed here: a stand-in module checks what rmr1 asks of it)."""

from __future__ import annotations

import sys
import types

import pytest

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.errors import ConfigError, GenerationError, ModelError
from rmr1_cli.generation import SamplingParams
from rmr1_cli.generation.transformers import TransformersGenerator

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Write one sentence about the sea and the wind over it."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "Which is better, A or B? Explain your choice in detail please."}],
]


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return TransformersGenerator.load(
        ModelSpec(name_or_path=str(tiny_model_dir)), GenerationSpec(batch_size=4)
    )


def test_batched_greedy_text_equals_one_prompt_at_a_time(generator):
    params = SamplingParams(max_new_tokens=12)
    batched = generator.generate(CONVERSATIONS, params)
    single = [generator.generate([c], params)[0] for c in CONVERSATIONS]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.num_tokens <= 12 and g.prompt_tokens for g in batched)


def test_judge_prompts_share_their_common_start_and_still_match_one_at_a_time(generator):
    from rmr1_cli.judging.prompts import load_template

    template = load_template("cor")
    prompts = [template.render(f"Question {i}?", f"answer {i} " * (i + 1), "no") for i in range(4)]
    params = SamplingParams(max_new_tokens=8)
    generator._prefix = None
    batched = generator.generate(prompts, params)
    assert generator._prefix is not None and len(generator._prefix[0]) > 300  # the shared start was used
    single = [generator.generate([p], params)[0] for p in prompts]  # one row: nothing to share
    assert [g.text for g in batched] == [g.text for g in single]
    sampled = SamplingParams(max_new_tokens=8, temperature=1.0, seeds=(1, 2, 3, 4))
    generator.share_prefix = False
    try:
        plain = generator.generate(prompts, sampled)
    finally:
        generator.share_prefix = True
    assert [g.text for g in generator.generate(prompts, sampled)] == [g.text for g in plain]


def test_both_orders_and_repeated_samples_share_their_longer_starts(generator):
    from rmr1_cli.judging.prompts import load_template

    template = load_template("cor")
    question = "Explain, step by step, how a bill becomes law in a parliament. " * 3
    convs = [
        template.render(question, a, b) for a, b in (("Yes it does.", "No."), ("No.", "Yes it does."))
    ] * 2
    convs.append(template.render("Something else entirely?", "x", "y"))
    ids = [generator._encode(generator.render(c)) for c in convs]
    generator._prefix = None
    rows, masks, cache = generator._layout(ids, generator.tokenizer.pad_token_id)
    common = len(generator._prefix[0])
    assert cache.get_seq_length() > common + 30  # the question (and the repeated prompts) counted once
    assert all(len(r) == len(m) == len(rows[0]) for r, m in zip(rows, masks, strict=True))
    params = SamplingParams(max_new_tokens=6)
    shared = generator.generate(convs, params)
    generator.share_prefix = False
    try:
        plain = generator.generate(convs, params)
    finally:
        generator.share_prefix = True
    assert [g.text for g in shared] == [g.text for g in plain]


def test_the_shared_start_is_kept_across_calls_until_the_weights_change(generator):
    import torch

    from rmr1_cli.judging.prompts import load_template

    prompts = [load_template("cor").render(f"Q{i}?", "yes", "no") for i in range(3)]
    params = SamplingParams(max_new_tokens=2)
    generator.generate(prompts, params)
    kept = generator._prefix
    generator.generate(prompts, params)
    assert generator._prefix is kept
    with torch.no_grad():  # what an optimizer step does
        next(generator.model.parameters()).add_(0.0)
    generator.generate(prompts, params)
    assert generator._prefix is not kept and generator._prefix is not None


def test_each_sampled_row_follows_its_own_seed_whatever_its_batch(generator):
    params = SamplingParams(max_new_tokens=10, temperature=1.0, seeds=(11, 12, 13, 14))
    first = generator.generate(CONVERSATIONS, params)
    generator.batch_size = 3  # other batch shapes and positions, same seeds per conversation
    try:
        again = generator.generate(CONVERSATIONS[::-1], SamplingParams(10, 1.0, seeds=(14, 13, 12, 11)))[::-1]
    finally:
        generator.batch_size = 4
    assert [g.text for g in first] == [g.text for g in again]
    other = generator.generate(CONVERSATIONS, SamplingParams(10, 1.0, seeds=(21, 22, 23, 24)))
    assert [g.text for g in other] != [g.text for g in first]


def test_a_stop_string_ends_its_row_early_and_stays_in_the_text(generator):
    free = generator.generate(CONVERSATIONS[:2], SamplingParams(max_new_tokens=24))
    words = free[0].text
    stop = words[len(words) // 3 : len(words) // 3 + 3]
    assert stop.strip()
    stopped = generator.generate(CONVERSATIONS[:2], SamplingParams(max_new_tokens=24, stop=(stop,)))
    assert stopped[0].text == words[: words.find(stop) + len(stop)] and stopped[0].finish_reason == "stop"
    assert stopped[0].num_tokens < free[0].num_tokens
    if stop not in free[1].text:  # the other row runs on
        assert stopped[1].text == free[1].text


def test_token_helpers_cut_text_to_a_token_budget(generator):
    text = "The quick brown fox jumps over the lazy dog. " * 5
    assert generator.text_tokens(text) > 20
    cut = generator.cut_text(text, 20)
    assert text.startswith(cut) and generator.text_tokens(cut) <= 20
    assert generator.cut_text("short", 20) == "short"
    assert generator.context_length == 4096


# ---- vLLM (a stand-in module records what rmr1 asks of it) --------------------------------------


@pytest.fixture()
def fake_vllm(monkeypatch):
    made = {}

    class Completion:
        def __init__(self, text):
            self.text, self.token_ids, self.finish_reason = text, [1] * len(text.split()), "stop"

    class LLM:
        def __init__(self, **kwargs):
            made["llm"] = kwargs

        def get_tokenizer(self):
            return None

        def chat(self, conversations, sampling, use_tqdm, add_generation_prompt):
            made["sampling"] = sampling
            return [
                types.SimpleNamespace(outputs=[Completion("<answer>[[A]]</answer>")]) for _ in conversations
            ]

    module = types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return made


def test_vllm_backend_turns_on_prefix_caching_and_seeds_each_row(fake_vllm, tmp_path):
    from rmr1_cli.generation.vllm import VLLMGenerator

    gen = VLLMGenerator.load(ModelSpec(name_or_path=str(tmp_path), dtype="bfloat16"), GenerationSpec())
    assert fake_vllm["llm"]["enable_prefix_caching"] is True and fake_vllm["llm"]["dtype"] == "bfloat16"
    assert fake_vllm["llm"]["trust_remote_code"] is False
    out = gen.generate(CONVERSATIONS[:2], SamplingParams(temperature=0.7, stop=("</answer>",), seeds=(5, 6)))
    assert [g.text for g in out] == ["<answer>[[A]]</answer>"] * 2
    rows = fake_vllm["sampling"]
    assert [r["seed"] for r in rows] == [5, 6] and all(r["include_stop_str_in_output"] for r in rows)
    greedy = gen.generate(CONVERSATIONS[:1], SamplingParams())
    assert greedy and fake_vllm["sampling"][0]["seed"] is None


def test_vllm_backend_without_vllm_says_how_to_install(monkeypatch, tmp_path):
    from rmr1_cli.generation.vllm import VLLMGenerator

    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails
    with pytest.raises(ModelError, match=r"rmr1\[vllm\]"):
        VLLMGenerator.load(ModelSpec(name_or_path=str(tmp_path)), GenerationSpec(backend="vllm"))


# ---- OpenAI-compatible HTTP (the server side is tested in test_serve.py) ---------------------------


def test_http_backend_needs_a_url_and_reads_its_key_from_the_environment(monkeypatch):
    from rmr1_cli.generation.openai import OpenAIGenerator

    spec = GenerationSpec(backend="openai", served_model="judge")
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIGenerator.from_spec(ModelSpec(), spec)
    keyed = GenerationSpec(backend="openai", base_url="http://127.0.0.1:9/v1", api_key_env="RMR1_TEST_KEY")
    monkeypatch.delenv("RMR1_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$RMR1_TEST_KEY"):
        OpenAIGenerator.from_spec(ModelSpec(name_or_path="m"), keyed)
    monkeypatch.setenv("RMR1_TEST_KEY", "sk-very-secret")
    gen = OpenAIGenerator.from_spec(ModelSpec(name_or_path="m"), keyed)
    assert "sk-very-secret" not in repr(gen) + gen.identity + str(vars(gen).get("identity"))


def test_http_backend_retries_then_fails_with_a_clear_error():
    import socket

    from rmr1_cli.generation.openai import OpenAIGenerator

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "judge", max_retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(GenerationError, match="no answer after 3 tries"):
        gen.generate(CONVERSATIONS[:1], SamplingParams(max_new_tokens=4))
