"""The HTTP server of ``rmr1 serve``: a judge model over HTTP, so verl, OpenRLHF or any script can use it as a remote reward.

Endpoints (JSON in, JSON out):

    GET  /health                liveness, no token needed
    GET  /v1/models             the one served model (OpenAI shape)
    POST /v1/chat/completions   OpenAI chat completions (no streaming); ``n``, ``seed``, ``stop`` work
    POST /judge                 {"pairs": [{"prompt", "chosen", "rejected", "id"?}, ...]} -> one result per
                                pair: outcome, P(chosen), swap consistency, and every judgment
    POST /get_reward            OpenRLHF's remote RM: {"query", "prompts"?, "labels"?} -> {"rewards",
                                "scores", "extra_logs"}: each response's swap-safe win vs its reference

Safe by default: binds 127.0.0.1; with ``api_key_env`` set every request but /health needs
``Authorization: Bearer <token>``; bodies over ``max_request_bytes`` get 413 unread; a malformed request
gets a 4xx with a message saying what to fix, and the server keeps serving. A web page cannot reach a
loopback server either: POST bodies must be ``Content-Type: application/json`` (415 otherwise, so a
cross-site form or text/plain post is refused) and a loopback bind answers only requests whose Host is
a loopback name (403 otherwise: DNS rebinding). A client that stalls mid-body gets 408 after
``read_timeout_s``; the listen queue holds ``LISTEN_QUEUE`` connections, so a burst is not reset.

One worker thread owns the model (``generation/batching.py``): HTTP threads queue their conversations
and concurrent clients share batches; each /judge or /get_reward request gets its own engine over that
generator and one locked judgment cache, so requests judge side by side instead of queuing. Request checks live in ``judging/request_checks.py``. Built on the standard library's
``ThreadingHTTPServer``: no web framework to install or to keep patched.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rmr1_cli.config import ServeRecipe
from rmr1_cli.data.records import unencodable
from rmr1_cli.errors import ConfigError, Rmr1Error
from rmr1_cli.generation import Generator, SamplingParams
from rmr1_cli.generation.batching import BatchingGenerator
from rmr1_cli.judging import request_checks as check
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.get_reward import get_reward
from rmr1_cli.judging.policy_chat import PolicyChat
from rmr1_cli.judging.request_checks import RequestError

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LISTEN_QUEUE = 128  # pending connections the kernel holds while every handler thread is busy


class JudgeServer(ThreadingHTTPServer):
    """The HTTP server and what its handlers share: the batching generator, the /judge engine, limits."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_QUEUE

    def __init__(
        self,
        recipe: ServeRecipe,
        generator: Generator,
        engine: JudgeEngine,
        token: str | None,
        policy_chat: PolicyChat | None = None,
    ):
        if ":" in recipe.host:
            self.address_family = socket.AF_INET6
        self.recipe = recipe
        self.generator = generator
        self.engine = engine  # the template, settings and cache every request's engine shares
        self.policy_chat = policy_chat
        self.model_name = recipe.served_model_name or _default_name(recipe.judge.model.name_or_path)
        path = recipe.judge.model.name_or_path
        self.model_aliases = {self.model_name, path, str(Path(path).resolve()) if path else ""} - {""}
        self._token = token
        self._cache = _LockedCache(engine.cache) if engine.cache is not None else None
        self.judge_answers: dict[str, str] = {}  # reward_reference=judge_answer: question -> its answer
        self.judge_answers_lock = threading.Lock()
        super().__init__((recipe.host, recipe.port), _Handler)

    def request_engine(self) -> JudgeEngine:
        """An engine of its own for one request: its stats are its own, the model and cache are shared."""
        e = self.engine
        engine = JudgeEngine(e.generator, e.template, e.spec, e.params, cache=self._cache, seed=e.seed)
        engine.show_progress = False  # one terminal bar per request would fight over the screen
        return engine

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"

    def host_allowed(self, header: str | None) -> bool:
        """On a loopback bind, only a loopback Host (a rebinding page sends its own name)."""
        if self.recipe.host not in LOOPBACK or header is None:
            return True
        host = header.strip().lower()
        host = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
        return host in LOOPBACK

    def authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    # -- endpoints --

    def models(self) -> dict:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model_name,
                    "object": "model",
                    "owned_by": "rmr1",
                    "max_model_len": self.generator.context_length,
                }
            ],
        }

    def chat_completions(self, body: dict) -> dict:
        """OpenAI semantics: temperature and top_p default to 1.0, a request without ``seed`` samples
        afresh (the same ``seed`` reproduces), a parameter the server does not implement is a 400."""
        self._check_model(body)
        if body.get("stream"):
            raise RequestError(400, 'streaming is not supported; send "stream": false')
        check.unsupported_parameters(body)
        messages = check.messages(body.get("messages"))
        defaults = self.recipe.judge.generation
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens", defaults.max_new_tokens))
        seed = body.get("seed")
        params = SamplingParams(
            max_new_tokens=check.integer(max_tokens, "max_tokens", 1, None),
            temperature=check.number(_given(body, "temperature", 1.0), "temperature", 0.0, 2.0),
            top_p=check.number(_given(body, "top_p", 1.0), "top_p", 1e-6, 1.0),
            stop=check.stops(body.get("stop")),
            seed=int.from_bytes(os.urandom(4), "big")
            if seed is None
            else check.integer(seed, "seed", None, None),
        )
        n = check.integer(_given(body, "n", 1), "n", 1, 16)
        gens = self.generator.generate([messages] * n, params)
        errors = [g for g in gens if g.finish_reason == "error"]
        if errors:
            raise RequestError(
                400, errors[0].error or "the model refused the request", "context_length_exceeded"
            )
        choices = []
        for i, g in enumerate(gens):
            text = g.text
            if g.finish_reason == "stop":  # OpenAI semantics: the stop string is not part of the text
                for s in params.stop:
                    if text.endswith(s):
                        text = text[: -len(s)]
                        break
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": g.finish_reason,
                }
            )
        prompt_tokens = gens[0].prompt_tokens or 0
        completion_tokens = sum(g.num_tokens for g in gens)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def judge(self, body: dict) -> dict:
        self._check_model(body)
        raw = body.get("pairs")
        if not isinstance(raw, list) or not raw:
            raise RequestError(400, '"pairs" must be a non-empty list of {"prompt", "chosen", "rejected"}')
        limit = self.recipe.max_pairs_per_request
        if len(raw) > limit:
            raise RequestError(413, f"{len(raw)} pairs in one request; the limit is {limit}: split it")
        pairs = [check.pair(row, i) for i, row in enumerate(raw)]
        with_texts = body.get("include_text", True)
        if not isinstance(with_texts, bool):
            raise RequestError(400, '"include_text" must be true or false')
        results = self.request_engine().judge(pairs, description="serving /judge")
        return {"model": self.model_name, "results": [check.result_row(r, with_texts) for r in results]}

    def get_reward(self, body: dict) -> dict:
        """OpenRLHF's remote reward (``judging/get_reward.py``)."""
        return get_reward(self, body)

    def _check_model(self, body: dict) -> None:
        name = body.get("model")
        if name is not None and name not in self.model_aliases:
            raise RequestError(
                404,
                f"model {name!r} is not served here; this server serves {self.model_name!r}",
                "model_not_found",
            )


class _Handler(BaseHTTPRequestHandler):
    server: JudgeServer
    server_version = "rmr1"

    @property
    def timeout(self) -> float:  # seconds a client may take to send its request
        return self.server.recipe.read_timeout_s

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle({"/health": None, "/v1/models": None})

    def do_POST(self) -> None:  # noqa: N802
        self._handle({"/v1/chat/completions": None, "/judge": None, "/get_reward": None})

    def _handle(self, routes: dict) -> None:
        started = time.perf_counter()
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        status = 200
        try:
            if path not in routes:
                known = (
                    "GET /health, GET /v1/models, POST /v1/chat/completions, POST /judge, POST /get_reward"
                )
                raise RequestError(
                    404 if path not in _ALL_PATHS else 405, f"no {self.command} {path}; try {known}"
                )
            if not self.server.host_allowed(self.headers.get("Host")):
                raise RequestError(
                    403,
                    "the Host header is not a loopback name; this server answers only 127.0.0.1/localhost",
                )
            if path == "/health":
                payload = {"status": "ok", "model": self.server.model_name}
            else:
                if not self.server.authorized(self.headers.get("Authorization")):
                    raise RequestError(
                        401,
                        "missing or wrong bearer token (Authorization: Bearer <token>)",
                        "invalid_api_key",
                    )
                if path == "/v1/models":
                    payload = self.server.models()
                else:
                    body = self._json_body()
                    endpoint = {
                        "/v1/chat/completions": self.server.chat_completions,
                        "/judge": self.server.judge,
                        "/get_reward": self.server.get_reward,
                    }[path]
                    payload = endpoint(body)
        except RequestError as exc:
            status = exc.status
            payload = {"error": {"message": exc.message, "type": "invalid_request_error", "code": exc.code}}
        except Rmr1Error as exc:
            status = 500
            payload = {"error": {"message": str(exc), "type": "server_error", "code": None}}
        except Exception as exc:  # a bug must not take the server down
            log.exception("error while serving %s %s", self.command, path)
            status = 500
            payload = {"error": {"message": f"internal error: {type(exc).__name__}", "type": "server_error"}}
        self._send(status, payload)
        log.info("%s %s %d %.2fs", self.command, path, status, time.perf_counter() - started)

    def _json_body(self) -> dict:
        media = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            self.close_connection = True  # the body stays unread
            raise RequestError(
                415, f"send the body as Content-Type: application/json, not {media or 'none'!r}"
            )
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise RequestError(411, "chunked bodies are not accepted; send a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(411, "a Content-Length header is required")
        try:
            size = int(length)
        except ValueError:
            raise RequestError(400, "Content-Length is not a number") from None
        if size < 0:
            raise RequestError(400, "Content-Length is negative")
        if size > self.server.recipe.max_request_bytes:
            self.close_connection = True  # the body stays unread
            raise RequestError(
                413,
                f"request body of {size} bytes exceeds the limit of {self.server.recipe.max_request_bytes}",
            )
        try:
            raw = self.rfile.read(size)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(
                408, f"the body did not arrive within {self.server.recipe.read_timeout_s:g} s"
            ) from None
        if len(raw) < size:
            self.close_connection = True
            raise RequestError(400, f"the body ended after {len(raw)} of {size} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"the body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        field = unencodable(body)
        if field is not None:
            raise RequestError(400, f"{field}: a lone surrogate escape (e.g. \\ud800) is not valid Unicode")
        return body

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:  # the client has gone (a timed-out or reset connection): nothing to answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s - %s", self.address_string(), format % args)  # request lines, never headers


_ALL_PATHS = {"/health", "/v1/models", "/v1/chat/completions", "/judge", "/get_reward"}


def _given(body: dict, name: str, default: Any) -> Any:
    """A request's value, or the OpenAI default when it is absent or null."""
    value = body.get(name)
    return default if value is None else value


class _LockedCache:
    """The one judgment cache, shared by the engines of concurrent requests (its store has one writer)."""

    def __init__(self, cache):
        self.inner = cache
        self.path = cache.path
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self.inner.get(key)

    def add(self, records) -> None:
        with self._lock:
            self.inner.add(records)

    def close(self) -> None:
        with self._lock:
            self.inner.close()


def _default_name(name_or_path: str) -> str:
    path = Path(name_or_path)
    return path.name if path.exists() else name_or_path


def build_server(recipe: ServeRecipe, generator: Generator | None = None) -> JudgeServer:
    """Everything ``rmr1 serve`` runs, bound but not yet serving (tests pass a scripted generator)."""
    from rmr1_cli.generation import build_generator
    from rmr1_cli.judging import engine as engine_module
    from rmr1_cli.judging.prompts import load_template

    token = None
    if recipe.api_key_env:
        token = os.environ.get(recipe.api_key_env)
        if not token:
            raise ConfigError(
                f"api_key_env names ${recipe.api_key_env}, but that environment variable is empty or unset; "
                "export the token clients must send there"
            )
    if recipe.host not in LOOPBACK and token is None:
        log.warning("serving on %s without a token: anyone who can reach it can use the model", recipe.host)
    elif token is None:
        log.warning(
            "NO TOKEN: every process on this machine can use the judge (/get_reward included: OpenRLHF "
            "sends no Authorization header); set api_key_env to require one"
        )
    judge = recipe.judge
    load_template(judge.template)  # a bad template fails before any weights load
    policy_chat = None
    if (recipe.policy_tokenizer or recipe.policy_markers) and not judge.both_orders:
        raise ConfigError("/get_reward scores swap-safe wins: it needs judge.both_orders=true")
    if recipe.policy_tokenizer:
        policy_chat = PolicyChat.from_tokenizer(recipe.policy_tokenizer)
    elif recipe.policy_markers:
        policy_chat = PolicyChat.from_markers(recipe.policy_markers)
    else:
        log.warning("/get_reward is off: set policy_tokenizer or policy_markers (the policy's chat template)")
    inner = generator if generator is not None else build_generator(judge.model, judge.generation)
    batching = BatchingGenerator(inner, wait_s=recipe.batch_wait_ms / 1000)
    engine = engine_module.build_engine(
        judge, seed=recipe.seed, cache_path=recipe.cache_file or None, generator=batching
    )
    try:
        return JudgeServer(recipe, batching, engine, token, policy_chat)
    except OSError as exc:
        batching.close()
        raise ConfigError(f"cannot listen on {recipe.host}:{recipe.port}: {exc.strerror or exc}") from None
