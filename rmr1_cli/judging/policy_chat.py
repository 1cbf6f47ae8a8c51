"""Reading a policy's chat-templated text back into (question, response), for ``POST /get_reward``.

OpenRLHF sends each rollout as one string, the policy's chat template applied to the prompt followed
by the response, decoded with special tokens. The judge needs the question and the answer apart, so the
server learns two markers of the policy's template: what opens a user message (``user_start``) and
what opens the assistant's reply (``assistant_start``, the generation prompt). Either from a tokenizer
folder (``policy_tokenizer``: the markers are found by rendering probe conversations) or given as
strings (``policy_markers``). The question is the last user message; the response is what follows the
last ``assistant_start``, without end-of-turn, end-of-sequence or padding tokens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rmr1_cli.errors import ConfigError

_PROBE = ("\x00rmr1-u1\x00", "\x00rmr1-a1\x00", "\x00rmr1-u2\x00")


@dataclass(frozen=True)
class PolicyChat:
    """The markers of one chat template and the tokens that may trail a response."""

    user_start: str
    assistant_start: str
    trailing: tuple[str, ...] = ()

    @classmethod
    def from_tokenizer(cls, folder: str, *, trust_remote_code: bool = False) -> PolicyChat:
        """Find the markers by rendering probe conversations with the folder's chat template."""
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
            one = tok.apply_chat_template(
                [{"role": "user", "content": _PROBE[0]}], tokenize=False, add_generation_prompt=True
            )
            three = tok.apply_chat_template(
                [
                    {"role": "user", "content": _PROBE[0]},
                    {"role": "assistant", "content": _PROBE[1]},
                    {"role": "user", "content": _PROBE[2]},
                ],
                tokenize=False,
                add_generation_prompt=True,
            )
            answered = tok.apply_chat_template(
                [{"role": "user", "content": _PROBE[0]}, {"role": "assistant", "content": _PROBE[1]}],
                tokenize=False,
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"policy_tokenizer={folder}: cannot render its chat template ({exc})") from None
        before, after = one.split(_PROBE[0], 1)
        between = three.split(_PROBE[1], 1)[1].split(_PROBE[2], 1)[0]
        # what opens a user message: the part shared by the first turn's and a later turn's opening
        user_start = os.path.commonprefix([before[::-1], between[::-1]])[::-1]
        turn_end = answered.split(_PROBE[1], 1)[1].strip()
        trailing = tuple(t for t in (turn_end, tok.eos_token, tok.pad_token) if t)
        if not user_start.strip() or not after.strip():
            raise ConfigError(
                f"policy_tokenizer={folder}: its chat template has no markers rmr1 can split on; "
                "set policy_markers=[USER_START,ASSISTANT_START] instead"
            )
        return cls(user_start, after, trailing)

    @classmethod
    def from_markers(cls, markers: list[str]) -> PolicyChat:
        """``[user_start, assistant_start, *trailing]`` as written in the serve recipe."""
        if len(markers) < 2 or not all(isinstance(m, str) and m for m in markers):
            raise ConfigError(
                "policy_markers: give [USER_START, ASSISTANT_START, *END_TOKENS], e.g. "
                '["<|im_start|>user\\n", "<|im_end|>\\n<|im_start|>assistant\\n", "<|im_end|>"]'
            )
        return cls(markers[0], markers[1], tuple(markers[2:]))

    def split(self, query: str, prompt: str | None = None) -> tuple[str, str]:
        """(question, response) of one rollout; ValueError when the query has no assistant marker.

        With ``prompt`` (OpenRLHF's current client sends it) the response is what follows it in the
        query; otherwise what follows the last assistant marker.
        """
        if prompt and prompt in query:
            head, response = prompt, query[query.index(prompt) + len(prompt) :]
        else:
            cut = query.rfind(self.assistant_start)
            if cut < 0:
                raise ValueError(f"no {self.assistant_start!r} (the policy's assistant marker) in the query")
            head, response = query[:cut], query[cut + len(self.assistant_start) :]
        if head.endswith(self.assistant_start):
            head = head[: -len(self.assistant_start)]
        start = head.rfind(self.user_start)
        question = head[start + len(self.user_start) :] if start >= 0 else head
        return question.strip(), self.clean(response)

    def clean(self, response: str) -> str:
        """The response without the end-of-turn / end-of-sequence / padding tokens that trail it."""
        response = response.rstrip()
        changed = True
        while changed:
            changed = False
            for token in self.trailing:
                if token and response.endswith(token):
                    response = response[: -len(token)].rstrip()
                    changed = True
        return response.strip()
