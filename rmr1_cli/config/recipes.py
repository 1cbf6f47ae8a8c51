"""One recipe class per command (``RECIPES``), and the trl settings rmr1 chooses for each trainer.

Every default rmr1 owns lives here or in ``specs.py``. Settings rmr1 does not own (learning rate, batch
size, ...) go under ``trainer:`` with trl's own names and are validated by trl's config class at run
time (``training/arguments.py``), so nothing is renamed at the boundary. Each recipe checks its ranges
as it is built (``__post_init__``); whether a model is given is checked by the stage, since shipped
recipes leave some models to the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rmr1_cli.config.checks import FieldError, at_least, between, require
from rmr1_cli.config.specs import (
    BenchmarkSpec,
    GenerationSpec,
    JudgeSpec,
    LoraSpec,
    ModelSpec,
    RewardSpec,
    TeacherSpec,
)

# --------------------------------------------------------------------------------------------------
# trl settings rmr1 chooses (laid under each recipe's ``trainer:``). The RM-R1 paper's values where it
# gives them (docs/training.md); the GPU recipes set batch sizes, the CPU recipes scale everything down.

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
    template: str = "cor"  # the judge prompt the traces are rendered under
    limit: int | None = None
    over_length: Literal["drop", "truncate"] = "drop"
    require_verdict: bool = True  # refuse train/eval traces without a valid final verdict (not mix_files)
    trainer: dict[str, Any] = field(default_factory=lambda: dict(SFT_TRAINER_DEFAULTS))

    def __post_init__(self) -> None:
        at_least(self, 1, "limit")


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
    template: str = "cor"  # the judge prompt the model being trained writes under
    both_orders: bool = True
    format_reward_weight: float = 0.0
    # rm-r1-rl: exactly RM-R1's RL reward (last 80 chars); marks: the verdict the trace's marks give
    verdict_rule: Literal["rmr1", "rm-r1-rl", "marks"] = "rmr1"
    max_prompt_length: int = 4096
    eval_every_steps: int = 0
    eval_limit: int = 32
    # ZeRO-3: held-out judging gathers the full weights on every GPU (fast); false judges on the shards
    # (slower, but a 32B model does not fit whole on one GPU beside its training state)
    eval_gather_weights: bool = True
    generation: GenerationSpec = field(default_factory=GenerationSpec)  # held-out judging while training
    trainer: dict[str, Any] = field(default_factory=dict)  # GRPOConfig (reasoning) or RewardConfig (scalar)
    # write every GRPO rollout with its reward to rollouts.jsonl (off for large GPU runs: ~1 GB per 1K steps)
    log_rollouts: bool = True

    def __post_init__(self) -> None:
        at_least(self, 1, "limit", "max_prompt_length", "eval_limit")
        at_least(self, 0, "eval_every_steps")


@dataclass(frozen=True)
class JudgeRecipe:
    """Judge every pair of a file with a generative RM; resumable through the judgment cache."""

    output_dir: str = "runs/judge"
    seed: int = 0
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    pairs_file: str = "data/samples/pairs.jsonl"
    limit: int | None = None
    # pairs read, judged and appended to results.jsonl at a time: memory does not grow with the file
    chunk_size: int = 512
    # under torchrun / accelerate launch: how long rank 0 waits for the other ranks before merging
    merge_timeout_s: float = 3600.0

    def __post_init__(self) -> None:
        at_least(self, 1, "limit", "chunk_size")
        at_least(self, 0, "merge_timeout_s")


@dataclass(frozen=True)
class ServeRecipe:
    """``rmr1 serve``: a judge model over HTTP (OpenAI chat completions + ``/judge``) for remote rewards.

    ``judge.generation`` also gives the defaults of chat-completion requests that do not say otherwise.
    """

    seed: int = 0
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    host: str = "127.0.0.1"  # loopback only; another address exposes the model to the network
    port: int = 8000  # 0 picks a free port; the URL is printed on stdout once the model is loaded
    served_model_name: str | None = None  # the "model" clients send (default: the model folder's name)
    api_key_env: str | None = None  # env var holding the bearer token clients must send (None: no token)
    max_request_bytes: int = 4_000_000  # larger bodies get 413 before they are read
    max_pairs_per_request: int = 512  # /judge
    batch_wait_ms: float = 10.0  # how long to gather concurrent requests into one model batch
    cache_file: str | None = None  # judgment cache for /judge: repeated comparisons are not regenerated
    read_timeout_s: float = 60.0  # a client that takes longer to send its request gets 408
    policy_tokenizer: str | None = None  # /get_reward: the policy model or tokenizer folder (chat template)
    policy_markers: list[str] = field(default_factory=list)  # or [USER_START, ASSISTANT_START, *END_TOKENS]
    reward_reference: Literal["labels", "judge_answer"] = "labels"  # /get_reward's reference answer
    reward_label_key: str | None = None  # labels are JSON objects: the reference is this key of each

    def __post_init__(self) -> None:
        between(self, "port", 0, 65535)
        at_least(self, 1, "max_request_bytes", "max_pairs_per_request")
        at_least(self, 0, "batch_wait_ms")
        require(self.read_timeout_s > 0, "read_timeout_s", f"must be positive, got {self.read_timeout_s}")


@dataclass(frozen=True)
class EvalRecipe:
    """Evaluate a generative RM (``judge``) or a scalar RM (``scalar_model``) on a benchmark, with the
    benchmark's own scoring rules."""

    output_dir: str = "runs/eval"
    seed: int = 0
    kind: Literal["generative", "scalar"] = "generative"
    judge: JudgeSpec = field(default_factory=JudgeSpec)  # kind: generative
    scalar_model: ModelSpec = field(default_factory=ModelSpec)  # kind: scalar, a sequence classifier
    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)
    limit: int | None = None  # at most this many units (pairs; RM-Bench prompts; BoN items) per subset
    subsets: list[str] = field(default_factory=list)  # subset or section names to keep (empty: all)
    batch_size: int = 8  # kind: scalar, answers scored per forward pass
    bootstrap: int = 1000  # resamples for the 95% intervals (0: no intervals)
    plots: bool = True  # PNG plots next to report.md

    def __post_init__(self) -> None:
        at_least(self, 1, "limit", "batch_size")
        at_least(self, 0, "bootstrap")
        # the RM sits in its kind's block: a model only in the other block is in the wrong place
        if self.kind == "generative" and self.scalar_model.name_or_path and not self.judge.model.name_or_path:
            raise FieldError(
                "scalar_model",
                "is read with kind=scalar; a generative RM goes in judge.model (or set kind=scalar)",
            )
        if self.kind == "scalar" and self.judge.model.name_or_path and not self.scalar_model.name_or_path:
            raise FieldError(
                "judge.model",
                "is read with kind=generative; a scalar RM goes in scalar_model (or set kind=generative)",
            )

    @property
    def rm(self) -> ModelSpec:
        """The reward model under evaluation, whichever its kind."""
        return self.scalar_model if self.kind == "scalar" else self.judge.model


@dataclass(frozen=True)
class PolicyEvalRecipe:
    """A trained policy against its initial one on held-out prompts (``rmr1 policy-eval``).

    Both policies answer every prompt greedily (``generation``); each judge compares the two answers in
    both A/B orders, a win counting only when it survives the swap; prompts with an ``answer`` also get
    verifiable accuracy. ``second_judge`` is optional (empty model: none).
    """

    output_dir: str = "runs/policy-eval"
    seed: int = 0
    policy: ModelSpec = field(default_factory=ModelSpec)  # the trained policy
    baseline: ModelSpec = field(default_factory=ModelSpec)  # the initial policy
    prompts_file: str = "data/samples/prompts.jsonl"
    limit: int | None = None
    generation: GenerationSpec = field(default_factory=lambda: GenerationSpec(max_new_tokens=256))
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    second_judge: JudgeSpec = field(default_factory=JudgeSpec)

    def __post_init__(self) -> None:
        at_least(self, 1, "limit")


@dataclass(frozen=True)
class GRPORecipe:
    """Policy GRPO with a (reasoning) reward model as the reward."""

    output_dir: str = "runs/grpo"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)  # the policy
    lora: LoraSpec = field(default_factory=LoraSpec)
    prompts_file: str = "data/samples/prompts.jsonl"
    eval_prompts_file: str | None = None
    limit: int | None = None
    max_prompt_length: int = 1024
    reward: RewardSpec = field(default_factory=RewardSpec)
    trainer: dict[str, Any] = field(default_factory=lambda: dict(POLICY_GRPO_DEFAULTS))
    # policy evaluation after training (when eval_prompts_file is set), by reward.judge and this one
    eval_limit: int | None = None
    eval_second_judge: JudgeSpec = field(default_factory=JudgeSpec)  # empty model: none

    def __post_init__(self) -> None:
        at_least(self, 1, "limit", "max_prompt_length", "eval_limit")


@dataclass(frozen=True)
class SynthRecipe:
    """A verifiable synthetic domain (small integer arithmetic): prompts, pairs and gold traces.

    ``length_bias`` is P(chosen answer is the longer one) in the train pairs (and pairs_test_iid);
    ``test_length_bias`` the same for pairs_test (0: the longer answer is always the wrong one).
    Its ranges are checked by ``loop/synthetic.py`` (which code calls without a recipe too).
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
    # each train pair's gold trace in both A/B slots (twice the traces; SFT then cannot learn position)
    traces_both_orders: bool = False
    # "</solution> <eval>" in the gold traces: a byte-level BPE tokenizer (SmolLM2's) merges "><", and a
    # judge trained without the space stops where judge.solve_first's prefill ends (arithmetic.gold_trace)
    space_after_solution: bool = False
    # the gold traces' own solution worked column by column (add/sub; arithmetic.column_working), so a
    # judge computes it from the question's digits instead of copying a result it is shown
    column_solution: bool = False


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
    # teacher_source synthetic: write the gold traces as synth's options of the same names do, so a loop
    # round's traces match the ones its judge was first trained on
    space_after_solution: bool = False
    column_solution: bool = False
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    pairs_file: str = "data/samples/pairs.jsonl"
    limit: int | None = None
    template: str = "cor"  # the judge prompt the teacher writes under
    both_orders: bool = False  # a trace for each A/B order; else one per pair in its ab_slot (or alternating)
    second_pass: bool = True
    hint_file: str | None = None  # text with {label}; None = rmr1's own wording (loop/distilling.py)
    show_first_attempt: bool = True  # the second pass shows the teacher its own first output
    # a second-pass trace that mentions one of these (any case) is dropped
    leak_phrases: list[str] = field(
        default_factory=lambda: ["reviewer", "hint", "was told", "gold verdict", "given verdict"]
    )
    balance_labels: bool = False  # keep as many A as B traces (drops the surplus of the commoner label)
    check_solution: bool = False  # keep a trace only if its <solution> reaches the pair's `answer` column

    def __post_init__(self) -> None:
        at_least(self, 1, "limit")


@dataclass(frozen=True)
class RefineRecipe:
    """Policy answers -> bad cases (judge and/or verifiable check) -> refined answers -> preference pairs.

    ``select`` rules (combined with ``combine``): ``lost`` (the judge prefers the reference, swap-safe),
    ``low_reward`` (share of judgments preferring the policy answer < ``low_reward_threshold``),
    ``wrong_answer`` (the verifiable check fails; prompts with an ``answer`` only). ``judge`` is needed
    by the judge rules and gives the critique a rewriting teacher reads (empty model: no judge).
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
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    max_pairs: int | None = None

    def __post_init__(self) -> None:
        at_least(self, 1, "limit", "samples_per_prompt", "max_pairs")
        between(self, "low_reward_threshold", 0.0, 1.0)
        require(bool(self.select), "select", "give at least one rule (lost, low_reward, wrong_answer)")


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
