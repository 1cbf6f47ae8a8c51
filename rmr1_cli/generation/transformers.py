"""The transformers backend: batched in-process generation with a shared-prefix KV cache."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rmr1_cli.config import GenerationSpec, ModelSpec
from rmr1_cli.generation.base import MIN_SHARED_PREFIX, Generation, Generator, SamplingParams, cut_at_stop

if TYPE_CHECKING:
    from rmr1_cli.data import Message

log = logging.getLogger(__name__)


class TransformersGenerator(Generator):
    """Batched in-process generation: left padding, length-sorted batches, per-row early stop.

    Sorting prompts by length before batching keeps padding (wasted compute) small; the prompts' common
    start (template and instructions) is run once and its KV cache shared by every row; each row stops
    at its end-of-turn token or at a stop string (the verdict's closing tag), and a batch ends as soon
    as every row has stopped. Sampling draws each row from its own seeded generator.
    """

    def __init__(self, model, tokenizer, spec: GenerationSpec, identity: str):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = spec.batch_size
        self.identity = identity
        self.context_length = _context_length(model, tokenizer)
        self._eos_ids = _eos_ids(model, tokenizer)
        self.share_prefix = True  # compute the prompts' common start once per batch (see _shared_prefix)
        self._prefix = None  # (token ids, one row's KV cache, weights version) of the last shared start
        self._weights_version = 0
        # training/lockstep.Lockstep when the model is sharded over ranks (ZeRO-3, FSDP): every generate
        # is announced to the other ranks and run with synced_gpus; no forward passes outside generate
        self.lockstep = None
        # off for a model being trained: weights touched under inference_mode become inference tensors
        # (FSDP2's re-sharded weights then fail "Inference tensors do not track version counter")
        self.inference_mode = True
        import inspect

        forward = inspect.signature(model.forward).parameters
        self._cache_kwarg = (
            "cache" if "cache" in forward else "past_key_values"
        )  # renamed in transformers 5.x

    @classmethod
    def load(cls, model_spec: ModelSpec, spec: GenerationSpec) -> TransformersGenerator:
        from rmr1_cli import models

        tokenizer = models.load_tokenizer(model_spec, padding_side="left")
        model = models.load_causal_lm(model_spec)
        model.eval()
        identity = f"transformers:{model_spec.name_or_path}:{models.model_identity(model_spec)}"
        return cls(model, tokenizer, spec, identity)

    def render(self, conversation: list[Message]) -> str:
        from rmr1_cli.errors import ModelError

        if not self.tokenizer.chat_template:
            raise ModelError("the judge model's tokenizer has no chat template; use an instruct/chat model")
        if (
            conversation and conversation[-1]["role"] == "assistant"
        ):  # a reply begun for the model: continue it
            return self.tokenizer.apply_chat_template(
                conversation, tokenize=False, continue_final_message=True
            )
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, conversation: list[Message]) -> int:
        return len(self._encode(self.render(conversation)))

    def text_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def cut_text(self, text: str, max_tokens: int) -> str:
        ids = self._encode(text)
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[: max(0, max_tokens)], skip_special_tokens=False)

    def _encode(self, text: str) -> list[int]:
        # The chat template already holds any BOS the model wants; do not add a second one.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[Generation]:
        prompts = [self._encode(self.render(c)) for c in conversations]
        return self.generate_ids(prompts, params)

    def generate_ids(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        """Generate from token ids, longest prompts first, ``batch_size`` rows at a time."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        results: list[Generation | None] = [None] * len(prompts)
        version = sum(p._version for p in self.model.parameters())  # bumped by every in-place update
        if self._prefix is not None and self._prefix[2] != version:
            self._prefix = None  # the weights moved (a model being trained): its KV cache is stale
        self._weights_version = version
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            seeds = [params.seed_for(i) for i in batch]
            gens = self._generate_batch([prompts[i] for i in batch], params, seeds)
            for i, gen in zip(batch, gens, strict=True):
                results[i] = gen
        return results  # type: ignore[return-value]

    def _generate_batch(
        self, prompts: list[list[int]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        pad = self.tokenizer.pad_token_id
        rows, masks, cache = self._layout(prompts, pad)
        width = len(rows[0])
        device = self.model.device
        # Decoding is always "greedy" over processed scores; for sampling, _RowSampler has already
        # drawn each row's token from that row's own generator and masked every other token.
        if self.lockstep is not None:
            self.lockstep.announce()
            synced = {"synced_gpus": True}
        else:
            synced = {}
        kwargs = dict(
            **synced,
            max_new_tokens=params.max_new_tokens,
            do_sample=False,
            temperature=None,  # silence "temperature is set but do_sample is False" from hub configs
            top_p=None,
            top_k=None,
            pad_token_id=pad,
            use_cache=True,
        )
        if cache is not None:
            kwargs[self._cache_kwarg] = cache
        if not params.greedy:
            kwargs["logits_processor"] = LogitsProcessorList([_RowSampler(seeds, params)])
        if params.stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [_StopOnText(self.tokenizer, params.stop, width, after=params.stop_after)]
            )
        with self._no_grad():
            out = self.model.generate(
                input_ids=torch.tensor(rows, device=device),
                attention_mask=torch.tensor(masks, device=device),
                **kwargs,
            )
        generated = out[:, width:].tolist()
        return [self._finish(row, pad, params, len(p)) for row, p in zip(generated, prompts, strict=True)]

    def _no_grad(self):
        """inference_mode for a judge; no_grad for a model being trained, as trl's GRPOTrainer generates
        (trl/trainer/grpo_trainer.py): sharded weights gathered under inference_mode become inference
        tensors (tests/test_lockstep.py shows FSDP2 failing so)."""
        import torch

        return torch.inference_mode() if self.inference_mode else torch.no_grad()

    def generate_idle(self) -> None:
        """One dummy ``generate`` (one token in, one out, result dropped) with ``synced_gpus``: what a
        rank whose held-out judging is over runs while other ranks still generate (``Lockstep.drain``)."""
        import torch

        token = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[token]], device=self.model.device)
        with self._no_grad():
            self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=1,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=token,
                synced_gpus=True,
            )

    def _layout(self, prompts: list[list[int]], pad: int):
        """Input rows, attention masks and a prefilled KV cache (or None) for one batch.

        Plain: left padding. With shared starts: ``[common start][group start][padding][rest]``, where
        the common start (chat template, system prompt, instructions: ~80% of a CoR prompt) is computed
        once for the batch, and a group start once per group of rows that share more (the two A/B
        orders of a pair share the conversation; the k samples of a judgment share the whole prompt).
        Positions follow the attention mask, so padding in the middle changes nothing.
        """
        plain_width = max(len(p) for p in prompts)
        plain = (
            [[pad] * (plain_width - len(p)) + p for p in prompts],
            [[0] * (plain_width - len(p)) + [1] * len(p) for p in prompts],
            None,
        )
        start = self._common_start(prompts)
        if start is None:
            return plain
        prefix, base = start
        n, common = len(prompts), len(prefix)
        tails = [p[common:] for p in prompts]
        shared = [0] * n
        groups = [(idx, g) for idx, g in share_groups(tails, MIN_SHARED_PREFIX) if g > 0]
        for idx, g in groups:
            for i in idx:
                shared[i] = g
        group_width = max(shared)
        rest_width = max(len(t) - g for t, g in zip(tails, shared, strict=True))
        saved = sum((len(idx) - 1) * g for idx, g in groups)
        if saved < n * (group_width + rest_width - max(len(t) for t in tails)):
            groups, shared = [], [0] * n  # the middle padding would cost more than sharing saves
            group_width, rest_width = 0, max(len(t) for t in tails)
        try:
            cache = self._batch_cache(base, common, tails, groups, shared, group_width, n)
        except (AttributeError, TypeError, RuntimeError, ValueError) as exc:
            log.debug("prefix sharing off for this model: %s", exc)
            self.share_prefix = False
            return plain
        rows, masks = [], []
        for tail, g in zip(tails, shared, strict=True):
            rest = tail[g:]
            gap = (group_width - g) + (rest_width - len(rest))
            rows.append(prefix + tail[:g] + [pad] * gap + rest)
            masks.append([1] * (common + g) + [0] * gap + [1] * len(rest))
        return rows, masks, cache

    def _batch_cache(self, base, common: int, tails, groups, shared, group_width: int, n: int):
        """The batch's KV cache: the common start for every row, then each row's group start (zeros,
        masked out, up to ``group_width``)."""
        import copy

        import torch
        from transformers import DynamicCache

        group_kv: dict[int, list] = {}
        for idx, g in groups:
            cache = copy.deepcopy(base)
            with self._no_grad():
                ids = torch.tensor([tails[idx[0]][:g]], device=self.model.device)
                self.model(input_ids=ids, **{self._cache_kwarg: cache}, use_cache=True)
            kv = [(layer.keys[:, :, common:], layer.values[:, :, common:]) for layer in cache.layers]
            for i in idx:
                group_kv[i] = kv
        data = []
        for number, layer in enumerate(base.layers):
            keys, values = [], []
            for i in range(n):
                k, v = (
                    group_kv[i][number] if i in group_kv else (layer.keys[:, :, :0], layer.values[:, :, :0])
                )
                short = group_width - shared[i]
                if short:
                    k = torch.cat([k, k.new_zeros(*k.shape[:2], short, k.shape[3])], dim=2)
                    v = torch.cat([v, v.new_zeros(*v.shape[:2], short, v.shape[3])], dim=2)
                keys.append(torch.cat([layer.keys, k], dim=2))
                values.append(torch.cat([layer.values, v], dim=2))
            data.append((torch.cat(keys, dim=0), torch.cat(values, dim=0)))
        return DynamicCache(data)

    def _common_start(self, prompts: list[list[int]]):
        """(token ids, one row's KV cache) of the batch's common start, or None when it is short.

        Kept for later batches and calls while it stays a common start and the weights do not change.
        Only for models whose cache is a plain per-layer KV cache (no sliding window).
        """
        import torch

        if not self.share_prefix or self.lockstep is not None or len(prompts) < 2:
            return None  # (a forward pass outside generate would put a sharded model's ranks out of step)
        first, shortest = prompts[0], min(len(p) for p in prompts)
        known = self._prefix
        if (
            known is not None
            and len(known[0]) < shortest
            and all(p[: len(known[0])] == known[0] for p in prompts)
        ):
            return known[0], known[1]
        n = 0
        limit = shortest - 1  # every row keeps at least one token to feed the model
        while n < limit and all(p[n] == first[n] for p in prompts):
            n += 1
        if n < MIN_SHARED_PREFIX:
            return None
        prefix = first[:n]
        try:
            with self._no_grad():
                out = self.model(input_ids=torch.tensor([prefix], device=self.model.device), use_cache=True)
            cache = getattr(out, "cache", None) or out.past_key_values
            if any(type(layer).__name__ != "DynamicLayer" for layer in cache.layers):
                raise TypeError(f"{type(cache.layers[0]).__name__} layers (sliding window?)")
        except (AttributeError, TypeError, RuntimeError, ValueError) as exc:
            log.debug("prefix sharing off for this model: %s", exc)
            self.share_prefix = False
            return None
        self._prefix = (prefix, cache, self._weights_version)
        return prefix, cache

    def _finish(self, row: list[int], pad: int, params: SamplingParams, prompt_tokens: int) -> Generation:
        """Cut a generated row at its end: eos, padding after a stop, or a stop string."""
        ended = False
        kept = []
        for token in row:
            if token in self._eos_ids:
                ended = True
                break
            if token == pad:  # a finished row is filled with padding (pad == eos is caught above)
                ended = True
                break
            kept.append(token)
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        text, cut = cut_at_stop(text, params)
        ended = ended or cut
        finish = "stop" if ended else "length"
        return Generation(text, len(kept), finish, prompt_tokens=prompt_tokens)


class _RowSampler:
    """Temperature / top-p sampling with one seeded ``torch.Generator`` per row.

    transformers' own sampling draws from one global generator, so a row's sample would depend on the
    other rows of its batch; here a row's draws depend only on its seed (up to float noise from
    padding). It returns scores with every token but the drawn one at -inf, so greedy search picks it.
    """

    def __init__(self, seeds: list[int], params: SamplingParams):
        self.seeds = seeds
        self.temperature = params.temperature
        self.top_p = params.top_p
        self.generators = None

    def __call__(self, input_ids, scores):
        import torch

        if self.generators is None:
            self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, index = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(-1) - sorted_probs > self.top_p  # keep the smallest nucleus
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, index, sorted_probs)
        picks = torch.stack(
            [torch.multinomial(probs[i], 1, generator=g)[0] for i, g in enumerate(self.generators)]
        )
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(picks), device=scores.device), picks] = 0.0
        return out


class _StopOnText:
    """Stop a row once its generated text contains a stop string.

    Decodes only the last few generated tokens of each row (enough to span the longest stop string),
    which costs far less per step than transformers' ``stop_strings`` machinery needs to set up.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...], prompt_width: int, after: str | None = None):
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_width = prompt_width
        self.after = after  # with a thinking judge: stops count only once "</think>" has been written
        self.seen: dict[int, bool] = {}
        longest = max([len(s) for s in stops] + [len(after or "")])
        self.window = 2 * longest + 2  # a token holds at least one character

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.window) :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=False)
        done = []
        for row, text in enumerate(texts):
            if self.after:
                at = text.rfind(self.after)
                if at >= 0:
                    self.seen[row] = True
                    text = text[at + len(self.after) :]
                elif not self.seen.get(row):
                    done.append(False)
                    continue
            done.append(any(s in text for s in self.stops))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def share_groups(tails: list[list[int]], minimum: int) -> list[tuple[list[int], int]]:
    """Split rows into groups that share a start of at least ``minimum`` tokens, computing as many
    tokens once as possible; returns (row indices, shared length), a lone row with length 0.

    Rows are sorted so that shared starts sit next to each other; the best split of that order into
    runs is found by dynamic programming. Each row keeps at least its last token out of the shared part.

    >>> a, b = [1] * 40 + [2, 3], [1] * 40 + [4, 5]
    >>> share_groups([a, b, a, [9] * 50], 32)  # both copies of a share 41, b joins at 40: one group
    [([0, 2, 1], 40), ([3], 0)]
    >>> share_groups([[1] * 10, [1] * 10], 32)  # too short to be worth it
    [([0], 0), ([1], 0)]
    """
    order = sorted(range(len(tails)), key=lambda i: tails[i])

    def lcp(x: list[int], y: list[int]) -> int:
        n = 0
        while n < len(x) and n < len(y) and x[n] == y[n]:
            n += 1
        return n

    adjacent = [lcp(tails[order[k]], tails[order[k + 1]]) for k in range(len(order) - 1)]
    best = [0] * (len(order) + 1)  # best[j]: tokens saved by the best split of order[:j]
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        best[j], cut[j] = best[j - 1], j - 1  # order[j-1] alone
        length = len(tails[order[j - 1]]) - 1
        for i in range(j - 2, -1, -1):  # the run order[i:j]
            length = min(length, adjacent[i], len(tails[order[i]]) - 1)
            if length < minimum:
                break
            if best[i] + (j - 1 - i) * length > best[j]:
                best[j], cut[j] = best[i] + (j - 1 - i) * length, i
    groups, j = [], len(order)
    while j > 0:
        i = cut[j]
        run = order[i:j]
        shared = len(tails[run[0]]) - 1 if len(run) > 1 else 0
        for k in range(i, j - 1):
            shared = min(shared, adjacent[k], len(tails[order[k + 1]]) - 1)
        groups.append((run, shared if len(run) > 1 else 0))
        j = i
    return groups[::-1]


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found


def _context_length(model, tokenizer) -> int | None:
    n = getattr(model.config, "max_position_embeddings", None)
    if n is None:
        limit = getattr(tokenizer, "model_max_length", None)
        n = limit if limit and limit < 10**7 else None
    return n
