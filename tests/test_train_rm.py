"""``rmr1 train-rm``: GRPO rows and rewards, then short real runs of both methods on the tiny model."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from rmr1_cli import config, data
from rmr1_cli.config import TrainRMRecipe
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.judging.records import summarize_pairs
from rmr1_cli.rewards import verdict
from rmr1_cli.rewards.recorded import RecordedVerdictReward
from rmr1_cli.stages import train_rm

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "data" / "samples" / "pairs.jsonl"
EVAL_PAIRS = ROOT / "data" / "samples" / "pairs_eval.jsonl"


# ---- rows and rewards (fast) -----------------------------------------------------------------------


def test_both_orders_show_each_pair_twice_with_balanced_labels():
    pairs = data.load_pairs(PAIRS, limit=5)
    rows = train_rm.verdict_rows(pairs, load_template("compact"), both_orders=True, seed=0)
    assert len(rows) == 10
    assert [r["label"] for r in rows].count("A") == 5
    for pair, (as_a, as_b) in zip(pairs, zip(rows[::2], rows[1::2], strict=True), strict=True):
        assert (as_a["pair_id"], as_a["label"], as_b["label"]) == (pair.id, "A", "B")
        shown_a = as_a["prompt"][-1]["content"]
        assert shown_a.index(pair.chosen) < shown_a.index(pair.rejected)


@pytest.mark.parametrize("n", [7, 8])
def test_one_order_per_pair_keeps_labels_balanced_and_seeded(n):
    pairs = data.load_pairs(PAIRS, limit=n)
    template = load_template("compact")
    rows = train_rm.verdict_rows(pairs, template, both_orders=False, seed=3)
    labels = [r["label"] for r in rows]
    assert len(rows) == n
    assert abs(labels.count("A") - labels.count("B")) <= 1
    assert rows == train_rm.verdict_rows(pairs, template, both_orders=False, seed=3)
    assert labels != [r["label"] for r in train_rm.verdict_rows(pairs, template, both_orders=False, seed=4)]


def test_long_prompts_are_dropped_and_counted(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = train_rm.verdict_rows(
        data.load_pairs(PAIRS, limit=6), load_template("compact"), both_orders=False, seed=0
    )
    lengths = [
        len(tok.apply_chat_template(r["prompt"], tokenize=True, add_generation_prompt=True)["input_ids"])
        for r in rows
    ]
    limit = sorted(lengths)[3]
    kept, dropped = train_rm.drop_long_prompts(rows, tok, limit)
    assert dropped == sum(n > limit for n in lengths) and len(kept) == len(rows) - dropped
    assert dropped > 0


def test_recorded_reward_is_the_paper_reward_plus_logs(tmp_path):
    class State:
        global_step = 4

    logged = {}
    reward = RecordedVerdictReward(tmp_path / "rollouts.jsonl")
    completions = [
        [{"role": "assistant", "content": "<eval>x</eval><answer>[[A]]</answer>"}],
        [{"role": "assistant", "content": "<answer>[[A]]</answer>"}],
        [{"role": "assistant", "content": "no verdict"}],
        [{"role": "assistant", "content": "<answer>[[B]]</answer>"}],
    ]
    labels = ["A", "B", "A", "B"]
    scores = reward(
        completions,
        labels,
        pair_id=["p1", "p2", "p3", "p4"],
        trainer_state=State(),
        log_metric=logged.__setitem__,
        prompts=["..."] * 4,
    )
    assert scores == verdict.verdict_reward(completions, labels) == [1.0, -1.0, -1.0, 1.0]
    assert reward.__name__ == "verdict_reward"  # trl's series: rewards/verdict_reward/mean
    assert logged == {"verdict_reward/invalid_rate": 0.25, "verdict_reward/accuracy": 0.5}
    rows = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5] * 4  # generated during step 5, logged with it
    assert [r["reward"] for r in rows] == scores
    assert rows[2] == {"step": 5, "pair_id": "p3", "label": "A", "completion": "no verdict", "reward": -1.0}


def test_summary_of_pair_results():
    from rmr1_cli.judging.records import PairResult

    def result(outcome, score, consistent, n_valid, n=2):
        return PairResult("p", None, None, outcome, score, consistent, n_valid, n, None, 0)

    out = summarize_pairs(
        [result("chosen", 1.0, True, 2), result("invalid", 0.0, None, 0), result("skipped", 0.0, None, 0, 0)]
    )
    assert out == {
        "accuracy": 0.5,
        "valid_rate": 0.5,
        "consistency": 1.0,
        "cut_off": 0,
        "pairs": 3,
        "outcomes": {"chosen": 1, "invalid": 1, "skipped": 1},
    }


# ---- short runs (slow) -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verdict_judge(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model after a short SFT on verdict-only traces: it answers ``<answer>[[A|B]]</answer>``,
    so GRPO at temperature 1 gets a mix of right and wrong verdicts (a random model scores -1 always,
    which leaves every advantage at zero)."""
    from rmr1_cli.stages import sft

    folder = tmp_path_factory.mktemp("verdict-judge")
    rows = [
        {**src, "trace": f"<answer>[[{src['label']}]]</answer>"}
        for src in data.load_trace_sources(ROOT / "data" / "samples" / "traces_source.jsonl", limit=16)
    ]
    data.write_jsonl(folder / "traces.jsonl", rows)
    recipe = config.load_recipe(
        None,
        config.SFTRecipe,
        [
            f"output_dir={folder / 'sft'}",
            f"model.name_or_path={tiny_model_dir}",
            f"train_file={folder / 'traces.jsonl'}",
            "template=compact",
            "trainer.per_device_train_batch_size=8",
            "trainer.learning_rate=1e-2",
            "trainer.lr_scheduler_type=constant",
            "trainer.max_steps=30",
            "trainer.warmup_steps=0",
            "trainer.logging_steps=5",
        ],
    )
    return sft.run(recipe) / "model"


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(next(Path(folder).glob("*.safetensors")))


def _changed(before: dict, after: dict) -> bool:
    import torch

    return any(not torch.equal(before[k], after[k]) for k in before if k in after)


@pytest.mark.slow
def test_reasoning_rm_trains_and_its_logged_reward_is_recomputable(verdict_judge, in_tmp_cwd):
    recipe = config.load_recipe(
        None,
        TrainRMRecipe,
        [
            "output_dir=rm",
            f"model.name_or_path={verdict_judge}",
            f"train_file={PAIRS}",
            f"eval_file={EVAL_PAIRS}",
            "eval_limit=2",
            "eval_every_steps=2",
            "limit=4",
            "template=compact",
            "max_prompt_length=1024",
            "generation.max_new_tokens=16",
            "trainer.max_steps=3",
            "trainer.num_generations=4",
            "trainer.per_device_train_batch_size=4",
            "trainer.max_completion_length=12",
            "trainer.learning_rate=1e-4",
        ],
    )
    out = train_rm.run(recipe)
    assert _changed(_weights(verdict_judge), _weights(out / "model"))

    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    rollouts = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    by_step = defaultdict(list)
    for row in rollouts:
        by_step[row["step"]].append(row)
    steps = [e for e in log if "rewards/verdict_reward/mean" in e]
    assert [e["step"] for e in steps] == [1, 2, 3] == sorted(by_step)
    rewards_seen = set()
    for entry in steps:
        rows = by_step[entry["step"]]
        recomputed = verdict.verdict_reward([r["completion"] for r in rows], [r["label"] for r in rows])
        rewards_seen.update(recomputed)
        assert entry["rewards/verdict_reward/mean"] == pytest.approx(sum(recomputed) / len(recomputed))
        assert entry["reward"] == pytest.approx(sum(recomputed) / len(recomputed))
        assert entry["verdict_reward/accuracy"] == pytest.approx(sum(r > 0 for r in recomputed) / len(rows))
        assert "verdict_reward/invalid_rate" in entry and "completions/mean_length" in entry
    assert rewards_seen == {1.0, -1.0}  # the run saw both outcomes, so the policy had a signal

    heldout = [e["step"] for e in log if "heldout/accuracy" in e]
    assert heldout == [0, 2, 3]  # before training, every eval_every_steps, after training
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_before"]["pairs"] == 2 and metrics["heldout_after"]["valid_rate"] is not None
    assert metrics["rows"] == 8 and metrics["label_share_A"] == 0.5 and metrics["dropped_too_long"] == 0
    assert (out / "curves.png").is_file() and (out / "trainer_args.json").is_file()


@pytest.mark.slow
def test_reasoning_rm_with_lora_trains_and_saves(verdict_judge, in_tmp_cwd):
    recipe = config.load_recipe(
        None,
        TrainRMRecipe,
        [
            "output_dir=rm-lora",
            f"model.name_or_path={verdict_judge}",
            f"train_file={PAIRS}",
            "limit=2",
            "template=compact",
            "lora.enabled=true",
            "lora.r=4",
            "trainer.max_steps=2",
            "trainer.num_generations=4",
            "trainer.per_device_train_batch_size=4",
            "trainer.max_completion_length=8",
            "trainer.learning_rate=1e-2",
            "trainer.beta=0.0",
        ],
    )
    out = train_rm.run(recipe)
    merged = _weights(out / "model")
    assert set(merged) == set(_weights(verdict_judge))
    assert _changed(_weights(verdict_judge), merged)


@pytest.mark.slow
def test_scalar_rm_logs_eval_accuracy_and_trains(tiny_model_dir, in_tmp_cwd):
    recipe = config.load_recipe(
        None,
        TrainRMRecipe,
        [
            "output_dir=scalar",
            "method=scalar",
            f"model.name_or_path={tiny_model_dir}",
            f"train_file={PAIRS}",
            f"eval_file={EVAL_PAIRS}",
            "limit=8",
            "eval_limit=4",
            "trainer.per_device_train_batch_size=4",
            "trainer.max_steps=2",
            "trainer.learning_rate=1e-3",
        ],
    )
    out = train_rm.run(recipe)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    evals = [e for e in log if "eval_accuracy" in e]
    assert [e["step"] for e in evals][0] == 0 and evals[-1]["step"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["heldout_before"]["accuracy"] is not None and metrics["heldout_after"]["accuracy"] is not None
    )
    assert "accuracy_last" in metrics  # trl's pairwise training accuracy
    config_json = json.loads((out / "model" / "config.json").read_text())
    assert config_json["architectures"][0].endswith("ForSequenceClassification")
    base = _weights(tiny_model_dir)
    assert _changed(base, _weights(out / "model"))
