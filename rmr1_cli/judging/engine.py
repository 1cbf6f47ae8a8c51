"""The judge engine: preference pairs -> judge prompts (both orders, k samples) -> generation -> parsing
-> one result per pair.

How a call to ``JudgeEngine.judge`` runs:

1. Plan. Each pair is rendered with the template in its A/B order(s). Prompts longer than the budget
   (``judge.max_prompt_tokens``, else the model's context minus ``max_new_tokens``) follow
   ``judge.too_long``: ``truncate`` cuts both answers to a shared token cap (the longer answer first, the
   same cut in both orders) and marks the cut; ``skip`` leaves the pair unjudged. Both are counted.
2. Look up. Every judgment has a key: a hash of the pair's content, the order, the sample index, the
   template, the model identity, the sampling settings and how the prompt was fitted. Judgments already
   in the JSONL cache are reused; keys repeated inside the call are generated once.
3. Generate. The missing judgments are sorted by prompt length (little padding) and sent to the
   generator ``batch_size`` at a time; each batch is parsed and appended to the cache (one write, then
   fsync) before the next starts, so a killed run loses at most the batch in flight. Sampled judgments
   get a seed derived from their key: the k samples differ, and each is reproducible.
   With ``judge.solve_first`` the judge first answers each distinct question alone (greedy, batched,
   kept for the engine's lifetime); every judge prompt then ends with the start of the judge's reply
   (``SOLUTION_PREFILL`` holding that answer), the model continues from there, and the recorded text is
   the whole reply. The solution is part of the judgment's key.
4. Retry (only when ``judge.retry_invalid`` > 0): unparseable judgments are asked again, at most that
   many times, sampling (a greedy retry would repeat itself); valid ones are never re-asked.
5. Aggregate, per pair in input order (see ``aggregate``).

``judge`` runs these steps once over all its pairs; ``judge_stream`` runs them chunk by chunk, so the
``rmr1 judge`` stage holds one chunk in memory whatever the size of its file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rmr1_cli.config import JudgeSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import VERDICT_STOP, Generation, Generator, SamplingParams, derive_seed
from rmr1_cli.judging.aggregation import aggregate, task_type, water_level
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.prompts import JudgeTemplate
from rmr1_cli.judging.records import JudgeCall, JudgeStats, JudgmentRecord, Order, PairResult
from rmr1_cli.judging.verdicts import THINK_CLOSE, judge_verdict

log = logging.getLogger(__name__)

TRUNCATION_MARK = "\n[... truncated ...]"
MIN_ANSWER_TOKENS = 16  # below this an answer cut to fit is no longer worth judging: the pair is skipped
RETRY_TEMPERATURE = 0.7  # retries of greedy judgments sample at this temperature
SOLUTION_PREFILL = "<type>Reasoning</type><solution> {solution}</solution>"  # judge.solve_first


def build_engine(
    judge: JudgeSpec,
    *,
    seed: int,
    cache_path: str | Path | None = None,
    generator: Generator | None = None,
    expected_pairs: int | None = None,
) -> JudgeEngine:
    """The one way to build a judge engine: its template, sampling settings, cache file and generator.

    ``generator`` is used instead of loading ``judge.model`` when given: the server's batching
    generator, the model being trained, or a judge another stage already holds. ``judge`` has checked
    its own settings as it was built (``config/specs.py``).
    """
    from rmr1_cli.generation import build_generator
    from rmr1_cli.judging.prompts import load_template

    template = load_template(judge.template)  # fail on a bad template before loading any weights
    stop = (VERDICT_STOP,) if judge.generation.stop_at_verdict else ()
    params = SamplingParams.from_spec(judge.generation, seed=seed, stop=stop)
    params = replace(params, stop_after=THINK_CLOSE if template.thinks and stop else None)
    # the cache's index is sized once for the judgments of ``expected_pairs`` (a hint; it grows if need be)
    slots = (expected_pairs or 0) * (2 if judge.both_orders else 1) * judge.samples
    cache = JudgmentCache(cache_path, expected=max(600, slots)) if cache_path is not None else None
    if generator is None:
        generator = build_generator(judge.model, judge.generation)
    return JudgeEngine(generator, template, judge, params, cache=cache, seed=seed)


@dataclass
class _Plan:
    """The calls of one pair, in (order, sample) order; ``skipped`` when it does not fit."""

    pair: PreferencePair
    calls: list[JudgeCall]
    skipped: bool = False
    truncated: bool = False
    unchecked: bool = False


class JudgeEngine:
    """Judges pairs with one generator and one template; see the module docstring."""

    def __init__(
        self,
        generator: Generator,
        template: JudgeTemplate,
        spec: JudgeSpec,
        params: SamplingParams,
        *,
        cache: JudgmentCache | None = None,
        seed: int = 0,
    ):
        self.generator = generator
        self.template = template
        self.spec = spec
        self.params = params
        self.cache = cache
        self.seed = seed
        self.stats = JudgeStats()
        self.show_progress = True  # rmr1 serve turns the terminal bar off for its per-request engines
        self._solutions: dict[str, str] = {}  # judge.solve_first: question key -> the judge's own answer

    # -- building the calls -------------------------------------------------------------------------

    def orders_for(self, pair: PreferencePair) -> list[Order]:
        """Both orders, or one order drawn per pair from the seed (reproducible, balanced on average)."""
        if self.spec.both_orders:
            return ["AB", "BA"]
        rng = random.Random(f"{self.seed}:{pair.id}")
        return [rng.choice(["AB", "BA"])]

    def _plan(self, pair: PreferencePair) -> _Plan:
        orders = self.orders_for(pair)
        fitted = self._fit(pair, orders)
        if fitted is None:
            calls = [
                JudgeCall(self.call_key(pair, o, s, "skipped"), pair.id, o, s, None)
                for o in orders
                for s in range(self.spec.samples)
            ]
            return _Plan(pair, calls, skipped=True)
        messages, lengths, fit = fitted
        if self.spec.solve_first:
            reply_start = {"role": "assistant", "content": self._prefill(pair)}
            messages = {order: [*m, reply_start] for order, m in messages.items()}
        calls = []
        for order in orders:
            for sample in range(self.spec.samples):
                key = self.call_key(pair, order, sample, fit)
                calls.append(
                    JudgeCall(key, pair.id, order, sample, messages[order], fit != "full", lengths[order])
                )
        return _Plan(pair, calls, truncated=fit != "full", unchecked=lengths[orders[0]] is None)

    def call_key(self, pair: PreferencePair, order: Order, sample: int, fit: str = "full") -> str:
        """Content hash of one judgment: what the judge is shown and everything that shapes its output."""
        shown = [pair.prompt, pair.chosen, pair.rejected]
        if self.spec.solve_first:
            shown.append(self._prefill(pair))
        content = json.dumps(shown, ensure_ascii=False, sort_keys=True)
        p = self.params
        settings = [
            self.template.sha256,
            self.generator.identity,
            p.max_new_tokens,
            p.temperature,
            p.top_p,
            list(p.stop) + ([f"after:{p.stop_after}"] if p.stop_after else []),
            fit,
            # greedy outputs do not depend on the seed; sampled ones do
            None if p.greedy else self.seed,
        ]
        blob = json.dumps([content, order, sample, settings], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    # -- solve first ------------------------------------------------------------------------------

    def _prefill(self, pair: PreferencePair) -> str:
        """The start of the judge's reply: its own answer to the question, as its <solution>."""
        key = _question_key(pair.prompt)
        if key not in self._solutions:
            self.solve([pair])
        return SOLUTION_PREFILL.format(solution=self._solutions[key])

    def solve(self, pairs: Sequence[PreferencePair]) -> None:
        """The judge answers every question it has not answered yet, alone: greedy, in batches."""
        from rmr1_cli.data import as_messages

        todo = {}
        for pair in pairs:
            key = _question_key(pair.prompt)
            if key not in self._solutions:
                todo[key] = as_messages(pair.prompt)
        if not todo:
            return
        params = replace(self.params, max_new_tokens=self.spec.solution_tokens, temperature=0.0, stop=())
        gens = self.generator.generate(list(todo.values()), params)
        for key, gen in zip(todo, gens, strict=True):
            # one line, no tags: what follows is the judge's own reply, which the parser reads whole
            self._solutions[key] = " ".join(gen.text.replace("<", " ").split())
        self.stats.solutions += len(todo)

    def _fit(
        self, pair: PreferencePair, orders: list[Order]
    ) -> tuple[dict[str, list[dict]], dict[str, int | None], str] | None:
        """Messages and prompt lengths per order, and how they were fitted ("full" or "cap:<n>");
        None when the pair is skipped as too long."""
        chosen, rejected = pair.chosen, pair.rejected
        messages = self._render(pair, chosen, rejected, orders)
        lengths = {o: self.generator.count_tokens(m) for o, m in messages.items()}
        budget = self._prompt_budget()
        if budget is None or any(n is None for n in lengths.values()):
            return messages, lengths, "full"
        longest = max(lengths.values())  # type: ignore[type-var]
        if longest <= budget:
            return messages, lengths, "full"
        if self.spec.too_long == "skip":
            return None
        la, lb = self.generator.text_tokens(chosen), self.generator.text_tokens(rejected)
        if la is None or lb is None:
            return None
        mark = self.generator.text_tokens(TRUNCATION_MARK) or 8
        excess = longest - budget
        for slack in (2 * mark + 4, 4 * mark + 16, 8 * mark + 64):  # tokenizers merge across cuts
            cap = water_level(la, lb, la + lb - excess - slack)
            if cap < MIN_ANSWER_TOKENS:
                return None
            cut_c, cut_r = self._cut(chosen, la, cap), self._cut(rejected, lb, cap)
            messages = self._render(pair, cut_c, cut_r, orders)
            lengths = {o: self.generator.count_tokens(m) for o, m in messages.items()}
            if max(lengths.values()) <= budget:  # type: ignore[type-var]
                return messages, lengths, f"cap:{cap}"
        return None

    def _cut(self, text: str, length: int, cap: int) -> str:
        return text if length <= cap else self.generator.cut_text(text, cap) + TRUNCATION_MARK

    def _render(self, pair: PreferencePair, chosen: str, rejected: str, orders: list[Order]) -> dict:
        out = {}
        for order in orders:
            a, b = (chosen, rejected) if order == "AB" else (rejected, chosen)
            out[order] = self.template.render(pair.prompt, a, b)
        return out

    def _prompt_budget(self) -> int | None:
        if self.spec.max_prompt_tokens is not None:
            return self.spec.max_prompt_tokens
        ctx = self.generator.context_length
        return None if ctx is None else ctx - self.params.max_new_tokens

    # -- running ----------------------------------------------------------------------------------

    def judge(self, pairs: Sequence[PreferencePair], *, description: str = "judging") -> list[PairResult]:
        """Judge every pair (cached judgments are reused) and aggregate per pair, in input order."""
        slots = self._slots_per_pair(pairs[0]) if pairs else 1
        with _Progress(description, slots, self.show_progress) as bar:
            return self._judge_chunk(pairs, bar)

    def judge_stream(
        self, pairs: Iterable[PreferencePair], chunk_size: int, *, description: str = "judging"
    ) -> Iterator[list[PairResult]]:
        """Judge ``pairs`` ``chunk_size`` at a time and yield each chunk's results, in input order.

        Only one chunk is held in memory, so a file of any length is judged in bounded memory (the
        ``rmr1 judge`` stage writes each chunk out before the next is read). The results are those of
        ``judge`` on the whole list: a judgment's key and seed do not depend on its neighbours; only the
        batches the generator sees differ (length-sorted within a chunk rather than over the file).
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        stream = iter(pairs)
        bar = None
        try:
            while chunk := list(itertools.islice(stream, chunk_size)):
                if bar is None:
                    bar = _Progress(description, self._slots_per_pair(chunk[0]), self.show_progress)
                    bar.__enter__()
                yield self._judge_chunk(chunk, bar)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)

    def _slots_per_pair(self, pair: PreferencePair) -> int:
        return max(1, len(self.orders_for(pair)) * self.spec.samples)

    def _judge_chunk(self, pairs: Sequence[PreferencePair], bar: _Progress) -> list[PairResult]:
        started = time.perf_counter()
        if self.spec.solve_first:
            self.solve(pairs)
        plans = [self._plan(p) for p in pairs]
        calls = {c.key: c for plan in plans if not plan.skipped for c in plan.calls}
        final: dict[str, JudgmentRecord] = {}  # key -> latest record
        for key in calls:
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                final[key] = self._reread(cached)
        before = dict(final)
        todo = [c for key, c in calls.items() if key not in final]
        self._run(todo, 0, final, bar)
        for attempt in range(1, self.spec.retry_invalid + 1):
            retry = [calls[k] for k, r in final.items() if not r.valid and r.attempt < attempt]
            if not retry:
                break
            self.stats.retried += len(retry)
            self._run(retry, attempt, final, bar)
        results = [self._aggregate(plan, final, before) for plan in plans]
        self.stats.seconds += time.perf_counter() - started
        return results

    def _run(self, calls: list[JudgeCall], attempt: int, final: dict, bar: _Progress) -> None:
        """Generate ``calls`` in length-sorted batches, flushing each batch to the cache."""
        if not calls:
            return
        calls = sorted(calls, key=lambda c: c.prompt_tokens or 0, reverse=True)
        params = self.params
        if attempt and params.greedy:
            params = replace(params, temperature=RETRY_TEMPERATURE)
        bar.add(len(calls))
        chunk = max(1, self.generator.batch_size)
        for start in range(0, len(calls), chunk):
            batch = calls[start : start + chunk]
            seeds = tuple(derive_seed(c.key, attempt) for c in batch)
            gens = self.generator.generate([c.messages for c in batch], replace(params, seeds=seeds))
            records = [self._record(c, g, attempt) for c, g in zip(batch, gens, strict=True)]
            if self.cache is not None:  # refused requests are not cached: a rerun asks them again
                self.cache.add([r for r in records if r.finish_reason != "error"])
            for r in records:
                final[r.key] = r
            tokens = sum(r.num_tokens for r in records)
            self.stats.tokens += tokens
            bar.advance(len(batch), tokens)

    def _record(self, call: JudgeCall, gen: Generation, attempt: int) -> JudgmentRecord:
        if self.spec.solve_first and call.messages and call.messages[-1]["role"] == "assistant":
            gen = replace(
                gen, text=call.messages[-1]["content"] + gen.text
            )  # the whole reply, prefill included
        j = judge_verdict(gen.text, after_think=self.template.thinks, rule=self.spec.verdict_rule)
        picked = None
        if j.verdict is not None:
            chosen_slot = "A" if call.order == "AB" else "B"
            picked = "chosen" if j.verdict == chosen_slot else "rejected"
        error = gen.finish_reason == "error"
        return JudgmentRecord(
            key=call.key,
            pair_id=call.pair_id,
            order=call.order,
            sample=call.sample,
            verdict=j.verdict,
            picked=picked,
            valid=j.valid and not error,
            reason="generation_error" if error else j.reason,
            task_type=j.task_type,
            num_tokens=gen.num_tokens,
            finish_reason=gen.finish_reason,
            truncated=call.truncated,
            text=gen.text,
            attempt=attempt,
            prompt_tokens=call.prompt_tokens,
            error=gen.error,
        )

    def _reread(self, record: JudgmentRecord) -> JudgmentRecord:
        """A cached judgment's verdict read again under this run's ``verdict_rule``: the rule is not part
        of the key, so switching it rescores the cached texts instead of generating them again."""
        if record.finish_reason == "error":
            return record
        j = judge_verdict(record.text, after_think=self.template.thinks, rule=self.spec.verdict_rule)
        if (j.verdict, j.valid, j.reason) == (record.verdict, record.valid, record.reason):
            return record
        chosen_slot = "A" if record.order == "AB" else "B"
        picked = None if j.verdict is None else ("chosen" if j.verdict == chosen_slot else "rejected")
        return replace(record, verdict=j.verdict, picked=picked, valid=j.valid, reason=j.reason)

    def _aggregate(self, plan: _Plan, final: dict[str, JudgmentRecord], before: dict) -> PairResult:
        st = self.stats
        pair = plan.pair
        st.pairs += 1
        st.length_unchecked += int(plan.unchecked)
        if plan.skipped:
            st.skipped_too_long += 1
            return PairResult(pair.id, pair.subset, None, "skipped", 0.0, None, 0, 0, None, 0)
        st.truncated += int(plan.truncated)
        recs = [final[c.key] for c in plan.calls if c.key in final]
        st.judgments += len(recs)
        st.cached += sum(1 for r in recs if before.get(r.key) is r)
        st.generated += sum(1 for r in recs if before.get(r.key) is not r)
        valid = [r for r in recs if r.valid]
        st.valid += len(valid)
        st.errors += sum(1 for r in recs if r.finish_reason == "error")
        st.cut_off += sum(1 for r in recs if r.finish_reason == "length")
        st.verdict_a += sum(1 for r in valid if r.verdict == "A")
        for r in recs:
            if not r.valid:
                st.invalid_reasons[r.reason or "unknown"] = (
                    st.invalid_reasons.get(r.reason or "unknown", 0) + 1
                )
        agg = aggregate(recs, self.spec.aggregation, both_orders=len({c.order for c in plan.calls}) == 2)
        if agg.consistent is not None:
            st.checked += 1
            st.consistent += int(agg.consistent)
        return PairResult(
            pair.id,
            pair.subset,
            agg.p_chosen,
            agg.outcome,
            agg.score,
            agg.consistent,
            len(valid),
            len(recs),
            task_type(recs),
            sum(r.num_tokens for r in recs),
            recs,
            plan.truncated,
        )


def _question_key(prompt) -> str:
    return hashlib.sha256(json.dumps(prompt, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


class _Progress:
    """A Rich bar over judgments with pairs/s and generated tokens/s (silent when not a terminal)."""

    def __init__(self, description: str, slots_per_pair: int, shown: bool = True):
        from rich.progress import TextColumn

        from rmr1_cli.console import progress

        self.slots_per_pair = slots_per_pair
        self.bar = progress(TextColumn("{task.fields[rate]}"))
        self.bar.disable = self.bar.disable or not shown
        self.description = description
        self.task = None
        self.done = 0
        self.tokens = 0
        self.started = time.perf_counter()

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        self.task = self.bar.add_task(self.description, total=0, rate="")
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def add(self, n: int) -> None:
        self.bar.update(self.task, total=(self.bar.tasks[0].total or 0) + n)

    def advance(self, n: int, tokens: int) -> None:
        self.done += n
        self.tokens += tokens
        elapsed = max(1e-9, time.perf_counter() - self.started)
        rate = f"{self.done / self.slots_per_pair / elapsed:.2f} pairs/s {self.tokens / elapsed:.0f} tok/s"
        self.bar.update(self.task, advance=n, rate=rate)
