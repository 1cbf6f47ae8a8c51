"""Checks of the JSON that clients send to ``rmr1 serve``: a mistake becomes a 4xx naming the field."""

from __future__ import annotations

import json
from typing import Any

from rmr1_cli.data import PreferencePair, check_messages, stable_id
from rmr1_cli.errors import DataError
from rmr1_cli.judging.records import PairResult


class RequestError(Exception):
    """A client mistake: answered with ``status`` and ``message``, the server carries on."""

    def __init__(self, status: int, message: str, code: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def messages(value: Any, where: str = '"messages"') -> list[dict]:
    """A conversation a client sent, checked by the one message check of ``data/records.py``."""
    try:
        return check_messages(value, where, text_parts=True)
    except DataError as exc:
        raise RequestError(400, str(exc)) from None


def integer(value: Any, name: str, low: int | None, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f'"{name}" must be an integer, got {json.dumps(value)[:50]}')
    if (low is not None and value < low) or (high is not None and value > high):
        raise RequestError(400, f'"{name}" must be between {low} and {high}, got {value}')
    return value


def number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(400, f'"{name}" must be a number, got {json.dumps(value)[:50]}')
    if not low <= value <= high:
        raise RequestError(400, f'"{name}" must be between {low:g} and {high:g}, got {value}')
    return float(value)


def stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > 4 or not all(isinstance(s, str) and s for s in value):
        raise RequestError(400, '"stop" must be a string or a list of up to 4 non-empty strings')
    return tuple(value)


def pair(row: Any, i: int) -> PreferencePair:
    where = f"pairs[{i}]"
    if not isinstance(row, dict):
        raise RequestError(400, f'{where} must be an object with "prompt", "chosen" and "rejected"')
    prompt = row.get("prompt")
    if isinstance(prompt, list):
        prompt = messages(prompt, f"{where}.prompt")
        if prompt[-1]["role"] != "user":
            raise RequestError(400, f"{where}.prompt must end with a user message")
    elif not isinstance(prompt, str):
        raise RequestError(400, f"{where}.prompt must be a string or a list of messages")
    for name in ("chosen", "rejected"):
        if not isinstance(row.get(name), str):
            raise RequestError(400, f"{where}.{name} must be a string")
    pair_id = row.get("id")
    if pair_id is None:
        pair_id = stable_id(prompt, row["chosen"], row["rejected"])
    elif isinstance(pair_id, bool) or not isinstance(pair_id, str | int):
        raise RequestError(400, f"{where}.id must be a string or an integer")
    subset = row.get("subset")
    return PreferencePair(
        id=str(pair_id),
        prompt=prompt,
        chosen=row["chosen"],
        rejected=row["rejected"],
        subset=subset if isinstance(subset, str) else None,
    )


def result_row(result: PairResult, with_texts: bool) -> dict:
    row = result.to_row()
    row["judgments"] = [
        {
            "order": j.order,
            "sample": j.sample,
            "verdict": j.verdict,
            "picked": j.picked,
            "valid": j.valid,
            "reason": j.reason,
            "task_type": j.task_type,
            "num_tokens": j.num_tokens,
            "finish_reason": j.finish_reason,
            **({"text": j.text} if with_texts else {}),
        }
        for j in result.judgments
    ]
    return row


# chat-completion parameters rmr1 serve does not implement: refused, never silently ignored
UNSUPPORTED = (
    "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "response_format",
    "tools", "tool_choice", "functions", "function_call", "parallel_tool_calls", "audio", "modalities",
    "prediction", "reasoning_effort", "web_search_options", "best_of", "echo", "suffix",
)  # fmt: skip
_NEUTRAL = {  # values that ask for nothing beyond what the server does anyway
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "response_format": (None, {"type": "text"}),
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "parallel_tool_calls": (None,),
}
# sent by OpenAI clients and harmless to ignore
IGNORED = ("user", "metadata", "store", "service_tier", "stream_options")
CHAT_FIELDS = ("model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
               "seed", "n", "stream")  # fmt: skip


def unsupported_parameters(body: dict) -> None:
    """400 naming the first parameter the server would otherwise ignore (OpenAI semantics or nothing)."""
    for name, value in body.items():
        if name in CHAT_FIELDS or name in IGNORED:
            continue
        if name in _NEUTRAL and any(value == v and type(value) is type(v) for v in _NEUTRAL[name]):
            continue
        if name in UNSUPPORTED:
            raise RequestError(
                400,
                f'"{name}" is not supported by rmr1 serve; remove it from the request',
                "unsupported_parameter",
            )
        raise RequestError(400, f'unknown parameter "{name}"; rmr1 serve takes {", ".join(CHAT_FIELDS)}',
                           "unsupported_parameter")  # fmt: skip


def reward_request(body: dict, limit: int) -> tuple[list[str], list[str] | None, list[Any] | None]:
    """``/get_reward``: OpenRLHF's ``{"query", "prompts"?, "labels"?}``, each a list of the same length."""
    queries = body.get("query")
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise RequestError(400, '"query" must be a list of strings (prompt + response, chat-templated)')
    if len(queries) > limit:
        raise RequestError(413, f"{len(queries)} queries in one request; the limit is {limit}: split it")
    out = []
    for name in ("prompts", "labels"):
        value = body.get(name)
        if value is not None and (not isinstance(value, list) or len(value) != len(queries)):
            raise RequestError(400, f'"{name}" must be a list as long as "query" ({len(queries)})')
        out.append(value)
    if out[0] is not None and not all(isinstance(p, str) for p in out[0]):
        raise RequestError(400, '"prompts" must be a list of strings')
    return queries, out[0], out[1]
