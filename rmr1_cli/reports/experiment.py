"""``rmr1 experiment-report DIR [--beside OTHER]``: the results of ``make experiment`` (or ``make
experiment-smol``) as tables and plots.

The experiment (recipes/experiment/README.md) trains a reasoning RM and a scalar RM on the same
length-biased synthetic pairs, evaluates both where the longer answer is always the wrong one (and, in
experiment-smol, on pairs of two concise answers), uses each as the reward for policy GRPO, and runs one
more loop round. This module only reads the files those stages left and writes ``results.md``,
``results.json``, ``rms.png`` and ``policies.png`` into DIR, with the git commit that produced the runs:
the RMs with 95% bootstrap intervals and swap consistency, the judge ablation (one eval run per row,
where the folders exist), each policy's accuracy before/after with intervals (and a paired interval of
the change), and each GRPO run's reward-hacking diagnostics. ``--beside OTHER`` puts a second
experiment's figures (e.g. the tiny ``runs/experiment`` next to ``runs/experiment-smol``) in the same
tables, one ``run`` column telling them apart.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rmr1_cli.console import grid_table
from rmr1_cli.data import write_json, write_text
from rmr1_cli.errors import DataError
from rmr1_cli.reports.experiment_tables import (
    HACKING,
    ablation_table,
    hacking_table,
    policy_table,
    rm_table,
    trace_table,
)
from rmr1_cli.reports.formatting import markdown_table
from rmr1_cli.reports.loop import collect_rounds, rounds_table
from rmr1_cli.reports.metrics import read_stage_metrics
from rmr1_cli.reports.plots import plot_experiment_policies, plot_experiment_rms
from rmr1_cli.reports.traces import solution_accuracy, solution_accuracy_by_error, trace_steps

log = logging.getLogger(__name__)

# (row label, eval folder prefix): folder <prefix>-test holds the length-inverted test, <prefix>-test-iid
# the iid one, <prefix>-test-concise the pairs of two concise answers; a row whose -test folder is absent
# is left out. `make experiment` names the SFT-only judge reasoning-sft, `make experiment-smol` sft.
RM_ROWS = [
    ("reasoning RM (SFT)", "reasoning-sft"),
    ("reasoning RM (SFT)", "sft"),
    ("reasoning RM (SFT + RLVR)", "reasoning"),
    ("reasoning RM (SFT 192 + RLVR), verdict from the marks", "rlmarks"),
    ("reasoning RM (column solutions, SFT + RLVR), verdict from the marks", "rlcolumns"),
    ("scalar RM (Bradley-Terry)", "scalar"),
]
# the judge ablation of `make experiment-smol`: each row one judge (eval folder prefix), both test sets
ABLATION_ROWS = [
    ("SFT on length-biased pairs, one order per pair (no fixes)", "plain"),
    ("SFT + concise pairs, both orders", "sft"),
    ("SFT + concise pairs, both orders; judge.solve_first", "sft-solve"),
    ("SFT + concise pairs, both orders, twice the traces (192)", "sft192"),
    ("SFT + concise pairs, both orders + question-answer rows; judge.solve_first", "sftmix-solve"),
    ("SFT + RLVR on concise pairs (hard cases)", "reasoning"),
    ("SFT, twice the traces (192); verdict read from the marks", "sft192-marks"),
    ("SFT (192) + RLVR on concise pairs, reward and verdict from the marks", "rlmarks"),
    ("SFT on column-solution traces (192); verdict read from the marks", "columns"),
    ("column-solution SFT + RLVR on concise pairs, reward and verdict from the marks", "rlcolumns"),
    ("scalar RM (Bradley-Terry), same pairs", "scalar"),
]
POLICY_ROWS = [
    ("GRPO, reasoning RM reward", "reasoning"),
    ("GRPO, reasoning RM (SFT only) reward", "reasoning-sft"),
    ("GRPO, reasoning RM reward, verdict from the marks", "reasoning-marks"),
    ("GRPO, column-solution reasoning RM reward, verdict from the marks", "reasoning-columns"),
    ("GRPO, scalar RM reward", "scalar"),
    ("GRPO, verifiable reward (a perfect judge: the ceiling)", "verifiable"),
]
BOOTSTRAP_SEED, BOOTSTRAP_RESAMPLES = 0, 2000


def _eval(root: Path, folder: str) -> dict | None:
    return read_stage_metrics(root / "eval" / folder, "eval")


def _accuracy(test_set: str, metrics: dict | None) -> dict[str, Any]:
    """``<test_set>_accuracy`` and its interval from one eval run's metrics (None when it did not run)."""
    return {
        f"{test_set}_accuracy": metrics["accuracy"] if metrics else None,
        f"{test_set}_accuracy_ci": metrics.get("accuracy_ci") if metrics else None,
    }


def _swap(metrics: dict | None) -> float | None:
    return metrics["diagnostics"].get("swap_consistency") if metrics else None


def rm_results(root: Path) -> list[dict[str, Any]]:
    """Accuracy of each RM on every test set present, its length preference, swap consistency and
    per-error-type accuracy."""
    rows = []
    for label, prefix in RM_ROWS:
        test = _eval(root, f"{prefix}-test")
        if test is None:
            continue
        iid, concise = _eval(root, f"{prefix}-test-iid"), _eval(root, f"{prefix}-test-concise")
        rows.append(
            {
                "rm": label,
                **_accuracy("test", test),
                **_accuracy("iid", iid),
                **_accuracy("concise", concise),
                "swap_consistency": _swap(test),
                "concise_swap_consistency": _swap(concise),
                "prefers_longer": test["diagnostics"].get("prefers_longer"),
                "invalid_rate": test["diagnostics"].get("invalid_rate"),
                "by_error": {name: s["accuracy"] for name, s in sorted(test.get("subsets", {}).items())},
                "own_solution_correct": solution_accuracy(root / "eval" / f"{prefix}-test"),
                "own_solution_by_error": solution_accuracy_by_error(root / "eval" / f"{prefix}-test"),
                "pairs": test.get("n_comparisons"),
            }
        )
    return rows


def ablation_results(root: Path) -> list[dict[str, Any]]:
    """One row per judge of the ablation whose eval folders exist: both test sets, swap consistency,
    own solution right. Empty unless the run has a judge of the ablation alone (not in ``RM_ROWS``)."""
    main = {prefix for _, prefix in RM_ROWS}
    if not any(_eval(root, f"{p}-test") for _, p in ABLATION_ROWS if p not in main):
        return []
    rows = []
    for label, prefix in ABLATION_ROWS:
        test, concise = _eval(root, f"{prefix}-test"), _eval(root, f"{prefix}-test-concise")
        if test is None and concise is None:
            continue
        rows.append(
            {
                "judge": label,
                "folder": prefix,
                **_accuracy("test", test),
                **_accuracy("concise", concise),
                "swap_consistency": _swap(test),
                "concise_swap_consistency": _swap(concise),
                "invalid_rate": test["diagnostics"].get("invalid_rate") if test else None,
                "own_solution_correct": solution_accuracy(root / "eval" / f"{prefix}-test"),
                "concise_own_solution_correct": solution_accuracy(root / "eval" / f"{prefix}-test-concise"),
                "trace_steps": trace_steps(root / "eval" / f"{prefix}-test"),
                "concise_trace_steps": trace_steps(root / "eval" / f"{prefix}-test-concise"),
            }
        )
    return rows


def policy_results(root: Path) -> list[dict[str, Any]]:
    """Verifiable accuracy before/after each GRPO run (with intervals and a paired interval of the
    change), its reward trend and the RM-judged win rate."""
    rows = []
    for label, name in POLICY_ROWS:
        evaluation = read_stage_metrics(root / "policy-eval" / name, "policy-eval")
        grpo = read_stage_metrics(root / f"grpo-{name}", "grpo")
        if evaluation is None or grpo is None:
            continue
        judge = evaluation["judges"].get("judge", {})
        before, after = _correctness(root / "policy-eval" / name)
        rows.append(
            {
                "policy": label,
                "accuracy_before": evaluation.get("verifiable.baseline_accuracy"),
                "accuracy_after": evaluation.get("verifiable.policy_accuracy"),
                "prompts": evaluation.get("verifiable.n"),
                **paired_accuracy(before, after),
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


def _correctness(eval_dir: Path) -> tuple[list[bool], list[bool]]:
    """Per prompt with an answer: (initial policy right, trained policy right), from answers.jsonl."""
    path = eval_dir / "answers.jsonl"
    before, after = [], []
    if path.is_file():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "policy_correct" in row:
                before.append(bool(row["baseline_correct"]))
                after.append(bool(row["policy_correct"]))
    return before, after


def paired_accuracy(
    before: list[bool], after: list[bool], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict[str, Any]:
    """95% intervals of the accuracy before, after and of the change (after - before), one paired
    bootstrap over prompts (the same prompts resampled for both), and the exact McNemar p-value of the
    change. Empty when there are no prompts.

    >>> out = paired_accuracy([False, False, True, True], [True, True, True, True])
    >>> out["accuracy_change"], out["improved"], out["worsened"], out["mcnemar_p"]
    (0.5, 2, 0, 0.5)
    """
    import numpy as np

    from rmr1_cli.evaluation.stats import interval, mcnemar

    if not before or len(before) != len(after):
        return {}
    b, a = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(b), size=(resamples, len(b)))
    mean_b, mean_a = b[draws].mean(axis=1), a[draws].mean(axis=1)
    improved, worsened = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    return {
        "accuracy_before_ci": list(interval(mean_b)),
        "accuracy_after_ci": list(interval(mean_a)),
        "accuracy_change": float(a.mean() - b.mean()),
        "accuracy_change_ci": list(interval(mean_a - mean_b)),
        "improved": improved,
        "worsened": worsened,
        "mcnemar_p": mcnemar(improved, worsened),
    }


# the reward-hacking diagnostics of a GRPO run (rmr1 grpo's metrics.json ``diagnostics``, mean over steps)


def grpo_diagnostics(root: Path) -> list[dict[str, Any]]:
    """Each GRPO run's reward-hacking diagnostics: reward and completion length first -> last, the
    reward~length correlation over steps, the mean of each logged diagnostic, and the rollouts'
    verifiable accuracy (tracked at weight 0) in the first and last quarter of the steps."""
    rows = []
    for label, name in POLICY_ROWS:
        grpo = read_stage_metrics(root / f"grpo-{name}", "grpo")
        if grpo is None:
            continue
        verifiable = _quarters(root / f"grpo-{name}" / "train_log.jsonl", "rewards/verifiable_reward/mean")
        rows.append(
            {
                "policy": label,
                "steps": grpo.get("global_step"),
                "reward_first": grpo.get("reward_trend.first"),
                "reward_last": grpo.get("reward_trend.last"),
                "reward_length_trend_corr": grpo.get("reward_length_trend_corr"),
                "length_first": grpo.get("diagnostics.completions/mean_length.first"),
                "length_last": grpo.get("diagnostics.completions/mean_length.last"),
                "verifiable_first_quarter": verifiable[0],
                "verifiable_last_quarter": verifiable[1],
                **{key: grpo.get(f"diagnostics.{key}.mean") for _, key in HACKING},
            }
        )
    return rows


def _quarters(log: Path, key: str) -> tuple[float | None, float | None]:
    """Means of a logged series over the first and the last quarter of its steps (None if absent)."""
    if not log.is_file():
        return None, None
    values = []
    for line in log.read_text().splitlines():
        row = json.loads(line)
        if key in row and row[key] is not None:
            values.append(float(row[key]))
    if not values:
        return None, None
    q = max(1, len(values) // 4)
    return sum(values[:q]) / q, sum(values[-q:]) / q


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


def markdown(
    rms: list[dict],
    policies: list[dict],
    rounds: list[dict] | None,
    commit: str | None,
    *,
    ablation: list[dict] | None = None,
    hacking: list[dict] | None = None,
    title: str = "make experiment",
    beside: dict | None = None,
) -> str:
    """results.md. ``beside``: another experiment's results (``name``, ``commit``, ``reward_models``,
    ``policies``, ``grpo_diagnostics``), or ``{"name": ..., "missing": True}`` when its folder is absent."""
    lines = [f"# {title}: results", ""]
    if commit:
        lines += [f"Produced by commit `{commit}`.", ""]
    blocks: dict[str, tuple] = {"rms": (), "policies": (), "hacking": ()}
    if beside and not beside.get("missing"):
        name = beside["name"]
        blocks = {
            "rms": ((name, beside["reward_models"]),),
            "policies": ((name, beside["policies"]),),
            "hacking": ((name, beside["grpo_diagnostics"]),),
        }
        lines += [
            f"Beside it: `{name}` (commit `{beside.get('commit') or 'unknown'}`), in the rows whose run is `{name}`.",
            "",
        ]
    elif beside:
        lines += [f"No `{beside['name']}` results on this machine: its figures are not beside these.", ""]
    lines += [
        "## (1) Reward models trained on length-biased pairs",
        "",
        "test: the longer answer is always the wrong one; concise: the same test pairs with both answers",
        "concise (no length cue: what a judge sees between two rollouts of one policy); iid: the test prompts",
        "written like the train pairs. Accuracy over pairs judged in both A/B orders, 95% bootstrap CI; swap",
        "consistency: the share of pairs whose verdict names the same answer in both orders.",
        "",
        *markdown_table(*rm_table(rms, *blocks["rms"])),
        "",
        "![RM accuracy](rms.png)",
        "",
    ]
    if ablation:
        lines += [
            "## (1b) What the judge needs: the ablation",
            "",
            "Each row is one judge, one eval run per test set (same pairs as above). The fixes are added one",
            "at a time: pairs of two concise answers and traces in both A/B orders in SFT, the judge solving",
            "the question first (solve_first), RLVR on the concise pairs, the verdict read from the trace's",
            "marks (judge.verdict_rule=marks), and gold traces whose own solution is worked column by column.",
            "",
            *markdown_table(*ablation_table(ablation)),
            "",
        ]
    steps_header, steps_rows = trace_table(ablation or [])
    if steps_rows:
        lines += [
            "The trace step by step (same eval runs): the judge's own solution, the result it reads off each",
            "answer, each mark against the two numbers it sets side by side, whether the verdict names the",
            'answer it marked "matches", and the verdict; last, how often the verdict would be right if it',
            "were read from the marks (the same judgments re-read). The lowest figure is the weakest step.",
            "",
            *markdown_table(steps_header, steps_rows),
            "",
        ]
    lines += [
        "## (2) Policy GRPO with each RM as the reward",
        "",
        "Verifiable accuracy of greedy answers on the held-out test prompts, before and after GRPO (95%",
        "bootstrap intervals; the change is a paired bootstrap over the same prompts, with the counts of",
        "prompts it fixed / broke and the exact McNemar p); win rate against the starting policy as judged by",
        "the reasoning RM (both orders, swap-safe).",
        "",
        *markdown_table(*policy_table(policies, *blocks["policies"])),
        "",
        "![policy accuracy](policies.png)",
        "",
    ]
    if hacking or blocks["hacking"]:
        lines += [
            "### Reward-hacking diagnostics of each GRPO run",
            "",
            "From `rmr1 grpo`'s per-step log: a reward that rises while the rollouts' verifiable accuracy does",
            "not, a reward that follows length, verdicts that flip under the A/B swap or do not parse.",
            "",
            *markdown_table(*hacking_table(hacking or [], *blocks["hacking"])),
            "",
        ]
    if rounds:
        lines += [
            "## (3) One more loop round",
            "",
            "Round 0 = the loop's starting RM and policy (make experiment: the reasoning RM and its GRPO policy;",
            "experiment-smol: the column-solution RLVR judge and the base); round 1 = refine -> traces -> SFT",
            "+ RLVR -> GRPO (mk/loop.mk). Policy accuracy is against the round's starting policy.",
            "",
            *markdown_table(*rounds_table(rounds)),
            "",
            "![loop](loop/loop.png)",
            "",
        ]
    return "\n".join(lines)


def collect(root: Path) -> dict[str, Any]:
    """Every figure of one experiment folder (empty lists where a part has not run)."""
    return {
        "commit": _commit(root),
        "reward_models": rm_results(root),
        "ablation": ablation_results(root),
        "policies": policy_results(root),
        "grpo_diagnostics": grpo_diagnostics(root),
        "loop_rounds": collect_rounds(root / "loop") if (root / "loop").is_dir() else None,
    }


def write_experiment_report(root: str | Path, beside: str | Path | None = None) -> dict[str, Any]:
    root = Path(root)
    results = collect(root)
    rms, policies = results["reward_models"], results["policies"]
    if not rms and not policies:
        raise DataError(f"{root}: no experiment results (run `make experiment` first)")
    other = None
    if beside is not None:
        beside = Path(beside)
        found = collect(beside) if beside.is_dir() else None
        if found and (found["reward_models"] or found["policies"]):
            other = {"name": beside.name, "root": str(beside), **found}
        else:
            other = {"name": beside.name, "root": str(beside), "missing": True}
    results["beside"] = other
    write_json(root / "results.json", results)
    plot_experiment_rms(rms, root / "rms.png")
    plot_experiment_policies(policies, root / "policies.png")
    title = "make experiment-smol" if root.name == "experiment-smol" else "make experiment"
    write_text(
        root / "results.md",
        markdown(
            rms,
            policies,
            results["loop_rounds"],
            results["commit"],
            ablation=results["ablation"],
            hacking=results["grpo_diagnostics"],
            title=title,
            beside=other,
        ),  # fmt: skip
    )
    blocks = ((other["name"], other["reward_models"]),) if other and not other.get("missing") else ()
    grid_table(f"{title}: reward models (accuracy, 95% CI)", *rm_table(rms, *blocks))
    if results["ablation"]:
        grid_table(f"{title}: judge ablation", *ablation_table(results["ablation"]))
    pblocks = ((other["name"], other["policies"]),) if other and not other.get("missing") else ()
    grid_table(f"{title}: policies (verifiable accuracy on test prompts)", *policy_table(policies, *pblocks))
    if results["grpo_diagnostics"]:
        grid_table(f"{title}: GRPO reward-hacking diagnostics", *hacking_table(results["grpo_diagnostics"]))
    if other and other.get("missing"):
        log.warning("%s: no experiment results there; the report shows %s alone", beside, root)
    return results
