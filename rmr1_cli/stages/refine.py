"""``rmr1 refine``: turn the policy's bad answers into preference pairs (refined = chosen, bad = rejected).

1. The policy answers every prompt (``samples_per_prompt`` each).
2. Each answer is checked: against the prompt's exact ``answer`` (verifiable check) and/or by the judge
   against the prompt's ``reference`` in both A/B orders (judge engine, with its own cache).
3. Bad cases are selected by the recipe's rules (``refining.select_cases``).
4. A teacher writes an improved answer for each: the policy itself rewriting with the judge's critique,
   another model (local or an OpenAI-compatible endpoint), or the reference answer. Where the prompt has
   an exact answer, only refined answers that pass the check are kept.
5. Pairs are de-duplicated and A/B-balanced (``ab_slot``), with provenance in every row.

Outputs in ``output_dir``:
    pairs.jsonl                 preference pairs (``load_pairs`` reads them; train-rm / distill / eval)
    cases.jsonl                 every policy answer: checks, judge outcome, selection, refinement
    policy_generations.jsonl    the policy's cache (rewrites by the policy included)
    teacher_generations.jsonl   a separate teacher model's cache
    judgments.jsonl             the judge's cache
    metrics.json                answers, accuracy, judge win rate, selected per rule, kept pairs, drops
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import RefineRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.data import PreferencePair, PromptRecord, as_messages, stable_id
from rmr1_cli.errors import ConfigError
from rmr1_cli.generation import Generator, SamplingParams
from rmr1_cli.judging.prompts import render_conversation
from rmr1_cli.loop import refining
from rmr1_cli.loop.refining import Case, Refined
from rmr1_cli.reports.formatting import percent
from rmr1_cli.rewards.verifiable import answer_matches
from rmr1_cli.run_dir import RunDir


def sample_answers(
    prompts: list[PromptRecord], policy: Generator, params: SamplingParams, samples: int
) -> list[tuple[PromptRecord, int, str]]:
    """(prompt, sample index, answer text) for every prompt and sample; prompts too long for the
    policy's context are left out (the generator counts them)."""
    asks = [(p, k) for p in prompts for k in range(samples)]
    conversations = [as_messages(p.prompt) for p, _ in asks]
    gens = policy.generate_all(conversations, params, description="refine: policy answers")
    return [
        (p, k, g.text.strip()) for (p, k), g in zip(asks, gens, strict=True) if g.finish_reason != "error"
    ]


def assess(answers: list[tuple[PromptRecord, int, str]], engine, policy_id: str) -> list[Case]:
    """A ``Case`` per answer: the verifiable check, and the judge's comparison with the reference
    (only when an engine is given and the prompt has a reference)."""
    results = {}
    if engine is not None:
        pairs = [
            PreferencePair(stable_id(p.id, text), p.prompt, text, p.reference)
            for p, _, text in answers
            if p.reference
        ]  # keyed by content: samples that gave the same answer are judged once
        unique = list({pair.id: pair for pair in pairs}.values())
        results = {r.pair_id: r for r in engine.judge(unique, description="refine: judging answers")}
    cases = []
    for p, k, text in answers:
        result = results.get(stable_id(p.id, text))
        cases.append(
            Case(
                prompt_id=p.id,
                sample=k,
                answer=text,
                correct=answer_matches(text, p.answer) if p.answer is not None else None,
                outcome=result.outcome if result else None,
                consistent=result.consistent if result else None,
                p_win=result.p_chosen if result else None,
                critique=refining.critique_from(result.judgments) if result else None,
                meta={"policy": policy_id},
            )
        )
    return cases


def refine_cases(
    selected: list[tuple[Case, list[str]]],
    prompts: dict[str, PromptRecord],
    *,
    teacher: Generator | None,
    params: SamplingParams,
    rewrite: str,
    use_critique: bool,
    attempts: int,
) -> tuple[list[Refined], Counter]:
    """An improved answer per selected case (``teacher`` None: the reference answer), checked;
    returns the kept ones and the count of drops per reason."""
    drops: Counter = Counter()
    if teacher is None:
        candidates = [[prompts[c.prompt_id].reference or ""] for c, _ in selected]
        teacher_id = "reference"
    else:
        asks = []
        for case, _ in selected:
            record = prompts[case.prompt_id]
            text = refining.rewrite_prompt(
                rewrite,
                prompt=render_conversation(record.prompt),
                answer=case.answer,
                critique=case.critique if use_critique else None,
                reference=record.reference,
            )
            asks += [[{"role": "user", "content": text}]] * attempts
        gens = teacher.generate_all(asks, params, description="refine: rewriting")
        texts = [None if g.finish_reason == "error" else g.text.strip() for g in gens]
        candidates = [texts[i * attempts : (i + 1) * attempts] for i in range(len(selected))]
        teacher_id = teacher.identity
    kept = []
    for (case, rules), options in zip(selected, candidates, strict=True):
        record = prompts[case.prompt_id]
        reason = "empty"
        for option in options:
            if option is None:  # the rewrite prompt did not fit the teacher's context
                reason = "too_long"
                continue
            reason = refining.drop_reason(option, case.answer, record.answer)
            if reason is None:
                kept.append(
                    Refined(
                        case,
                        rules,
                        record.prompt,
                        option,
                        teacher_id,
                        record.meta.get("subset"),
                        record.answer,
                    )
                )
                break
        if reason is not None:
            drops[reason] += 1
    return kept, drops


# metrics.json (``engine`` is null without a judge).
METRICS = (
    "answers", "verifiable_accuracy", "verifiable_checked", "judge_win_rate", "judge_outcomes", "selected",
    "selected_by_rule", "refined_kept", "refine_dropped", "pairs", "ab_slots", "engine",
    "policy_generations", "seconds",
)  # fmt: skip


def run(recipe: RefineRecipe) -> Path:
    from rmr1_cli.generation import build_generator
    from rmr1_cli.generation.cache import CachedGenerator
    from rmr1_cli.judging.engine import build_engine

    # the judge runs for its rules, and for the critique a rewriting teacher reads when a judge is given
    needs_judge = any(rule in refining.JUDGE_RULES for rule in recipe.select) or (
        recipe.teacher.source != "reference" and recipe.teacher.use_critique and recipe.judge.given
    )
    _check(recipe, needs_judge)
    rewrite = _read_rewrite(recipe.teacher.prompt_file)
    prompts = data.load_prompts(recipe.prompts_file, limit=recipe.limit)
    if "wrong_answer" in recipe.select and all(p.answer is None for p in prompts):
        console.print(
            f"{recipe.prompts_file}: no prompt has an 'answer'; rule wrong_answer selects nothing",
            style="yellow",
        )
    run_dir = RunDir.create("refine", recipe)
    run_dir.record_input("prompts_file", recipe.prompts_file)
    started = time.perf_counter()

    policy = CachedGenerator(
        build_generator(recipe.model, recipe.generation), run_dir.path / "policy_generations.jsonl"
    )
    answers = sample_answers(
        prompts,
        policy,
        SamplingParams.from_spec(recipe.generation, seed=recipe.seed),
        recipe.samples_per_prompt,
    )
    engine = None
    if needs_judge:
        engine = build_engine(recipe.judge, seed=recipe.seed, cache_path=run_dir.path / "judgments.jsonl")
    cases = assess(answers, engine, policy.identity)
    selected = refining.select_cases(cases, recipe.select, recipe.combine, recipe.low_reward_threshold)

    teacher: Generator | None = None
    if recipe.teacher.source == "policy":
        teacher = policy
    elif recipe.teacher.source == "model":
        teacher = CachedGenerator(
            build_generator(recipe.teacher.model, recipe.teacher.generation),
            run_dir.path / "teacher_generations.jsonl",
        )
    refined, drops = refine_cases(
        selected,
        {p.id: p for p in prompts},
        teacher=teacher,
        params=SamplingParams.from_spec(recipe.teacher.generation, seed=recipe.seed),
        rewrite=rewrite,
        use_critique=recipe.teacher.use_critique,
        attempts=recipe.teacher.attempts,
    )
    pairs = refining.build_pairs(refined, recipe.max_pairs)
    data.write_jsonl(run_dir.path / "pairs.jsonl", pairs)
    data.write_jsonl(run_dir.path / "cases.jsonl", refining.case_rows(cases, selected, refined))
    if not pairs:
        console.print("no bad case was refined into a pair: pairs.jsonl is empty", style="yellow")

    metrics = refining.refine_metrics(cases, selected, refined, pairs, drops) | {
        "engine": engine.stats.as_dict() if engine else None,
        "policy_generations": {
            "generated": policy.misses - policy.too_long,
            "cached": policy.hits,
            "tokens": policy.tokens,
            "too_long": policy.too_long,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    summary_table(
        "rmr1 refine",
        {
            "prompts / answers": f"{len(prompts)} / {len(cases)}",
            "verifiable accuracy": percent(metrics["verifiable_accuracy"]),
            "judge: policy beats reference": percent(metrics["judge_win_rate"]),
            "selected (per rule)": f"{len(selected)} {metrics['selected_by_rule']}",
            "refined and kept / dropped": f"{len(refined)} / {sum(drops.values())} {dict(drops)}",
            "pairs (A / B slots)": f"{len(pairs)} ({metrics['ab_slots']['A']} / {metrics['ab_slots']['B']})",
            "output": run_dir.path / "pairs.jsonl",
        },
    )
    return run_dir.finish(metrics)


def _check(recipe: RefineRecipe, needs_judge: bool) -> None:
    if needs_judge and not recipe.judge.given:
        raise ConfigError(
            "select uses a judge rule (lost / low_reward): set judge.model.name_or_path, or select only wrong_answer"
        )
    if recipe.teacher.source == "model" and not recipe.teacher.model.name_or_path:
        raise ConfigError(
            "teacher.source is 'model': set teacher.model.name_or_path (or use policy / reference)"
        )


def _read_rewrite(prompt_file: str | None) -> str:
    if prompt_file is None:
        return refining.DEFAULT_REWRITE
    try:
        text = Path(prompt_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"teacher.prompt_file: {prompt_file} not found") from None
    for name in ("{prompt}", "{answer}"):
        if name not in text:
            raise ConfigError(f"teacher.prompt_file {prompt_file}: the rewrite prompt must contain {name}")
    return text
