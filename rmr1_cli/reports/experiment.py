"""``rmr1 experiment-report DIR``: the results of ``make experiment`` as tables and plots.

The experiment (recipes/experiment/README.md) trains a reasoning RM and a scalar RM on the same
length-biased synthetic pairs, evaluates both where the longer answer is always the wrong one, uses each
as the reward for policy GRPO, and runs one more loop round. This module only reads the metrics.json
files those stages left and writes ``results.md``, ``results.json``, ``rms.png`` and ``policies.png``
into DIR, with the git commit that produced the runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rmr1_cli.console import grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError
from rmr1_cli.reports.formatting import arrow, markdown_table, number, percent
from rmr1_cli.reports.loop import collect_rounds, rounds_table
from rmr1_cli.reports.metrics import read_stage_metrics

# (row label, eval folder for the length-inverted test, eval folder for the iid test or None)
RM_ROWS = [
    ("reasoning RM (SFT)", "reasoning-sft-test", None),
    ("reasoning RM (SFT + RLVR)", "reasoning-test", "reasoning-test-iid"),
    ("scalar RM (Bradley-Terry)", "scalar-test", "scalar-test-iid"),
]
POLICY_ROWS = [("GRPO, reasoning RM reward", "reasoning"), ("GRPO, scalar RM reward", "scalar")]


def rm_results(root: Path) -> list[dict[str, Any]]:
    """Accuracy of each RM on both test sets, its length preference and per-error-type accuracy."""
    rows = []
    for label, test_dir, iid_dir in RM_ROWS:
        test = read_stage_metrics(root / "eval" / test_dir, "eval")
        if test is None:
            continue
        iid = read_stage_metrics(root / "eval" / iid_dir, "eval") if iid_dir else None
        rows.append(
            {
                "rm": label,
                "test_accuracy": test["accuracy"],
                "test_accuracy_ci": test.get("accuracy_ci"),
                "iid_accuracy": iid["accuracy"] if iid else None,
                "iid_accuracy_ci": iid.get("accuracy_ci") if iid else None,
                "prefers_longer": test["diagnostics"].get("prefers_longer"),
                "invalid_rate": test["diagnostics"].get("invalid_rate"),
                "by_error": {name: s["accuracy"] for name, s in sorted(test.get("subsets", {}).items())},
                "own_solution_correct": solution_accuracy(root / "eval" / test_dir),
                "pairs": test.get("n_comparisons"),
            }
        )
    return rows


def solution_accuracy(eval_dir: Path) -> float | None:
    """Share of a generative RM's judgments whose own <solution> reaches the pair's exact answer.

    It separates the two steps of a reasoning judge: solving (this figure) and marking each answer
    against the solution (the accuracy). Reads the eval folder's results, judgments and recipe.
    """
    import yaml

    from rmr1_cli.judging.verdicts import parse_judgment
    from rmr1_cli.rewards.verifiable import answer_matches

    recipe_file, results_file = eval_dir / "recipe.yaml", eval_dir / "results.jsonl"
    judgments_file = eval_dir / "judgments.jsonl"
    if not (recipe_file.is_file() and results_file.is_file() and judgments_file.is_file()):
        return None
    source = yaml.safe_load(recipe_file.read_text())["benchmark"]["path"]
    answers = {}
    for line in Path(source).read_text().splitlines():
        row = json.loads(line)
        answers[row["id"]] = row.get("answer")
    texts = {}
    for line in judgments_file.read_text().splitlines():
        record = json.loads(line)
        texts[record["key"]] = record["text"]
    checked = correct = 0
    for line in results_file.read_text().splitlines():
        row = json.loads(line)
        answer = answers.get(row["id"].split(":", 1)[-1])
        if answer is None:
            continue
        for judgment in row["judgments"]:
            solution = parse_judgment(texts.get(judgment["key"], "")).solution
            checked += 1
            correct += bool(solution) and answer_matches(solution, answer)
    return correct / checked if checked else None


def policy_results(root: Path) -> list[dict[str, Any]]:
    """Verifiable accuracy before/after each GRPO run, its reward trend and the RM-judged win rate."""
    rows = []
    for label, name in POLICY_ROWS:
        evaluation = read_stage_metrics(root / "policy-eval" / name, "policy-eval")
        grpo = read_stage_metrics(root / f"grpo-{name}", "grpo")
        if evaluation is None or grpo is None:
            continue
        judge = evaluation["judges"].get("judge", {})
        rows.append(
            {
                "policy": label,
                "accuracy_before": evaluation.get("verifiable.baseline_accuracy"),
                "accuracy_after": evaluation.get("verifiable.policy_accuracy"),
                "prompts": evaluation.get("verifiable.n"),
                "win_rate": judge.get("win_rate"),
                "win_rate_se": judge.get("win_rate_se"),
                "reward_first": grpo.get("reward_trend.first"),
                "reward_last": grpo.get("reward_trend.last"),
                "reward_length_corr": grpo.get("reward_length_trend_corr"),
                "length_before": evaluation["length.baseline_mean_tokens"],
                "length_after": evaluation["length.policy_mean_tokens"],
                "train_verifiable_agreement": grpo.get("diagnostics.hacking/verifiable_agreement.mean"),
            }
        )
    return rows


def _commit(root: Path) -> str | None:
    """The git commit recorded by the runs' manifests (the newest one)."""
    found = []
    for manifest in root.rglob("manifest.json"):
        info = json.loads(manifest.read_text())
        commit = info.get("git_commit")
        if commit:
            found.append(
                (
                    info.get("started", ""),
                    commit + (" (with uncommitted changes)" if info.get("git_dirty") else ""),
                )
            )
    return max(found)[1] if found else None


def rm_table(rms: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Results table (1): each RM's accuracy on both test sets, length preference, per-error accuracy."""
    errors = sorted({e for r in rms for e in r["by_error"]})
    header = ["RM", "test acc", "iid acc", "picks longer (test)", "own solution right (test)", *errors]
    rows = [
        [
            r["rm"],
            percent(r["test_accuracy"], r["test_accuracy_ci"]),
            percent(r["iid_accuracy"], r["iid_accuracy_ci"]),
            percent(r["prefers_longer"]),
            percent(r["own_solution_correct"]),
            *(percent(r["by_error"].get(e)) for e in errors),
        ]
        for r in rms
    ]
    return header, rows


def policy_table(policies: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Results table (2): each GRPO policy's accuracy, win rate, reward trend and answer length."""
    header = [
        "policy",
        "accuracy before -> after",
        "win rate vs start",
        "GRPO reward first -> last",
        "reward~length r",
        "answer tokens before -> after",
    ]
    rows = [
        [
            p["policy"],
            arrow(p["accuracy_before"], p["accuracy_after"], percent, when_missing=None)
            + f" (n={p['prompts']})",
            percent(p["win_rate"], se=p["win_rate_se"]),
            arrow(p["reward_first"], p["reward_last"], when_missing=None),
            number(p["reward_length_corr"], 2),
            arrow(p["length_before"], p["length_after"], lambda v: number(v, 1), when_missing=None),
        ]
        for p in policies
    ]
    return header, rows


def markdown(rms: list[dict], policies: list[dict], rounds: list[dict] | None, commit: str | None) -> str:
    lines = ["# make experiment: results", ""]
    if commit:
        lines += [f"Produced by commit `{commit}`.", ""]
    lines += [
        "## (1) Reward models trained on length-biased pairs",
        "",
        "test: the longer answer is always the wrong one; iid: the same test prompts written like the train",
        "pairs (recipes/experiment/synth.yaml). Accuracy over pairs judged in both A/B orders, 95% bootstrap CI.",
        "",
        *markdown_table(*rm_table(rms)),
        "",
        "![RM accuracy](rms.png)",
        "",
        "## (2) Policy GRPO with each RM as the reward",
        "",
        "Verifiable accuracy of greedy answers on the held-out test prompts, before and after GRPO; win rate",
        "against the starting policy as judged by the reasoning RM (both orders, swap-safe).",
        "",
        *markdown_table(*policy_table(policies)),
        "",
        "![policy accuracy](policies.png)",
        "",
    ]
    if rounds:
        lines += [
            "## (3) One more loop round",
            "",
            "Round 0 = the reasoning RM and its GRPO policy from (1) and (2); round 1 = refine -> traces -> SFT",
            "+ RLVR -> GRPO (mk/loop.mk). Policy accuracy is against the round's starting policy.",
            "",
            *markdown_table(*rounds_table(rounds)),
            "",
            "![loop](loop/loop.png)",
            "",
        ]
    return "\n".join(lines)


def plot_rms(rms: list[dict], out_png: Path) -> Path | None:
    """Grouped bars: each RM's accuracy on the length-inverted test and on the iid test, with CIs."""
    if not rms:
        return None
    from rmr1_cli.reports.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for offset, (key, label) in enumerate(
        [("test", "longer answer wrong (test)"), ("iid", "train bias (iid)")]
    ):
        xs, ys, errs = [], [], [[], []]
        for i, r in enumerate(rms):
            value, ci = r[f"{key}_accuracy"], r[f"{key}_accuracy_ci"]
            if value is None:
                continue
            xs.append(i + (offset - 0.5) * width)
            ys.append(value)
            errs[0].append(value - ci[0] if ci else 0)
            errs[1].append(ci[1] - value if ci else 0)
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=label)
    ax.set_xticks(range(len(rms)), [r["rm"] for r in rms], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("pairwise accuracy")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    ax.legend(fontsize=8)
    ax.set_title("RMs trained on length-biased pairs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_policies(policies: list[dict], out_png: Path) -> Path | None:
    """Verifiable accuracy of the starting policy and of each GRPO-trained policy."""
    if not policies:
        return None
    from rmr1_cli.reports.plots import pyplot

    plt = pyplot()
    labels = ["start"] + [p["policy"].replace("GRPO, ", "") for p in policies]
    values = [policies[0]["accuracy_before"]] + [p["accuracy_after"] for p in policies]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(range(len(values)), values, color=["grey"] + ["C0", "C1", "C2"][: len(policies)])
    ax.set_xticks(range(len(values)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("verifiable accuracy (test prompts)")
    ax.set_title("policy accuracy before and after GRPO", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def write_experiment_report(root: str | Path) -> dict[str, Any]:
    root = Path(root)
    rms, policies = rm_results(root), policy_results(root)
    if not rms and not policies:
        raise DataError(f"{root}: no experiment results (run `make experiment` first)")
    rounds = collect_rounds(root / "loop") if (root / "loop").is_dir() else None
    commit = _commit(root)
    results = {"commit": commit, "reward_models": rms, "policies": policies, "loop_rounds": rounds}
    write_json(root / "results.json", results)
    plot_rms(rms, root / "rms.png")
    plot_policies(policies, root / "policies.png")
    write_text(root / "results.md", markdown(rms, policies, rounds, commit))
    grid_table(
        "make experiment: reward models (accuracy, 95% CI)",
        ["RM", "test (longer is wrong)", "iid (train bias)", "picks longer"],
        [
            [
                r["rm"],
                percent(r["test_accuracy"], r["test_accuracy_ci"]),
                percent(r["iid_accuracy"], r["iid_accuracy_ci"]),
                percent(r["prefers_longer"]),
            ]
            for r in rms
        ],
    )
    grid_table(
        "make experiment: policies (verifiable accuracy on test prompts)",
        ["policy", "before", "after", "win rate vs start", "reward first -> last"],
        [
            [
                p["policy"],
                percent(p["accuracy_before"]),
                percent(p["accuracy_after"]),
                percent(p["win_rate"]),
                arrow(p["reward_first"], p["reward_last"], when_missing=None),
            ]
            for p in policies
        ],
    )
    return results
