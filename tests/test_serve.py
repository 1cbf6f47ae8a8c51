"""``rmr1 serve``: the OpenAI-compatible and /judge endpoints, their limits, and the HTTP backend against it.

Fast tests run the real server in a thread on 127.0.0.1 with a scripted judge; the slow ones start
``rmr1 serve`` in a subprocess with a tiny model and compare the HTTP backend with in-process judging.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ScriptedGenerator, prefer

from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec, ServeRecipe
from rmr1_cli.data import PreferencePair, load_pairs
from rmr1_cli.errors import GenerationError
from rmr1_cli.generation import VERDICT_STOP, SamplingParams
from rmr1_cli.generation.batching import BatchingGenerator
from rmr1_cli.generation.openai import OpenAIGenerator
from rmr1_cli.generation.transformers import TransformersGenerator
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import load_template

TOKEN = "tok-test-1234"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def serve(monkeypatch, serve_in_thread):
    """Start a real server on 127.0.0.1 (a free port) in a thread, bearer token required."""
    monkeypatch.setenv("RMR1_TEST_SERVE_TOKEN", TOKEN)

    def start(generator=None, **settings):
        settings.setdefault("api_key_env", "RMR1_TEST_SERVE_TOKEN")
        return serve_in_thread(generator, **settings)

    return start


def request(url, method, path, body=None, *, token=TOKEN, raw=None, headers=None):
    """One HTTP request; returns (status, decoded JSON)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": "application/json"}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    payload = json.loads(response.read() or b"null")
    conn.close()
    return response.status, payload


def judge_pairs(n: int) -> list[PreferencePair]:
    return [
        PreferencePair(
            id=f"p{i}", prompt=f"Question {i}?", chosen=f"good answer {i}", rejected=f"bad answer {i}"
        )
        for i in range(n)
    ]


CHAT = {"model": "judge", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}


# ---- safety and malformed requests ------------------------------------------------------------


def test_binds_loopback_by_default_and_requires_the_token(serve):
    assert ServeRecipe().host == "127.0.0.1"
    server = serve()
    assert server.url.startswith("http://127.0.0.1:")
    assert request(server.url, "GET", "/health", token=None)[0] == 200
    for token in (None, "wrong"):
        status, payload = request(server.url, "POST", "/v1/chat/completions", CHAT, token=token)
        assert status == 401 and "bearer token" in payload["error"]["message"]
    assert request(server.url, "GET", "/v1/models")[1]["data"][0]["id"] == "judge"


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "message"),
    [
        ("/v1/chat/completions", {"raw": b'{"messages": ['}, 400, "not valid JSON"),
        ("/v1/chat/completions", {"body": [1, 2]}, 400, "JSON object"),
        ("/v1/chat/completions", {"body": {"max_tokens": 4}}, 400, '"messages"'),
        (
            "/v1/chat/completions",
            {"body": {**CHAT, "messages": [{"role": "bot", "content": "x"}]}},
            400,
            "role",
        ),
        ("/v1/chat/completions", {"body": {**CHAT, "temperature": "hot"}}, 400, "temperature"),
        ("/v1/chat/completions", {"body": {**CHAT, "max_tokens": 0}}, 400, "max_tokens"),
        ("/v1/chat/completions", {"body": {**CHAT, "stream": True}}, 400, "streaming"),
        ("/v1/chat/completions", {"body": {**CHAT, "model": "gpt-9"}}, 404, "not served here"),
        ("/v1/chat/completions", {"raw": b"{}", "headers": {"Content-Length": "999999999"}}, 413, "exceeds"),
        ("/judge", {"body": {"pairs": []}}, 400, '"pairs"'),
        ("/judge", {"body": {"pairs": [{"prompt": "q", "chosen": "a"}]}}, 400, "pairs[0].rejected"),
        (
            "/judge",
            {"body": {"pairs": [{"prompt": 3, "chosen": "a", "rejected": "b"}]}},
            400,
            "pairs[0].prompt",
        ),
        ("/nowhere", {"body": {}}, 404, "try GET /health"),
    ],
)
def test_malformed_requests_get_a_4xx_and_the_server_keeps_serving(serve, path, kwargs, status, message):
    server = serve()
    got, payload = request(server.url, "POST", path, **kwargs)
    assert got == status and message in payload["error"]["message"]
    assert request(server.url, "POST", "/v1/chat/completions", CHAT)[0] == 200  # still serving


def test_a_request_over_the_pair_limit_is_refused(serve):
    server = serve(max_pairs_per_request=2)
    rows = [{"prompt": "q", "chosen": "good", "rejected": "bad"}] * 3
    status, payload = request(server.url, "POST", "/judge", {"pairs": rows})
    assert status == 413 and "limit is 2" in payload["error"]["message"]


def test_the_token_never_reaches_the_log(serve, caplog):
    server = serve()
    with caplog.at_level("DEBUG"):
        request(server.url, "POST", "/v1/chat/completions", CHAT)
        request(server.url, "POST", "/v1/chat/completions", CHAT, token="wrong-" + TOKEN)
    assert "/v1/chat/completions" in caplog.text and TOKEN not in caplog.text


# ---- endpoints --------------------------------------------------------------------------------


def test_chat_completions_answer_in_openai_shape_without_the_stop_string(serve):
    server = serve()
    prompt = load_template("cor").render("Q?", "bad reply", "good reply")
    status, payload = request(
        server.url,
        "POST",
        "/v1/chat/completions",
        {**CHAT, "messages": prompt, "stop": [VERDICT_STOP], "n": 2},
    )
    assert status == 200 and payload["object"] == "chat.completion" and len(payload["choices"]) == 2
    choice = payload["choices"][0]
    assert choice["message"]["content"].endswith("<answer>[[B]]") and choice["finish_reason"] == "stop"
    assert payload["usage"]["completion_tokens"] > 0


def test_judge_endpoint_returns_one_result_per_pair_with_its_judgments(serve):
    server = serve()
    rows = [
        {"id": p.id, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in judge_pairs(3)
    ]
    rows.append({"prompt": [{"role": "user", "content": "Q?"}], "chosen": "good", "rejected": "bad"})
    status, payload = request(server.url, "POST", "/judge", {"pairs": rows, "include_text": False})
    assert status == 200 and payload["model"] == "judge"
    results = payload["results"]
    assert [r["pair_id"] for r in results[:3]] == ["p0", "p1", "p2"] and len(results) == 4
    assert {(r["outcome"], r["consistent"], r["n_valid"]) for r in results} == {("chosen", True, 2)}
    assert [j["order"] for j in results[0]["judgments"]] == ["AB", "BA"]
    assert "text" not in results[0]["judgments"][0]


def test_http_backend_gets_the_same_verdicts_as_in_process(serve):
    """Fast twin of the slow subprocess test: same engine, scripted judge in-process vs over HTTP."""
    server = serve()
    spec, params = JudgeSpec(), SamplingParams(max_new_tokens=32, stop=(VERDICT_STOP,))
    template = load_template("cor")
    local = JudgeEngine(ScriptedGenerator(prefer("good")), template, spec, params).judge(judge_pairs(5))
    client = OpenAIGenerator(server.url + "/v1", "judge", api_key=TOKEN, concurrency=4)
    remote = JudgeEngine(client, template, spec, params).judge(judge_pairs(5))
    assert [(r.outcome, r.p_chosen, r.consistent) for r in remote] == [
        (r.outcome, r.p_chosen, r.consistent) for r in local
    ]
    assert [[j.text for j in r.judgments] for r in remote] == [[j.text for j in r.judgments] for r in local]
    assert server.generator.calls < 10  # concurrent requests shared batches


def test_the_http_backend_stops_on_a_wrong_token(serve):
    server = serve()
    client = OpenAIGenerator(server.url + "/v1", "judge", api_key="nope", max_retries=0)
    with pytest.raises(GenerationError, match="401"):
        client.generate([[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=4))


def test_concurrent_calls_share_batches_and_errors_reach_every_caller():
    inner = ScriptedGenerator(prefer("good"), batch_size=16, delay=0.05)
    batching = BatchingGenerator(inner, wait_s=0.2)
    prompts = [load_template("cor").render("Q", f"good {i}", f"bad {i}") for i in range(4)]
    results = [None] * 4

    def call(i):
        results[i] = batching.generate([prompts[i]], SamplingParams(max_new_tokens=8))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(inner.batches) == 1 and all(r[0].text.endswith("[[A]]</answer>") for r in results)

    def broken(a, b, seed, params):
        raise RuntimeError("model fell over")

    inner.judge = broken
    with pytest.raises(RuntimeError, match="fell over"):
        batching.generate([prompts[0]], SamplingParams(max_new_tokens=8))
    inner.judge = prefer("good")
    assert batching.generate([prompts[0]], SamplingParams(max_new_tokens=8))[0].text  # the worker lives on
    batching.close()


# ---- the real thing: `rmr1 serve` in a subprocess with a tiny model ----------------------------


@pytest.fixture(scope="module")
def verdict_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model rewired to always answer ``<type>Chat</type><answer>[[A]]</answer> A wins``.

    Random weights never write a verdict; this model writes a valid one, so the comparison covers
    parsing, the stop string and the verdict.
    """
    from rmr1_cli.training.tiny import build_scripted_model

    out = tmp_path_factory.mktemp("verdict") / "model"
    return build_scripted_model(tiny_model_dir, out, "<type>Chat</type><answer>[[A]]</answer> A wins")


@pytest.fixture(scope="module")
def served(verdict_model, tmp_path_factory):
    """``rmr1 serve`` on 127.0.0.1 (a free port, a token), as a subprocess; yields (url, stderr path)."""
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    env = {**os.environ, "RMR1_TEST_SERVE_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"}
    args = [
        sys.executable, "-m", "rmr1_cli", "serve", f"judge.model.name_or_path={verdict_model}", "port=0",
        "api_key_env=RMR1_TEST_SERVE_TOKEN", "served_model_name=tiny-judge", "judge.generation.max_new_tokens=24",
    ]  # fmt: skip
    with open(log, "w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), log.read_text()
    yield url, log
    proc.terminate()
    assert proc.wait(timeout=30) == 0  # SIGTERM stops it cleanly


@pytest.mark.slow
def test_http_backend_against_rmr1_serve_matches_in_process_judging(served, verdict_model):
    url, log = served
    pairs = load_pairs(ROOT / "data" / "samples" / "pairs_eval.jsonl")[:4]
    spec, params = JudgeSpec(), SamplingParams(max_new_tokens=24, stop=(VERDICT_STOP,))
    template = load_template("cor")
    local_gen = TransformersGenerator.load(ModelSpec(name_or_path=str(verdict_model)), GenerationSpec())
    local = JudgeEngine(local_gen, template, spec, params).judge(pairs)
    client = OpenAIGenerator(url + "/v1", "tiny-judge", api_key=TOKEN)
    remote = JudgeEngine(client, template, spec, params).judge(pairs)

    def view(results):
        return [[(j.order, j.verdict, j.valid, j.text, j.num_tokens) for j in r.judgments] for r in results]

    assert view(remote) == view(local)
    assert all(j.valid and j.verdict == "A" for r in local for j in r.judgments)  # a real verdict
    assert [r.outcome for r in remote] == ["tie"] * 4  # always "A": position bias, caught by the swap

    rows = [{"id": p.id, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    status, payload = request(url, "POST", "/judge", {"pairs": rows})
    assert status == 200
    assert [[j["verdict"] for j in r["judgments"]] for r in payload["results"]] == [
        [j.verdict for j in r.judgments] for r in local
    ]
    time.sleep(0.2)
    assert TOKEN not in log.read_text()
