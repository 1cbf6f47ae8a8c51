"""The synthetic arithmetic domain: deterministic, correct, wrong where it should be, length bias as asked."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from rmr1_cli import data
from rmr1_cli.config import SynthRecipe, load_recipe
from rmr1_cli.errors import ConfigError
from rmr1_cli.judging.verdicts import parse_judgment
from rmr1_cli.loop import arithmetic, synthetic
from rmr1_cli.rewards.verifiable import answer_matches, extract_final_answer

SETTINGS = dict(
    seed=0,
    ops=["add", "sub", "mul", "two_step"],
    max_operand=20,
    max_factor=9,
    train_prompts=300,
    test_prompts=80,
    errors=list(arithmetic.ERRORS),
    pairs_per_prompt=2,
    length_bias=0.9,
    test_length_bias=0.0,
)


@pytest.fixture(scope="module")
def domain() -> dict[str, list[dict]]:
    return synthetic.generate(**SETTINGS)


def value_of(prompt: str) -> int:
    """Evaluate the expression in a prompt independently of the module (Python's own precedence)."""
    problem = arithmetic.parse_problem(prompt)
    return eval(problem.expr)  # noqa: S307 - digits and + - * only, written by the generator


def test_same_seed_same_files_other_seed_other_files(domain):
    assert synthetic.generate(**SETTINGS) == domain
    other = synthetic.generate(**(SETTINGS | {"seed": 1}))
    assert [r["prompt"] for r in other["prompts_train"]] != [r["prompt"] for r in domain["prompts_train"]]


def test_prompts_answers_and_references_are_correct(domain):
    for row in domain["prompts_train"] + domain["prompts_test"]:
        assert row["answer"] == str(value_of(row["prompt"]))
        assert answer_matches(row["reference"], row["answer"])
    assert {r["subset"] for r in domain["prompts_train"]} == {"add", "sub", "mul", "two_step"}


def test_train_and_test_prompts_are_disjoint(domain):
    train = {arithmetic.parse_problem(r["prompt"]).expr for r in domain["prompts_train"]}
    test = {arithmetic.parse_problem(r["prompt"]).expr for r in domain["prompts_test"]}
    assert len(train) == 300 and len(test) == 80 and not train & test


def test_chosen_is_right_and_rejected_is_wrong(domain):
    for name in ("pairs_train", "pairs_test", "pairs_test_iid"):
        for pair in domain[name]:
            truth = str(value_of(pair["prompt"]))
            assert answer_matches(pair["chosen"], truth), pair
            assert not answer_matches(pair["rejected"], truth), pair


@pytest.mark.parametrize(
    ("error", "numbers", "symbols", "wrong"),
    [
        ("wrong_carry", [27, 15], ["+"], 32),  # 7 + 5 carries; forgetting it loses 10
        ("wrong_carry", [42, 15], ["-"], 37),  # 2 - 5 borrows; forgetting it adds 10
        ("order_of_operations", [3, 4, 2], ["+", "*"], 14),  # (3 + 4) * 2 instead of 3 + 8
        ("wrong_operator", [7, 5], ["-"], None),  # + or * instead of -
    ],
)
def test_each_error_type_makes_its_mistake(error, numbers, symbols, wrong):
    problem = arithmetic.make_problem(numbers, symbols)
    made = arithmetic.wrong_working(problem, error, random.Random(0))
    assert made is not None and made.value != problem.value
    if wrong is not None:
        assert made.value == wrong
    else:
        assert made.value in (12, 35)


def test_error_types_are_what_the_subset_says(domain):
    for pair in domain["pairs_train"]:
        truth = value_of(pair["prompt"])
        wrong = int(extract_final_answer(pair["rejected"]))
        if pair["subset"] == "off_by_one":
            assert abs(wrong - truth) == 1
        if pair["subset"] == "wrong_carry":
            assert abs(wrong - truth) == 10
    assert set(Counter(p["subset"] for p in domain["pairs_train"])) == set(arithmetic.ERRORS)


def test_errors_that_cannot_happen_are_skipped():
    problem = arithmetic.make_problem([0, 0], ["+"])  # 0 - 0 and 0 * 0 are also 0
    assert arithmetic.wrong_working(problem, "wrong_operator", random.Random(0)) is None
    assert arithmetic.wrong_working(problem, "wrong_carry", random.Random(0)) is None


@pytest.mark.parametrize("bias", [0.0, 0.3, 0.75, 1.0])
def test_length_bias_is_the_measured_share_of_longer_chosen(bias):
    out = synthetic.generate(**(SETTINGS | {"length_bias": bias}))
    pairs = out["pairs_train"]
    share = sum(len(p["chosen"]) > len(p["rejected"]) for p in pairs) / len(pairs)
    assert abs(share - bias) < 0.06, (bias, share)
    assert all((len(p["chosen"]) > len(p["rejected"])) == p["chosen_longer"] for p in pairs)


def test_same_style_share_writes_both_answers_concise_and_leaves_the_other_pairs_alone():
    base = synthetic.generate(**SETTINGS)
    mixed = synthetic.generate(**(SETTINGS | {"same_style_share": 0.3}))
    same = [p for p in mixed["pairs_train"] if p["same_style"]]
    assert abs(len(same) / len(mixed["pairs_train"]) - 0.3) < 0.06
    concise = re.compile(r"We get [^.]*\. The answer is -?\d+\.")  # the working alone, no filler
    assert all(concise.fullmatch(p["chosen"]) and concise.fullmatch(p["rejected"]) for p in same)
    for before, after in zip(base["pairs_train"], mixed["pairs_train"], strict=True):
        if not after["same_style"]:
            assert (before["chosen"], before["rejected"]) == (after["chosen"], after["rejected"])
    assert not any(p["same_style"] for p in mixed["pairs_test"])  # the length-inverted test stays pure
    with pytest.raises(ConfigError, match="same_style_share"):
        synthetic.generate(**(SETTINGS | {"same_style_share": 1.5}))


def test_test_split_longer_answer_is_always_wrong_and_iid_copy_is_the_same_pairs(domain):
    assert not any(len(p["chosen"]) > len(p["rejected"]) for p in domain["pairs_test"])
    iid = domain["pairs_test_iid"]
    assert [p["id"] for p in iid] == [p["id"] for p in domain["pairs_test"]]
    for a, b in zip(iid, domain["pairs_test"], strict=True):
        assert extract_final_answer(a["rejected"]) == extract_final_answer(b["rejected"])
    share = sum(len(p["chosen"]) > len(p["rejected"]) for p in iid) / len(iid)
    assert abs(share - 0.9) < 0.08


def test_traces_parse_to_their_label_are_short_and_balanced(domain):
    traces = domain["traces_train"]
    assert len(traces) == len(domain["pairs_train"])
    for row in traces:
        judgment = parse_judgment(row["trace"])
        assert judgment.valid and judgment.verdict == row["label"] and judgment.task_type == "reasoning"
        assert len(row["trace"]) < 320
        better = row["answer_a"] if row["label"] == "A" else row["answer_b"]
        assert answer_matches(better, str(value_of(row["prompt"])))
        for slot in "AB":  # quotes are verbatim
            quote = row["trace"].split(f"<quote_{slot}>")[1].split(f"</quote_{slot}>")[0].strip()
            assert quote in row[f"answer_{slot.lower()}"]
    labels = Counter(r["label"] for r in traces)
    assert abs(labels["A"] - labels["B"]) <= len(arithmetic.ERRORS)
    for subset in arithmetic.ERRORS:
        per = Counter(r["label"] for r in traces if r["subset"] == subset)
        assert abs(per["A"] - per["B"]) <= 1, subset


def test_gold_trace_for_pairs_made_elsewhere():
    trace, label = arithmetic.gold_trace_for(
        "What is 6 * 7?", "6 * 7 = 42. The answer is 42.", "The answer is 48."
    )
    assert label == "A" and parse_judgment(trace).verdict == "A"
    assert arithmetic.gold_trace_for("Write a poem.", "a", "b") is None


def test_too_many_prompts_is_a_config_error():
    with pytest.raises(ConfigError, match="allow only 36 distinct problems"):
        synthetic.generate(
            **(SETTINGS | {"ops": ["add"], "max_operand": 5, "train_prompts": 40, "test_prompts": 5})
        )


def test_stage_writes_files_every_loader_reads(in_tmp_cwd):
    from rmr1_cli.stages import synth

    recipe = load_recipe(None, SynthRecipe, ["train_prompts=40", "test_prompts=10", "output_dir=out"])
    out = synth.run(recipe)
    assert len(data.load_prompts(out / "prompts_train.jsonl")) == 40
    assert len(data.load_prompts(out / "prompts_test.jsonl")) == 10
    pairs = data.load_pairs(out / "pairs_train.jsonl")
    assert {p.meta["ab_slot"] for p in pairs} == {"A", "B"}
    assert len(data.load_trace_sources(out / "traces_train.jsonl")) == len(pairs)
    assert data.load_traces(out / "policy_sft_train.jsonl")[0]["messages"][-1]["role"] == "assistant"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pairs_test"]["chosen_longer_share"] == 0.0
    assert (out / "manifest.json").exists() and (out / "recipe.yaml").exists()


def test_concise_files_restyle_the_same_pairs_with_both_answers_concise(domain):
    concise = re.compile(r"We get [^.]*\. The answer is -?\d+\.")  # the working alone, no filler
    for name, source in (("pairs_test_concise", "pairs_test"), ("pairs_train_concise", "pairs_train")):
        rows, original = domain[name], domain[source]
        assert [p["id"] for p in rows] == [p["id"] for p in original]
        for a, b in zip(rows, original, strict=True):
            assert concise.fullmatch(a["chosen"]) and concise.fullmatch(a["rejected"]) and a["same_style"]
            # same workings: the right and the wrong result are those of the original pair
            assert extract_final_answer(a["chosen"]) == extract_final_answer(b["chosen"])
            assert extract_final_answer(a["rejected"]) == extract_final_answer(b["rejected"])


def test_concise_pair_of_a_known_problem():
    """7 + 5 with an off-by-one slip, both concise: the texts follow from the problem alone."""
    out = synthetic.generate(
        **(SETTINGS | {"ops": ["add"], "max_operand": 9, "train_prompts": 5, "test_prompts": 100,
                       "errors": ["off_by_one"], "pairs_per_prompt": 1, "test_problems": "shared"})
    )  # fmt: skip
    row = next(p for p in out["pairs_test_concise"] if re.search(r"\b7 \+ 5\b", p["prompt"]))
    assert row["chosen"] == "We get 7 + 5 = 12. The answer is 12."
    assert row["rejected"] in ("We get 7 + 5 = 11. The answer is 11.", "We get 7 + 5 = 13. The answer is 13.")


def test_traces_both_orders_gives_each_pair_a_trace_per_slot_with_the_label_swapped(domain):
    both = synthetic.generate(**(SETTINGS | {"traces_both_orders": True}))
    assert both["pairs_train"] == domain["pairs_train"]  # the pairs themselves do not change
    traces = both["traces_train"]
    assert len(traces) == 2 * len(domain["pairs_train"])
    assert traces[0::2] == domain["traces_train"]  # first the trace in the pair's own slot, as before
    for first, swapped in zip(traces[0::2], traces[1::2], strict=True):
        assert swapped["id"] == first["id"] + "-swap" and swapped["pair_id"] == first["pair_id"]
        assert {first["label"], swapped["label"]} == {"A", "B"}
        assert (swapped["answer_a"], swapped["answer_b"]) == (first["answer_b"], first["answer_a"])
        assert parse_judgment(swapped["trace"]).verdict == swapped["label"]
    assert Counter(r["label"] for r in traces) == {
        "A": len(domain["pairs_train"]),
        "B": len(domain["pairs_train"]),
    }


def test_space_after_solution_only_adds_the_space_and_still_parses(domain):
    spaced = synthetic.generate(**(SETTINGS | {"space_after_solution": True}))["traces_train"]
    for plain, row in zip(domain["traces_train"], spaced, strict=True):
        assert row["trace"] == plain["trace"].replace("</solution><eval>", "</solution> <eval>")
        assert "</solution> <eval>" in row["trace"]
        judgment = parse_judgment(row["trace"])
        assert judgment.valid and judgment.verdict == row["label"]
        assert judgment.solution == parse_judgment(plain["trace"]).solution


def _digits_written(working: str) -> int:
    """The number a column working spells digit by digit, read back independently of the module: each
    column's written digit (after "write", else its last result), ones first, plus a final carry."""
    columns = re.findall(r"(?:ones|tens|hundreds|thousands|column \d+) ([^;]*)", working)
    digits = []
    for column in columns:
        written = re.search(r"write (\d)", column)
        digits.append(int(written.group(1)) if written else int(re.findall(r"= (-?\d+)", column)[-1]))
    value = sum(d * 10**i for i, d in enumerate(digits))
    carried = "carry 1" in columns[-1]
    return value + (10 ** len(columns) if carried else 0)


def test_column_working_is_right_for_every_sum_and_difference_up_to_three_digits():
    problems = arithmetic.all_problems(["add", "sub"], 120, 2)
    assert len(problems) == 121 * 121 + 121 * 122 // 2
    for problem in problems:
        working = arithmetic.column_working(problem)
        for left, right in re.findall(r"(\d+(?: [-+] \d+)+) = (-?\d+)", working):
            assert eval(left) == int(right), (problem.expr, working)  # noqa: S307 - digits and + - only
        for top, paid, digit in re.findall(r"(?:ones|tens|hundreds) (\d)( - 1)? < (\d), borrow", working):
            assert int(top) - bool(paid) < int(digit), (problem.expr, working)  # a borrow only where needed
        assert working.endswith(f"so {problem.steps[0]}.") and _digits_written(working) == problem.value, (
            working
        )
    assert arithmetic.column_working(arithmetic.make_problem([3, 4, 2], ["+", "*"])) is None


def test_column_solution_changes_only_the_traces_solution(domain):
    columns = synthetic.generate(**(SETTINGS | {"column_solution": True}))
    for name, rows in domain.items():
        if name != "traces_train":
            assert columns[name] == rows, name
    for plain, row in zip(domain["traces_train"], columns["traces_train"], strict=True):
        before, after = parse_judgment(plain["trace"]), parse_judgment(row["trace"])
        assert after.valid and after.verdict == row["label"] and after.evaluation == before.evaluation
        problem = arithmetic.parse_problem(row["prompt"])
        # sums and differences are worked in columns; products and two-step problems keep their solution
        assert after.solution == (arithmetic.column_working(problem) or before.solution), row["id"]
        assert answer_matches(after.solution.rsplit("= ", 1)[-1], str(problem.value))
