"""Row layouts other tools write, read into rmr1's records without renaming a column in the file.

- trl preference rows: ``prompt`` + ``chosen``/``rejected`` as strings or message lists; without
  ``prompt``, the implicit-prompt layouts (conversations sharing their start, strings sharing a start,
  Anthropic HH ``Human:``/``Assistant:`` transcripts).
- RM-R1's released rows: ``context_messages`` (a system + user turn holding the whole judge prompt,
  both answers included) and ``winner``: ``model_a``/``model_b`` in its RL set, the judge's full trace in
  its distillation (SFT) set. Such prompts are trained on as they are.
- trl prompt-completion rows (``prompt`` + ``completion``) and ``messages`` rows, for ``sft``.

Multi-turn answers keep every turn: turns that both answers share become part of the conversation. A
prompt repeated at the start of both answers is stripped when the answers are message lists, and
refused when they are strings (where the boundary would be a guess).
"""

from __future__ import annotations

import re
from typing import Any

from rmr1_cli.data.records import Conversation, Message, check_messages, check_prompt, json_type
from rmr1_cli.errors import DataError

RM_R1_WINNERS = {"model_a": "A", "model_b": "B"}
_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


def reply_messages(value: Any, where: str) -> list[Message] | None:
    """An answer given as a message list ending with the assistant's reply; None for a plain string."""
    if isinstance(value, str):
        return None
    if not isinstance(value, list):
        raise DataError(f"{where} must be a string or a list of messages, got {json_type(value)}")
    messages = check_messages(value, where)
    if messages[-1]["role"] != "assistant":
        raise DataError(
            f"{where} must end with an assistant message, but the last message is from '{messages[-1]['role']}'"
        )
    return messages


def pair_texts(r) -> tuple[Conversation, str, str]:
    """Prompt, chosen and rejected from any trl preference layout; ``r`` is loading's row reader."""
    expected = "a string or a list of messages"
    chosen_value, rejected_value = r.value("chosen", expected), r.value("rejected", expected)
    chosen_messages = reply_messages(chosen_value, r.where("chosen"))
    rejected_messages = reply_messages(rejected_value, r.where("rejected"))
    if (chosen_messages is None) != (rejected_messages is None):
        raise DataError(
            f"{r.location}: '{r.name('chosen')}' and '{r.name('rejected')}' must both be strings or both "
            "message lists"
        )
    if chosen_messages is not None:
        prompt = check_prompt(r.row[r.name("prompt")], r.where("prompt")) if r.has("prompt") else None
        return _split_conversations(r, prompt, chosen_messages, rejected_messages)
    if r.has("prompt"):
        prompt = check_prompt(r.row[r.name("prompt")], r.where("prompt"))
        if isinstance(prompt, str) and prompt.strip():
            if chosen_value.startswith(prompt) and rejected_value.startswith(prompt):
                raise DataError(
                    f"{r.location}: both '{r.name('chosen')}' and '{r.name('rejected')}' start with the "
                    f"'{r.name('prompt')}' text, so the judge would see the prompt twice; remove it from "
                    f"the answers, or drop the '{r.name('prompt')}' column and rmr1 splits off their "
                    "shared start"
                )
        return prompt, chosen_value, rejected_value
    if chosen_value.lstrip(" ").startswith(("\n\nHuman:", "Human:")):
        return _split_transcripts(r, chosen_value, rejected_value)
    return _split_strings(r, chosen_value, rejected_value)


def _split_conversations(
    r, prompt: Conversation | None, chosen: list[Message], rejected: list[Message]
) -> tuple[Conversation, str, str]:
    """Conversational answers: strip a repeated prompt, move shared turns into the conversation."""
    if prompt is not None:
        head = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        if chosen[: len(head)] == head and rejected[: len(head)] == head:
            chosen, rejected = chosen[len(head) :], rejected[len(head) :]  # the prompt, repeated: stripped
        if not chosen or not rejected:
            raise DataError(f"{r.location}: an answer holds nothing but the prompt")
        if chosen[0]["role"] != "assistant" or rejected[0]["role"] != "assistant":
            raise DataError(
                f"{r.location}: '{r.name('chosen')}'/'{r.name('rejected')}' repeat part of "
                f"'{r.name('prompt')}' but not all of it; give each answer either the whole conversation "
                "or only what follows the prompt"
            )
    if chosen[:-1] != rejected[:-1]:
        if prompt is None:
            raise DataError(
                f"{r.location}: no '{r.name('prompt')}' field, and '{r.name('chosen')}' and "
                f"'{r.name('rejected')}' differ before their last message, so the prompt cannot be "
                f"split off; add a '{r.name('prompt')}' field"
            )
        raise DataError(
            f"{r.location}: '{r.name('chosen')}' and '{r.name('rejected')}' differ before their last "
            "message; rmr1 judges two replies to one conversation, so the earlier turns must be the same"
        )
    shared = chosen[:-1]
    if prompt is None:
        if not shared:
            raise DataError(
                f"{r.location}: missing field '{r.name('prompt')}' (expected a string or a list of "
                f"messages; it may be left out only when '{r.name('chosen')}' and '{r.name('rejected')}' "
                "are whole conversations)"
            )
        where = f"{r.location}: the conversation shared by '{r.name('chosen')}' and '{r.name('rejected')}'"
        return check_prompt(shared, where), chosen[-1]["content"], rejected[-1]["content"]
    if shared:  # multi-turn answers: every turn kept, in order
        head = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        where = f"{r.location}: the prompt followed by the turns the answers share"
        prompt = check_prompt(head + shared, where)
    return prompt, chosen[-1]["content"], rejected[-1]["content"]


def split_transcript(text: str) -> list[Message]:
    """An HH-RLHF transcript as messages.

    >>> split_transcript("\\n\\nHuman: Hi\\n\\nAssistant: Hello")
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]
    """
    parts = _HH_TURN.split(text if text.startswith("\n\n") else "\n\n" + text)
    roles = {"Human": "user", "Assistant": "assistant"}
    return [{"role": roles[parts[i]], "content": parts[i + 1]} for i in range(1, len(parts) - 1, 2)]


def _shared_length(a: str, b: str) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _split_transcripts(r, chosen: str, rejected: str) -> tuple[Conversation, str, str]:
    """HH transcripts: the conversation is the shared text up to its last ``Assistant:``."""
    shared = _shared_length(chosen, rejected)
    cut = chosen.rfind("\n\nAssistant:", 0, shared)
    if cut < 0:
        raise DataError(f"{r.location}: the transcripts share no 'Assistant:' turn to split a prompt at")
    start = cut + len("\n\nAssistant:")
    prompt = check_prompt(split_transcript(chosen[:cut]), f"{r.location}: the shared transcript")
    return prompt, chosen[start:].lstrip(" "), rejected[start:].lstrip(" ")


def _split_strings(r, chosen: str, rejected: str) -> tuple[Conversation, str, str]:
    """trl's implicit prompt for strings: the shared start, cut back to the last whitespace."""
    shared = _shared_length(chosen, rejected)
    while shared > 0 and not chosen[shared - 1].isspace():
        shared -= 1
    if shared == 0 or not chosen[:shared].strip():
        raise DataError(
            f"{r.location}: missing field '{r.name('prompt')}' (expected a string or a list of messages; "
            f"'{r.name('chosen')}' and '{r.name('rejected')}' share no start to split a prompt from)"
        )
    return chosen[:shared].rstrip(), chosen[shared:], rejected[shared:]


def rm_r1_prompt(r) -> list[Message]:
    """``context_messages``: the whole judge prompt (system + user), ending with the user turn."""
    value = r.value("context_messages", "a list of messages")
    if not isinstance(value, list):
        raise r.wrong("context_messages", "a list of messages (the whole judge prompt)")
    return check_prompt(value, r.where("context_messages"))  # type: ignore[return-value]


def rm_r1_label(r) -> str:
    """RM-R1's RL ``winner``, ``model_a``/``model_b``, as the slot "A"/"B"."""
    winner = r.value("winner", "model_a or model_b")
    if winner not in RM_R1_WINNERS:
        shown = repr(winner[:40]) if isinstance(winner, str) else json_type(winner)
        raise DataError(
            f"{r.where('winner')} must be 'model_a' or 'model_b' (RM-R1's RL layout), got {shown}"
        )
    return RM_R1_WINNERS[winner]


def sft_example(r) -> dict:
    """One SFT row in trl's conversational prompt-completion layout, from any trace layout.

    RM-R1 distillation rows (``context_messages`` + ``winner`` trace), trl prompt-completion rows and
    ``messages`` rows; preference rows and RM-R1's RL rows are refused with what to run instead.
    """
    row = r.row
    if "context_messages" in row:
        winner = row.get("winner")
        if winner in RM_R1_WINNERS:
            raise DataError(
                f"{r.location}: 'winner' is {winner!r}, a label: this is RM-R1's RL layout, which holds no "
                "judge trace to imitate; train on it with `rmr1 train-rm`"
            )
        trace = r.text("winner")
        return {"prompt": rm_r1_prompt(r), "completion": [{"role": "assistant", "content": trace}]}
    if "completion" in row:
        prompt = check_prompt(r.value("prompt", "a string or a list of messages"), r.where("prompt"))
        completion = row["completion"]
        if isinstance(completion, str):
            completion = [{"role": "assistant", "content": completion}]
        else:
            completion = reply_messages(completion, r.where("completion"))
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return {"prompt": messages, "completion": completion}
    if "chosen" in row or "rejected" in row:
        raise DataError(
            f"{r.location}: a preference pair ('chosen'/'rejected'), not a judge trace; train a judge on "
            "pairs with `rmr1 train-rm`, or write traces for them with `rmr1 distill`"
        )
    raise DataError(
        f"{r.location}: not a judge-trace row; expected 'messages', 'prompt' + 'completion', RM-R1's "
        "'context_messages' + 'winner', or trace sources ('prompt', 'answer_a', 'answer_b', 'label', 'trace')"
    )
