"""Recipes: one frozen dataclass per stage, loaded from YAML plus ``key=value`` overrides.

Every default rmr1 owns lives here. Settings rmr1 does not own (learning rate, batch size, ...) go
under ``trainer:`` with trl's own names and are validated by trl's config class at run time
(see ``arguments.build_trl_args``), so nothing is renamed at the boundary.

A recipe file is a YAML mapping whose keys are the dataclass fields; nested specs are nested mappings.
Overrides use dotted keys: ``model.dtype=bfloat16``, ``trainer.learning_rate=1e-6``, ``limit=20``.
Unknown keys are errors that name the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from rmr1_cli.errors import ConfigError

# --------------------------------------------------------------------------------------------------
# Shared specs


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
    base_url: str | None = None
    served_model: str | None = None
    api_key_env: str | None = None
    concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 4
    gpu_memory_utilization: float = 0.85
    tensor_parallel_size: int = 1


@dataclass(frozen=True)
class JudgeSpec:
    """How a pairwise judge is asked and how its verdicts are combined."""

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


# --------------------------------------------------------------------------------------------------
# trl settings rmr1 chooses (laid under each recipe's ``trainer:``). The RM-R1 paper's values where it
# gives them (DESIGN.md §2); the GPU recipes set batch sizes, the CPU recipes scale everything down.

SFT_TRAINER_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-6,
    "num_train_epochs": 1,
    "lr_scheduler_type": "cosine_with_min_lr",
    "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
    "warmup_steps": 0.03,
    "max_length": 12288,
    "logging_steps": 1,
    "save_strategy": "no",
}

RM_GRPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-6,
    "lr_scheduler_type": "constant",
    "num_train_epochs": 1,
    "num_generations": 7,
    "temperature": 1.0,
    "beta": 0.001,
    "epsilon": 0.2,
    "max_completion_length": 8192,
    "logging_steps": 1,
    "save_strategy": "no",
}

RM_SCALAR_DEFAULTS: dict[str, Any] = {
    "learning_rate": 2e-5,
    "num_train_epochs": 1,
    "max_length": 4096,
    "logging_steps": 1,
    "save_strategy": "no",
}

POLICY_GRPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-6,
    "num_generations": 8,
    "temperature": 1.0,
    "beta": 0.0,
    "max_completion_length": 1024,
    "logging_steps": 1,
    "save_strategy": "no",
    "log_completions": False,
}

# --------------------------------------------------------------------------------------------------
# Stage recipes


@dataclass(frozen=True)
class SFTRecipe:
    """Distillation SFT of a judge on Chain-of-Rubrics traces (loss on the assistant trace only)."""

    output_dir: str = "runs/sft"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    lora: LoraSpec = field(default_factory=LoraSpec)
    train_file: str = "data/samples/traces_source.jsonl"
    # more SFT files (traces or trl `messages` rows) trained on alongside train_file, e.g. the base
    # model's own instruction data so that a judge keeps answering questions itself (judge.solve_first)
    mix_files: list[str] = field(default_factory=list)
    eval_file: str | None = None
    template: str = "cor"
    limit: int | None = None
    over_length: Literal["drop", "truncate"] = "drop"
    trainer: dict[str, Any] = field(default_factory=lambda: dict(SFT_TRAINER_DEFAULTS))


@dataclass(frozen=True)
class TrainRMRecipe:
    """Reward-model training: ``reasoning`` (GRPO on verdict correctness) or ``scalar`` (Bradley-Terry)."""

    output_dir: str = "runs/train-rm"
    seed: int = 0
    method: Literal["reasoning", "scalar"] = "reasoning"
    model: ModelSpec = field(default_factory=ModelSpec)
    lora: LoraSpec = field(default_factory=LoraSpec)
    train_file: str = "data/samples/pairs.jsonl"
    eval_file: str | None = None
    limit: int | None = None
    template: str = "cor"
    both_orders: bool = True
    format_reward_weight: float = 0.0
    max_prompt_length: int = 4096
    eval_every_steps: int = 0
    eval_limit: int = 32
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    trainer: dict[str, Any] = field(default_factory=dict)  # GRPOConfig (reasoning) or RewardConfig (scalar)
    # write every GRPO rollout with its reward to rollouts.jsonl (off for large GPU runs: ~1 GB per 1K steps)
    log_rollouts: bool = True


@dataclass(frozen=True)
class JudgeRecipe:
    """Judge every pair of a file with a generative RM; resumable through the judgment cache."""

    output_dir: str = "runs/judge"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    pairs_file: str = "data/samples/pairs.jsonl"
    limit: int | None = None
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)


@dataclass(frozen=True)
class ServeRecipe:
    """``rmr1 serve``: a judge model over HTTP (OpenAI chat completions + ``/judge``) for remote rewards."""

    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)  # defaults for requests + /judge
    judge: JudgeSpec = field(default_factory=JudgeSpec)  # how /judge asks and aggregates
    host: str = "127.0.0.1"  # loopback only; another address exposes the model to the network
    port: int = 8000  # 0 picks a free port; the URL is printed on stdout once the model is loaded
    served_model_name: str | None = None  # the "model" clients send (default: the model folder's name)
    api_key_env: str | None = None  # env var holding the bearer token clients must send (None: no token)
    max_request_bytes: int = 4_000_000  # larger bodies get 413 before they are read
    max_pairs_per_request: int = 512  # /judge
    batch_wait_ms: float = 10.0  # how long to gather concurrent requests into one model batch
    cache_file: str | None = None  # judgment cache for /judge: repeated comparisons are not regenerated


@dataclass(frozen=True)
class PairSource:
    """One file of a benchmark and how its rows become preference pairs (layouts: ``benchmarks.py``).

    ``pairs``: prompt, chosen, rejected per row (trl's columns). ``labelled``: prompt, answer_1, answer_2
    and a label saying which is better (or a tie). ``split``: one answer per row, rows of a pair share a
    ``group`` and a ``side`` says chosen or rejected. ``transcript``: chosen and rejected are whole
    ``Human:``/``Assistant:`` transcripts (HH-RLHF); the shared part is the prompt.
    """

    path: str = ""
    subset: str | None = None  # every pair of the file gets this subset (else the row's subset field)
    layout: Literal["pairs", "labelled", "split", "transcript"] = "pairs"
    fields: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's (a.b = nested)
    labels: dict[str, str] = field(
        default_factory=dict
    )  # value -> answer_1|answer_2|tie (split: chosen|rejected)
    votes: list[str] = field(
        default_factory=list
    )  # labelled: several annotators' label fields, majority wins
    extract: dict[str, str] = field(
        default_factory=dict
    )  # canonical name -> regex; its first group is the value
    ties: Literal["keep", "drop"] = "keep"  # tie-labelled pairs: kept (scored for agreement only) or dropped
    join: str = "\n"  # a field holding a list of strings (solution steps) is joined with this


@dataclass(frozen=True)
class BenchmarkSpec:
    """Which benchmark to read and how (``pairs`` = any preference-pair file)."""

    name: Literal["pairs", "rewardbench", "rm-bench", "rmb"] = "pairs"
    path: str = "data/samples/pairs_eval.jsonl"
    fields: dict[str, str] = field(default_factory=dict)
    # -- added for issue 4 --
    root: str = ""  # folder that relative paths (path, sources[].path) start from; "" = working directory
    split: str | None = None  # split of a hub dataset (rewardbench: filtered, else train)
    sources: list[PairSource] = field(
        default_factory=list
    )  # several files, each its own layout (replaces path)


@dataclass(frozen=True)
class EvalRecipe:
    """Evaluate a generative or scalar RM on a benchmark, with the benchmark's own scoring rules."""

    output_dir: str = "runs/eval"
    seed: int = 0
    kind: Literal["generative", "scalar"] = "generative"
    model: ModelSpec = field(default_factory=ModelSpec)
    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)
    limit: int | None = None  # at most this many units (pairs; RM-Bench prompts; BoN items) per subset
    subsets: list[str] = field(default_factory=list)  # subset or section names to keep (empty: all)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    batch_size: int = 8
    # -- added for issue 4 --
    bootstrap: int = 1000  # resamples for the 95% intervals (0: no intervals)
    plots: bool = True  # PNG plots next to report.md


@dataclass(frozen=True)
class RewardSpec:
    """The policy reward: a pairwise judge turned into one scalar per rollout (DESIGN.md §5)."""

    adapter: Literal["vs_reference", "round_robin", "knockout"] = "vs_reference"
    reference: Literal["column", "baseline"] = "column"
    judge_model: ModelSpec = field(default_factory=ModelSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    verifiable_weight: float = 0.0
    # -- added for issue 6: weights of the reward sources (their weighted sum is the GRPO reward) --
    judge_weight: float = 1.0  # 0 turns the generative judge off
    round_robin_score: Literal["win_rate", "bradley_terry"] = "win_rate"
    baseline_model: ModelSpec = field(
        default_factory=ModelSpec
    )  # reference=baseline; empty: the initial policy
    scalar_model: ModelSpec = field(default_factory=ModelSpec)  # a sequence-classifier RM (scoring.py)
    scalar_weight: float = 0.0
    samples_per_step: int = 2  # rollouts per step written to samples.jsonl with the judge's verdicts


@dataclass(frozen=True)
class JudgeSetup:
    """One judge as a unit: its weights, how it generates and how it is asked (empty model: no judge)."""

    model: ModelSpec = field(default_factory=ModelSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)


@dataclass(frozen=True)
class PolicyEvalRecipe:
    """A trained policy against its initial one on held-out prompts (``rmr1 policy-eval``).

    Both policies answer every prompt greedily (``generation``); each judge compares the two answers in
    both A/B orders, a win counting only when it survives the swap; prompts with an ``answer`` also get
    verifiable accuracy.
    """

    output_dir: str = "runs/policy-eval"
    seed: int = 0
    policy: ModelSpec = field(default_factory=ModelSpec)  # the trained policy
    baseline: ModelSpec = field(default_factory=ModelSpec)  # the initial policy
    prompts_file: str = "data/samples/prompts.jsonl"
    limit: int | None = None
    generation: GenerationSpec = field(default_factory=lambda: GenerationSpec(max_new_tokens=256))
    judge: JudgeSetup = field(default_factory=JudgeSetup)
    second_judge: JudgeSetup = field(default_factory=JudgeSetup)


@dataclass(frozen=True)
class GRPORecipe:
    """Policy GRPO with a (reasoning) reward model as the reward."""

    output_dir: str = "runs/grpo"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    lora: LoraSpec = field(default_factory=LoraSpec)
    prompts_file: str = "data/samples/prompts.jsonl"
    eval_prompts_file: str | None = None
    limit: int | None = None
    max_prompt_length: int = 1024
    reward: RewardSpec = field(default_factory=RewardSpec)
    trainer: dict[str, Any] = field(default_factory=lambda: dict(POLICY_GRPO_DEFAULTS))
    # -- added for issue 6: policy evaluation after training (when eval_prompts_file is set) --
    eval_limit: int | None = None
    eval_second_judge: JudgeSetup = field(default_factory=JudgeSetup)  # besides the reward's judge


@dataclass(frozen=True)
class SynthRecipe:
    """A verifiable synthetic domain (small integer arithmetic): prompts, pairs and gold traces.

    ``length_bias`` is P(chosen answer is the longer one) in the train pairs (and pairs_test_iid);
    ``test_length_bias`` the same for pairs_test (0: the longer answer is always the wrong one).
    """

    output_dir: str = "runs/synth"
    seed: int = 0
    ops: list[Literal["add", "sub", "mul", "two_step"]] = field(default_factory=lambda: ["add", "sub", "mul"])
    max_operand: int = 20  # add/sub operands 0..max_operand (two_step: its first operand)
    max_factor: int = 12  # multiplication factors 2..max_factor
    train_prompts: int = 400
    test_prompts: int = 100
    errors: list[
        Literal["off_by_one", "wrong_operator", "wrong_carry", "copy_error", "order_of_operations"]
    ] = field(
        default_factory=lambda: [
            "off_by_one",
            "wrong_operator",
            "wrong_carry",
            "copy_error",
            "order_of_operations",
        ]
    )
    pairs_per_prompt: int = 2  # distinct error types per prompt (fewer where fewer apply)
    length_bias: float = 0.9
    test_length_bias: float = 0.0
    # disjoint: test expressions never seen in training (tests generalising arithmetic); shared: both
    # splits draw from the same facts (tests the length shortcut alone, what tiny models can show)
    test_problems: Literal["disjoint", "shared"] = "disjoint"
    # share of train (and iid test) pairs with both answers concise: no length cue, like two answers
    # of one policy (what a judge sees as a GRPO reward); the length bias applies to the others
    same_style_share: float = 0.0


@dataclass(frozen=True)
class DistillRecipe:
    """Teacher-written Chain-of-Rubrics traces for labelled pairs, kept only when the verdict is right.

    Traces with a wrong or invalid verdict get a second pass in which the teacher is shown the gold
    verdict (``hint_file``, ``{label}`` filled in); the kept trace is stored with the plain judge prompt.
    """

    output_dir: str = "runs/distill"
    seed: int = 0
    teacher: ModelSpec = field(default_factory=ModelSpec)
    teacher_source: Literal["model", "synthetic"] = "model"  # synthetic: `rmr1 synth` gold traces, no model
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    pairs_file: str = "data/samples/pairs.jsonl"
    limit: int | None = None
    template: str = "cor"
    both_orders: bool = False  # a trace for each A/B order; else one per pair in its ab_slot (or alternating)
    second_pass: bool = True
    hint_file: str | None = None  # text with {label}; None = rmr1's own wording (stages/distill.py)
    show_first_attempt: bool = True  # the second pass shows the teacher its own first output
    leak_phrases: list[str] = field(
        default_factory=lambda: ["reviewer", "hint", "was told", "gold verdict", "given verdict"]
    )  # a second-pass trace that mentions one of these (any case) is dropped
    balance_labels: bool = False  # keep as many A as B traces (drops the surplus of the commoner label)
    check_solution: bool = False  # keep a trace only if its <solution> reaches the pair's `answer` column


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


@dataclass(frozen=True)
class RefineRecipe:
    """Policy answers -> bad cases (judge and/or verifiable check) -> refined answers -> preference pairs.

    ``select`` rules (combined with ``combine``): ``lost`` (the judge prefers the reference, swap-safe),
    ``low_reward`` (share of judgments preferring the policy answer < ``low_reward_threshold``),
    ``wrong_answer`` (the verifiable check fails; prompts with an ``answer`` only).
    """

    output_dir: str = "runs/refine"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)  # the policy
    generation: GenerationSpec = field(default_factory=GenerationSpec)  # the policy's sampling
    prompts_file: str = "data/samples/prompts.jsonl"
    limit: int | None = None
    samples_per_prompt: int = 1
    select: list[Literal["lost", "low_reward", "wrong_answer"]] = field(
        default_factory=lambda: ["lost", "wrong_answer"]
    )
    combine: Literal["any", "all"] = "any"
    low_reward_threshold: float = 0.5
    judge_model: ModelSpec = field(default_factory=ModelSpec)
    judge_generation: GenerationSpec = field(default_factory=GenerationSpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    max_pairs: int | None = None


# --------------------------------------------------------------------------------------------------
# Loading


def load_recipe(path: str | Path | None, recipe_cls: type, overrides: list[str] | tuple[str, ...] = ()):
    """Read a YAML recipe (or start from the defaults when ``path`` is None) and apply overrides.

    >>> r = load_recipe(None, JudgeRecipe, ["judge.samples=3", "limit=5", "model.name_or_path=m"])
    >>> (r.judge.samples, r.limit, r.model.name_or_path)
    (3, 5, 'm')
    """
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: recipe file not found") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a recipe must be a YAML mapping of keys to values")
        raw = loaded
    for item in overrides:
        _apply_override(raw, item, recipe_cls)
    return build(recipe_cls, raw, source)


def build(cls: type, data: dict[str, Any], where: str):
    """Build dataclass ``cls`` from a mapping, converting values to the declared field types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, list(fields))}")
        kwargs[key] = coerce(value, hints[key], f"{where}: {key}")
        default = fields[key].default_factory
        if isinstance(kwargs[key], dict) and default is not dataclasses.MISSING:
            # a free-form mapping (trl settings) is laid over the stage's defaults, not instead of them
            kwargs[key] = {**default(), **kwargs[key]}
    return cls(**kwargs)


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a command-line string) to ``annotation``.

    >>> coerce("1e-5", float, "x"), coerce("true", bool, "x"), coerce("null", int | None, "x")
    (1e-05, True, None)
    >>> coerce("a,b", list[str], "x")
    ['a', 'b']
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        errors = []
        for member in args:
            if member is type(None):
                continue
            try:
                return coerce(value, member, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be null")
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        raise ConfigError(
            f"{where}: {value!r} is not one of {choices}{_suggest(str(value), [str(a) for a in args])}"
        )
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value, where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = (
                float(value)
                if annotation is float
                else int(str(value), 0)
                if isinstance(value, str)
                else value
            )
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}") from None
        if annotation is int and (not isinstance(number, int) or isinstance(number, bool)):
            if isinstance(number, float) and number.is_integer():
                return int(number)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return number
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__}")
        return str(value)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [coerce(v, args[0], f"{where}[{i}]") if args else v for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def to_dict(recipe: Any) -> dict[str, Any]:
    """The resolved recipe as plain data (what each stage writes to ``recipe.yaml``)."""
    return dataclasses.asdict(recipe)


def dump_yaml(recipe: Any) -> str:
    return yaml.safe_dump(to_dict(recipe), sort_keys=False, allow_unicode=True)


def _apply_override(raw: dict[str, Any], item: str, recipe_cls: type) -> None:
    """Set ``a.b.c=value`` in the raw mapping; ``build`` converts it to the field's declared type.

    Below a free-form mapping (``trainer.*``) there is no declared type, so the value is read as a
    YAML scalar (numbers and booleans arrive typed) and trl's own config class checks it later.
    """
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key=value (e.g. trainer.learning_rate=1e-6)")
    dotted, value = item.split("=", 1)
    keys = dotted.strip().split(".")
    cls: Any = recipe_cls
    node = raw
    for depth, key in enumerate(keys):
        if cls is not None:
            names = [f.name for f in dataclasses.fields(cls)]
            if key not in names:
                where = ".".join(keys[:depth]) or recipe_cls.__name__
                raise ConfigError(
                    f"override '{dotted}': unknown key '{key}' in {where}{_suggest(key, names)}"
                )
            declared = typing.get_type_hints(cls)[key]
            cls = _dataclass_in(declared)
            free_form = False
        else:
            free_form = True
        if depth == len(keys) - 1:
            node[key] = yaml.safe_load(value) if free_form and value.strip() else value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{key}' is not a mapping")
        node = child


def _dataclass_in(annotation: Any) -> type | None:
    if dataclasses.is_dataclass(annotation):
        return annotation
    for member in typing.get_args(annotation):
        if dataclasses.is_dataclass(member):
            return member
    return None


def _suggest(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(names)})"


# --------------------------------------------------------------------------------------------------
# One recipe class per command: the CLI derives each command's recipe (and its stage module,
# ``rmr1_cli.stages.<command with _ for ->``) from these names.

RECIPES: dict[str, type] = {
    "sft": SFTRecipe,
    "train-rm": TrainRMRecipe,
    "judge": JudgeRecipe,
    "serve": ServeRecipe,
    "eval": EvalRecipe,
    "grpo": GRPORecipe,
    "policy-eval": PolicyEvalRecipe,
    "synth": SynthRecipe,
    "distill": DistillRecipe,
    "refine": RefineRecipe,
}
