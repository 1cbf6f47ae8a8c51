"""Judge prompt templates as files, selected by name (packaged) or by path (your own).

A template is a YAML file with ``name``, ``description``, ``parser``, ``system`` (optional) and ``user``;
a ``.txt`` file is the user text alone. Three placeholders are filled in, in ``system`` and ``user``:
``{conversation}``, ``{answer_a}`` and ``{answer_b}``; or, for per-chatbot blocks, ``{conversation_a}``
and ``{conversation_b}`` (each chatbot's whole conversation, its answer as the last turn, labelled as
the ``turns`` setting says). ``user_multi``/``system_multi`` are used instead of ``user``/``system``
when the conversation is more than one user turn; ``thinks: true`` makes the verdict count only after
``</think>`` (parser and stop alike). Substitution is one pass of exact token
replacement, not ``str.format``: answers full of braces (code, JSON) survive untouched, a placeholder
written inside an answer is not expanded, and any other ``{word}`` in a template stays literal text.
Templates are never chosen by sniffing a model's name; see README.md in this folder.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rmr1_cli.errors import ConfigError, DataError

PLACEHOLDERS = ("conversation", "answer_a", "answer_b")
BLOCK_PLACEHOLDERS = ("conversation_a", "conversation_b")
PARSERS = ("cor", "plain")
TEMPLATE_KEYS = (
    "name",
    "description",
    "parser",
    "thinks",
    "system",
    "user",
    "system_multi",
    "user_multi",
    "turns",
)
TURN_KEYS = ("system_label", "user_label", "assistant_label", "label_separator", "turn_separator")
DEFAULT_TURNS = {
    "system_label": "System",
    "user_label": "User",
    "assistant_label": "Chatbot {slot}",
    "label_separator": ": ",
    "turn_separator": "\n",
}

_PACKAGE_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{(conversation_a|conversation_b|conversation|answer_a|answer_b)\}")
_TURN_LABELS = {"system": "[System]", "user": "[User]", "assistant": "[Assistant]"}


@dataclass(frozen=True)
class JudgeTemplate:
    """One judge prompt; ``sha256`` (of the file's bytes) identifies it in caches and manifests."""

    name: str
    system: str
    user: str
    parser: str
    source: str
    sha256: str
    description: str = ""
    thinks: bool = False
    system_multi: str | None = None
    user_multi: str | None = None
    turns: tuple[tuple[str, str], ...] = tuple(DEFAULT_TURNS.items())

    def render(self, conversation: str | list[dict], answer_a: str, answer_b: str) -> list[dict]:
        """Chat messages for the judge: a system message when the template has one, then the user message.

        >>> t = JudgeTemplate("t", "", "Q: {conversation}\\nA: {answer_a}\\nB: {answer_b}", "plain", "-", "-")
        >>> t.render("2+2?", "{answer_b}", "def f(): return {}")
        [{'role': 'user', 'content': 'Q: 2+2?\\nA: {answer_b}\\nB: def f(): return {}'}]
        >>> b = JudgeTemplate("b", "", "[A]\\n{conversation_a}\\n[B]\\n{conversation_b}", "plain", "-", "-")
        >>> print(b.render("Hi", "Hello", "Hey")[0]["content"])
        [A]
        User: Hi
        Chatbot A: Hello
        [B]
        User: Hi
        Chatbot B: Hey
        """
        shown = render_conversation(conversation)  # also checks the conversation
        multi = not (isinstance(conversation, str) or len(conversation) == 1)
        values = {
            "conversation": shown,
            "answer_a": answer_a,
            "answer_b": answer_b,
            "conversation_a": self.block(conversation, answer_a, "A"),
            "conversation_b": self.block(conversation, answer_b, "B"),
        }
        system = self.system_multi if multi and self.system_multi is not None else self.system
        user = self.user_multi if multi and self.user_multi is not None else self.user
        messages = []
        if system:
            messages.append({"role": "system", "content": _fill(system, values)})
        messages.append({"role": "user", "content": _fill(user, values)})
        return messages

    def block(self, conversation: str | list[dict], answer: str, slot: str) -> str:
        """One chatbot's whole conversation, its answer as the last turn, with the template's turn labels."""
        turns = dict(self.turns)
        messages = (
            [{"role": "user", "content": conversation}] if isinstance(conversation, str) else conversation
        )
        labels = {
            "system": turns["system_label"],
            "user": turns["user_label"],
            "assistant": turns["assistant_label"].replace("{slot}", slot),
        }
        lines = [f"{labels[m['role']]}{turns['label_separator']}{m['content']}" for m in messages]
        lines.append(f"{labels['assistant']}{turns['label_separator']}{answer}")
        return turns["turn_separator"].join(lines)


def load_template(name_or_path: str) -> JudgeTemplate:
    """A packaged template by bare name ("cor", "think"), or any .yaml/.yml/.txt file by path."""
    if _is_bare_name(name_or_path):
        packaged = _PACKAGE_DIR / f"{name_or_path}.yaml"
        if not packaged.is_file():
            raise ConfigError(_unknown_name_message(name_or_path))
        return _load_file(packaged)
    path = Path(name_or_path).expanduser()
    if path.suffix not in (".yaml", ".yml", ".txt"):
        raise ConfigError(
            f"judge template {name_or_path!r}: expected a .yaml, .yml or .txt file, or one of "
            f"the packaged names {available_templates()}"
        )
    if not path.is_file():
        raise ConfigError(f"judge template file not found: {path}")
    return _load_file(path)


def available_templates() -> list[str]:
    """Names of the packaged templates.

    >>> {"cor", "think"} <= set(available_templates())
    True
    """
    return sorted(path.stem for path in _PACKAGE_DIR.glob("*.yaml"))


def render_conversation(conversation: str | list[dict]) -> str:
    """The conversation as the judge reads it.

    A string is shown as is, and so is a conversation of one user message. Longer conversations become
    a transcript with a label on each turn, a system message shown as context; the answers being
    judged reply to the last turn, which must be the user's.

    >>> render_conversation([{"role": "user", "content": "Hi"}])
    'Hi'
    >>> print(render_conversation([{"role": "system", "content": "Be brief."},
    ...                            {"role": "user", "content": "Hi"},
    ...                            {"role": "assistant", "content": "Hello!"},
    ...                            {"role": "user", "content": "Name a colour."}]))
    [System]
    Be brief.
    <BLANKLINE>
    [User]
    Hi
    <BLANKLINE>
    [Assistant]
    Hello!
    <BLANKLINE>
    [User]
    Name a colour.
    """
    if isinstance(conversation, str):
        return conversation
    if not isinstance(conversation, list) or not conversation:
        raise DataError(
            f"conversation must be a string or a non-empty list of messages, got {conversation!r:.200}"
        )
    for turn, message in enumerate(conversation):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise DataError(
                f"conversation turn {turn} must be a dict with 'role' and 'content', got {message!r:.200}"
            )
        if message["role"] not in _TURN_LABELS:
            raise DataError(
                f"conversation turn {turn} has role {message['role']!r}; "
                f"expected one of {sorted(_TURN_LABELS)}"
            )
        if not isinstance(message["content"], str):
            raise DataError(
                f"conversation turn {turn} content must be a string, got {type(message['content']).__name__}"
            )
    if conversation[-1]["role"] != "user":
        raise DataError(
            f"conversation must end with a user turn (the one both answers reply to), "
            f"but its last turn is {conversation[-1]['role']!r}"
        )
    if len(conversation) == 1:
        return conversation[0]["content"]
    return "\n\n".join(f"{_TURN_LABELS[message['role']]}\n{message['content']}" for message in conversation)


def _fill(text: str, values: dict[str, str]) -> str:
    """One pass of exact placeholder replacement; substituted text is never scanned again."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def _is_bare_name(name_or_path: str) -> bool:
    """'cor' is a name; 'cor.yaml', './cor' and 'dir/cor' are paths."""
    return "/" not in name_or_path and "\\" not in name_or_path and not Path(name_or_path).suffix


def _unknown_name_message(name: str) -> str:
    names = available_templates()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown judge template {name!r}{hint} Packaged templates: {', '.join(names)}. "
        f"To use your own file, give its path (ending .yaml, .yml or .txt)."
    )


def _load_file(path: Path) -> JudgeTemplate:
    """Read and check one template file; every problem is a ConfigError naming the file."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"judge template {path}: not UTF-8 text ({exc})") from exc
    if path.suffix == ".txt":
        fields = {"user": text}
    else:
        fields = _read_yaml_fields(path, text)
    system = fields.get("system") or ""
    user = fields.get("user") or ""
    parser = fields.get("parser", "plain")
    if parser not in PARSERS:
        raise ConfigError(f"judge template {path}: parser must be one of {list(PARSERS)}, got {parser!r}")
    if not user.strip():
        raise ConfigError(f"judge template {path}: the user text is empty")
    _check_placeholders(path, system, user, "user")
    if fields.get("user_multi") is not None:
        _check_placeholders(path, fields.get("system_multi") or system, fields["user_multi"], "user_multi")
    return JudgeTemplate(
        name=str(fields.get("name") or path.stem),
        system=system,
        user=user,
        parser=parser,
        source=str(path.resolve()),
        sha256=hashlib.sha256(raw).hexdigest(),
        description=str(fields.get("description") or ""),
        thinks=bool(fields.get("thinks") or False),
        system_multi=fields.get("system_multi"),
        user_multi=fields.get("user_multi"),
        turns=tuple({**DEFAULT_TURNS, **(fields.get("turns") or {})}.items()),
    )


def _check_placeholders(path: Path, system: str, user: str, key: str) -> None:
    """Both answers must be shown: {conversation}+{answer_a}+{answer_b}, or the two chatbot blocks."""
    text = system + user
    if all(f"{{{name}}}" in text for name in BLOCK_PLACEHOLDERS):
        return
    missing = [f"{{{name}}}" for name in PLACEHOLDERS if f"{{{name}}}" not in text]
    if missing:
        raise ConfigError(
            f"judge template {path}: missing placeholder {', '.join(missing)} in {key} "
            f"(a template shows {{conversation}}, {{answer_a}} and {{answer_b}}, or the per-chatbot "
            f"blocks {{conversation_a}} and {{conversation_b}})"
        )


def _read_yaml_fields(path: Path, text: str) -> dict:
    try:
        fields = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"judge template {path}: invalid YAML ({exc})") from exc
    if not isinstance(fields, dict):
        raise ConfigError(f"judge template {path}: expected a mapping with keys {list(TEMPLATE_KEYS)}")
    for key, value in fields.items():
        if key not in TEMPLATE_KEYS:
            close = difflib.get_close_matches(str(key), TEMPLATE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"judge template {path}: unknown key {key!r}{hint} Valid keys: {', '.join(TEMPLATE_KEYS)}"
            )
        if key == "thinks":
            if not isinstance(value, bool):
                raise ConfigError(f"judge template {path}: 'thinks' must be true or false")
        elif key == "turns":
            _check_turns(path, value)
        elif value is not None and not isinstance(value, str):
            raise ConfigError(f"judge template {path}: {key!r} must be text, got {type(value).__name__}")
    return fields


def _check_turns(path: Path, value: object) -> None:
    if not isinstance(value, dict):
        raise ConfigError(
            f"judge template {path}: 'turns' must be a mapping with keys {', '.join(TURN_KEYS)}"
        )
    for key, text in value.items():
        if key not in TURN_KEYS:
            raise ConfigError(
                f"judge template {path}: unknown turns key {key!r}; valid: {', '.join(TURN_KEYS)}"
            )
        if not isinstance(text, str):
            raise ConfigError(f"judge template {path}: turns.{key} must be text")
