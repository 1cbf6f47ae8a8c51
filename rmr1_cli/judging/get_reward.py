"""``POST /get_reward``: OpenRLHF's remote reward model on ``rmr1 serve`` (docs/judging.md).

OpenRLHF (openrlhf/utils/remote_rm_utils.py) posts ``{"query", "prompts", "labels"}`` (older versions:
``query`` only) and reads ``rewards``; ``scores`` and per-sample ``extra_logs`` are the current shape.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rmr1_cli.generation import SamplingParams
from rmr1_cli.judging import request_checks as check
from rmr1_cli.judging.request_checks import RequestError
from rmr1_cli.rewards.reference import score_against_references

if TYPE_CHECKING:
    from rmr1_cli.judging.server import JudgeServer


def get_reward(server: JudgeServer, body: dict) -> dict:
    """OpenRLHF's remote reward: each query split into question and response with the policy's chat
    template, judged in both orders against its reference (docs/judging.md, "/get_reward")."""
    if server.policy_chat is None:
        raise RequestError(
            400,
            "/get_reward needs the policy's chat template: start rmr1 serve with "
            "policy_tokenizer=PATH (the policy's model or tokenizer folder) or policy_markers=[...]",
        )
    queries, prompts, labels = check.reward_request(body, server.recipe.max_pairs_per_request)
    questions, responses = [], []
    for i, query in enumerate(queries):
        try:
            question, response = server.policy_chat.split(query, prompts[i] if prompts else None)
        except ValueError as exc:
            raise RequestError(400, f"query[{i}]: {exc}") from None
        questions.append(question)
        responses.append(response)
    references = _references(server, questions, labels)
    scores = score_against_references(
        server.request_engine(), questions, responses, references, description="serving /get_reward"
    )
    rewards = [s.score for s in scores]
    return {
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": {  # per sample, as OpenRLHF averages them into its logs
            "judge_swap_flip": [float(s.flipped) for s in scores],
            "judge_invalid_rate": [s.invalid_rate for s in scores],
        },
    }


def _references(server: JudgeServer, questions: list[str], labels: list | None) -> list[str]:
    rule, key = server.recipe.reward_reference, server.recipe.reward_label_key
    if rule == "judge_answer":
        return _judge_answers(server, questions)
    if labels is None:
        raise RequestError(
            400,
            '"labels" (the reference answers) are missing: send them, or start rmr1 serve with '
            "reward_reference=judge_answer (the judge answers each question itself)",
        )
    out = []
    for i, label in enumerate(labels):
        if key is not None:
            try:
                label = (json.loads(label) if isinstance(label, str) else label)[key]
            except (ValueError, TypeError, KeyError):
                raise RequestError(400, f"labels[{i}] has no {key!r} (reward_label_key)") from None
        if not isinstance(label, str) or not label:
            raise RequestError(400, f"labels[{i}] must be a non-empty string (the reference answer)")
        out.append(label)
    return out


def _judge_answers(server: JudgeServer, questions: list[str]) -> list[str]:
    """The judge's own greedy answer to each question, generated once per question."""
    with server.judge_answers_lock:
        todo = sorted({q for q in questions if q not in server.judge_answers})
    if todo:
        params = SamplingParams(max_new_tokens=server.recipe.judge.generation.max_new_tokens, temperature=0.0)
        gens = server.generator.generate([[{"role": "user", "content": q}] for q in todo], params)
        with server.judge_answers_lock:
            server.judge_answers.update({q: g.text.strip() for q, g in zip(todo, gens, strict=True)})
    return [server.judge_answers[q] for q in questions]
