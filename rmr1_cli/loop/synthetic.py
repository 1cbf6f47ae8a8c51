"""A verifiable synthetic domain, written as prompts, preference pairs and gold traces, so that
learning can be measured on a CPU (``rmr1 synth``). The arithmetic itself is ``loop/arithmetic.py``.

Pure Python and deterministic from a seed: the same recipe writes the same files on every machine.

- Train and test prompts are disjoint expressions (``test_problems: shared`` draws both from the same
  facts).
- A *pair* puts the correct answer (chosen) against a plausible wrong one (rejected); ``subset`` names
  the mistake. Gold-trace labels alternate A/B per mistake type.
- The *length bias* is the probability that the chosen answer is the verbose (longer) one: a
  scalar reward model trained on ``length_bias: 0.9`` pairs can score well by preferring length, and
  then fails on test pairs written with ``test_length_bias: 0`` (the longer answer always wrong).
  ``same_style_share`` writes that share of the train (and iid) pairs with both answers concise: no
  length cue at all, like two answers of one policy, which is what a judge sees as a GRPO reward.
- ``pairs_test_concise`` (and ``pairs_train_concise``) restyle every test (train) pair with both answers
  concise: the same right and wrong workings, no length cue. ``pairs_train_concise`` is the hard-case
  file for RLVR; ``pairs_test_concise`` measures a judge where a policy's own rollouts put it.
- ``space_after_solution`` writes ``</solution> <eval>`` in the gold traces (for byte-level BPE
  tokenizers, which merge ``><``: see ``arithmetic.gold_trace``).
- ``traces_both_orders`` writes each train pair's gold trace in both A/B slots (the second with the
  label swapped), so that SFT never sees a verdict that position alone could predict.
- ``column_solution`` writes the gold traces' own solution column by column (``arithmetic.column_working``)
  instead of in the answers' words: the judge then computes its solution from the question's digits
  rather than copying one of the results it is shown. Only the traces change; every pair file is the same.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from rmr1_cli.errors import ConfigError
from rmr1_cli.loop.arithmetic import (
    ERRORS,
    OPS,
    QUESTIONS,
    Problem,
    Working,
    all_problems,
    gold_trace,
    render_answer,
    wrong_working,
)

# ----------------------------------------------------------------------------------------------------
# The whole domain


def generate(
    *,
    seed: int,
    ops: Sequence[str],
    max_operand: int,
    max_factor: int,
    train_prompts: int,
    test_prompts: int,
    errors: Sequence[str],
    pairs_per_prompt: int,
    length_bias: float,
    test_length_bias: float,
    test_problems: str = "disjoint",
    same_style_share: float = 0.0,
    traces_both_orders: bool = False,
    space_after_solution: bool = False,
    column_solution: bool = False,
) -> dict[str, list[dict]]:
    """Every file of the domain as rows: prompts, pairs and traces per split (see ``stages/synth.py``).

    Keys: ``prompts_train``, ``prompts_test``, ``pairs_train``, ``pairs_test`` (test_length_bias),
    ``pairs_test_iid`` (the same test pairs written with the train ``length_bias``),
    ``pairs_test_concise`` / ``pairs_train_concise`` (the same pairs with both answers concise),
    ``traces_train`` (one gold trace per train pair, in its ``ab_slot``; with ``traces_both_orders``
    two, the second in the other slot) and ``policy_sft_train`` (prompt + reference as ``messages``,
    to warm-start a policy).
    """
    _check(ops, errors, pairs_per_prompt, length_bias, test_length_bias)
    if not 0.0 <= same_style_share <= 1.0:
        raise ConfigError(f"same_style_share={same_style_share}: must be between 0 and 1")
    if test_problems == "shared":  # each split cycles through every problem in its own shuffled order
        test = _cycle_problems(ops, max_operand, max_factor, test_prompts, f"{seed}:test")
        train = _cycle_problems(ops, max_operand, max_factor, train_prompts, f"{seed}:train")
    else:
        problems = _draw_problems(ops, max_operand, max_factor, train_prompts + test_prompts, seed)
        test, train = problems[:test_prompts], problems[test_prompts:]

    out: dict[str, list[dict]] = {}
    for name, chosen in (("train", train), ("test", test)):
        split_rng = random.Random(f"{seed}:{name}")
        prompts = [_prompt_row(name, i, p, split_rng) for i, p in enumerate(chosen)]
        plans = [_plan_pairs(p, errors, pairs_per_prompt, split_rng) for p in chosen]
        out[f"prompts_{name}"] = prompts
        if name == "train":
            out["pairs_train"] = _pairs(
                prompts, chosen, plans, length_bias, f"{seed}:train:pairs", same_style_share
            )
            out["pairs_train_concise"] = _pairs(
                prompts, chosen, plans, length_bias, f"{seed}:train:pairs", 1.0
            )
        else:
            out["pairs_test"] = _pairs(prompts, chosen, plans, test_length_bias, f"{seed}:test:pairs")
            out["pairs_test_iid"] = _pairs(
                prompts, chosen, plans, length_bias, f"{seed}:test:pairs", same_style_share
            )
            out["pairs_test_concise"] = _pairs(prompts, chosen, plans, length_bias, f"{seed}:test:pairs", 1.0)
    problem_of = {row["id"]: p for row, p in zip(out["prompts_train"], train, strict=True)}
    out["traces_train"] = [
        row
        for pair in out["pairs_train"]
        for row in _trace_rows(
            pair, problem_of[pair["prompt_id"]], traces_both_orders, space_after_solution, column_solution
        )
    ]
    out["policy_sft_train"] = [
        {
            "id": row["id"],
            "messages": [
                {"role": "user", "content": row["prompt"]},
                {"role": "assistant", "content": row["reference"]},
            ],
        }
        for row in out["prompts_train"]
    ]
    return out


def _draw_problems(
    ops: Sequence[str], max_operand: int, max_factor: int, needed: int, seed: int
) -> list[Problem]:
    """``needed`` distinct problems, taking the operations in turn so each is about equally common
    (an operation whose problems run out drops out of the turn)."""
    rng = random.Random(seed)
    pools = []
    for op in dict.fromkeys(ops):
        pool = all_problems([op], max_operand, max_factor)
        rng.shuffle(pool)
        pools.append(pool)
    available = sum(len(pool) for pool in pools)
    if needed > available:
        raise ConfigError(
            f"synth: {needed} prompts asked for (train_prompts + test_prompts) but ops={list(ops)} with "
            f"max_operand={max_operand}, max_factor={max_factor} allow only {available} distinct "
            "problems; ask for fewer or widen the ranges"
        )
    drawn: list[Problem] = []
    while len(drawn) < needed:
        for pool in pools:
            if pool and len(drawn) < needed:
                drawn.append(pool.pop())
    return drawn


def _cycle_problems(
    ops: Sequence[str], max_operand: int, max_factor: int, needed: int, seed: str
) -> list[Problem]:
    """``needed`` problems that repeat only after every allowed problem has come once."""
    rng = random.Random(seed)
    pool = all_problems(list(dict.fromkeys(ops)), max_operand, max_factor)
    drawn: list[Problem] = []
    while len(drawn) < needed:
        rng.shuffle(pool)
        drawn += pool[: needed - len(drawn)]
    return drawn


def _check(ops, errors, pairs_per_prompt, length_bias, test_length_bias) -> None:
    if not ops:
        raise ConfigError(f"ops: give at least one of {', '.join(OPS)}")
    if not errors:
        raise ConfigError(f"errors: give at least one of {', '.join(ERRORS)}")
    for error in errors:
        if error not in ERRORS:
            raise ConfigError(f"errors: unknown error type {error!r}; choose from {', '.join(ERRORS)}")
    if pairs_per_prompt < 1:
        raise ConfigError("pairs_per_prompt must be at least 1")
    for key, value in (("length_bias", length_bias), ("test_length_bias", test_length_bias)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key} must be a probability in [0, 1], got {value}")


def _prompt_row(split: str, index: int, problem: Problem, rng: random.Random) -> dict:
    reference = render_answer(Working(problem.steps, problem.value), verbose=False, rng=rng)
    return {
        "id": f"arith-{split}-{index:04d}",
        "prompt": rng.choice(QUESTIONS).format(expr=problem.expr),
        "reference": reference,
        "answer": str(problem.value),
        "subset": _op_name(problem),
    }


def _op_name(problem: Problem) -> str:
    if len(problem.steps) == 2:
        return "two_step"
    return {"+": "add", "-": "sub", "*": "mul"}[problem.symbols[0]]


def _plan_pairs(
    problem: Problem, errors: Sequence[str], per_prompt: int, rng: random.Random
) -> list[tuple[str, Working]]:
    """Up to ``per_prompt`` distinct mistakes for one problem (distinct error types and wrong values)."""
    order = list(errors)
    rng.shuffle(order)
    plans, values = [], set()
    for error in order:
        working = wrong_working(problem, error, rng)
        if working is not None and working.value not in values:
            plans.append((error, working))
            values.add(working.value)
        if len(plans) == per_prompt:
            break
    return plans


def _pairs(
    prompts: list[dict],
    problems: list[Problem],
    plans: list[list],
    length_bias: float,
    seed: str,
    same_style_share: float = 0.0,
) -> list[dict]:
    """Pairs with styles drawn from their own seed, so two biases give the same pairs restyled.

    The both-concise draws come from a second stream, so ``same_style_share: 0`` leaves every other
    pair exactly as it was.
    """
    rng = random.Random(seed)
    same_rng = random.Random(f"{seed}:same-style")
    rows, slot_counter = [], {}
    for prompt, problem, planned in zip(prompts, problems, plans, strict=True):
        right = Working(problem.steps, problem.value)
        for error, wrong in planned:
            draw, style_a, style_b = rng.random(), random.Random(rng.random()), random.Random(rng.random())
            same_style = same_style_share > 0 and same_rng.random() < same_style_share
            chosen_longer = draw < length_bias
            chosen = render_answer(right, verbose=chosen_longer and not same_style, rng=style_a)
            rejected = render_answer(wrong, verbose=not (chosen_longer or same_style), rng=style_b)
            if same_style:
                chosen_longer = len(chosen) > len(rejected)
            elif (
                len(chosen) > len(rejected)
            ) != chosen_longer:  # filler is long enough that this never happens
                raise AssertionError(f"length bias broken for {prompt['id']}: {chosen!r} vs {rejected!r}")
            count = slot_counter.get(error, 0)
            slot_counter[error] = count + 1
            rows.append(
                {
                    "id": f"{prompt['id']}-{error}",
                    "prompt": prompt["prompt"],
                    "chosen": chosen,
                    "rejected": rejected,
                    "subset": error,
                    "prompt_id": prompt["id"],
                    "answer": prompt["answer"],
                    "chosen_longer": chosen_longer,
                    "same_style": same_style,
                    "ab_slot": "A"
                    if count % 2 == 0
                    else "B",  # slot of the chosen answer, balanced per error
                }
            )
    return rows


def _trace_rows(pair: dict, problem: Problem, both_orders: bool, space: bool, columns: bool) -> list[dict]:
    """The gold trace of a pair in its ``ab_slot``; with ``both_orders`` also in the other slot."""
    rows = [_trace_row(pair, problem, space=space, columns=columns)]
    if both_orders:
        other = "B" if pair["ab_slot"] == "A" else "A"
        rows.append(_trace_row(pair, problem, label=other, suffix="-swap", space=space, columns=columns))
    return rows


def _trace_row(
    pair: dict,
    problem: Problem,
    label: str | None = None,
    suffix: str = "",
    space: bool = False,
    columns: bool = False,
) -> dict:
    label = label or pair["ab_slot"]
    a, b = (pair["chosen"], pair["rejected"]) if label == "A" else (pair["rejected"], pair["chosen"])
    return {
        "id": f"trace-{pair['id']}{suffix}",
        "pair_id": pair["id"],
        "label": label,
        "prompt": pair["prompt"],
        "answer_a": a,
        "answer_b": b,
        "trace": gold_trace(problem, a, b, label, space_after_solution=space, column_solution=columns),
        "subset": pair["subset"],
    }
