"""Rewards for training a reasoning reward model with GRPO: is the judge's final verdict the right one?

Each reward is a plain top-level function with trl 1.16's GRPOTrainer signature: it receives
``completions`` plus every extra dataset column (here ``label``) and trl's own keyword arguments
(``prompts``, ``completion_ids``, ``trainer_state``, ``log_metric``, ``log_extra``), and returns one
float per completion. trl logs each reward under the function's ``__name__``, so the names are the
metric names (``rewards/verdict_reward/mean``). Both rewards read outputs with ``parse_judgment``:
the train-time reward and the eval-time parser are the same code. Pure: imports neither torch nor
transformers.

Rewards for a *policy* from a pairwise judge live apart: ``rewards/adapters.py`` (swap-safe scores,
group adapters) and ``rewards/policy.py`` (the trl reward functions of ``rmr1 grpo``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmr1_cli.errors import DataError
from rmr1_cli.judging.verdicts import Judgment, judge_verdict, parse_judgment

# rmr1's parser, exactly RM-R1's RL reward (last 80 characters), or the trace's own marks (marks_verdict)
VERDICT_RULES = ("rmr1", "rm-r1-rl", "marks")

Completion = str | list[dict[str, Any]]


def completion_text(completion: Completion) -> str:
    """The text of one completion, in trl's standard (a string) or conversational (messages) form.

    Conversational completions join the string contents of their messages (normally one assistant
    message); messages without text content, such as tool calls, add nothing.

    >>> completion_text("<answer>[[A]]</answer>")
    '<answer>[[A]]</answer>'
    >>> completion_text([{"role": "assistant", "content": "<answer>[[B]]</answer>"}])
    '<answer>[[B]]</answer>'
    """
    if isinstance(completion, str):
        return completion
    return "\n".join(message["content"] for message in completion if isinstance(message.get("content"), str))


def verdict_reward(
    completions: Sequence[Completion],
    label: Sequence[str],
    *,
    after_think: bool = False,
    rule: str = "rmr1",
    **kwargs: Any,
) -> list[float]:
    """RM-R1's reward: +1.0 when the final verdict equals the label (the other verdict absent), else -1.0.

    ``label`` is the dataset column naming the slot, "A" or "B", that holds the preferred answer.
    Invalid outputs (no verdict, both verdicts, truncated) score -1.0, like wrong ones. ``after_think``
    is the judge template's ``thinks`` (the engine parses with the same flag); ``rule="rm-r1-rl"`` scores
    exactly as RM-R1's RL reward (``rm_r1_reward_verdict``), ``rule="marks"`` the verdict the trace's own
    marks give (``marks_verdict``: the reward then credits the solving and marking, not the last letter). When trl passes
    ``log_metric``, the batch's invalid-verdict rate is logged as ``verdict_reward/invalid_rate``.

    >>> verdict_reward(["<eval>B errs</eval><answer>[[A]]</answer>", "<answer>[[B]]</answer>"], ["A", "A"])
    [1.0, -1.0]
    >>> verdict_reward([[{"role": "assistant", "content": "<answer>[[B]]</answer>"}]], label=["B"], prompts=["p"])
    [1.0]
    >>> verdict_reward(["<answer>[[A]]</answer> <answer>[[B]]</answer>", "truncated <answer>[["], ["A", "B"])
    [-1.0, -1.0]
    >>> marked = "<eval><quote_A>1</quote_A> differs. <quote_B>2</quote_B> matches.</eval><answer>[[A]]</answer>"
    >>> verdict_reward([marked, marked], ["B", "A"], rule="marks")
    [1.0, -1.0]
    """
    if len(completions) != len(label):
        raise DataError(f"verdict_reward got {len(completions)} completions but {len(label)} labels")
    for row, slot in enumerate(label):
        if slot not in ("A", "B"):
            raise DataError(
                f"label of row {row} is {slot!r}; expected 'A' or 'B' (the slot of the preferred answer)"
            )
    if rule not in VERDICT_RULES:
        raise ValueError(f"verdict rule must be one of {VERDICT_RULES}, got {rule!r}")
    texts = [completion_text(completion) for completion in completions]
    verdicts = [judge_verdict(text, after_think=after_think, rule=rule).verdict for text in texts]
    log_metric = kwargs.get("log_metric")
    if callable(log_metric) and verdicts:
        log_metric("verdict_reward/invalid_rate", sum(v is None for v in verdicts) / len(verdicts))
    return [1.0 if verdict == slot else -1.0 for verdict, slot in zip(verdicts, label, strict=True)]


def format_reward(completions: Sequence[Completion], **kwargs: Any) -> list[float]:
    """Optional shaping term: how much of the Chain-of-Rubrics structure the output follows, 0.0 to 1.0.

    RM-R1 itself trains without it; see ``cor_structure_score`` for the credit rules.

    >>> format_reward(["<type>Reasoning</type><solution>4</solution><eval>A says 4</eval><answer>[[A]]</answer>",
    ...                [{"role": "assistant", "content": "<answer>[[A]]</answer>"}]])
    [1.0, 0.0]
    """
    return [cor_structure_score(parse_judgment(completion_text(completion))) for completion in completions]


def cor_structure_score(judgment: Judgment) -> float:
    """0.25 for each of: a recognised ``<type>``; the type's own section; a non-empty ``<eval>``; a valid verdict.

    The type's own section is a non-empty ``<solution>`` for Reasoning, or a non-empty ``<rubric>``
    holding a non-empty ``<justify>`` for Chat; the other type's section earns nothing. Without a
    recognised type the score is 0.0, since the type decides which structure is expected. Order of the
    sections is not scored beyond the verdict being in the final answer tag (the parser's rule).

    >>> cor_structure_score(parse_judgment("<type>chat</type><rubric>r</rubric><eval>e</eval>"))
    0.5
    >>> cor_structure_score(parse_judgment("<type>Reasoning</type><rubric>r<justify>j</justify></rubric>"))
    0.25
    """
    if judgment.task_type is None:
        return 0.0
    if judgment.task_type == "reasoning":
        own_section = bool(judgment.solution)
    else:
        own_section = bool(judgment.rubric) and bool(judgment.justify)
    parts = (True, own_section, bool(judgment.evaluation), judgment.valid)
    return sum(parts) / len(parts)
