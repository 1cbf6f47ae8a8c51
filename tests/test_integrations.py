"""An rmr1 judge used from OpenRLHF, verl, trl and the openai client, each called as that framework does.

Every test compares the rewards with the in-process judge's swap-safe scores for the same pairs. The
judge is the scripted one of conftest.py (prefers the reply containing "good"; A when both or neither
do, a position bias the swap turns into a tie).
"""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ScriptedGenerator, prefer

from rmr1_cli.config import JudgeSpec, ModelSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.judging.engine import build_engine
from rmr1_cli.rewards.policy import swap_safe_win

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-integrations"


@pytest.fixture()
def serve(monkeypatch, serve_in_thread):
    monkeypatch.setenv("RMR1_TEST_TOKEN", TOKEN)
    return serve_in_thread


def expected(question, response: str, reference: str) -> float:
    """The in-process judge's swap-safe score of ``response`` against ``reference``."""
    if response == reference:
        return 0.5
    engine = build_engine(JudgeSpec(), seed=0, generator=ScriptedGenerator(prefer("good")))
    (result,) = engine.judge([PreferencePair(id="x", prompt=question, chosen=response, rejected=reference)])
    return swap_safe_win(result)


def post(url: str, body: dict, headers: dict | None = None) -> dict:
    """What ``requests.post(url, json=body, headers={"Content-Type": "application/json"})`` sends."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


ROLLOUTS = [  # question, response, reference
    ("What is 2+3?", "a good answer: 5", "5, plain"),
    ("What is 2+3?", "4, plain", "a good answer: 5"),
    ("Name a colour.", "a good red", "a good blue"),
]


def _openrlhf_rows(tokenizer):
    """OpenRLHF's query: the chat-templated prompt plus the response, decoded with special tokens."""
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
        )
        for q, _, _ in ROLLOUTS
    ]
    queries = [p + r + tokenizer.eos_token for p, (_, r, _) in zip(prompts, ROLLOUTS, strict=True)]
    return prompts, queries


def test_openrlhf_current_client_shape(serve, tiny_model_dir):
    """openrlhf/utils/remote_rm_utils.py (OpenRLHF/OpenRLHF): ``remote_rm_fn_ray`` posts
    ``{"query", "prompts", "labels"}`` with only a Content-Type header, and reads ``rewards``, ``scores``
    and per-sample ``extra_logs`` (openrlhf/cli/serve_rm.py answers in that shape)."""
    from transformers import AutoTokenizer

    server = serve(policy_tokenizer=str(tiny_model_dir))  # no token: OpenRLHF sends none
    prompts, queries = _openrlhf_rows(AutoTokenizer.from_pretrained(tiny_model_dir))
    labels = [ref for _, _, ref in ROLLOUTS]
    answer = post(server.url + "/get_reward", {"query": queries, "prompts": prompts, "labels": labels})
    want = [expected(q, r, ref) for q, r, ref in ROLLOUTS]
    assert answer["rewards"] == answer["scores"] == want == [1.0, 0.0, 0.5]
    assert answer["extra_logs"]["judge_swap_flip"] == [0.0, 0.0, 1.0]
    assert answer["extra_logs"]["judge_invalid_rate"] == [0.0, 0.0, 0.0]


def test_openrlhf_older_client_shape(serve, tiny_model_dir):
    """openrlhf/utils/remote_rm_utils.py (OpenRLHF/OpenRLHF, older): ``remote_rm_fn`` posts only
    ``{"query": queries}`` and reads ``rewards``; with no labels the judge's own answer is the reference."""
    from transformers import AutoTokenizer

    server = serve(policy_tokenizer=str(tiny_model_dir), reward_reference="judge_answer")
    _, queries = _openrlhf_rows(AutoTokenizer.from_pretrained(tiny_model_dir))
    answer = post(server.url + "/get_reward", {"query": queries})
    params = SamplingParams(max_new_tokens=256, temperature=0.0)
    references = {
        q: ScriptedGenerator().generate([[{"role": "user", "content": q}]], params)[0].text.strip()
        for q, _, _ in ROLLOUTS
    }
    assert answer["rewards"] == [expected(q, r, references[q]) for q, r, _ in ROLLOUTS]
    # labels that are JSON objects: reward_label_key names the reference inside each
    keyed = serve(policy_markers=["<|user|>\n", "<|assistant|>\n", "</s>"], reward_label_key="reference")
    query = "<|user|>\nWhat is 2+3?\n<|assistant|>\na good answer: 5</s>"
    label = json.dumps({"reference": "5, plain"})
    assert post(keyed.url + "/get_reward", {"query": [query], "labels": [label]})["rewards"] == [1.0]


def test_openrlhf_errors_name_the_fix(serve):
    """Without the policy's template, or without labels, /get_reward says what to set (a 400)."""
    server = serve()
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server.url + "/get_reward", {"query": ["x"]}, {"Authorization": f"Bearer {TOKEN}"})
    assert err.value.code == 400 and "policy_tokenizer" in err.value.read().decode()


def _load_like_verl(kwargs: dict):
    """verl/trainer/ppo/reward.py (volcengine/verl) ``get_custom_reward_fn``: the file at
    ``custom_reward_function.path`` is loaded by location and ``reward_kwargs`` are merged into each call."""
    spec = importlib.util.spec_from_file_location("custom_module", ROOT / "rmr1_cli" / "rewards" / "verl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw = module.compute_score
    return (lambda *a, **k: raw(*a, **{**k, **kwargs})), module


def test_verl_compute_score_remote_and_in_process(serve, tmp_path, monkeypatch):
    """verl/workers/reward_manager/naive.py (volcengine/verl) calls ``compute_score(data_source=,
    solution_str=, ground_truth=, extra_info=)``; the question travels in ``extra_info["question"]`` as
    examples/data_preprocess/gsm8k.py writes it."""
    server = serve(api_key_env="RMR1_TEST_TOKEN")
    remote, _ = _load_like_verl({"rmr1_url": server.url, "rmr1_token_env": "RMR1_TEST_TOKEN"})
    recipe = tmp_path / "judge.yaml"
    recipe.write_text("judge:\n  model:\n    name_or_path: scripted\n")
    local, module = _load_like_verl({"rmr1_recipe": str(recipe)})
    module.use_engine(str(recipe), build_engine(JudgeSpec(), seed=0, generator=ScriptedGenerator()))
    for q, r, ref in ROLLOUTS:
        info = {"split": "train", "index": 0, "question": q}
        want = expected(q, r, ref)
        for fn in (remote, local):
            got = fn(data_source="openai/gsm8k", solution_str=r, ground_truth=ref, extra_info=info)
            assert got["score"] == want
    monkeypatch.setenv("RMR1_JUDGE_URL", server.url)
    fn, _ = _load_like_verl({"rmr1_token_env": "RMR1_TEST_TOKEN"})
    got = fn(data_source="x", solution_str="a good one", ground_truth="plain", extra_info={"question": "Q?"})
    assert got == {"score": 1.0, "judge_swap_flip": 0.0, "judge_invalid_rate": 0.0}


class OpenAIClientJudge(Generator):
    """A judge generator calling ``rmr1 serve`` through the official openai package."""

    identity = "openai-client"

    def __init__(self, client, model):
        self.client, self.model = client, model

    def generate(self, conversations, params):
        out = []
        for messages in conversations:
            reply = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=params.max_new_tokens, temperature=0
            )
            out.append(Generation(reply.choices[0].message.content, reply.usage.completion_tokens, "stop"))
        return out


def test_openai_client(serve):
    """openai-python (openai/openai-python) ``client.chat.completions.create``: judgments through it equal
    the in-process ones; unsupported parameters are 400s naming them; model may be the model path."""
    import openai

    generator = ScriptedGenerator(prefer("good"))
    server = serve(generator, api_key_env="RMR1_TEST_TOKEN")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=TOKEN, max_retries=0)
    engine = build_engine(JudgeSpec(), seed=0, generator=OpenAIClientJudge(client, "judge"))
    for q, r, ref in ROLLOUTS:
        (result,) = engine.judge([PreferencePair(id="p", prompt=q, chosen=r, rejected=ref)])
        assert swap_safe_win(result) == expected(q, r, ref)

    messages = [{"role": "user", "content": "Hello"}]
    for name, value in [
        ("logprobs", True),
        ("presence_penalty", 0.5),
        ("response_format", {"type": "json_object"}),
    ]:
        with pytest.raises(openai.BadRequestError, match=name):
            client.chat.completions.create(model="judge", messages=messages, **{name: value})
    with pytest.raises(openai.BadRequestError, match="tools"):
        client.chat.completions.create(
            model="judge", messages=messages, tools=[{"type": "function", "function": {"name": "f"}}]
        )
    before = len(generator.params)
    client.chat.completions.create(model="judge", messages=messages)
    client.chat.completions.create(model="judge", messages=messages)
    client.chat.completions.create(model="judge", messages=messages, seed=7)
    client.chat.completions.create(model="judge", messages=messages, seed=7)
    sent = generator.params[before:]
    assert [p.temperature for p in sent] == [1.0] * 4  # OpenAI's default when temperature is omitted
    assert sent[0].seeds != sent[1].seeds and sent[2].seeds == sent[3].seeds  # fresh unless a seed is given
    path_server = serve(generator, judge=JudgeSpec(model=ModelSpec(name_or_path="models/judge")))
    path_client = openai.OpenAI(base_url=path_server.url + "/v1", api_key="unused", max_retries=0)
    reply = path_client.chat.completions.create(
        model="models/judge", messages=messages
    )  # verl sends the path
    assert reply.choices[0].message.content


def test_concurrent_judge_requests_share_batches(serve):
    """Two /judge requests arriving together run in one model batch, not one after the other."""
    generator = ScriptedGenerator(prefer("good"), batch_size=8)
    server = serve(generator, batch_wait_ms=300)
    body = [{"pairs": [{"prompt": f"Q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"}]} for i in range(2)]
    answers = [None, None]

    def call(i):
        answers[i] = post(server.url + "/judge", body[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a["results"][0]["outcome"] == "chosen" for a in answers)
    assert max(len(b) for b in generator.batches) == 4  # both pairs, both orders, one batch


def test_report_to_none_means_no_reporting():
    """trl's own spelling ``report_to: none`` (string, null or list) reaches transformers as "none"."""
    from trl import GRPOConfig

    from rmr1_cli.config import GRPORecipe, load_recipe
    from rmr1_cli.training.arguments import build_trl_args

    for value in ("none", "[none]", "null"):
        recipe = load_recipe(None, GRPORecipe, [f"trainer.report_to={value}", "model.name_or_path=m"])
        assert build_trl_args(GRPOConfig, recipe).report_to in ([], "none", ["none"])


@pytest.mark.slow
def test_trl_grpo_trainer_with_the_public_reward(tiny_model_dir, tmp_path):
    """trl/trainer/grpo_trainer.py (huggingface/trl): ``GRPOTrainer(reward_funcs=...)`` without
    ``reward_weights``; the logged reward is the judge's swap-safe score of each completion."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rmr1_cli.rewards.trl import judge_reward

    reward = judge_reward("scripted", "judge.template=cor", generator=ScriptedGenerator(prefer("e")))
    rows = [
        {"prompt": [{"role": "user", "content": f"Say something {i}"}], "reference": "xyz"} for i in range(4)
    ]
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"), max_steps=2, num_generations=4, per_device_train_batch_size=8,
        max_completion_length=8, logging_steps=1, report_to="none", use_cpu=True, bf16=False,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=reward, args=args, train_dataset=Dataset.from_list(rows)
    )
    trainer.train()
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logged) == 2
    completions = [c[-1]["content"] for c in trainer._logs["completion"]]
    got = list(trainer._logs["rewards"]["judge_reward"])
    engine = build_engine(JudgeSpec(template="cor"), seed=0, generator=ScriptedGenerator(prefer("e")))
    want = []
    for prompt, text in zip(trainer._logs["prompt"], completions, strict=True):
        if text == "xyz":
            want.append(0.5)
            continue
        (result,) = engine.judge([PreferencePair(id="p", prompt=prompt, chosen=text, rejected="xyz")])
        want.append(swap_safe_win(result))
    assert got == pytest.approx(want)
    assert logged[-1]["reward"] == pytest.approx(sum(want) / len(want))
    assert reward.engine.stats.judgments > 0
