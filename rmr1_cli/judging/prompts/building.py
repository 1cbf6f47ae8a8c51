"""``rmr1 template``: write a judge template file from prompt strings in your own copy of a released prompt.

rmr1 ships no third-party prompt text. A user who wants a published checkpoint's exact prompt points
this at the file holding it: a Python source (module-level string constants, ``"a" "b"`` and ``+``
concatenations, names of other constants, and lists of ``{"role", "content"}`` messages are evaluated
without running the file) or a ``.json`` object of such values; a selector may also be a ``.txt`` file
holding one string. ``str.format`` placeholders are mapped to rmr1's: ``{question}`` -> ``{conversation}``,
``{conversation_1}``/``{conversation_2}`` -> ``{conversation_a}``/``{conversation_b}``, and ``{{``/``}}``
become single braces in the user text (the only text the released code formats), so the rendered prompt is byte for byte what the source's ``.format`` gives.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import yaml

from rmr1_cli.errors import ConfigError

RENAMES = {
    "question": "conversation",
    "conversation_1": "conversation_a",
    "conversation_2": "conversation_b",
    "answer_a": "answer_a",
    "answer_b": "answer_b",
}
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_values(source: Path) -> dict[str, Any]:
    """Named string / message-list values of a Python source (evaluated, not run) or a JSON object."""
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".json":
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object of name -> prompt string or messages")
        return values
    try:
        tree = ast.parse(text, filename=str(source))
    except SyntaxError as exc:
        raise ConfigError(f"{source}: not valid Python ({exc.msg}, line {exc.lineno})") from None
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = _evaluate(node.value, values)
            except ValueError:
                continue  # not a plain constant (a call, an f-string): not a prompt string
    return values


def _evaluate(node: ast.AST, known: dict[str, Any]) -> Any:
    """Strings, + of strings, names already read, lists/tuples/dicts of these; nothing else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _evaluate(node.left, known), _evaluate(node.right, known)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return [_evaluate(item, known) for item in node.elts]
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_evaluate(k, known): _evaluate(v, known) for k, v in zip(node.keys, node.values, strict=True)}
    raise ValueError("not a constant")


def select(values: dict[str, Any], selector: str) -> tuple[str, str]:
    """(system, user) for a selector: a name holding a message list or a user string, or a .txt path."""
    if selector.endswith(".txt"):
        path = Path(selector)
        if not path.is_file():
            raise ConfigError(f"{selector}: no such file")
        return "", path.read_text(encoding="utf-8")
    if selector not in values:
        names = ", ".join(sorted(k for k, v in values.items() if isinstance(v, str | list))[:20])
        raise ConfigError(f"no prompt named {selector!r} in the source; it holds: {names}")
    value = values[selector]
    if isinstance(value, str):
        return "", value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        by_role = {m.get("role"): m["content"] for m in value}
        if "user" not in by_role:
            raise ConfigError(f"{selector}: a message list without a user message")
        return by_role.get("system", ""), by_role["user"]
    raise ConfigError(f"{selector}: expected a prompt string or a list of messages")


def to_template_text(text: str, where: str) -> str:
    """``str.format`` text -> rmr1 template text (placeholders renamed, doubled braces undone).

    >>> to_template_text("Q: {question} {{x}}", "user")
    'Q: {conversation} {x}'
    """

    def swap(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name not in RENAMES:
            raise ConfigError(f"{where}: unknown placeholder {{{name}}}; known: {', '.join(RENAMES)}")
        return "{" + RENAMES[name] + "}"

    return _FORMAT_FIELD.sub(swap, text)


def build_template(
    source: Path | None,
    single: str,
    multi: str | None = None,
    *,
    name: str = "released",
    parser: str = "cor",
    thinks: bool = False,
    user_label: str = "User",
    assistant_label: str = "Chatbot {slot}",
) -> dict[str, Any]:
    """The template's fields, ready to write as YAML."""
    values = read_values(source) if source is not None else {}
    system, user = select(values, single)
    fields: dict[str, Any] = {
        "name": name,
        "description": f"built by `rmr1 template` from {source or single}",
        "parser": parser,
        "thinks": thinks,
        "system": system or None,  # the released code formats only the user turn: system text is literal
        "user": to_template_text(user, "user"),
    }
    if multi:
        system_multi, user_multi = select(values, multi)
        if system_multi != system:
            fields["system_multi"] = system_multi
        fields["user_multi"] = to_template_text(user_multi, "user_multi")
        fields["turns"] = {
            "user_label": user_label,
            "assistant_label": assistant_label,
            "label_separator": ": ",
            "turn_separator": "\n",
        }
    return {key: value for key, value in fields.items() if value is not None}


def write_template(fields: dict[str, Any], out: Path) -> Path:
    """Write the YAML and load it back through the template loader (which checks it)."""
    from rmr1_cli.judging.prompts import load_template

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=10**9), encoding="utf-8")
    load_template(str(out))
    return out
