"""Keeping credentials out of what rmr1 writes and prints: recipe.yaml, manifest.json, error lines.

A value is secret when its key names a credential (``hub_token``, ``api_key``, ``password``, ...) or
when it is the ``user:password@`` part of a URL. Keys that only *name* where a secret lives
(``api_key_env``) or count tokens (``max_new_tokens``, ``pad_token``) are not secrets.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_KEYS = {"token", "api_key", "apikey", "password", "passwd", "secret", "credentials"}
_SECRET_ENDINGS = ("hub_token", "auth_token", "access_token", "api_token", "_api_key", "_password", "_secret")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:/{1,2})(?P<userinfo>[^/@\s'\"]+)@")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def is_secret_key(key: str) -> bool:
    """Whether a setting's name says its value is a credential.

    >>> [is_secret_key(k) for k in ("hub_token", "trainer.hub_token", "api_key_env", "max_new_tokens")]
    [True, True, False, False]
    """
    name = key.rsplit(".", 1)[-1].lower()
    return name in _SECRET_KEYS or name.endswith(_SECRET_ENDINGS)


def redact_text(text: str) -> str:
    """Mask the credentials inside URLs and bearer headers of a message or a command-line argument.

    >>> redact_text("cannot reach http://me:pw@127.0.0.1:8000/v1")
    'cannot reach http://***@127.0.0.1:8000/v1'
    >>> redact_text("trainer.hub_token=hf_abc")
    'trainer.hub_token=***'
    """
    key, eq, _ = text.partition("=")
    if eq and " " not in key and is_secret_key(key):
        return f"{key}={MASK}"
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m[1]}{MASK}", text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of plain data (dicts, lists, strings) with every secret masked.

    >>> redact({"trainer": {"hub_token": "hf_x", "lr": 1}, "base_url": "http://a:b@h/v1"})
    {'trainer': {'hub_token': '***', 'lr': 1}, 'base_url': 'http://***@h/v1'}
    """
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if key and is_secret_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value
