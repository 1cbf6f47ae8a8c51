"""The blocks recipes are made of: a model, LoRA, generation settings, a judge, a benchmark, a reward,
a teacher. Each checks its own ranges when it is built (``checks.py``), so a recipe fails as it loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rmr1_cli.config.checks import FieldError, at_least, between, http_urls, require
from rmr1_cli.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """Which weights to load and how. ``dtype``/``device`` ``auto`` pick bf16 on a GPU, fp32 on the CPU."""

    name_or_path: str = ""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    gguf_file: str | None = None
    revision: str | None = None
    gradient_checkpointing: bool = False


@dataclass(frozen=True)
class LoraSpec:
    """LoRA / QLoRA through peft; ``merge_on_save`` writes a plain model folder at the end."""

    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    load_in_4bit: bool = False
    merge_on_save: bool = True
    # adapt only these decoder layers (e.g. the top ones): on a CPU the backward pass then stops there
    layers_to_transform: list[int] | None = None

    def __post_init__(self) -> None:
        at_least(self, 1, "r")
        between(self, "dropout", 0.0, 1.0)


@dataclass(frozen=True)
class GenerationSpec:
    """How text is generated: the backend and its sampling settings.

    ``transformers`` runs in-process; ``vllm`` needs the ``vllm`` extra and a GPU; ``openai`` talks to any
    OpenAI-compatible chat-completions server (``rmr1 serve`` included), its key read from the
    environment variable named by ``api_key_env`` (never from the recipe itself).
    """

    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 16
    stop_at_verdict: bool = True
    base_url: str | list[str] | None = None  # one URL, or several servers of the same model
    served_model: str | None = None
    api_key_env: str | None = None
    concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 4
    gpu_memory_utilization: float = 0.85
    tensor_parallel_size: int = 1

    def __post_init__(self) -> None:
        at_least(self, 1, "max_new_tokens", "batch_size", "concurrency", "tensor_parallel_size")
        at_least(self, 0, "temperature", "max_retries")
        between(self, "top_p", 0.0, 1.0, above_low=True)
        between(self, "gpu_memory_utilization", 0.0, 1.0, above_low=True)
        require(self.timeout_s > 0, "timeout_s", f"must be positive, got {self.timeout_s}")
        http_urls(self.base_url, "base_url")

    @property
    def base_urls(self) -> tuple[str, ...]:
        """``base_url`` as a tuple of URLs (a list, or one string with the URLs separated by commas).

        >>> GenerationSpec(base_url="http://a:8000/v1, http://b:8000/v1").base_urls
        ('http://a:8000/v1', 'http://b:8000/v1')
        """
        return http_urls(self.base_url, "base_url")


@dataclass(frozen=True)
class JudgeSpec:
    """A pairwise judge: its weights, how it generates, how it is asked and how its verdicts combine.

    Every recipe describes a judge with this one block (``judge:``, ``second_judge:``, ``reward.judge:``,
    ``eval_second_judge:``), so the template is ``judge.template`` wherever a judge is. Where a judge is
    optional, an empty ``model.name_or_path`` (and a local backend) means there is none (``given``).
    """

    model: ModelSpec = field(default_factory=ModelSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    template: str = "cor"
    both_orders: bool = True
    samples: int = 1
    aggregation: Literal["majority", "mean"] = "majority"
    retry_invalid: int = 0
    too_long: Literal["truncate", "skip"] = "truncate"
    max_prompt_tokens: int | None = None
    # solve first: the judge answers the question on its own (greedy, the bare question, no answers in
    # view), then judges with that answer written in as its <solution>; its solution cannot copy either
    # answer. For reasoning tasks, with a judge that can still answer questions (transformers backend).
    solve_first: bool = False
    solution_tokens: int = 128
    # who reads the verdict: rmr1's parser, RM-R1's eval scripts' rule or its RL reward's, or the trace's
    # own marks ("matches"/"differs", judging/verdicts.py: marks_verdict) (docs/data-formats.md)
    verdict_rule: Literal["rmr1", "rm-r1-eval", "rm-r1-rl", "marks"] = "rmr1"

    def __post_init__(self) -> None:
        at_least(self, 1, "samples", "max_prompt_tokens", "solution_tokens")
        at_least(self, 0, "retry_invalid")
        if self.samples > 1 and self.generation.temperature <= 0:
            raise FieldError(
                "samples",
                f"{self.samples} samples with generation.temperature=0 would be {self.samples} identical "
                "greedy judgments; set generation.temperature > 0 (e.g. 0.7) or samples=1",
            )
        if self.solve_first and self.generation.backend != "transformers":
            raise FieldError(
                "solve_first",
                "needs generation.backend=transformers (the judge's reply is begun for it; the "
                f"{self.generation.backend} backend cannot continue a begun reply here)",
            )

    @property
    def given(self) -> bool:
        """Whether a judge is described: a model to load, or an OpenAI-compatible endpoint to ask."""
        return bool(self.model.name_or_path) or self.generation.backend == "openai"


@dataclass(frozen=True)
class PairSource:
    """One file of a benchmark and how its rows become preference pairs (``evaluation/layouts.py``).

    ``pairs``: prompt, chosen, rejected per row (trl's columns). ``labelled``: prompt, answer_1, answer_2
    and a label saying which is better (or a tie). ``split``: one answer per row, rows of a pair share a
    ``group`` and a ``side`` says chosen or rejected. ``transcript``: chosen and rejected are whole
    ``Human:``/``Assistant:`` transcripts (HH-RLHF); the shared part is the prompt.
    """

    path: str = ""
    subset: str | None = None  # every pair of the file gets this subset (else the row's subset field)
    layout: Literal["pairs", "labelled", "split", "transcript"] = "pairs"
    fields: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's (a.b = nested)
    # value -> answer_1|answer_2|tie (split: chosen|rejected)
    labels: dict[str, str] = field(default_factory=dict)
    # labelled: several annotators' label fields, majority wins
    votes: list[str] = field(default_factory=list)
    # canonical name -> regex; its first group is the value
    extract: dict[str, str] = field(default_factory=dict)
    ties: Literal["keep", "drop"] = "keep"  # tie-labelled pairs: kept (scored for agreement only) or dropped
    join: str = "\n"  # a field holding a list of strings (solution steps) is joined with this
    section: str | None = None  # the file's section (pairs rule; several files: default its file stem)


@dataclass(frozen=True)
class BenchmarkSpec:
    """Which benchmark to read and how (``pairs`` = any preference-pair file)."""

    name: str = "pairs"  # a rule of evaluation/rules/ (pairs, rewardbench, rm-bench, rmb)
    path: str = "data/samples/pairs_eval.jsonl"
    fields: dict[str, str] = field(default_factory=dict)
    root: str = ""  # folder that relative paths (path, sources[].path) start from; "" = working directory
    split: str | None = None  # split of a hub dataset (rewardbench: filtered, else train)
    # several files, each its own layout (replaces path)
    sources: list[PairSource] = field(default_factory=list)
    # how a generative judge's two orders make one verdict: the benchmark's own rule, or right only when
    # the orders' votes (+1 right, -1 wrong, 0 invalid) sum above 0 (JudgeBench-style)
    pair_rule: Literal["benchmark", "both_orders_must_agree"] = "benchmark"

    def __post_init__(self):
        from rmr1_cli.evaluation.rules import get_rule  # the registry is the one list of benchmark names

        try:
            get_rule(self.name)
        except ConfigError as exc:
            raise FieldError("name", str(exc).removeprefix("benchmark.name: ")) from None


@dataclass(frozen=True)
class RewardSpec:
    """The policy reward: a pairwise judge turned into one scalar per rollout (docs/policy.md), a scalar
    RM and a verifiable answer check, weighted."""

    adapter: Literal["vs_reference", "round_robin", "knockout"] = "vs_reference"
    reference: Literal["column", "baseline"] = "column"
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    verifiable_weight: float = 0.0
    # weights of the reward sources (their weighted sum is the GRPO reward)
    judge_weight: float = 1.0  # 0 turns the generative judge off
    round_robin_score: Literal["win_rate", "bradley_terry"] = "win_rate"
    # reference=baseline: the policy whose answers are the references (empty: the initial policy)
    baseline_model: ModelSpec = field(default_factory=ModelSpec)
    scalar_model: ModelSpec = field(default_factory=ModelSpec)  # a sequence classifier (evaluation/scalar.py)
    scalar_weight: float = 0.0
    samples_per_step: int = 2  # rollouts per step written to samples.jsonl with the judge's verdicts

    def __post_init__(self) -> None:
        at_least(self, 0, "samples_per_step")
        require(
            any((self.judge_weight, self.scalar_weight, self.verifiable_weight)),
            "judge_weight",
            "every weight is 0; set judge_weight, scalar_weight or verifiable_weight",
        )
        require(
            not self.judge_weight or self.judge.both_orders,
            "judge.both_orders",
            "must be true: a win counts only when it survives the A/B swap (or set judge_weight=0)",
        )


@dataclass(frozen=True)
class TeacherSpec:
    """Who writes the improved answer for a bad case in ``rmr1 refine``.

    ``policy``: the policy itself rewrites its answer (with the judge's critique when there is one);
    ``model``: another model (``model`` + ``generation``; an OpenAI-compatible endpoint included);
    ``reference``: the prompt's reference answer (an oracle, for data sets that have one).
    """

    source: Literal["policy", "model", "reference"] = "policy"
    model: ModelSpec = field(default_factory=ModelSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    prompt_file: str | None = None  # rewrite prompt with {prompt} {answer} {critique} {reference}
    use_critique: bool = True
    attempts: int = 1  # samples per bad case; the first that passes the checks is kept

    def __post_init__(self) -> None:
        at_least(self, 1, "attempts")
