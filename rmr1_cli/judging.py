"""The judge engine: preference pairs -> judge prompts (both orders, k samples) -> generation -> parsing
-> one result per pair.

Every judgment is keyed by a hash of everything that determines it (pair content, A/B order, sample
index, template, model identity, sampling settings) and appended to a JSONL cache as soon as its batch
finishes, so an interrupted run resumes where it stopped and a rerun with the same settings is free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from rmr1_cli.config import GenerationSpec, JudgeSpec, ModelSpec
from rmr1_cli.data import PreferencePair
from rmr1_cli.generation import VERDICT_STOP, Generator, SamplingParams
from rmr1_cli.parsing import parse_judgment
from rmr1_cli.prompts import JudgeTemplate

log = logging.getLogger(__name__)

Order = Literal["AB", "BA"]  # "AB": chosen shown as Chatbot A; "BA": chosen shown as Chatbot B
TRUNCATION_MARK = "\n[... truncated ...]"


@dataclass(frozen=True)
class JudgeCall:
    """One prompt to the judge."""

    key: str
    pair_id: str
    order: Order
    sample: int
    messages: list[dict]
    truncated: bool = False


@dataclass
class JudgmentRecord:
    """One judge output, parsed and mapped back to chosen/rejected (a line of judgments.jsonl)."""

    key: str
    pair_id: str
    order: Order
    sample: int
    verdict: str | None  # "A" / "B" as the judge wrote it
    picked: str | None  # "chosen" / "rejected" after undoing the A/B order
    valid: bool
    reason: str | None
    task_type: str | None
    num_tokens: int
    finish_reason: str
    truncated: bool
    text: str


@dataclass
class PairResult:
    """The aggregated judgment of one pair."""

    pair_id: str
    subset: str | None
    p_chosen: float | None  # share of valid judgments that preferred the chosen answer
    outcome: Literal["chosen", "rejected", "tie", "invalid", "skipped"]
    score: float  # 1 chosen wins, 0.5 tie, 0 otherwise (with aggregation "mean": p_chosen)
    consistent: bool | None  # both orders agree (None with one order)
    n_valid: int
    n_judgments: int
    task_type: str | None
    tokens: int
    judgments: list[JudgmentRecord] = field(default_factory=list, repr=False)

    def to_row(self) -> dict:
        row = asdict(self)
        row["judgments"] = [j["key"] for j in row["judgments"]]
        return row


@dataclass
class JudgeStats:
    pairs: int = 0
    judgments: int = 0
    generated: int = 0
    cached: int = 0
    valid: int = 0
    skipped_too_long: int = 0
    truncated: int = 0
    tokens: int = 0
    seconds: float = 0.0
    verdict_a: int = 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["valid_rate"] = self.valid / self.judgments if self.judgments else None
        d["p_verdict_a"] = self.verdict_a / self.valid if self.valid else None
        d["tokens_per_s"] = self.tokens / self.seconds if self.seconds else None
        return d


class JudgmentCache:
    """An append-only JSONL of judgment records keyed by content hash.

    Lines are appended and fsync'ed per batch. A torn last line (the process was killed mid-write) is
    cut off when the file is opened, so the file never holds a partial or duplicate record.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[str, JudgmentRecord] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        good_end = raw.rfind(b"\n") + 1
        if good_end < len(raw):  # torn tail from a killed run
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
        for line in raw[:good_end].splitlines():
            if line.strip():
                rec = JudgmentRecord(**json.loads(line))
                self.records[rec.key] = rec

    def get(self, key: str) -> JudgmentRecord | None:
        return self.records.get(key)

    def add(self, records: Sequence[JudgmentRecord]) -> None:
        fresh = [r for r in records if r.key not in self.records]
        if not fresh:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in fresh)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        for r in fresh:
            self.records[r.key] = r


def build_engine(
    model: ModelSpec, generation: GenerationSpec, spec: JudgeSpec, *, cache_path: str | Path | None, seed: int
) -> JudgeEngine:
    """The engine a recipe describes: its generator, template, sampling settings and cache file."""
    from rmr1_cli.generation import build_generator
    from rmr1_cli.prompts import load_template

    template = load_template(spec.template)  # fail on a bad template before loading any weights
    stop = (VERDICT_STOP,) if generation.stop_at_verdict else ()
    params = SamplingParams.from_spec(generation, seed=seed, stop=stop)
    cache = JudgmentCache(cache_path) if cache_path is not None else None
    return JudgeEngine(build_generator(model, generation), template, spec, params, cache=cache, seed=seed)


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

    # -- building the calls -------------------------------------------------------------------------

    def orders_for(self, pair: PreferencePair) -> list[Order]:
        """Both orders, or one order drawn per pair from the seed (reproducible, balanced on average)."""
        if self.spec.both_orders:
            return ["AB", "BA"]
        rng = random.Random(f"{self.seed}:{pair.id}")
        return [rng.choice(["AB", "BA"])]

    def calls_for(self, pair: PreferencePair) -> list[JudgeCall]:
        calls = []
        for order in self.orders_for(pair):
            a, b = (pair.chosen, pair.rejected) if order == "AB" else (pair.rejected, pair.chosen)
            messages, truncated = self._fit(pair, a, b)
            for sample in range(self.spec.samples):
                key = self.call_key(pair, order, sample)
                calls.append(JudgeCall(key, pair.id, order, sample, messages, truncated))
        return calls

    def call_key(self, pair: PreferencePair, order: Order, sample: int) -> str:
        content = json.dumps([pair.prompt, pair.chosen, pair.rejected], ensure_ascii=False, sort_keys=True)
        settings = [
            self.template.sha256,
            self.generator.identity,
            self.params.max_new_tokens,
            self.params.temperature,
            self.params.top_p,
            self.spec.too_long,
            self.spec.max_prompt_tokens,
            # greedy outputs do not depend on the seed; sampled ones do
            self.seed if self.params.temperature > 0 else None,
        ]
        blob = json.dumps([content, order, sample, settings], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def _fit(self, pair: PreferencePair, a: str, b: str) -> tuple[list[dict] | None, bool]:
        """Render the prompt; shorten the answers if it exceeds the budget (or mark it skipped)."""
        messages = self.template.render(pair.prompt, a, b)
        budget = self._prompt_budget()
        if budget is None:
            return messages, False
        length = self.generator.count_tokens(messages)
        if length is None or length <= budget:
            return messages, False
        if self.spec.too_long == "skip":
            return None, False
        for _ in range(4):  # shrink the longer answer first, by the character share of the overflow
            overflow = length - budget
            ratio = max(0.0, 1 - (overflow + 16) / max(1, length))
            if len(a) >= len(b):
                a = a[: int(len(a) * ratio)] + TRUNCATION_MARK
            else:
                b = b[: int(len(b) * ratio)] + TRUNCATION_MARK
            messages = self.template.render(pair.prompt, a, b)
            length = self.generator.count_tokens(messages) or 0
            if length <= budget:
                return messages, True
        return None, False  # the conversation alone does not fit: skipped and counted

    def _prompt_budget(self) -> int | None:
        if self.spec.max_prompt_tokens is not None:
            return self.spec.max_prompt_tokens
        ctx = self.generator.context_length
        return None if ctx is None else ctx - self.params.max_new_tokens

    # -- running ----------------------------------------------------------------------------------

    def judge(self, pairs: Sequence[PreferencePair], *, description: str = "judging") -> list[PairResult]:
        """Judge every pair (cached judgments are reused) and aggregate per pair, in input order."""
        from rmr1_cli.console import progress

        started = time.perf_counter()
        calls_by_pair = {p.id: self.calls_for(p) for p in pairs}
        pending = []
        for calls in calls_by_pair.values():
            for call in calls:
                if call.messages is not None and (self.cache is None or self.cache.get(call.key) is None):
                    pending.append(call)
        records: dict[str, JudgmentRecord] = {}
        chunk = max(1, getattr(self.generator, "batch_size", 16))
        with progress() as bar:
            task = bar.add_task(description, total=len(pending))
            for start in range(0, len(pending), chunk):
                batch = pending[start : start + chunk]
                fresh = self._run_batch(batch)
                if self.cache is not None:
                    self.cache.add(fresh)
                records.update((r.key, r) for r in fresh)
                bar.advance(task, len(batch))
        self.stats.generated += len(pending)
        self.stats.seconds += time.perf_counter() - started
        return [self._aggregate(p, calls_by_pair[p.id], records) for p in pairs]

    def _run_batch(self, batch: list[JudgeCall]) -> list[JudgmentRecord]:
        gens = self.generator.generate([c.messages for c in batch], self.params)
        out = []
        for call, gen in zip(batch, gens, strict=True):
            j = parse_judgment(gen.text)
            picked = None
            if j.verdict is not None:
                chosen_slot = "A" if call.order == "AB" else "B"
                picked = "chosen" if j.verdict == chosen_slot else "rejected"
            out.append(
                JudgmentRecord(
                    key=call.key,
                    pair_id=call.pair_id,
                    order=call.order,
                    sample=call.sample,
                    verdict=j.verdict,
                    picked=picked,
                    valid=j.valid,
                    reason=j.reason,
                    task_type=j.task_type,
                    num_tokens=gen.num_tokens,
                    finish_reason=gen.finish_reason,
                    truncated=call.truncated,
                    text=gen.text,
                )
            )
        return out

    def _aggregate(
        self, pair: PreferencePair, calls: list[JudgeCall], fresh: dict[str, JudgmentRecord]
    ) -> PairResult:
        st = self.stats
        st.pairs += 1
        if any(c.messages is None for c in calls):
            st.skipped_too_long += 1
            return PairResult(pair.id, pair.subset, None, "skipped", 0.0, None, 0, 0, None, 0)
        recs = [fresh.get(c.key) or (self.cache.get(c.key) if self.cache else None) for c in calls]
        recs = [r for r in recs if r is not None]
        st.cached += sum(1 for c in calls if c.key not in fresh)
        st.judgments += len(recs)
        st.truncated += int(any(c.truncated for c in calls))
        valid = [r for r in recs if r.valid]
        st.valid += len(valid)
        st.verdict_a += sum(1 for r in valid if r.verdict == "A")
        tokens = sum(r.num_tokens for r in recs)
        st.tokens += sum(r.num_tokens for r in recs if r.key in fresh)
        task_types = [r.task_type for r in recs if r.task_type]
        task_type = max(set(task_types), key=task_types.count) if task_types else None
        if not valid:
            return PairResult(
                pair.id, pair.subset, None, "invalid", 0.0, None, 0, len(recs), task_type, tokens, recs
            )
        p_chosen = sum(r.picked == "chosen" for r in valid) / len(valid)
        outcome = "chosen" if p_chosen > 0.5 else "rejected" if p_chosen < 0.5 else "tie"
        if self.spec.aggregation == "mean":
            score = p_chosen
        else:
            score = {"chosen": 1.0, "tie": 0.5, "rejected": 0.0}[outcome]
        consistent = self._consistent(valid) if self.spec.both_orders else None
        return PairResult(
            pair.id,
            pair.subset,
            p_chosen,
            outcome,
            score,
            consistent,
            len(valid),
            len(recs),
            task_type,
            tokens,
            recs,
        )

    @staticmethod
    def _consistent(valid: list[JudgmentRecord]) -> bool | None:
        """Do the two orders' majority picks agree? (None when one order has no valid judgment.)"""
        picks = {}
        for order in ("AB", "BA"):
            votes = [r.picked == "chosen" for r in valid if r.order == order]
            if not votes:
                return None
            share = sum(votes) / len(votes)
            picks[order] = "chosen" if share > 0.5 else "rejected" if share < 0.5 else "tie"
        return picks["AB"] == picks["BA"] and picks["AB"] != "tie"
