"""Policy evaluation: did GRPO make the policy better? The trained policy's answer to each held-out
prompt is judged against the initial policy's answer, in both A/B orders, by the RM (and a second
judge when given), plus verifiable accuracy where prompts have an ``answer``.

A win counts only when it survives the A/B swap, as in training (``adapters.swap_safe_score``); two
identical answers tie without a judgment. The report is ``metrics.json``, ``report.md``,
``policy_eval.png`` and ``answers.jsonl`` (every prompt's two answers and each judge's score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmr1_cli.data import PreferencePair, PromptRecord, stable_id, write_jsonl, write_text
from rmr1_cli.judging.engine import JudgeEngine
from rmr1_cli.reports.formatting import mean, percent
from rmr1_cli.rewards.adapters import TIE, swap_safe_score
from rmr1_cli.rewards.diagnostics import rate
from rmr1_cli.rewards.verifiable import is_correct

EXAMPLES_IN_REPORT = 3


def compare_policies(
    prompts: Sequence[PromptRecord],
    policy: Mapping[str, dict],
    baseline: Mapping[str, dict],
    engines: Mapping[str, JudgeEngine],
) -> tuple[list[dict], dict[str, Any]]:
    """One row per prompt (both answers, correctness, each judge's score) and the metrics."""
    rows = []
    for p in prompts:
        row: dict[str, Any] = {
            "id": p.id,
            "prompt": p.prompt,
            "answer": p.answer,
            "baseline": baseline[p.id]["text"],
            "policy": policy[p.id]["text"],
            "baseline_tokens": baseline[p.id]["num_tokens"],
            "policy_tokens": policy[p.id]["num_tokens"],
        }
        if p.answer is not None:
            row["baseline_correct"] = is_correct(row["baseline"], p.answer)
            row["policy_correct"] = is_correct(row["policy"], p.answer)
        rows.append(row)

    metrics: dict[str, Any] = {"prompts": len(rows), "judges": {}}
    for name, engine in engines.items():
        metrics["judges"][name] = _judge_policies(name, engine, prompts, rows)
    checked = [r for r in rows if "policy_correct" in r]
    if checked:
        metrics["verifiable"] = {
            "n": len(checked),
            "baseline_accuracy": sum(r["baseline_correct"] for r in checked) / len(checked),
            "policy_accuracy": sum(r["policy_correct"] for r in checked) / len(checked),
        }
    metrics["length"] = {
        "baseline_mean_tokens": mean([r["baseline_tokens"] for r in rows]),
        "policy_mean_tokens": mean([r["policy_tokens"] for r in rows]),
    }
    metrics["identical_answers"] = sum(r["baseline"] == r["policy"] for r in rows)
    return rows, metrics


def _judge_policies(
    name: str, engine: JudgeEngine, prompts: Sequence[PromptRecord], rows: list[dict]
) -> dict:
    """Each differing pair judged once (both orders); the policy's answer sits in the ``chosen`` slot."""
    pairs = {}
    for p, row in zip(prompts, rows, strict=True):
        if row["policy"] != row["baseline"]:
            pair_id = stable_id(p.prompt, row["policy"], row["baseline"])
            pairs[p.id] = PreferencePair(pair_id, p.prompt, row["policy"], row["baseline"])
    results = {r.pair_id: r for r in engine.judge(list(pairs.values()), description=f"policy eval ({name})")}
    scores = []
    judgments = valid = flips = checked = cut_off = 0
    for p, row in zip(prompts, rows, strict=True):
        result = results.get(pairs[p.id].id) if p.id in pairs else None
        score = TIE if result is None else swap_safe_score(result.p_chosen, result.consistent)
        row[f"{name}_score"] = score
        row[f"{name}_verdicts"] = [] if result is None else [j.picked for j in result.judgments]
        scores.append(score)
        if result is not None:
            judgments += result.n_judgments
            valid += result.n_valid
            cut_off += sum(j.finish_reason == "length" for j in result.judgments)
            if result.consistent is not None:
                checked += 1
                flips += result.consistent is False
    n = len(scores)
    win_rate = sum(scores) / n if n else None
    variance = sum((s - win_rate) ** 2 for s in scores) / (n - 1) if n > 1 else None
    return {
        "model": engine.generator.identity,
        "win_rate": win_rate,
        "win_rate_se": math.sqrt(variance / n) if variance is not None else None,
        "wins": sum(s > TIE for s in scores),
        "ties": sum(s == TIE for s in scores),
        "losses": sum(s < TIE for s in scores),
        "judged_pairs": len(pairs),
        "swap_flip_rate": rate(flips, checked),
        "invalid_rate": rate(judgments - valid, judgments),
        "cut_off": cut_off,  # judgments stopped by generation.max_new_tokens
        "engine": engine.stats.as_dict(),  # generated vs cached judgments of this evaluation
    }


def _pct(value: float | None) -> str:
    return percent(value, missing="n/a")


def write_report(out_dir: Path, metrics: dict, rows: list[dict], *, policy: str, baseline: str) -> Path:
    """report.md: what was compared, the win rates, accuracy, lengths and a few examples."""
    lines = [
        "# Policy evaluation",
        "",
        f"Trained policy `{policy}` against the initial policy `{baseline}` on {metrics['prompts']} held-out"
        " prompts (greedy answers). Win rate = mean swap-safe score of the trained policy's answer: a win",
        "counts only when both A/B orders agree; disagreement, invalid verdicts and identical answers are ties.",
        "",
        "| judge | win rate (± s.e.) | wins | ties | losses | swap flip rate | invalid verdicts | cut off |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, j in metrics["judges"].items():
        se = "" if j["win_rate_se"] is None else f" ± {j['win_rate_se']:.1%}"
        lines.append(
            f"| {name} (`{j['model'].split(':')[1] if ':' in j['model'] else j['model']}`) | "
            f"{_pct(j['win_rate'])}{se} | {j['wins']} | {j['ties']} | {j['losses']} | "
            f"{_pct(j['swap_flip_rate'])} | {_pct(j['invalid_rate'])} | {j.get('cut_off', 0)} |"
        )
    lines.append("")
    if "verifiable" in metrics:
        v = metrics["verifiable"]
        lines += [
            f"Verifiable accuracy on the {v['n']} prompts with an answer: initial {_pct(v['baseline_accuracy'])},"
            f" trained {_pct(v['policy_accuracy'])}.",
            "",
        ]
    length = metrics["length"]
    lines += [
        f"Mean answer length (tokens): initial {length['baseline_mean_tokens']:.1f}, trained"
        f" {length['policy_mean_tokens']:.1f}. Identical answers: {metrics['identical_answers']}.",
        "",
        "## Examples",
        "",
    ]
    for row in rows[:EXAMPLES_IN_REPORT]:
        scores = ", ".join(f"{name}: {row[f'{name}_score']:.2f}" for name in metrics["judges"])
        lines += [
            f"**{row['id']}** ({scores})",
            "",
            f"- initial: {_quote(row['baseline'])}",
            f"- trained: {_quote(row['policy'])}",
            "",
        ]
    return write_text(out_dir / "report.md", "\n".join(lines))


def _quote(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return "`" + (flat[:limit] + " …" if len(flat) > limit else flat).replace("`", "'") + "`"


def plot_policy_eval(out_png: Path, metrics: dict) -> Path | None:
    """Wins/ties/losses per judge, verifiable accuracy before vs after (where prompts have answers) and
    mean answer length: a win rate that comes with much longer answers deserves a second look."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judges = metrics["judges"]
    panels = 2 + ("verifiable" in metrics)
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(4.5 * panels, 2.2 + 0.5 * len(judges)),
        squeeze=False,
        width_ratios=[2] + [1] * (panels - 1),
    )
    ax = axes[0, 0]
    names = list(judges)
    left = [0.0] * len(names)
    for part, color in (("wins", "tab:green"), ("ties", "tab:gray"), ("losses", "tab:red")):
        counts = [judges[n][part] / max(1, metrics["prompts"]) for n in names]
        ax.barh(names, counts, left=left, color=color, label=part)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    for y, n in enumerate(names):
        ax.text(1.01, y, f"win rate {_pct(judges[n]['win_rate'])}", va="center", fontsize=8)
    ax.set_xlim(0, 1.35)
    ax.set_xlabel("share of prompts (trained vs initial)")
    ax.legend(fontsize=7, loc="lower right")
    if "verifiable" in metrics:
        v = metrics["verifiable"]
        ax2 = axes[0, 1]
        ax2.bar(
            ["initial", "trained"],
            [v["baseline_accuracy"], v["policy_accuracy"]],
            color=["tab:gray", "tab:blue"],
        )
        ax2.set_ylim(0, 1)
        ax2.set_title(f"verifiable accuracy (n={v['n']})", fontsize=9)
    length = metrics["length"]
    ax3 = axes[0, -1]
    ax3.bar(
        ["initial", "trained"],
        [length["baseline_mean_tokens"] or 0, length["policy_mean_tokens"] or 0],
        color=["tab:gray", "tab:orange"],
    )
    ax3.set_title("mean answer length (tokens)", fontsize=9)
    fig.suptitle("rmr1 policy eval")
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_outputs(out_dir: Path, rows: list[dict], metrics: dict, *, policy: str, baseline: str) -> dict:
    """answers.jsonl, report.md and the plot; returns their paths for the summary table."""
    return {
        "answers": write_jsonl(out_dir / "answers.jsonl", rows),
        "report": write_report(out_dir, metrics, rows, policy=policy, baseline=baseline),
        "plot": plot_policy_eval(out_dir / "policy_eval.png", metrics),
    }
