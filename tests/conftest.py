"""Shared fixtures: one tiny model for the whole session, sample files, and a scripted generator."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from rmr1_cli.generation import Generation, Generator

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight tiny chat model (built once per test session, ~5 s)."""
    from rmr1_cli.training.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "model"
    return build_tiny_model(out, corpus_files=sorted(SAMPLES.glob("*.jsonl")), seed=0)


@pytest.fixture()
def in_tmp_cwd(tmp_path, monkeypatch) -> Path:
    """Run a test inside a fresh folder (stages write relative output paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- a scripted judge: the engine's tests run without a model ------------------------------------

_REPLY = re.compile(r"\[Start of Chatbot ([AB])'s reply\]\n(.*?)\n\[End of Chatbot \1's reply\]", re.S)


def replies(conversation: list[dict]) -> tuple[str, str]:
    """The texts shown as Chatbot A and Chatbot B in a rendered judge prompt."""
    found = dict(_REPLY.findall(conversation[-1]["content"]))
    return found.get("A", ""), found.get("B", "")  # ("", "") for a prompt that is not a judge prompt


def prefer(word: str):
    """A judge that picks the reply containing ``word`` (A when both or neither do)."""

    def judge(a: str, b: str, seed: int, params) -> str:
        slot = "B" if word in b and word not in a else "A"
        return f"<type>Chat</type><eval>...</eval><answer>[[{slot}]]</answer>"

    return judge


class ScriptedGenerator(Generator):
    """A Generator that answers with ``judge(reply_a, reply_b, seed, params)``; a token is a word.

    It records every batch it was handed (``batches``: the (A, B) texts of each row) and can sleep per
    batch (``delay``) so a test can kill a run mid-way.
    """

    def __init__(self, judge=None, *, batch_size: int = 4, context_length: int | None = None, delay=0.0):
        self.judge = judge or prefer("good")
        self.batch_size = batch_size
        self.context_length = context_length
        self.delay = delay
        self.identity = "scripted"
        self.batches: list[list[tuple[str, str]]] = []
        self.params: list = []

    def generate(self, conversations, params):
        import time

        if self.delay:
            time.sleep(self.delay)
        shown = [replies(c) for c in conversations]
        self.batches.append(shown)
        self.params.append(params)
        out = []
        for i, (a, b) in enumerate(shown):
            text = self.judge(a, b, params.seed_for(i), params)
            out.append(Generation(text, len(text.split()), "stop"))
        return out

    @property
    def rows(self) -> list[tuple[str, str]]:
        return [row for batch in self.batches for row in batch]

    def count_tokens(self, conversation):
        return sum(len(m["content"].split()) for m in conversation)

    def text_tokens(self, text):
        return len(text.split())

    def cut_text(self, text, max_tokens):
        return " ".join(text.split()[:max_tokens])


@pytest.fixture()
def scripted():
    return ScriptedGenerator


# Real stage runs that the report tests read (one set per test session, shared by every report test).
@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    from tests import stage_runs

    return stage_runs.fast_runs(tmp_path_factory)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_model_dir):
    from tests import stage_runs

    return stage_runs.trained_runs(tmp_path_factory, tiny_model_dir)


@pytest.fixture()
def serve_in_thread():
    """Start real ``rmr1 serve`` servers on 127.0.0.1 (a free port each) in threads, with a scripted
    judge unless a generator is given; every one is stopped after the test."""
    from rmr1_cli.config import ServeRecipe
    from rmr1_cli.judging.server import build_server

    started = []

    def start(generator=None, **settings):
        settings.setdefault("batch_wait_ms", 20)
        recipe = ServeRecipe(port=0, served_model_name="judge", **settings)
        server = build_server(recipe, generator or ScriptedGenerator(prefer("good")))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()
        server.generator.close()
