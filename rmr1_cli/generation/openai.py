"""OpenAI-compatible chat completions over HTTP: served judges (``rmr1 serve``, vLLM, TGI, SGLang) and
hosted teacher models.

Standard library only (``urllib``). Requests run ``concurrency`` at a time; timeouts, rate limits (429),
server errors (5xx) and dropped connections are retried with exponential backoff. With several base URLs
(servers of the same model) each request goes to the least busy server that is up, and a failed one is
retried on another server at once (``endpoints.py``). The API key is read from the environment variable
the recipe names (``generation.api_key_env``) and is only ever put in the Authorization header: never in
messages, logs, identities or output files.

The identity (part of every judgment's cache key) is the served model name, not the URL: moving the
servers, or running more or fewer of them, reuses the cache. Give different models different served
names (vLLM's ``--served-model-name``, ``rmr1 serve served_model_name=``).

Servers drop the stop string from the text they return (OpenAI semantics). The judge's parser needs the
closing verdict tag, so a closing tag such as ``</answer>`` is put back when the text ends inside the
tag it closes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.errors import ConfigError, GenerationError
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.generation.base import backend_stops, cut_at_stop
from rmr1_cli.generation.endpoints import Endpoints
from rmr1_cli.redaction import redact, redact_text

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
BUSY_STATUS = {408, 409, 425, 429}  # the server is up but cannot take this request now: not marked down
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
FATAL_STATUS = {401, 403, 404}  # every request would fail the same way: stop the run


class OpenAIGenerator(Generator):
    """Chat completions against ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``), or spread over several
    base URLs serving the same model."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        batch_size: int = 16,
        backoff_s: float = 1.0,
        down_s: float = 30.0,
    ):
        self.endpoints = Endpoints([base_url] if isinstance(base_url, str) else base_url, down_s=down_s)
        self.base_urls = self.endpoints.urls
        self.base_url = self.base_urls[0]
        self.model = model
        self._api_key = api_key
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        # enough rows per engine batch to keep every connection busy
        self.batch_size = max(batch_size, 4 * self.concurrency)
        self.identity = f"openai:{model}"  # no URL: the same model behind other servers reuses the cache
        self.context_length = None  # unknown: the engine counts such prompts as length-unchecked
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="rmr1-http")
        # a server on this machine is reached directly, whatever HTTP(S)_PROXY says
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        proxied = urllib.request.build_opener()
        self._openers = {
            url: direct if (urllib.parse.urlsplit(url).hostname or "") in LOCAL_HOSTS else proxied
            for url in self.base_urls
        }

    @classmethod
    def from_spec(cls, model: ModelSpec, spec: GenerationSpec) -> OpenAIGenerator:
        if not spec.base_urls:
            raise ConfigError(
                "generation.backend=openai needs generation.base_url (e.g. http://127.0.0.1:8000/v1)"
            )
        name = spec.served_model or model.name_or_path
        if not name:
            raise ConfigError(
                "generation.backend=openai needs generation.served_model (the server's model name)"
            )
        api_key = None
        if spec.api_key_env:
            api_key = os.environ.get(spec.api_key_env)
            if not api_key:
                raise ConfigError(
                    f"generation.api_key_env names ${spec.api_key_env}, but that environment variable is "
                    "empty or unset; export the key there"
                )
        return cls(
            spec.base_urls,
            name,
            api_key=api_key,
            concurrency=spec.concurrency,
            timeout_s=spec.timeout_s,
            max_retries=spec.max_retries,
            batch_size=spec.batch_size,
        )

    def __repr__(self) -> str:  # never show the key
        urls = self.base_url if len(self.base_urls) == 1 else list(self.base_urls)
        return f"OpenAIGenerator({redact(urls)!r}, {self.model!r})"

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        bodies = [self._body(c, params, params.seed_for(i)) for i, c in enumerate(conversations)]
        return list(self._pool.map(lambda body: self._complete(body, params), bodies))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _body(self, conversation, params: SamplingParams, seed: int) -> dict:
        body = {
            "model": self.model,
            "messages": conversation,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if backend_stops(params):
            body["stop"] = list(backend_stops(params))
        if not params.greedy:
            body["seed"] = seed % (2**31)  # many servers take a 32-bit seed
        return body

    def _complete(self, body: dict, params: SamplingParams) -> Generation:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        problems: dict[str, str] = {}  # base URL -> what went wrong there last
        tried: set[str] = set()  # servers that failed this request: a retry goes elsewhere when it can
        for attempt in range(self.max_retries + 1):
            if attempt and not self.endpoints.has_other(tried):  # nowhere fresh to go: back off first
                pause = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                log.debug("retrying in %.1fs (%s)", pause, redact_text("; ".join(problems.values())))
                time.sleep(pause)
            base = self.endpoints.acquire(tried)
            url = f"{base}/chat/completions"
            ok = False
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with self._openers[base].open(request, timeout=self.timeout_s) as response:
                    generation = _generation(json.loads(response.read()), params)
                ok = True
                return generation
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                ok = exc.code not in RETRY_STATUS or exc.code in BUSY_STATUS  # it answered: it is up
                if exc.code in FATAL_STATUS:
                    raise GenerationError(redact_text(f"{url}: HTTP {exc.code}: {message}")) from None
                if exc.code not in RETRY_STATUS:  # e.g. 400 for a prompt over the server's context
                    return Generation("", 0, "error", f"HTTP {exc.code}: {message}")
                problems[base] = f"HTTP {exc.code}: {message}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                problems[base] = str(getattr(exc, "reason", exc))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                problems[base] = f"unreadable response ({exc})"
            finally:
                self.endpoints.release(base, ok=ok)
            tried.add(base)
        tries = self.max_retries + 1
        if len(self.base_urls) == 1:
            url = f"{self.base_url}/chat/completions"
            raise GenerationError(
                redact_text(f"{url}: no answer after {tries} tries: {problems[self.base_url]}")
            )
        detail = "; ".join(f"{base}: {problem}" for base, problem in problems.items())
        raise GenerationError(
            redact_text(f"no answer after {tries} tries from any of {', '.join(self.base_urls)}: {detail}")
        )


def _generation(payload: dict, params: SamplingParams) -> Generation:
    choice = payload["choices"][0]
    text = choice["message"].get("content") or ""
    finish = choice.get("finish_reason") or "stop"
    if finish == "stop":
        text = restore_stop(text, backend_stops(params))
    text = cut_at_stop(text, params)[0] if params.stop_after else text
    usage = payload.get("usage") or {}
    tokens = usage.get("completion_tokens")
    if tokens is None:
        tokens = len(text.split())  # a rough count from servers that send no usage
    return Generation(text, int(tokens), "length" if finish == "length" else "stop")


def restore_stop(text: str, stops: tuple[str, ...]) -> str:
    """Put back a closing-tag stop string that the server cut off.

    >>> restore_stop("<eval>ok</eval><answer>[[A]]", ("</answer>",))
    '<eval>ok</eval><answer>[[A]]</answer>'
    >>> restore_stop("<answer>[[A]]</answer> done", ("</answer>",))  # stopped at end of turn: as is
    '<answer>[[A]]</answer> done'
    """
    for stop in stops:
        if stop.startswith("</") and stop.endswith(">") and not text.endswith(stop):
            opening = "<" + stop[2:]
            if text.rfind(opening) > text.rfind(stop):
                return text + stop
    return text


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The server's own error message (OpenAI error shape or plain text), cut short."""
    try:
        raw = exc.read().decode("utf-8", "replace")
    except OSError:
        return exc.reason or ""
    try:
        payload = json.loads(raw)
        message = payload.get("error", payload)
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:500]
    except ValueError:
        return raw[:500]
