"""A scripted stand-in for a model: ``generate`` answers each conversation with a function of it.

Lets stage logic (distill passes, refine selection, judge parsing) be tested on fixed outputs,
with no model loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from rmr1_cli.generation import Generation, Generator, SamplingParams


class ScriptedGenerator(Generator):
    """``reply(conversation) -> text``; records every conversation it was asked."""

    def __init__(self, reply: Callable[[list[dict]], str], identity: str = "scripted"):
        self.reply = reply
        self.identity = identity
        self.batch_size = 4
        self.calls: list[list[dict]] = []

    def generate(self, conversations: list[list[dict]], params: SamplingParams) -> list[Generation]:
        self.calls.extend(conversations)
        return [Generation(self.reply(c), 10, "stop") for c in conversations]


def last_user(conversation: list[dict]) -> str:
    return [m["content"] for m in conversation if m["role"] == "user"][-1]
