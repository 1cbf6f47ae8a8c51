"""Judge traces cut off by ``max_new_tokens`` are counted apart from other invalid verdicts, in every
place a judge's work is summarised (judge, eval, train-rm's held-out judging, policy-eval), and
``judge.verdict_rule`` picks whose rule reads the verdict."""

from __future__ import annotations

import json

from conftest import replies

from rmr1_cli.config import EvalRecipe, GenerationSpec, JudgeRecipe, JudgeSpec, load_recipe
from rmr1_cli.data import PreferencePair, PromptRecord
from rmr1_cli.evaluation.policy import compare_policies
from rmr1_cli.generation import Generation, Generator, SamplingParams
from rmr1_cli.judging.cache import JudgmentCache
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.judging.prompts import load_template
from rmr1_cli.judging.records import summarize_pairs
from rmr1_cli.stages import eval as eval_stage
from rmr1_cli.stages import judge as judge_stage

BUDGET = 40  # new tokens; a token is a word


class Thinker(Generator):
    """Thinks one word per character of the answer it prefers (the longer one), then gives its verdict;
    a trace longer than the budget comes back cut at the budget with finish_reason "length"."""

    identity = "thinker"
    batch_size = 8

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        out = []
        for conversation in conversations:
            a, b = replies(conversation)
            slot, longer = ("A", a) if len(a) >= len(b) else ("B", b)
            words = ["hmm"] * len(longer) + [f"<answer>[[{slot}]]</answer>"]
            if len(words) > params.max_new_tokens:
                out.append(
                    Generation(" ".join(words[: params.max_new_tokens]), params.max_new_tokens, "length")
                )
            else:
                out.append(Generation(" ".join(words), len(words), "stop"))
        return out

    def count_tokens(self, conversation):
        return sum(len(m["content"].split()) for m in conversation)


SHORT, LONG = "short one", "x" * (BUDGET + 5)  # a verdict for SHORT fits, one for LONG is cut off


def write_pairs(tmp_path) -> str:
    rows = [
        {"id": "fits", "prompt": "q?", "chosen": SHORT, "rejected": "no", "subset": "s"},
        {"id": "cut", "prompt": "q?", "chosen": LONG, "rejected": "no", "subset": "s"},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def use_thinker(monkeypatch) -> Thinker:
    gen = Thinker()
    monkeypatch.setattr("rmr1_cli.generation.build_generator", lambda model, spec: gen)
    return gen


def test_judge_counts_cut_off_traces_in_metrics_and_summary(tmp_path, monkeypatch):
    use_thinker(monkeypatch)
    recipe = load_recipe(
        None,
        JudgeRecipe,
        [f"output_dir={tmp_path / 'j'}", "judge.model.name_or_path=thinker", f"pairs_file={write_pairs(tmp_path)}",
         f"judge.generation.max_new_tokens={BUDGET}", "judge.template=cor"],
    )  # fmt: skip
    out = judge_stage.run(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cut_off"] == 2 and metrics["engine"]["cut_off"] == 2  # both orders of the long pair
    assert metrics["engine"]["invalid_reasons"] == {"no_answer": 2}  # cut before the answer tag
    rows = dict(judge_stage.summary_rows(metrics, metrics["engine"]))
    assert rows["cut off at max_new_tokens"] == "2 (50.0%)"


def test_eval_counts_cut_off_traces_in_metrics_report_and_subsets(tmp_path, monkeypatch):
    use_thinker(monkeypatch)
    recipe = load_recipe(
        None,
        EvalRecipe,
        [f"output_dir={tmp_path / 'e'}", "judge.model.name_or_path=thinker", f"benchmark.path={write_pairs(tmp_path)}",
         f"judge.generation.max_new_tokens={BUDGET}", "bootstrap=0", "plots=false"],
    )  # fmt: skip
    out = eval_stage.run(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_cut_off"] == 2
    assert metrics["subsets"]["s"]["cut_off"] == 2 and metrics["subsets"]["s"]["cut_off_rate"] == 0.5
    assert metrics["diagnostics"]["cut_off"] == 2
    report = (out / "report.md").read_text()
    assert "2 judge traces were cut off at generation.max_new_tokens" in report
    assert "judge traces cut off at generation.max_new_tokens: 2 (50.0% of judgments)" in report
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    cut = {r["id"].split(":")[-1]: [j["cut_off"] for j in r["judgments"]] for r in rows}
    assert cut == {"fits": [False, False], "cut": [True, True]}


def engine(gen, cache=None, **spec) -> JudgeEngine:
    params = SamplingParams(max_new_tokens=BUDGET)
    judge = JudgeSpec(generation=GenerationSpec(max_new_tokens=BUDGET), **spec)
    return JudgeEngine(gen, load_template("cor"), judge, params, cache=cache)


def test_heldout_summary_counts_cut_off_traces():
    """train-rm's held-out judging logs summarize_pairs (heldout/cut_off, heldout_before/after)."""
    pairs = [PreferencePair("fits", "q?", SHORT, "no"), PreferencePair("cut", "q?", LONG, "no")]
    summary = summarize_pairs(engine(Thinker()).judge(pairs))
    assert summary["cut_off"] == 2 and summary["valid_rate"] == 0.5


def test_policy_eval_counts_cut_off_traces():
    prompts = [PromptRecord("p1", "q1?"), PromptRecord("p2", "q2?")]
    policy = {"p1": {"text": SHORT, "num_tokens": 2}, "p2": {"text": LONG, "num_tokens": 1}}
    baseline = {"p1": {"text": "no", "num_tokens": 1}, "p2": {"text": "no", "num_tokens": 1}}
    _, metrics = compare_policies(prompts, policy, baseline, {"judge": engine(Thinker())})
    assert metrics["judges"]["judge"]["cut_off"] == 2


class BareVerdict(Generator):
    """Writes RM-R1-eval-style text: a bare ``[[B]]`` in its reasoning, then no verdict tag."""

    identity = "bare"
    batch_size = 8

    def generate(self, conversations, params):
        return [Generation("thinking ... so [[B]] it is", 6, "stop") for _ in conversations]


def test_verdict_rule_picks_whose_rule_reads_the_verdict(tmp_path):
    pair = [PreferencePair("p", "q?", "good", "bad")]
    [own] = engine(BareVerdict(), both_orders=False).judge(pair)
    assert own.n_valid == 0 and own.judgments[0].reason == "no_answer"
    [rm_r1] = engine(BareVerdict(), both_orders=False, verdict_rule="rm-r1-eval").judge(pair)
    assert rm_r1.n_valid == 1 and rm_r1.judgments[0].verdict == "B"
    [rl] = engine(BareVerdict(), both_orders=False, verdict_rule="rm-r1-rl").judge(pair)
    assert rl.n_valid == 0 and rl.judgments[0].reason == "no_verdict"
    # a cached judgment is read again under the run's rule, not generated again
    cache_path = tmp_path / "judgments.jsonl"
    engine(BareVerdict(), JudgmentCache(cache_path), both_orders=False).judge(pair)
    again = engine(BareVerdict(), JudgmentCache(cache_path), both_orders=False, verdict_rule="rm-r1-eval")
    [reread] = again.judge(pair)
    assert (reread.judgments[0].verdict, again.stats.cached, again.stats.generated) == ("B", 1, 0)


def test_verdict_rule_is_a_judge_setting_in_judge_and_eval_recipes():
    for cls in (JudgeRecipe, EvalRecipe):
        recipe = load_recipe(None, cls, ["judge.verdict_rule=rm-r1-eval"])
        assert recipe.judge.verdict_rule == "rm-r1-eval"
