"""``rmr1 synth``: write the verifiable synthetic domain (``rmr1_cli/loop/synthetic.py``) to a folder.

Outputs in ``output_dir`` (each file loads with the loader named, so every stage reads it as is):

    prompts_train.jsonl, prompts_test.jsonl   PromptRecord rows (id, prompt, reference, answer, subset)
    pairs_train.jsonl                         PreferencePair rows, chosen longer with P = length_bias
    pairs_test.jsonl                          the test pairs with P = test_length_bias
    pairs_test_iid.jsonl                      the same test pairs restyled with P = length_bias
    pairs_test_concise.jsonl                  the same test pairs with both answers concise (no length cue)
    pairs_train_concise.jsonl                 the train pairs with both answers concise (RLVR's hard cases)
    traces_train.jsonl                        one gold CoR trace per train pair (load_trace_sources); two,
                                              one per A/B slot, with traces_both_orders
    policy_sft_train.jsonl                    prompt + reference as messages (warm-starts a policy)
    metrics.json                              counts, measured length share, label balance per file
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rmr1_cli import data
from rmr1_cli.config import SynthRecipe
from rmr1_cli.console import summary_table
from rmr1_cli.loop import synthetic
from rmr1_cli.run_dir import RunDir

LOADERS = {
    "prompts_train": data.load_prompts,
    "prompts_test": data.load_prompts,
    "pairs_train": data.load_pairs,
    "pairs_test": data.load_pairs,
    "pairs_test_iid": data.load_pairs,
    "pairs_test_concise": data.load_pairs,
    "pairs_train_concise": data.load_pairs,
    "traces_train": data.load_trace_sources,
    "policy_sft_train": data.load_traces,
}


# metrics.json: one entry per file written (rows, subsets, length share, label balance).
METRICS = (
    "prompts_train", "prompts_test", "pairs_train", "pairs_test", "pairs_test_iid", "pairs_test_concise",
    "pairs_train_concise", "traces_train", "policy_sft_train",
)  # fmt: skip


def run(recipe: SynthRecipe) -> Path:
    files = synthetic.generate(
        seed=recipe.seed,
        ops=recipe.ops,
        max_operand=recipe.max_operand,
        max_factor=recipe.max_factor,
        train_prompts=recipe.train_prompts,
        test_prompts=recipe.test_prompts,
        errors=recipe.errors,
        pairs_per_prompt=recipe.pairs_per_prompt,
        length_bias=recipe.length_bias,
        test_length_bias=recipe.test_length_bias,
        test_problems=recipe.test_problems,
        same_style_share=recipe.same_style_share,
        traces_both_orders=recipe.traces_both_orders,
        space_after_solution=recipe.space_after_solution,
        column_solution=recipe.column_solution,
    )
    run_dir = RunDir.create("synth", recipe)
    for name, rows in files.items():
        path = data.write_jsonl(run_dir.path / f"{name}.jsonl", rows)
        LOADERS[name](path)  # a schema slip fails here, not in a later stage

    metrics = {name: describe(name, rows) for name, rows in files.items()}
    summary_table(
        "rmr1 synth",
        {
            "prompts train / test": f"{len(files['prompts_train'])} / {len(files['prompts_test'])}",
            "pairs train / test": f"{len(files['pairs_train'])} / {len(files['pairs_test'])}",
            "chosen longer: train / test / test_iid": " / ".join(
                f"{metrics[k]['chosen_longer_share']:.2f}"
                for k in ("pairs_train", "pairs_test", "pairs_test_iid")
            ),
            "trace labels A / B": f"{metrics['traces_train']['labels']['A']} / {metrics['traces_train']['labels']['B']}",
            "longest trace (chars)": metrics["traces_train"]["max_trace_chars"],
            "output": run_dir.path,
        },
    )
    return run_dir.finish(metrics)


def describe(name: str, rows: list[dict]) -> dict:
    """What a file holds: rows, subsets, and for pairs/traces the length share and label balance."""
    info: dict = {"rows": len(rows)}
    if rows and "subset" in rows[0]:
        info["subsets"] = dict(sorted(Counter(r["subset"] for r in rows).items()))
    if name.startswith("pairs"):
        info["chosen_longer_share"] = sum(len(r["chosen"]) > len(r["rejected"]) for r in rows) / len(rows)
        info["ab_slots"] = dict(sorted(Counter(r["ab_slot"] for r in rows).items()))
    if name.startswith("traces"):
        info["labels"] = {
            "A": sum(r["label"] == "A" for r in rows),
            "B": sum(r["label"] == "B" for r in rows),
        }
        info["max_trace_chars"] = max(len(r["trace"]) for r in rows)
        info["mean_trace_chars"] = round(sum(len(r["trace"]) for r in rows) / len(rows), 1)
    return info
