"""Range checks the recipe classes run on themselves (``__post_init__``), so a wrong value fails when the
recipe is loaded, before any model or trainer is imported.

A check raises ``FieldError`` naming the field; the loader (``loader.build``) adds the file and the
dotted path above it, so the user reads e.g. ``recipe.yaml: judge.samples: must be at least 1, got 0``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rmr1_cli.errors import ConfigError
from rmr1_cli.redaction import redact_text


class FieldError(ConfigError):
    """One field of one spec is out of range; ``key`` is the field, ``detail`` what is wrong with it."""

    def __init__(self, key: str, detail: str):
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.detail = detail


def require(condition: bool, key: str, detail: str) -> None:
    if not condition:
        raise FieldError(key, detail)


def at_least(spec: Any, low: float, *keys: str) -> None:
    """Each field is at least ``low``; a field that is None (an optional limit) passes.

    >>> from types import SimpleNamespace
    >>> at_least(SimpleNamespace(limit=0), 1, "limit")
    Traceback (most recent call last):
    rmr1_cli.config.checks.FieldError: limit: must be at least 1, got 0
    """
    for key in keys:
        value = getattr(spec, key)
        if value is not None and value < low:
            raise FieldError(key, f"must be at least {low}, got {value}")


def between(spec: Any, key: str, low: float, high: float, *, above_low: bool = False) -> None:
    """``low <= value <= high`` (``low < value`` with ``above_low``)."""
    value = getattr(spec, key)
    if value is None:
        return
    if (value <= low if above_low else value < low) or value > high:
        interval = f"{'(' if above_low else '['}{low:g}, {high:g}]"
        raise FieldError(key, f"must be in {interval}, got {value}")


def http_urls(value: str | list[str] | None, key: str) -> tuple[str, ...]:
    """The URLs of a field holding one URL, a list of them, or URLs separated by commas; each must be
    an http(s) URL with a host, and none may repeat.

    >>> http_urls(["http://a/v1", "https://b/v1"], "base_url")
    ('http://a/v1', 'https://b/v1')
    >>> http_urls("127.0.0.1:8000/v1", "base_url")
    Traceback (most recent call last):
    rmr1_cli.config.checks.FieldError: base_url: '127.0.0.1:8000/v1' is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    urls = tuple(str(url).strip() for url in items if str(url).strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FieldError(
                key, f"{redact_text(url)!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)"
            )
    repeated = sorted({url for url in urls if urls.count(url) > 1})
    if repeated:
        raise FieldError(key, f"lists {redact_text(repeated[0])} more than once")
    return urls
