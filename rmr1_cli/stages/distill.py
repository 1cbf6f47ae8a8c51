"""``rmr1 distill``: a teacher writes Chain-of-Rubrics traces for labelled pairs; verified ones become
an SFT data set (RM-R1 stage 1 data, DESIGN.md §2).

First pass: the teacher judges each pair with the judge template, the chosen answer in its slot; a
trace is kept when its verdict names that slot. Second pass (for the rest): the teacher is shown the
gold verdict (a hint, ``distilling.DEFAULT_HINT`` or ``hint_file``) and writes the trace again, which is
checked again and also for phrases that give the hint away. Kept traces are stored template-free, so
``rmr1 sft`` renders them with the plain judge prompt. Every generation goes through a content-hash
cache, so a rerun resumes.

Outputs in ``output_dir``:
    traces.jsonl        kept traces in the trace-source schema (``rmr1 sft`` reads it), with ``pass``
    dropped.jsonl       tasks with no kept trace, both outputs and why
    generations.jsonl   the teacher's cache
    metrics.json        pass rates (first pass, second pass, dropped), reasons, labels, tokens
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rmr1_cli import data, distilling
from rmr1_cli.artifacts import RunDir
from rmr1_cli.config import DistillRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.distilling import Task
from rmr1_cli.errors import ConfigError
from rmr1_cli.generation import VERDICT_STOP, Generator, SamplingParams
from rmr1_cli.prompts import JudgeTemplate


@dataclass
class Outcome:
    """What happened to one task."""

    task: Task
    first_text: str
    first_reason: str | None  # None: kept in the first pass
    second_text: str | None = None
    second_reason: str | None = None  # None with second_text: kept in the second pass

    @property
    def kept_pass(self) -> str | None:
        if self.first_reason is None:
            return "first"
        if self.second_text is not None and self.second_reason is None:
            return "second"
        return None

    @property
    def trace(self) -> str | None:
        return {"first": self.first_text, "second": self.second_text, None: None}[self.kept_pass]


@dataclass
class DistillSettings:
    second_pass: bool = True
    hint: str = distilling.DEFAULT_HINT
    show_first_attempt: bool = True
    leak_phrases: list[str] = field(default_factory=list)


def distill_traces(
    tasks: list[Task],
    teacher: Generator,
    template: JudgeTemplate,
    params: SamplingParams,
    settings: DistillSettings,
) -> list[Outcome]:
    """Both passes over ``tasks`` with one teacher (any ``Generator``); one outcome per task, in order."""
    prompts = [template.render(t.prompt, *t.answers) for t in tasks]
    first = _generate(teacher, prompts, params, "distill: first pass")
    outcomes = [
        Outcome(task, gen.text, distilling.check_trace(gen.text, task.label))
        for task, gen in zip(tasks, first, strict=True)
    ]
    retry = [i for i, o in enumerate(outcomes) if o.first_reason is not None] if settings.second_pass else []
    if retry:
        hinted = [
            distilling.second_pass_messages(
                prompts[i],
                outcomes[i].first_text,
                settings.hint,
                outcomes[i].task.label,
                show_first_attempt=settings.show_first_attempt,
            )
            for i in retry
        ]
        second = _generate(teacher, hinted, params, "distill: second pass")
        for i, gen in zip(retry, second, strict=True):
            outcome = outcomes[i]
            outcome.second_text = gen.text
            outcome.second_reason = distilling.check_trace(
                gen.text, outcome.task.label, settings.leak_phrases
            )
    return outcomes


def _generate(teacher: Generator, conversations: list[list[dict]], params: SamplingParams, description: str):
    if not conversations:
        return []
    if hasattr(teacher, "records"):  # a CachedGenerator shows a progress bar
        return teacher.generate(conversations, params, description=description)
    return teacher.generate(conversations, params)


def trace_row(outcome: Outcome, teacher_id: str) -> dict:
    """A kept trace in the trace-source schema (``data.load_trace_sources``), with provenance."""
    task = outcome.task
    answer_a, answer_b = task.answers
    return {
        "id": task.id,
        "pair_id": task.pair.id,
        "label": task.label,
        "prompt": task.prompt,
        "answer_a": answer_a,
        "answer_b": answer_b,
        "trace": outcome.trace,
        "subset": task.pair.subset,
        "pass": outcome.kept_pass,
        "teacher": teacher_id,
    }


def pass_metrics(outcomes: list[Outcome], second_pass: bool) -> dict:
    """Pass rates: first pass (of all tasks), second pass (of those retried), dropped, and why."""
    n = len(outcomes)
    first_kept = sum(o.kept_pass == "first" for o in outcomes)
    tried = [o for o in outcomes if o.second_text is not None]
    second_kept = sum(o.kept_pass == "second" for o in tried)
    kept = [o for o in outcomes if o.kept_pass]
    return {
        "tasks": n,
        "first_pass": {
            "kept": first_kept,
            "rate": first_kept / n if n else None,
            "reasons": _reasons(o.first_reason for o in outcomes),
        },
        "second_pass": {
            "enabled": second_pass,
            "tried": len(tried),
            "kept": second_kept,
            "rate": second_kept / len(tried) if tried else None,
            "reasons": _reasons(o.second_reason for o in tried),
        },
        "kept": len(kept),
        "kept_rate": len(kept) / n if n else None,
        "dropped": n - len(kept),
        "labels": {"A": sum(o.task.label == "A" for o in kept), "B": sum(o.task.label == "B" for o in kept)},
    }


def _reasons(reasons) -> dict[str, int]:
    return dict(sorted(Counter(distilling.reason_family(r) for r in reasons if r is not None).items()))


def run(recipe: DistillRecipe) -> Path:
    from rmr1_cli.generation import build_generator
    from rmr1_cli.generation_cache import CachedGenerator
    from rmr1_cli.prompts import load_template

    template = load_template(recipe.template)
    hint = _read_hint(recipe.hint_file)
    pairs = data.load_pairs(recipe.pairs_file, limit=recipe.limit)
    tasks = distilling.assign_slots(pairs, both_orders=recipe.both_orders)
    run_dir = RunDir.create("distill", recipe)
    run_dir.record_input("pairs_file", recipe.pairs_file)
    run_dir.record_input("hint_file", recipe.hint_file)

    started = time.perf_counter()
    teacher = CachedGenerator(
        build_generator(recipe.teacher, recipe.generation), run_dir.path / "generations.jsonl"
    )
    stop = (VERDICT_STOP,) if recipe.generation.stop_at_verdict else ()
    params = SamplingParams.from_spec(recipe.generation, seed=recipe.seed, stop=stop)
    settings = DistillSettings(recipe.second_pass, hint, recipe.show_first_attempt, list(recipe.leak_phrases))
    outcomes = distill_traces(tasks, teacher, template, params, settings)
    teacher.close()

    kept = [trace_row(o, teacher.identity) for o in outcomes if o.kept_pass]
    data.write_jsonl(run_dir.path / "traces.jsonl", kept)
    data.write_jsonl(
        run_dir.path / "dropped.jsonl",
        (
            {
                "id": o.task.id,
                "pair_id": o.task.pair.id,
                "label": o.task.label,
                "first_reason": o.first_reason,
                "second_reason": o.second_reason,
                "first_text": o.first_text,
                "second_text": o.second_text,
            }
            for o in outcomes
            if not o.kept_pass
        ),
    )
    if not kept:
        console.print("no trace passed the verdict check: traces.jsonl is empty", style="yellow")
    metrics = pass_metrics(outcomes, recipe.second_pass) | {
        "template": template.name,
        "template_sha256": template.sha256,
        "teacher": teacher.identity,
        "generated": teacher.misses,
        "cached": teacher.hits,
        "generated_tokens": teacher.tokens,
        "seconds": round(time.perf_counter() - started, 1),
    }
    first, second = metrics["first_pass"], metrics["second_pass"]
    summary_table(
        "rmr1 distill",
        {
            "pairs / traces to write": f"{len(pairs)} / {len(tasks)}",
            "first pass kept": f"{first['kept']} ({_pct(first['rate'])})",
            "second pass kept": f"{second['kept']} of {second['tried']} ({_pct(second['rate'])})",
            "dropped": metrics["dropped"],
            "kept labels A / B": f"{metrics['labels']['A']} / {metrics['labels']['B']}",
            "generations (fresh / cached)": f"{teacher.misses} / {teacher.hits}",
            "output": run_dir.path / "traces.jsonl",
        },
    )
    return run_dir.finish(metrics)


def _read_hint(hint_file: str | None) -> str:
    if hint_file is None:
        return distilling.DEFAULT_HINT
    try:
        text = Path(hint_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"hint_file: {hint_file} not found") from None
    return distilling.check_hint(text, hint_file)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
