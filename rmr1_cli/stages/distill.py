"""``rmr1 distill``: a teacher writes Chain-of-Rubrics traces for labelled pairs; verified ones become
an SFT data set (RM-R1 stage 1 data; docs/training.md has the paper's recipe).

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

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import DistillRecipe
from rmr1_cli.console import console, summary_table
from rmr1_cli.errors import ConfigError
from rmr1_cli.generation import VERDICT_STOP, Generation, Generator, SamplingParams
from rmr1_cli.judging.prompts import JudgeTemplate, render_conversation
from rmr1_cli.loop import distilling
from rmr1_cli.loop.distilling import Outcome, Task, pass_metrics, trace_row
from rmr1_cli.reports.formatting import percent
from rmr1_cli.run_dir import RunDir


@dataclass
class DistillSettings:
    second_pass: bool = True
    hint: str = distilling.DEFAULT_HINT
    show_first_attempt: bool = True
    leak_phrases: list[str] = field(default_factory=list)
    check_solution: bool = False  # also require the <solution> to reach the pair's exact answer


def distill_traces(
    tasks: list[Task],
    teacher: Generator,
    template: JudgeTemplate,
    params: SamplingParams,
    settings: DistillSettings,
) -> list[Outcome]:
    """Both passes over ``tasks`` with one teacher (any ``Generator``); one outcome per task, in order."""
    prompts = [template.render(t.prompt, *t.answers) for t in tasks]
    fits = [_fits(teacher, p, params) for p in prompts]
    asked = [p for p, ok in zip(prompts, fits, strict=True) if ok]
    first = iter(teacher.generate_all(asked, params, description="distill: first pass"))
    outcomes = []
    for task, ok in zip(tasks, fits, strict=True):
        if not ok:  # the prompt leaves no room for a trace in the teacher's context: counted, not retried
            outcomes.append(Outcome(task, "", "too_long"))
            continue
        text = next(first).text
        answer = task.exact_answer if settings.check_solution else None
        outcomes.append(Outcome(task, text, distilling.check_trace(text, task.label, answer=answer)))
    retry = [i for i, o in enumerate(outcomes) if o.first_reason not in (None, "too_long")]
    retry = retry if settings.second_pass else []
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
        second = teacher.generate_all(hinted, params, description="distill: second pass")
        for i, gen in zip(retry, second, strict=True):
            outcome = outcomes[i]
            outcome.second_text = gen.text
            answer = outcome.task.exact_answer if settings.check_solution else None
            outcome.second_reason = distilling.check_trace(
                gen.text, outcome.task.label, settings.leak_phrases, answer=answer
            )
    return outcomes


class GoldTraces(Generator):
    """The synthetic domain's gold traces as the teacher (no model), for pairs on ``rmr1 synth``
    prompts (refine pairs included): each rendered judge prompt maps to the trace
    ``arithmetic.gold_trace_for`` writes; anything else gets an empty output (dropped as invalid)."""

    identity = "synthetic-gold-traces"

    def __init__(self, tasks: list[Task], template: JudgeTemplate, **trace_style: bool):
        from rmr1_cli.loop import arithmetic

        # the style is part of the identity: the generation cache must not return traces of another style
        self.identity += "".join(f"+{option}" for option, on in sorted(trace_style.items()) if on)
        self.table = {}
        for task in tasks:
            gold = arithmetic.gold_trace_for(render_conversation(task.prompt), *task.answers, **trace_style)
            if gold is not None:
                self.table[_key(template.render(task.prompt, *task.answers))] = gold[0]

    def generate(self, conversations: list[list[dict]], params: SamplingParams) -> list[Generation]:
        return [Generation(self.table.get(_key(c), ""), 0, "stop") for c in conversations]


def _key(messages: list[dict]) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True)


def _fits(teacher: Generator, messages: list[dict], params: SamplingParams) -> bool:
    if teacher.context_length is None:
        return True
    length = teacher.count_tokens(messages)
    return length is None or length + params.max_new_tokens <= teacher.context_length


# metrics.json: ``kept`` traces passed the checks (``kept_rate`` of ``tasks``); ``written`` of them are in
# traces.jsonl after ``balance_labels``.
METRICS = (
    "tasks", "first_pass", "second_pass", "kept", "kept_rate", "dropped", "labels",
    "dropped_to_balance_labels", "written", "template", "template_sha256", "teacher", "generated", "cached",
    "generated_tokens", "seconds",
)  # fmt: skip


def run(recipe: DistillRecipe) -> Path:
    from rmr1_cli.generation import build_generator
    from rmr1_cli.generation.cache import CachedGenerator
    from rmr1_cli.judging.prompts import load_template

    template = load_template(recipe.template)
    hint = _read_hint(recipe.hint_file)
    pairs = data.load_pairs(recipe.pairs_file, limit=recipe.limit)
    tasks = distilling.assign_slots(pairs, both_orders=recipe.both_orders)
    run_dir = RunDir.create("distill", recipe)
    run_dir.record_input("pairs_file", recipe.pairs_file)
    run_dir.record_input("hint_file", recipe.hint_file)

    started = time.perf_counter()
    if recipe.teacher_source == "synthetic":
        source: Generator = GoldTraces(
            tasks,
            template,
            space_after_solution=recipe.space_after_solution,
            column_solution=recipe.column_solution,
        )
    else:
        source = build_generator(recipe.teacher, recipe.generation)
    teacher = CachedGenerator(source, run_dir.path / "generations.jsonl")
    stop = (VERDICT_STOP,) if recipe.generation.stop_at_verdict else ()
    params = SamplingParams.from_spec(recipe.generation, seed=recipe.seed, stop=stop)
    settings = DistillSettings(
        recipe.second_pass, hint, recipe.show_first_attempt, list(recipe.leak_phrases), recipe.check_solution
    )
    outcomes = distill_traces(tasks, teacher, template, params, settings)
    teacher.close()

    kept = [trace_row(o, teacher.identity) for o in outcomes if o.kept_pass]
    unbalanced = 0
    if recipe.balance_labels:
        kept, unbalanced = distilling.balance_labels(kept, lambda row: row["label"])
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
        "dropped_to_balance_labels": unbalanced,
        "written": len(kept),
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
            "first pass kept": f"{first['kept']} ({percent(first['rate'])})",
            "second pass kept": f"{second['kept']} of {second['tried']} ({percent(second['rate'])})",
            "dropped (+ to balance labels)": f"{metrics['dropped']} (+ {unbalanced})",
            "kept labels A / B": f"{metrics['labels']['A']} / {metrics['labels']['B']}",
            "traces written": len(kept),
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
