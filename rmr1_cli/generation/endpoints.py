"""Spreading requests over several servers of one model (``generation.base_url`` as a list).

Each request takes the least busy server that is up (ties: the one sent the fewest requests, so servers
share the work evenly). A server that fails a request (no connection, a timeout, a 5xx, an unreadable
reply) is marked down for ``down_s`` seconds and the request is retried on another one; when every
server is down, a retry goes to the one that went down first (a probe), so a server that comes back is
used again. Which server answered is not part of any cache key: the servers must serve the same model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence


class Endpoints:
    """The base URLs of one model's servers, with how busy each is and which are down.

    >>> e = Endpoints(["http://a/v1", "http://b/v1"], clock=lambda: 0.0)
    >>> first, second = e.acquire(), e.acquire()
    >>> sorted([first, second])  # two requests at once: one per server
    ['http://a/v1', 'http://b/v1']
    >>> e.release(first, ok=False)  # that server failed: down for a while
    >>> e.acquire() == second and e.up() == [second]
    True
    """

    def __init__(
        self, urls: Sequence[str], *, down_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self.urls = tuple(url.rstrip("/") for url in urls)
        if not self.urls:
            raise ValueError("no base URL")
        self.down_s = down_s
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = dict.fromkeys(self.urls, 0)
        self.sent = dict.fromkeys(self.urls, 0)  # requests handed to each server (for logs and tests)
        self._down_until = dict.fromkeys(self.urls, float("-inf"))

    def up(self) -> list[str]:
        """The servers not marked down now."""
        with self._lock:
            now = self._clock()
            return [url for url in self.urls if self._down_until[url] <= now]

    def has_other(self, avoid: Collection[str]) -> bool:
        """Whether a server outside ``avoid`` is up (a retry can go there at once, without backing off)."""
        return any(url not in avoid for url in self.up())

    def acquire(self, avoid: Collection[str] = ()) -> str:
        """The server for the next request: the least busy one that is up, outside ``avoid`` when
        possible; when all are down, the one that went down first. Pair with ``release``."""
        with self._lock:
            now = self._clock()
            up = [url for url in self.urls if self._down_until[url] <= now]
            if up:
                pool = [url for url in up if url not in avoid] or up
                url = min(pool, key=lambda u: (self._busy[u], self.sent[u]))
            else:
                url = min(self.urls, key=lambda u: self._down_until[u])
            self._busy[url] += 1
            self.sent[url] += 1
            return url

    def release(self, url: str, *, ok: bool) -> None:
        """A request to ``url`` ended; ``ok=False`` marks the server down for ``down_s`` seconds, ``ok``
        marks it up again."""
        with self._lock:
            self._busy[url] -= 1
            self._down_until[url] = float("-inf") if ok else self._clock() + self.down_s
