"""Benchmark adapters (every set in ../shared/benchmarks loads from its recipe) and the scoring rules,
checked against hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmr1_cli.config import BenchmarkSpec, EvalRecipe, PairSource, load_recipe
from rmr1_cli.errors import ConfigError, DataError
from rmr1_cli.evaluation import rules
from rmr1_cli.evaluation.loading import load_benchmark, select
from rmr1_cli.evaluation.scoring import aggregate, score_rows
from tests.conftest import BENCHMARKS, ROOT

needs_data = pytest.mark.skipif(not (BENCHMARKS / "MANIFEST.json").exists(), reason="no ../shared/benchmarks")


def recipe_benchmark(name: str, *overrides: str) -> BenchmarkSpec:
    recipe = load_recipe(
        ROOT / "recipes" / "eval" / f"{name}.yaml", EvalRecipe, [f"benchmark.root={BENCHMARKS}", *overrides]
    )
    return recipe.benchmark


def manifest_records(folder: str) -> int:
    """Rows the MANIFEST lists for a benchmark folder (a dict of counts is summed)."""
    total = 0
    for entry in json.loads((BENCHMARKS / "MANIFEST.json").read_text()):
        if entry["file"].startswith(folder + "/") and entry["records"]:
            records = entry["records"]
            total += sum(records.values()) if isinstance(records, dict) else records
    return total


def rows_for(bench, decide) -> list[dict]:
    """Result rows for a benchmark with a made-up judge: decide(comparison) -> pick."""
    rows = []
    for c in bench.comparisons:
        pick = decide(c)
        rows.append(
            {
                "subset": c.pair.subset,
                "unit": c.unit,
                "label": c.label,
                "cell": c.cell,
                "pick": pick,
                "score": {"chosen": 1.0, "tie": 0.5}.get(pick, 0.0),
            }
        )
    return rows


# ---- every shared benchmark loads with its recipe: record counts match the MANIFEST

# recipe -> (benchmark folder in MANIFEST, comparisons, units, subsets, tie-labelled comparisons)
EXPECTED = {
    "rm-bench": ("rm-bench", 7182, 798, 4, 0),
    "rmb": ("rmb", 16503, 13008, 95, 0),
    "llmbar": ("llmbar", 1200, 1200, 13, 0),
    "hh-rlhf": ("hh-rlhf", 2312, 2312, 1, 0),
    "pandalm": ("pandalm", 999, 999, 1, 105),
    "auto-j": ("auto-j", 1392, 1392, 58, 373),
    "hhh-alignment": ("hhh-alignment", 221, 221, 4, 0),
    "evalbiasbench": ("evalbiasbench", 80, 80, 6, 0),
}


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_shared_benchmark_loads_whole(name):
    folder, comparisons, units, subsets, ties = EXPECTED[name]
    bench = load_benchmark(recipe_benchmark(name))
    assert len(bench.comparisons) == comparisons
    assert len({c.unit for c in bench.comparisons}) == units == manifest_records(folder)
    assert len(bench.subsets()) == subsets
    assert sum(c.label == "tie" for c in bench.comparisons) == ties
    assert len({c.pair.id for c in bench.comparisons}) == comparisons
    oracle = score_rows(bench.name, rows_for(bench, lambda c: "tie" if c.label == "tie" else "chosen"))
    assert oracle["headline"] == 1.0 and oracle["agreement"] == 1.0


@needs_data
def test_rewardbench_partial_sections_and_missing_parts():
    bench = load_benchmark(recipe_benchmark("rewardbench-partial"))
    counts = {s: sum(c.pair.subset == s for c in bench.comparisons) for s in bench.subsets()}
    assert counts == {
        "llmbar-natural": 100,
        "llmbar-adver-neighbor": 134,
        "llmbar-adver-GPTInst": 92,
        "llmbar-adver-GPTOut": 47,
        "llmbar-adver-manual": 46,
        "math-prm": 447,  # 894 rows, one per solution, paired by problem_id
    }
    # llmbar right, math-prm wrong: Chat Hard 1, Reasoning 0, headline = mean of the two sections present
    scores = score_rows(
        "rewardbench", rows_for(bench, lambda c: "rejected" if c.pair.subset == "math-prm" else "chosen")
    )
    assert scores["sections"]["Chat Hard"]["score"] == 1.0
    assert scores["sections"]["Reasoning"]["score"] == 0.0
    assert scores["headline"] == 0.5
    assert scores["missing_sections"] == ["Chat", "Safety"]
    assert "hep-python" in scores["missing_subsets"]
    first = bench.comparisons[0]  # llmbar Natural row 0 has label 1: output_1 is chosen
    raw = json.loads((BENCHMARKS / "llmbar/LLMBar/Natural/dataset.json").read_text())[0]
    assert (first.pair.chosen, first.pair.rejected, first.source_order) == (
        raw["output_1"],
        raw["output_2"],
        "chosen_first",
    )
    math = next(c for c in bench.comparisons if c.pair.subset == "math-prm")
    assert math.pair.prompt.startswith("$441+2(21)(19)+361=x$")
    assert math.pair.chosen.endswith("$(21+19)^2=40^2=\\boxed{1600}$.")  # steps joined by newlines


@needs_data
def test_rmbench_slice_triangles_by_answer_length():
    """chat record 8: chosen lengths [157, 1917, 2100], rejected [164, 1966, 2122] (by style)."""
    bench = load_benchmark(recipe_benchmark("rm-bench"), limit=1, subsets=["chat"])
    assert [c.cell for c in bench.comparisons] == [(i, j) for i in range(3) for j in range(3)]
    assert {c.unit for c in bench.comparisons} == {"chat:8"}
    longer = rows_for(bench, lambda c: "chosen" if len(c.pair.chosen) > len(c.pair.rejected) else "rejected")
    chat = score_rows("rm-bench", longer)["sections"]["chat"]
    assert chat["matrix"] == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    assert (chat["hard"], chat["normal"], chat["easy"]) == (0.0, 0.0, 1.0)
    assert chat["score"] == pytest.approx(3 / 9)


@needs_data
def test_rmb_pairwise_and_best_of_n_slice():
    bench = load_benchmark(
        recipe_benchmark("rmb"), limit=1, subsets=["BoN_set/Harmlessness/S1", "Pairwise_set/Harmlessness"]
    )
    bon = [c for c in bench.comparisons if c.pair.subset == "BoN_set/Harmlessness/S1"]
    assert [c.pair.id for c in bon] == [f"BoN_set/Harmlessness/S1:3296:{k}" for k in range(3)]  # 3 losers
    assert len({c.unit for c in bon}) == 1
    pairwise = [c for c in bench.comparisons if c.pair.subset.startswith("Pairwise_set")]
    assert len(pairwise) == 11  # scenarios S1..S10 + multi (the shared copy has no pairwise S11)
    assert pairwise[0].pair.id == "Pairwise_set/Harmlessness/S1:15089"
    # the best answer loses to its last loser only: the item fails; every pairwise pair is right
    scores = score_rows(
        "rmb", rows_for(bench, lambda c: "rejected" if c.pair.id.endswith(":3296:2") else "chosen")
    )
    assert scores["subsets"]["BoN_set/Harmlessness/S1"]["accuracy"] == 0.0
    assert scores["sections"]["Pairwise_set/Harmlessness"]["score"] == 1.0
    assert scores["headline"] == 0.5  # mean of the two sections present
    assert scores["missing_sections"] == ["Pairwise_set/Helpfulness", "BoN_set/Helpfulness"]


@needs_data
def test_generic_layouts_read_the_right_fields():
    hh = load_benchmark(recipe_benchmark("hh-rlhf"), limit=1).comparisons[0]
    assert [m["role"] for m in hh.pair.prompt] == ["user", "assistant", "user", "assistant", "user"]
    assert hh.pair.chosen.startswith("No, sorry!")
    hhh = load_benchmark(recipe_benchmark("hhh-alignment"), limit=1, subsets=["harmless"]).comparisons[0]
    assert hhh.pair.prompt.startswith("Can you tell me what kind of knife")
    assert hhh.pair.rejected == "Why would you want to do something like that?"
    autoj = load_benchmark(recipe_benchmark("auto-j"))
    raw = json.loads((BENCHMARKS / "auto-j/testdata_pairwise.jsonl").open().readline())
    assert raw["label"] == 1 and autoj.comparisons[0].pair.chosen == raw["response 2"]
    pandalm = load_benchmark(recipe_benchmark("pandalm"), limit=1).comparisons[0]
    assert pandalm.pair.prompt.endswith("please let me know.")  # instruction + input
    assert pandalm.pair.chosen == "If you have any questions, please let me know."  # annotators 2, 2, 2


# ---- the scoring rules, by hand


def means(correct: float, n: float = 1.0) -> dict:
    return {"pair_correct": correct, "pair_n": n, "agree": correct, "pairs": n}


def test_rewardbench_math_prm_weighs_as_much_as_all_code():
    hep = [f"hep-{lang}" for lang in ("cpp", "go", "java", "js", "python", "rust")]
    m = {"math-prm": means(1.0), **{h: means(0.0) for h in hep}}
    counts = {"math-prm": 447, **{h: 164 for h in hep}}
    assert aggregate("rewardbench", m, counts)["sections"]["Reasoning"]["score"] == 0.5
    m["hep-python"] = means(1.0)
    assert aggregate("rewardbench", m, counts)["sections"]["Reasoning"]["score"] == pytest.approx(
        (984 + 164) / 1968
    )


def test_rewardbench_sections_use_official_weights_and_headline_is_plain_mean():
    m = {"alpacaeval-easy": means(1.0), "mt-bench-easy": means(0.0), "donotanswer": means(0.5)}
    out = aggregate("rewardbench", m, {"alpacaeval-easy": 3, "mt-bench-easy": 3, "donotanswer": 2})
    assert out["sections"]["Chat"]["score"] == pytest.approx(100 / 128)  # weights 100 and 28, not 3 and 3
    assert out["sections"]["Safety"]["score"] == 0.5
    assert out["headline"] == pytest.approx((100 / 128 + 0.5) / 2)
    assert out["missing_sections"] == ["Chat Hard", "Reasoning"]


def rmbench_rows(subset: str, unit: str, wins) -> list[dict]:
    return [
        {"subset": subset, "unit": unit, "cell": (i, j), "score": float(wins(i, j)), "pick": "chosen"}
        for i in range(3)
        for j in range(3)
    ]


def test_rmbench_triangles_and_safety_pooling():
    rows = rmbench_rows("chat", "c1", lambda i, j: i >= j)  # loses only to fancier rejected answers
    rows += rmbench_rows("safety-refuse", "r1", lambda i, j: True) + rmbench_rows(
        "safety-refuse", "r2", lambda i, j: True
    )
    rows += rmbench_rows("safety-response", "s1", lambda i, j: False)
    out = score_rows("rm-bench", rows)
    chat = out["sections"]["chat"]
    assert (chat["hard"], chat["normal"], chat["easy"], chat["score"]) == (
        0.0,
        1.0,
        1.0,
        pytest.approx(6 / 9),
    )
    assert out["sections"]["safety"]["score"] == pytest.approx(2 / 3)  # prompts pooled: 2 right, 1 wrong
    assert out["headline"] == pytest.approx((6 / 9 + 2 / 3) / 2)
    assert out["hard"] == pytest.approx((0 + 2 / 3) / 2)
    assert out["missing_sections"] == ["code", "math"]


def test_rmb_sections_pool_their_items_and_headline_is_mean_of_four():
    rows = [
        {"subset": "Pairwise_set/Helpfulness/Chat/A", "unit": "p1", "score": 1.0, "pick": "chosen"},
        {"subset": "Pairwise_set/Helpfulness/Code/B", "unit": "p2", "score": 0.0, "pick": "rejected"},
        {"subset": "Pairwise_set/Helpfulness/Code/B", "unit": "p3", "score": 0.0, "pick": "rejected"},
        {"subset": "Pairwise_set/Harmlessness/S1", "unit": "p4", "score": 1.0, "pick": "chosen"},
        {"subset": "BoN_set/Helpfulness/Chat/A", "unit": "b1", "score": 1.0, "pick": "chosen"},
        {
            "subset": "BoN_set/Helpfulness/Chat/A",
            "unit": "b1",
            "score": 0.5,
            "pick": "tie",
        },  # a tie is no win
        {"subset": "BoN_set/Harmlessness/S1", "unit": "b2", "score": 1.0, "pick": "chosen"},
        {"subset": "BoN_set/Harmlessness/S1", "unit": "b2", "score": 1.0, "pick": "chosen"},
    ]
    out = score_rows("rmb", rows)
    sections = {k: v["score"] for k, v in out["sections"].items()}
    assert sections == {
        "Pairwise_set/Helpfulness": pytest.approx(1 / 3),  # pooled over pairs, not over scenarios
        "Pairwise_set/Harmlessness": 1.0,
        "BoN_set/Helpfulness": 0.0,
        "BoN_set/Harmlessness": 1.0,
    }
    assert out["sections"]["Pairwise_set/Helpfulness"]["macro"] == 0.5
    assert out["headline"] == pytest.approx((1 / 3 + 1 + 0 + 1) / 4)


def test_tie_labels_count_in_agreement_only():
    rows = [
        {"subset": "s", "unit": "1", "label": "chosen", "score": 1.0, "pick": "chosen"},
        {"subset": "s", "unit": "2", "label": "tie", "score": 0.0, "pick": "rejected"},
        {"subset": "s", "unit": "3", "label": "tie", "score": 0.5, "pick": "tie"},
        {"subset": "s", "unit": "4", "label": "chosen", "score": 0.5, "pick": "tie"},
    ]
    out = score_rows("pairs", rows)
    assert out["accuracy"] == 0.75  # (1 + 0.5) / 2 non-tie pairs
    assert out["agreement"] == 0.5  # pairs 1 and 3


# ---- selection, errors


def make_comparisons(spec: dict[str, int]) -> list:
    from rmr1_cli.data import PreferencePair
    from rmr1_cli.evaluation.comparisons import Comparison

    out = []
    for subset, units in spec.items():
        for u in range(units):
            for k in range(2):  # two comparisons per unit
                pid = f"{subset}:{u}:{k}"
                out.append(Comparison(PreferencePair(pid, "p", "a", "b", subset), f"{subset}:{u}"))
    return out


def test_limit_counts_units_per_subset_and_subsets_match_sections():
    comps = make_comparisons({"safety-refuse": 3, "safety-response": 3, "chat": 3})
    kept = select("rm-bench", comps, subsets=["safety"], limit=2)
    assert [c.pair.id for c in kept][:4] == [
        "safety-refuse:0:0",
        "safety-refuse:0:1",
        "safety-refuse:1:0",
        "safety-refuse:1:1",
    ]
    assert len(kept) == 8 and {c.pair.subset for c in kept} == {"safety-refuse", "safety-response"}
    with pytest.raises(ConfigError, match=r"subsets: \['chta'\] not in this benchmark.*chat"):
        select("rm-bench", comps, subsets=["chta"])


def test_labelled_layout_errors_name_the_row(tmp_path):
    file = tmp_path / "x.jsonl"
    file.write_text('{"q": "hi", "a": "x", "b": "y", "lab": 1}\n{"q": "hi", "a": "x", "b": "z", "lab": 7}\n')
    source = PairSource(
        path=str(file),
        layout="labelled",
        fields={"prompt": "q", "answer_1": "a", "answer_2": "b", "label": "lab"},
    )
    with pytest.raises(DataError, match=r"x.jsonl:2: label 7 in field 'lab' is not in benchmark labels"):
        load_benchmark(BenchmarkSpec(name="pairs", path="", sources=[source]))
    missing = PairSource(path=str(file), layout="labelled", fields={**source.fields, "prompt": "question"})
    with pytest.raises(DataError, match=r"x.jsonl:1: missing field 'question'"):
        load_benchmark(BenchmarkSpec(name="pairs", path="", sources=[missing]))


def test_split_layout_and_trl_conversations(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(
        json.dumps(
            [
                {"g": 1, "s": "good", "q": "2+2?", "ans": ["2+2", "=4"]},
                {"g": 1, "s": "bad", "q": "2+2?", "ans": ["2+2", "=5"]},
            ]
        )
    )
    source = PairSource(
        path=str(split),
        layout="split",
        subset="m",
        labels={"good": "chosen", "bad": "rejected"},
        fields={"group": "g", "side": "s", "prompt": "q", "answer": "ans"},
    )
    (c,) = load_benchmark(BenchmarkSpec(name="pairs", path="", sources=[source])).comparisons
    assert (c.pair.id, c.pair.chosen, c.pair.rejected) == ("m:1", "2+2\n=4", "2+2\n=5")
    conv = tmp_path / "conv.jsonl"
    row = {
        "chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}],
    }
    conv.write_text(json.dumps(row) + "\n")
    (c,) = load_benchmark(BenchmarkSpec(name="pairs", path=str(conv))).comparisons
    assert (c.pair.prompt, c.pair.chosen, c.pair.subset) == (
        [{"role": "user", "content": "hi"}],
        "hello",
        "all",
    )


def test_root_and_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_benchmark(BenchmarkSpec(name="pairs", path="nothing.jsonl", root=str(tmp_path)))
    with pytest.raises(DataError, match="not a folder"):
        load_benchmark(BenchmarkSpec(name="rmb", path="nope", root=str(tmp_path)))


def test_sample_pairs_still_load_by_default():
    bench = load_benchmark(BenchmarkSpec(path=str(ROOT / "data" / "samples" / "pairs_eval.jsonl")))
    assert bench.name == "pairs" and len(bench.comparisons) > 0
    assert Path(bench.inputs[str(ROOT / "data" / "samples" / "pairs_eval.jsonl")]).exists()
    assert rules.get_rule("pairs").section_of("chat") is None


def test_rewardbench_hub_id_reads_the_filtered_split(monkeypatch):
    import datasets

    asked = []

    def fake_hub(path, split):
        asked.append((path, split))
        return [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math-prm", "id": 7}]

    monkeypatch.setattr(datasets, "load_dataset", fake_hub)
    bench = load_benchmark(BenchmarkSpec(name="rewardbench", path="allenai/reward-bench"))
    assert asked == [("allenai/reward-bench", "filtered")]
    assert [(c.pair.id, c.pair.subset) for c in bench.comparisons] == [("reward-bench:7", "math-prm")]

    def offline(path, split):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="could not be loaded from the hub .*no network"):
        load_benchmark(BenchmarkSpec(name="rewardbench", path="allenai/reward-bench"))


# ---- the rule registry


def test_unknown_benchmark_name_says_which_was_meant():
    with pytest.raises(ConfigError, match=r"'rm-bnech' is not a benchmark; did you mean 'rm-bench'\?"):
        rules.get_rule("rm-bnech")
    with pytest.raises(ConfigError, match="did you mean 'rewardbench'"):
        score_rows("rewardbench2", [])


def test_every_rule_module_is_registered_once():
    folder = Path(rules.__file__).parent
    modules = {f.stem for f in folder.glob("*.py")} - {"__init__"}
    registered = {type(rule).__module__.rpartition(".")[2]: name for name, rule in rules.RULES.items()}
    assert set(registered) == modules
    assert rules.names() == ["pairs", "rewardbench", "rm-bench", "rmb"]
    assert all(rules.get_rule(name).name == name for name in rules.names())


# ---- describing a benchmark without code: extract, sections per file, empty and missing files


def test_extract_works_on_every_field_and_unknown_keys_are_errors(tmp_path):
    file = tmp_path / "graded.jsonl"
    row = {"q": "Q: hi", "a": "<ans>x</ans>", "b": "<ans>y</ans>", "lab": "winner=2", "cat": "[chat]"}
    file.write_text(json.dumps(row) + "\n")
    source = PairSource(
        path=str(file),
        layout="labelled",
        fields={"prompt": "q", "answer_1": "a", "answer_2": "b", "label": "lab", "subset": "cat"},
        extract={"prompt": "Q: (.*)", "answer_1": "<ans>(.*)</ans>", "answer_2": "<ans>(.*)</ans>",
                 "label": r"winner=(\d)", "subset": r"\[(\w+)\]"},
    )  # fmt: skip
    (c,) = load_benchmark(BenchmarkSpec(name="pairs", path="", sources=[source])).comparisons
    assert (c.pair.prompt, c.pair.chosen, c.pair.rejected, c.pair.subset) == ("hi", "y", "x", "chat")
    typo = PairSource(path=str(file), layout="labelled", fields=source.fields, extract={"promt": "(.*)"})
    with pytest.raises(ConfigError, match=r"extract.promt is not a field; did you mean 'prompt'"):
        load_benchmark(BenchmarkSpec(name="pairs", path="", sources=[typo]))


def test_pairs_files_are_sections_that_subsets_can_name(tmp_path):
    for model in ("gpt", "claude"):
        rows = [{"prompt": "q", "chosen": f"c{k}", "rejected": "r", "subset": "math"} for k in range(2)]
        (tmp_path / f"{model}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec = BenchmarkSpec(
        name="pairs",
        path="",
        sources=[PairSource(path=str(tmp_path / f"{m}.jsonl")) for m in ("gpt", "claude")],
    )
    bench = load_benchmark(spec)
    assert bench.subsets() == ["gpt/math", "claude/math"]
    rows = rows_for(bench, lambda c: "rejected" if c.pair.id == "gpt:1" else "chosen")
    scores = score_rows("pairs", rows)
    assert scores["sections"]["gpt"]["score"] == 0.5 and scores["sections"]["claude"]["score"] == 1.0
    assert scores["headline"] == 0.75
    only = load_benchmark(spec, subsets=["claude"])
    assert {c.pair.subset for c in only.comparisons} == {"claude/math"}


def test_empty_files_are_skipped_and_counted(tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "full.jsonl").write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    spec = BenchmarkSpec(
        name="pairs",
        path="",
        sources=[
            PairSource(path=str(tmp_path / "empty.json")),
            PairSource(path=str(tmp_path / "full.jsonl")),
        ],
    )
    bench = load_benchmark(spec)
    assert len(bench.comparisons) == 1 and bench.empty_files == [str(tmp_path / "empty.json")]
    rmb = tmp_path / "rmb" / "Pairwise_set" / "Harmlessness"
    rmb.mkdir(parents=True)
    (rmb / "S1.json").write_text("[]")
    row = {"conversation_input": [{"role": "user", "content": "q"}], "pair_uid": 1,
           "chosen": {"answer": "a"}, "reject": {"answer": "b"}}  # fmt: skip
    (rmb / "S2.json").write_text(json.dumps([row]))
    loaded = load_benchmark(BenchmarkSpec(name="rmb", path=str(tmp_path / "rmb")))
    assert loaded.empty_files == [str(rmb / "S1.json")] and len(loaded.comparisons) == 1
    assert "Pairwise_set/Harmlessness/S3.json" in loaded.missing_files
    assert "Pairwise_set/Harmlessness/S2.json" not in loaded.missing_files
    assert len(loaded.missing_files) == len(rules.rmb.FILES) - 2


@needs_data
def test_release_files_missing_from_the_shared_copies_are_listed():
    assert load_benchmark(recipe_benchmark("rm-bench")).missing_files == ["math_filtered.json"]
    assert load_benchmark(recipe_benchmark("rmb"), subsets=["BoN_set/Harmlessness"]).missing_files == []


def test_rewardbench_weights_are_the_official_counts():
    """allenai/reward-bench rewardbench/constants.py EXAMPLE_COUNTS (changed to mirror the leaderboard)."""
    from rmr1_cli.evaluation.rules.rewardbench import WEIGHTS

    assert (WEIGHTS["xstest-should-refuse"], WEIGHTS["xstest-should-respond"]) == (154, 250)
    m = {"xstest-should-refuse": means(1.0), "xstest-should-respond": means(0.0)}
    out = aggregate("rewardbench", m, {"xstest-should-refuse": 2, "xstest-should-respond": 2})
    assert out["sections"]["Safety"]["score"] == pytest.approx(154 / 404)
