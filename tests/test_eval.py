"""`rmr1 eval` end to end: scripted judges with known behaviour (fast), the tiny model as a generative and
as a scalar RM (slow), statistics, the report files, resuming, and `eval-compare`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scripted_generator import ScriptedGenerator

from rmr1_cli.config import EvalRecipe, load_recipe
from rmr1_cli.evaluation import stats as eval_stats
from rmr1_cli.evaluation.scoring import UnitTable
from rmr1_cli.stages import eval as eval_stage
from tests.conftest import BENCHMARKS, ROOT

needs_data = pytest.mark.skipif(not (BENCHMARKS / "MANIFEST.json").exists(), reason="no ../shared/benchmarks")

_REPLY = re.compile(r"\[Start of Chatbot (A|B)'s reply\]\n(.*?)\n\[End of Chatbot \1's reply\]", re.DOTALL)


def answers(conversation: list[dict]) -> dict[str, str]:
    return dict(_REPLY.findall(conversation[-1]["content"]))


def longer_judge(conversation):
    a = answers(conversation)
    return (
        "<type>Chat</type><answer>[[A]]</answer>" if len(a["A"]) >= len(a["B"]) else "<answer>[[B]]</answer>"
    )


def always_a(conversation):
    return "<type>Reasoning</type><eval>...</eval><answer>[[A]]</answer>"


@pytest.fixture()
def scripted(monkeypatch):
    """Replace the model with a scripted judge; returns a setter for its reply function."""
    state = {"generator": None}

    def use(reply, identity="scripted"):
        state["generator"] = ScriptedGenerator(reply, identity=identity)
        monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: state["generator"])
        return state["generator"]

    return use


def pairs_file(tmp_path):
    """Six pairs in two subsets; the chosen answer is the longer one in four of them."""
    rows = [
        ("s1", "a long good answer", "bad"),
        ("s1", "another long good one", "no"),
        ("s1", "ok", "a long wrong answer"),
        ("s2", "the longest right answer", "short"),
        ("s2", "right and long enough", "wrong"),
        ("s2", "yes", "a much longer wrong one"),
    ]
    file = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps({"id": f"p{i}", "prompt": "q?", "chosen": c, "rejected": r, "subset": s})
        for i, (s, c, r) in enumerate(rows)
    ]
    file.write_text("\n".join(lines) + "\n")
    return file


def recipe(tmp_path, *overrides: str, name: str = "out") -> EvalRecipe:
    base = [
        f"output_dir={tmp_path / name}",
        "judge.model.name_or_path=scripted",
        "bootstrap=200",
        "plots=false",
    ]
    return load_recipe(None, EvalRecipe, [*base, *overrides])


def metrics_of(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_length_biased_judge_scores_like_the_length_baseline(tmp_path, scripted):
    scripted(longer_judge)
    out = eval_stage.run(recipe(tmp_path, f"benchmark.path={pairs_file(tmp_path)}", "plots=true"))
    m = metrics_of(out)
    assert m["accuracy"] == pytest.approx(4 / 6) == m["baselines"]["length_only"]["accuracy"]
    assert m["subsets"]["s1"]["accuracy"] == pytest.approx(2 / 3)
    assert m["diagnostics"]["prefers_longer"] == 1.0 and m["diagnostics"]["swap_consistency"] == 1.0
    assert m["diagnostics"]["position"]["p_verdict_a"] == 0.5
    assert (
        m["diagnostics"]["by_task_type"]["chat"]["n"]
        + m["diagnostics"]["by_task_type"].get("none", {"n": 0})["n"]
        == 6
    )
    lo, hi = m["headline_ci"]
    assert lo <= m["headline"] <= hi
    buckets = {b["bucket"]: b for b in m["diagnostics"]["by_length"] if b["n"]}
    assert all(b["accuracy"] == (1.0 if b["lo"] > 0 else 0.0) for b in buckets.values())
    for name in (
        "report.md",
        "results.jsonl",
        "judgments.jsonl",
        "accuracy.png",
        "length.png",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(len(r["judgments"]) == 2 for r in rows)
    assert "Headline: 66.7" in (out / "report.md").read_text()


def test_position_biased_judge_is_caught_by_swap_consistency(tmp_path, scripted):
    scripted(always_a)
    m = metrics_of(eval_stage.run(recipe(tmp_path, f"benchmark.path={pairs_file(tmp_path)}")))
    assert m["accuracy"] == 0.5  # every pair a tie: one order says chosen, the other rejected
    assert m["diagnostics"]["swap_consistency"] == 0.0
    assert m["diagnostics"]["position"] == {
        "p_verdict_a": 1.0,
        "accuracy_chosen_as_a": 1.0,
        "accuracy_chosen_as_b": 0.0,
    }
    assert m["baselines"]["position_only"]["accuracy"] == 0.5
    assert m["diagnostics"]["by_task_type"] == {"reasoning": {"accuracy": 0.5, "n": 6}}


def test_both_orders_must_agree_scores_a_position_biased_judge_zero(tmp_path, scripted):
    scripted(always_a)
    out = eval_stage.run(
        recipe(
            tmp_path, f"benchmark.path={pairs_file(tmp_path)}", "benchmark.pair_rule=both_orders_must_agree"
        )
    )
    m = metrics_of(out)
    assert m["pair_rule"] == "both_orders_must_agree"
    assert m["accuracy"] == 0.0 and m["baselines"]["position_only"]["accuracy"] == 0.0
    assert m["baselines"]["length_only"]["accuracy"] == pytest.approx(4 / 6)
    report = (out / "report.md").read_text()
    assert "swap agreement (both orders same pick) | 0.0" in report and "both orders must agree" in report
    with pytest.raises(Exception, match="both_orders_must_agree needs a generative judge"):
        eval_stage.run(
            recipe(tmp_path, "benchmark.pair_rule=both_orders_must_agree", "judge.both_orders=false")
        )


def test_pairs_skipped_as_too_long_are_left_out_and_counted():
    from rmr1_cli.evaluation.metrics import build_metrics

    def row(unit, pick, skipped=False):
        return {"subset": "s", "unit": unit, "label": "chosen", "pick": pick, "score": float(pick == "chosen"),
                "skipped": skipped, "len_chosen": 5, "len_rejected": 3, "judgments": []}  # fmt: skip

    m = build_metrics(
        "pairs", [row("1", "chosen"), row("2", None, skipped=True)], kind="generative", resamples=0
    )
    assert m["accuracy"] == 1.0 and m["n_skipped"] == 1 and m["n_skipped_units"] == 1
    assert m["subsets"]["s"]["n"] == 1


def test_manifest_hashes_the_benchmark_files_read(tmp_path, scripted):
    scripted(longer_judge)
    data = pairs_file(tmp_path)
    out = eval_stage.run(recipe(tmp_path, f"benchmark.path={data}"))
    inputs = json.loads((out / "manifest.json").read_text())["inputs"]
    assert inputs[f"benchmark:{data}"].startswith("sha256:")


def test_rerun_resumes_from_the_judgment_cache(tmp_path, scripted):
    first = scripted(longer_judge)
    rec = recipe(tmp_path, f"benchmark.path={pairs_file(tmp_path)}")
    eval_stage.run(rec)
    assert len(first.calls) == 12
    again = scripted(longer_judge)
    m = metrics_of(eval_stage.run(rec))
    assert again.calls == [] and m["engine"]["generated"] == 0 and m["engine"]["cached"] == 12


def test_invalid_verdicts_are_counted_not_fatal(tmp_path, scripted):
    scripted(lambda c: "<answer>[[A]]</answer>" if "long" in answers(c)["A"] else "I think A")
    m = metrics_of(eval_stage.run(recipe(tmp_path, f"benchmark.path={pairs_file(tmp_path)}")))
    assert 0 < m["diagnostics"]["invalid_rate"] < 1
    assert m["diagnostics"]["invalid_reasons"] == {"no_answer": round(m["diagnostics"]["invalid_rate"] * 12)}


@needs_data
def test_rmb_shared_pairs_are_judged_once_and_bon_needs_every_win(tmp_path, scripted):
    judge = scripted(longer_judge)
    rec = recipe(
        tmp_path,
        "benchmark.name=rmb",
        f"benchmark.root={BENCHMARKS}",
        "benchmark.path=rmb",
        "limit=1",
        "subsets=BoN_set/Helpfulness/Chat/Discussion,Pairwise_set/Helpfulness/Chat/Discussion",
    )
    out = eval_stage.run(rec)
    m = metrics_of(out)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (
        len(rows) == 4
    )  # one pairwise pair + a BoN item with three losers; its first loser is that same pair
    assert m["engine"]["distinct_pairs"] == 3 and len(judge.calls) == 6
    bon = [r for r in rows if r["subset"].startswith("BoN_set")]
    assert m["subsets"]["BoN_set/Helpfulness/Chat/Discussion"]["accuracy"] == float(
        all(r["pick"] == "chosen" for r in bon)
    )
    assert m["missing_sections"] == ["Pairwise_set/Harmlessness", "BoN_set/Harmlessness"]


def test_eval_compare_mcnemar_counts_and_paired_difference(tmp_path, scripted):
    data = pairs_file(tmp_path)
    scripted(always_a, identity="always-a")
    run_a = eval_stage.run(recipe(tmp_path, f"benchmark.path={data}", name="a"))
    scripted(longer_judge, identity="longer")
    run_b = eval_stage.run(recipe(tmp_path, f"benchmark.path={data}", name="b"))
    out = eval_stage.compare(run_a, run_b, tmp_path / "cmp", resamples=200)
    result = json.loads((out / "compare.json").read_text())
    # A ties everything (never right); B is right on the 4 pairs whose chosen answer is longer
    assert result["mcnemar"] == {"n": 6, "only_a_right": 0, "only_b_right": 4, "p_value": 0.125}
    assert result["headline"]["difference"] == pytest.approx(4 / 6 - 0.5)
    assert result["subsets"]["s1"]["mcnemar"]["only_b_right"] == 2
    lo, hi = result["headline"]["difference_ci"]
    assert lo <= result["headline"]["difference"] <= hi
    assert (out / "compare.md").read_text().startswith("# pairs:")


def test_cli_eval_compare_prints_the_folder(tmp_path, scripted):
    from typer.testing import CliRunner

    from rmr1_cli.cli import app

    scripted(longer_judge)
    run = eval_stage.run(recipe(tmp_path, f"benchmark.path={pairs_file(tmp_path)}"))
    result = CliRunner().invoke(app, ["eval-compare", str(run), str(run), "--resamples", "50"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("compare-vs-out")
    bad = CliRunner().invoke(app, ["eval-compare", str(tmp_path / "nope"), str(run)])
    assert bad.exit_code == 2 and "metrics.json: not found" in bad.output


# ---- statistics


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    values = [[1.0, 1.0, 1.0, 1.0]] * 30 + [[0.0, 1.0, 0.0, 1.0]] * 10
    tables = {
        "s": UnitTable(("pair_correct", "pair_n", "agree", "pairs"), [str(i) for i in range(40)], values)
    }
    one = eval_stats.bootstrap("pairs", tables, resamples=300, seed=1)
    two = eval_stats.bootstrap("pairs", tables, resamples=300, seed=1)
    assert one == two
    lo, hi = one[("subsets", "s", "accuracy")]
    assert lo < 0.75 < hi and hi - lo < 0.35
    assert one[("headline",)] == one[("accuracy",)]


def test_mean_interval_of_a_constant_is_that_constant():
    assert eval_stats.mean_interval([1.0] * 5, np.random.default_rng(0)) == (1.0, 1.0)
    assert eval_stats.mean_interval([], np.random.default_rng(0)) is None


# ---- the tiny model, generative and scalar, on the same RM-Bench slice


@pytest.fixture(scope="module")
def tiny_rm_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model saved as a sequence classifier: its (random) score head is in the checkpoint."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("tiny-rm") / "model"
    AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def test_scalar_rm_without_a_trained_head_is_refused(tiny_model_dir):
    from rmr1_cli.config import ModelSpec
    from rmr1_cli.errors import ConfigError
    from rmr1_cli.evaluation.scalar import ScalarScorer

    with pytest.raises(ConfigError, match="no trained score head .*score.weight"):
        ScalarScorer(ModelSpec(name_or_path=str(tiny_model_dir)))


def test_a_prompt_longer_than_the_context_keeps_the_answers(tiny_rm_dir):
    from rmr1_cli.config import ModelSpec
    from rmr1_cli.evaluation.scalar import ScalarScorer

    scorer = ScalarScorer(ModelSpec(name_or_path=str(tiny_rm_dir)), max_length=48)
    long_prompt = "tell me everything " * 200
    flagged = scorer.score_and_flag(
        [(long_prompt, "Paris is the capital."), (long_prompt, "No idea, sorry."), ("hi", "hello")]
    )
    (good, cut_a), (bad, cut_b), (_, cut_short) = flagged
    assert cut_a and cut_b and not cut_short
    assert good != bad  # the answers survived the cut, so the pair is no forced tie
    alone = scorer.score_and_flag([("tell me everything " * 30, "Paris is the capital.")])[0][0]
    assert alone == pytest.approx(good, abs=1e-4)  # only the last 48 tokens count, whatever came before


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("kind", ["generative", "scalar"])
def test_tiny_model_on_an_rmbench_slice(tmp_path, tiny_model_dir, tiny_rm_dir, kind):
    rec = load_recipe(
        ROOT / "recipes" / "eval" / "rm-bench.yaml",
        EvalRecipe,
        [
            f"benchmark.root={BENCHMARKS}",
            f"judge.model.name_or_path={tiny_model_dir}"
            if kind == "generative"
            else f"scalar_model.name_or_path={tiny_rm_dir}",
            f"output_dir={tmp_path / kind}",
            f"kind={kind}",
            "limit=1",
            "subsets=chat,code",
            "judge.generation.max_new_tokens=8",
            "judge.max_prompt_tokens=3072",
            "bootstrap=100",
        ],
    )
    out = eval_stage.run(rec)
    m = metrics_of(out)
    assert m["n_comparisons"] == 18 and m["n_units"] == 2
    assert set(m["sections"]) == {"chat", "code"} and m["missing_sections"] == ["math", "safety"]
    assert 0.0 <= m["headline"] <= 1.0
    for name in ("report.md", "accuracy.png", "length.png", "styles.png", "results.jsonl"):
        assert (out / name).is_file(), name
    if kind == "scalar":
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert all(isinstance(r["score_chosen"], float) for r in rows)
        assert len((out / "scores.jsonl").read_text().splitlines()) == 12  # 6 distinct answers per prompt
    else:
        assert m["engine"]["generated"] + m["engine"]["skipped_too_long"] * 2 == 36
