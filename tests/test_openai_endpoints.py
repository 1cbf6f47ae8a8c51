"""The openai backend over several servers (``generation.base_url`` as a list): spreading, failover, the
all-down error, the config, and a cache that survives a change of URLs.

The request is OpenAI's chat completions as vLLM's OpenAI-compatible server accepts it
(``POST {base_url}/chat/completions`` with ``model``, ``messages``, ``max_tokens``, ``temperature``,
``top_p``, and ``stop``/``seed`` when set: the fields of ``ChatCompletionRequest`` in vllm-project/vllm
``vllm/entrypoints/openai/chat_completion/protocol.py``, formerly ``vllm/entrypoints/openai/protocol.py``);
the body is unchanged by this feature, only where it is sent.
The fake servers here answer in the same response shape (``choices[0].message.content``,
``finish_reason``, ``usage.completion_tokens``); the last test uses two real ``rmr1 serve`` processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rmr1_cli.config import GenerationSpec, JudgeRecipe, ModelSpec, load_recipe
from rmr1_cli.errors import ConfigError, GenerationError
from rmr1_cli.generation import SamplingParams
from rmr1_cli.generation.endpoints import Endpoints
from rmr1_cli.generation.openai import OpenAIGenerator

ROOT = Path(__file__).resolve().parents[1]
HELLO = [[{"role": "user", "content": f"Hello {i}"}] for i in range(12)]
PARAMS = SamplingParams(max_new_tokens=8)


# ---- the balancer alone --------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_spread_evenly_and_go_to_the_least_busy_server():
    e = Endpoints(["http://a/v1", "http://b/v1/", "http://c/v1"], clock=Clock())
    assert e.urls == ("http://a/v1", "http://b/v1", "http://c/v1")  # trailing slash dropped
    held = [e.acquire() for _ in range(6)]
    assert sorted(held) == sorted(e.urls * 2)  # six at once: two per server
    e.release("http://b/v1", ok=True)
    assert e.acquire() == "http://b/v1"  # the one with a free slot
    for url in held:
        e.release(url, ok=True)
    assert e.sent == {"http://a/v1": 2, "http://b/v1": 3, "http://c/v1": 2}


def test_a_failed_server_is_avoided_for_a_while_then_used_again():
    clock = Clock()
    e = Endpoints(["http://a/v1", "http://b/v1"], down_s=30, clock=clock)
    e.release(e.acquire(), ok=False)  # a failed
    assert e.up() == ["http://b/v1"]
    assert {e.acquire() for _ in range(4)} == {"http://b/v1"}
    clock.now = 31
    assert e.up() == ["http://a/v1", "http://b/v1"] and e.acquire() == "http://a/v1"


def test_a_retry_avoids_the_servers_that_failed_it_and_all_down_probes_the_oldest_failure():
    clock = Clock()
    e = Endpoints(["http://a/v1", "http://b/v1"], clock=clock)
    assert e.acquire(avoid={"http://a/v1"}) == "http://b/v1"
    assert e.has_other({"http://a/v1"}) and not e.has_other({"http://a/v1", "http://b/v1"})
    e.release("http://b/v1", ok=False)
    clock.now = 1
    e.release(e.acquire(), ok=False)  # a failed too, later
    assert e.up() == [] and not e.has_other(set())
    assert e.acquire() == "http://b/v1"  # down first: probed first


# ---- the backend against fake servers ------------------------------------------------------------


class FakeServer:
    """An OpenAI-compatible chat completions server on 127.0.0.1 that counts requests; ``status`` other
    than 200 makes it answer that error."""

    def __init__(self, status: int = 200):
        self.status = status
        self.bodies: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append(body | {"path": self.path, "auth": self.headers.get("Authorization")})
                if owner.status != 200:
                    payload = {"error": {"message": "overloaded"}}
                else:
                    text = "<answer>[[A]]</answer>"
                    payload = {
                        "choices": [
                            {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"completion_tokens": 3},
                    }
                data = json.dumps(payload).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fake_servers():
    started: list[FakeServer] = []

    def start(status: int = 200) -> FakeServer:
        started.append(FakeServer(status))
        return started[-1]

    yield start
    for server in started:
        server.close()


def free_url() -> str:
    """The base URL of a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_the_backend_spreads_requests_over_every_server(fake_servers):
    a, b = fake_servers(), fake_servers()
    gen = OpenAIGenerator([a.url, b.url], "judge", api_key="sk-secret", concurrency=4)
    out = gen.generate(HELLO, PARAMS)
    gen.close()
    assert [g.text for g in out] == ["<answer>[[A]]</answer>"] * len(HELLO)
    assert len(a.bodies) + len(b.bodies) == len(HELLO) and len(a.bodies) >= 3 and len(b.bodies) >= 3
    assert {body["path"] for body in a.bodies + b.bodies} == {"/v1/chat/completions"}
    assert {body["auth"] for body in a.bodies + b.bodies} == {"Bearer sk-secret"}
    assert {body["model"] for body in a.bodies + b.bodies} == {"judge"}


@pytest.mark.parametrize("failure", ["refused", "503"])
def test_a_failing_server_is_skipped_at_once_and_marked_down(fake_servers, failure):
    good = fake_servers()
    bad = free_url() if failure == "refused" else fake_servers(status=503).url
    gen = OpenAIGenerator([bad, good.url], "judge", concurrency=2, backoff_s=5.0, timeout_s=5)
    started = time.perf_counter()
    out = gen.generate(HELLO, PARAMS)
    gen.close()
    assert all(g.finish_reason == "stop" for g in out) and len(good.bodies) == len(HELLO)
    assert time.perf_counter() - started < 4  # failed over without backing off (backoff_s=5)
    assert gen.endpoints.up() == [good.url]
    assert gen.endpoints.sent[bad] <= 2  # at most the requests in flight when it failed


def test_every_server_down_is_one_clear_error_naming_them(fake_servers):
    overloaded = fake_servers(status=503)
    urls = [free_url(), overloaded.url]
    gen = OpenAIGenerator(urls, "judge", api_key="sk-secret", max_retries=3, backoff_s=0.01, timeout_s=2)
    with pytest.raises(GenerationError) as caught:
        gen.generate(HELLO[:1], PARAMS)
    message = str(caught.value)
    assert "no answer after 4 tries from any of" in message
    assert all(url in message for url in urls) and "HTTP 503: overloaded" in message
    assert "sk-secret" not in message


# ---- configuration and identity ------------------------------------------------------------------


def test_base_url_takes_a_yaml_list_or_commas_and_checks_each_url(tmp_path):
    recipe = tmp_path / "judge.yaml"
    recipe.write_text(
        "judge:\n  generation:\n    backend: openai\n    base_url:\n"
        "      - http://10.0.0.1:8000/v1\n      - http://10.0.0.2:8000/v1\n"
    )
    spec = load_recipe(recipe, JudgeRecipe).judge.generation
    assert spec.base_urls == ("http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1")
    override = "judge.generation.base_url=http://10.0.0.1:8000/v1,http://10.0.0.2:8000/v1"
    assert load_recipe(None, JudgeRecipe, [override]).judge.generation.base_urls == spec.base_urls
    single = load_recipe(None, JudgeRecipe, ["judge.generation.base_url=http://h:1/v1"]).judge.generation
    assert single.base_urls == ("http://h:1/v1",)
    with pytest.raises(
        ConfigError, match=r"judge\.generation\.base_url: '10\.0\.0\.2:8000/v1' is not an http"
    ):
        load_recipe(None, JudgeRecipe, ["judge.generation.base_url=http://10.0.0.1:8000/v1,10.0.0.2:8000/v1"])
    with pytest.raises(ConfigError, match=r"base_url: lists http://\*\*\*@h/v1 more than once"):
        GenerationSpec(base_url=["http://u:pw@h/v1", "http://u:pw@h/v1"])


def test_the_identity_names_the_served_model_not_the_urls(monkeypatch):
    monkeypatch.setenv("RMR1_TEST_KEY", "sk-very-secret")
    one = GenerationSpec(
        backend="openai", base_url="http://a:1/v1", served_model="judge", api_key_env="RMR1_TEST_KEY"
    )
    two = GenerationSpec(backend="openai", base_url=["http://b:1/v1", "http://c:1/v1"], served_model="judge")
    gen_one = OpenAIGenerator.from_spec(ModelSpec(), one)
    gen_two = OpenAIGenerator.from_spec(ModelSpec(), two)
    assert gen_one.identity == gen_two.identity == "openai:judge"
    other = OpenAIGenerator.from_spec(
        ModelSpec(), GenerationSpec(backend="openai", base_url="http://a:1/v1", served_model="x")
    )
    assert other.identity != gen_one.identity
    assert "sk-very-secret" not in repr(gen_one) + repr(gen_two) + gen_one.identity
    assert repr(OpenAIGenerator(["http://u:pw@b:1/v1", "http://c:1/v1"], "m")).count("pw") == 0
    for gen in (gen_one, gen_two, other):
        gen.close()


# ---- two real `rmr1 serve` processes; the cache survives a change of URLs ------------------------


def served_requests(log: Path) -> int:
    return log.read_text().count("POST /v1/chat/completions 200")


@pytest.fixture(scope="module")
def two_servers(tiny_model_dir, tmp_path_factory):
    """Two ``rmr1 serve`` subprocesses of one tiny verdict model on 127.0.0.1 (free ports, no token)."""
    from rmr1_cli.training.tiny import build_scripted_model

    tmp = tmp_path_factory.mktemp("two-servers")
    model = build_scripted_model(
        tiny_model_dir, tmp / "model", "<type>Chat</type><answer>[[A]]</answer> A wins"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [
        sys.executable, "-m", "rmr1_cli", "serve", f"judge.model.name_or_path={model}", "port=0",
        "served_model_name=tiny-judge", "judge.generation.max_new_tokens=24",
    ]  # fmt: skip
    procs, logs = [], [tmp / "serve-1.txt", tmp / "serve-2.txt"]
    for log in logs:
        with open(log, "w") as err:
            procs.append(
                subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
            )
    urls = [proc.stdout.readline().strip() for proc in procs]  # each prints its URL once loaded
    assert all(url.startswith("http://127.0.0.1:") for url in urls), [log.read_text() for log in logs]
    yield urls, logs
    for proc in procs:
        proc.terminate()
    for proc in procs:
        assert proc.wait(timeout=30) == 0


def test_judging_over_two_rmr1_serve_processes_and_the_cache_survives_new_urls(two_servers, tmp_path):
    from rmr1_cli.stages import judge

    (url1, url2), logs = two_servers
    out = tmp_path / "judge"

    def run(base_url: str) -> dict:
        overrides = [
            f"pairs_file={ROOT / 'data' / 'samples' / 'pairs_eval.jsonl'}", "limit=4", f"output_dir={out}",
            "judge.generation.backend=openai", "judge.generation.served_model=tiny-judge",
            f"judge.generation.base_url={base_url}", "judge.generation.max_new_tokens=24",
            "judge.generation.concurrency=4",
        ]  # fmt: skip
        judge.run(load_recipe(None, JudgeRecipe, overrides))
        return json.loads((out / "metrics.json").read_text())["engine"]

    first = run(f"{url1}/v1,{url2}/v1")
    assert (first["judgments"], first["generated"], first["cached"]) == (8, 8, 0)  # 4 pairs, both orders
    time.sleep(0.3)  # the servers log each request after answering it
    counts = [served_requests(log) for log in logs]
    assert all(n > 0 for n in counts) and sum(counts) == 8, counts
    assert first["valid"] == 8

    again = run(f"{url2}/v1")  # one server now, at another URL than the list before
    assert (again["judgments"], again["generated"], again["cached"]) == (8, 0, 8)
    moved = run(f"http://localhost:{url1.rsplit(':', 1)[1]}/v1")  # the same server under another name
    assert moved["generated"] == 0
    time.sleep(0.3)
    assert [served_requests(log) for log in logs] == counts  # nothing more was asked
