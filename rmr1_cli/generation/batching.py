"""A generator that many threads can share: their calls run on one worker thread, in shared batches.

``rmr1 serve`` answers HTTP requests on many threads while one model must never be called from two
threads at once; merging the calls that arrive together into one batch also keeps the model busy.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace

from rmr1_cli.generation.base import Generation, Generator, SamplingParams, generate_fitting


@dataclass
class _Job:
    conversations: list[list[dict]]
    params: SamplingParams
    future: Future


class BatchingGenerator(Generator):
    """Wraps a generator so that calls from many threads run on one worker thread, in shared batches.

    Calls with the same sampling settings that arrive within ``wait_s`` of each other are merged into
    one call of the inner generator (each row keeps its own seed). Prompts longer than the context
    allows come back as ``finish_reason="error"`` instead of reaching the model.
    """

    def __init__(self, inner: Generator, *, wait_s: float = 0.01, max_rows: int | None = None):
        self.inner = inner
        self.identity = inner.identity
        self.context_length = inner.context_length
        self.batch_size = getattr(inner, "batch_size", 16)
        self.wait_s = wait_s
        self.max_rows = max_rows or self.batch_size
        self.calls = 0  # inner generate calls (batches run)
        self._lock = threading.Lock()  # the model and its tokenizer, one user at a time
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="rmr1-model", daemon=True)
        self._worker.start()

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        if not conversations:
            return []
        job = _Job(list(conversations), params, Future())
        self._queue.put(job)
        return job.future.result()

    def count_tokens(self, conversation):
        with self._lock:
            return self.inner.count_tokens(conversation)

    def text_tokens(self, text):
        with self._lock:
            return self.inner.text_tokens(text)

    def cut_text(self, text, max_tokens):
        with self._lock:
            return self.inner.cut_text(text, max_tokens)

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)
        self.inner.close()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, rows = [job], len(job.conversations)
            deadline = time.monotonic() + self.wait_s
            stop = False
            while rows < self.max_rows:
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                rows += len(more.conversations)
            groups: dict[tuple, list[_Job]] = {}
            for j in jobs:
                p = j.params
                groups.setdefault((p.max_new_tokens, p.temperature, p.top_p, p.stop), []).append(j)
            for group in groups.values():
                self._run(group)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        convs = [c for j in jobs for c in j.conversations]
        seeds = tuple(j.params.seed_for(i) for j in jobs for i in range(len(j.conversations)))
        params = replace(jobs[0].params, seeds=seeds)
        try:
            with self._lock:
                gens = generate_fitting(self.inner, convs, params)
            self.calls += 1
        except BaseException as exc:  # the callers get the error; the worker lives on
            for j in jobs:
                j.future.set_exception(exc)
            return
        start = 0
        for j in jobs:
            j.future.set_result(gens[start : start + len(j.conversations)])
            start += len(j.conversations)
