"""The record types every stage passes around, and the one check of a message list.

Messages are reduced to ``{"role", "content"}`` with string content: the judge renders text only. The
same check serves data files (``DataError`` naming file, row and field) and requests to ``rmr1 serve``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rmr1_cli.errors import DataError

Message = dict[str, str]  # {"role": ..., "content": ...}
Conversation = str | list[Message]  # a plain prompt, or a conversation ending with a user turn

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a better (``chosen``) and a worse (``rejected``) answer."""

    id: str
    prompt: Conversation
    chosen: str
    rejected: str
    subset: str | None = None
    meta: dict = field(default_factory=dict)  # every other column of the row, kept for the output files

    def to_row(self) -> dict:
        """The row as written back to a file: the canonical columns always (null included), then ``meta``."""
        row = {
            "id": self.id,
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "subset": self.subset,
        }
        row.update((key, value) for key, value in self.meta.items() if key not in row)
        return row


@dataclass(frozen=True)
class PromptRecord:
    """A prompt for policy GRPO or refinement, with an optional reference answer and exact final answer."""

    id: str
    prompt: Conversation
    reference: str | None = None  # a good answer, for judging rollouts against it
    answer: str | None = None  # the exact final answer where the task has one ("42"), for a verifiable reward
    meta: dict = field(default_factory=dict)

    def to_row(self) -> dict:
        """The row as written back to a file: the canonical columns always (null included), then ``meta``."""
        row = {"id": self.id, "prompt": self.prompt, "reference": self.reference, "answer": self.answer}
        row.update((key, value) for key, value in self.meta.items() if key not in row)
        return row


def as_messages(conversation: Conversation) -> list[Message]:
    """A conversation as a message list: a plain prompt becomes one user turn.

    Chat templates and ``datasets`` need one shape per column (a column mixing strings and lists
    cannot become an Arrow table), so stages call this before building a Dataset.

    >>> as_messages("Hi")
    [{'role': 'user', 'content': 'Hi'}]
    >>> as_messages([{"role": "user", "content": "Hi"}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(conversation, str):
        return [{"role": "user", "content": conversation}]
    return [dict(message) for message in conversation]


def stable_id(*parts: Any) -> str:
    """A short id from content, the same on every run and machine (sha1 of the parts as JSON, 16 hex).

    >>> stable_id("What is 2+2?", "4", "5")
    '8c11ce2be1e67467'
    >>> stable_id("ab", "c") == stable_id("a", "bc")
    False
    """
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def unencodable(value: Any, where: str = "") -> str | None:
    r"""The path of the first string that is not valid Unicode (a lone surrogate such as ``"\ud800"``
    is valid JSON but cannot be written as UTF-8, so it would fail later, in a model or an output file).

    >>> unencodable({"prompt": "ok", "chosen": ["a", chr(0xD800)]})
    'chosen[1]'
    >>> unencodable({"prompt": "ok"}) is None
    True
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
        return None
    if isinstance(value, dict):
        items = ((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for inner, item in items:
        found = unencodable(item, inner)
        if found is not None:
            return found
    return None


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for error messages.

    >>> [json_type(v) for v in (None, True, 3, 1.5, "x", [1], {})]
    ['null', 'bool', 'int', 'float', 'string', 'list', 'object']
    """
    names = {type(None): "null", bool: "bool", str: "string", list: "list", dict: "object"}
    return names.get(type(value), type(value).__name__)


def check_messages(
    value: Any, where: str, *, roles: Sequence[str] = ROLES, text_parts: bool = False
) -> list[Message]:
    """Check a message list and reduce each message to role and content; DataError names ``where``.

    ``text_parts`` accepts OpenAI-style content parts (``[{"type": "text", "text": ...}]``), joined into
    one string; any other part is refused, since the judge reads text only.

    >>> check_messages([{"role": "user", "content": "Hi", "name": "x"}], "prompt")
    [{'role': 'user', 'content': 'Hi'}]
    >>> check_messages([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "m", text_parts=True)
    [{'role': 'user', 'content': 'Hi'}]
    >>> check_messages([{"role": "tool", "content": "42"}], "messages", roles=("user", "assistant"))
    Traceback (most recent call last):
    rmr1_cli.errors.DataError: messages: message 0 has role 'tool'; expected one of user, assistant
    """
    if not isinstance(value, list):
        raise DataError(f"{where} must be a list of messages, got {json_type(value)}")
    if not value:
        raise DataError(f"{where} is an empty conversation")
    messages = []
    for number, message in enumerate(value):
        if not isinstance(message, dict):
            raise DataError(
                f"{where}: message {number} must be an object with 'role' and 'content', "
                f"got {json_type(message)}"
            )
        role, content = message.get("role"), message.get("content")
        if role not in roles:
            got = "no role" if role is None else f"role {role!r}"
            raise DataError(f"{where}: message {number} has {got}; expected one of {', '.join(roles)}")
        if text_parts and isinstance(content, list):
            if not all(
                isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                for part in content
            ):
                raise DataError(
                    f"{where}: message {number} ('{role}'): only text content parts are supported"
                )
            content = "".join(part["text"] for part in content)
        if not isinstance(content, str):
            raise DataError(
                f"{where}: message {number} ('{role}') must have string 'content', got {json_type(content)}"
            )
        messages.append({"role": role, "content": content})
    return messages


def check_prompt(value: Any, where: str, *, roles: Sequence[str] = ROLES) -> Conversation:
    """A prompt: a string, or a message list whose last turn is the user's (the model answers next).

    >>> check_prompt("Hi", "prompt")
    'Hi'
    >>> check_prompt([{"role": "assistant", "content": "Hello"}], "prompt")
    Traceback (most recent call last):
    rmr1_cli.errors.DataError: prompt must end with a user message, but the last message is from 'assistant'
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise DataError(f"{where} must be a string or a list of messages, got {json_type(value)}")
    messages = check_messages(value, where, roles=roles)
    if messages[-1]["role"] != "user":
        raise DataError(
            f"{where} must end with a user message, but the last message is from '{messages[-1]['role']}'"
        )
    return messages
