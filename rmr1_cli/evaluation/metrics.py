"""An eval run's metrics from its result rows: scores with bootstrap intervals, null baselines, diagnostics.

Everything here reads the rows ``stages/eval.py`` writes to results.jsonl (one per comparison), so the
metrics can be rebuilt from the files alone.

metrics.json keys (stable; ``*_ci`` is the 95% bootstrap interval [lo, hi] of the key it follows):

- ``benchmark``, ``kind`` (generative|scalar), ``headline`` (+ ``headline_ci``) and ``headline_rule``
- ``accuracy`` (+ci): over all non-tie comparisons; ``agreement`` (+ci): three-way, ties included
- ``n_comparisons``, ``n_units``, ``n_tie_labels``; ``pair_rule`` (benchmark|both_orders_must_agree);
  ``n_skipped`` / ``n_skipped_units`` (too long to judge: left out of every score); ``n_truncated``
  (comparisons whose inputs were cut to fit); ``n_cut_off`` (judge traces stopped by
  ``max_new_tokens``, each judgment once); ``empty_files``, ``missing_files`` (set by the stage)
- ``sections.<name>``: ``score`` (+ci), ``subsets``; RM-Bench adds ``hard``/``normal``/``easy`` (+ci)
  and ``matrix`` (3x3, rows chosen style); RMB adds ``macro`` (mean over its scenarios)
- ``hard``/``normal``/``easy`` (+ci): RM-Bench, mean over the domains present
- ``subsets.<name>``: ``accuracy`` (+ci), ``agreement``, ``n`` (units), ``n_comparisons``, ``section``,
  and for generative runs ``swap_consistency``, ``invalid_rate``, ``cut_off`` / ``cut_off_rate``,
  ``mean_judgment_tokens``
- ``missing_sections`` (and ``missing_subsets`` for RewardBench): parts of the benchmark not evaluated
- ``baselines.{length_only,position_only,first_listed}``: ``headline``, ``accuracy``, ``sections.<name>``,
  ``subsets.<name>``
  (the same scoring rule applied to a judge that always picks the longer answer / always says A /
  always picks the answer the file lists first)
- ``diagnostics``: ``by_length`` (buckets of relative length difference with accuracy, ci, n),
  ``prefers_longer``, ``chosen_longer``; generative: ``swap_consistency``, ``invalid_rate``,
  ``invalid_reasons``, ``no_verdict_rate``, ``truncated_rate`` (answers cut to fit), ``position`` (``p_verdict_a``, ``accuracy_chosen_as_a``,
  ``accuracy_chosen_as_b``), ``by_task_type``, ``mean_judgment_tokens``; scalar: ``mean_margin``,
  ``tie_rate`` (equal scores, counted wrong), ``truncated_rate``, ``truncated_ties``
- ``bootstrap``: ``resamples``, ``level``, ``seed``, ``unit``
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rmr1_cli.evaluation import outcomes
from rmr1_cli.evaluation import stats as eval_stats
from rmr1_cli.evaluation.rules import get_rule
from rmr1_cli.evaluation.scoring import aggregate, column_means, score_rows, unit_tables

LENGTH_EDGES = (-1.0, -0.5, -0.2, -0.05, 0.05, 0.2, 0.5, 1.0)
LEVEL = 0.95


def build_metrics(
    name: str,
    rows: Sequence[Mapping],
    *,
    kind: str,
    resamples: int = 1000,
    seed: int = 0,
    pair_rule: str = "benchmark",
) -> dict:
    """Point estimates with bootstrap intervals, baselines and diagnostics (see the module notes)."""
    rule = get_rule(name)
    tables = unit_tables(name, rows)
    means, counts = column_means(tables)
    point = aggregate(name, means, counts)
    if resamples > 0:
        eval_stats.attach_intervals(point, eval_stats.bootstrap(name, tables, resamples=resamples, seed=seed))
    by_subset: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        by_subset[row["subset"]].append(row)
    for subset, entry in point["subsets"].items():
        entry["n"] = counts[subset]
        entry["n_comparisons"] = len(by_subset[subset])
        entry["section"] = rule.section_of(subset)
        if kind == "generative":
            entry.update(judge_stats(by_subset[subset]))
    head = {
        "benchmark": name,
        "kind": kind,
        "headline": point.pop("headline"),
        "headline_ci": point.pop("headline_ci", None),
        "headline_rule": rule.headline_rule,
        "n_comparisons": len(rows),
        "n_units": sum(counts.values()),
        "n_tie_labels": sum(r.get("label") == "tie" for r in rows),
        "pair_rule": pair_rule,
        "n_skipped": sum(bool(r.get("skipped")) for r in rows),
        "n_skipped_units": len({(r["subset"], r["unit"]) for r in rows if r.get("skipped")}),
        "n_truncated": sum(bool(r.get("truncated")) for r in rows),
        # generated traces stopped by max_new_tokens (each judgment once); 0 for a scalar RM
        "n_cut_off": sum(bool(j.get("cut_off")) for j in _unique_judgments(rows).values()),
    }
    rng = np.random.default_rng(seed)
    return {
        **head,
        **point,
        "baselines": baselines(name, rows, kind, pair_rule),
        "diagnostics": diagnostics(rows, kind, rng),
        "bootstrap": {"resamples": resamples, "level": LEVEL, "seed": seed, "unit": rule.unit},
    }


def judge_stats(rows: Sequence[Mapping]) -> dict:
    """Swap consistency, invalid-verdict rate and judgment length over some generative rows."""
    judgments = list(_unique_judgments(rows).values())
    consistent = [r["consistent"] for r in rows if r.get("consistent") is not None]
    return {
        "swap_consistency": _share(consistent),
        "invalid_rate": _share([not j["valid"] for j in judgments]),
        "cut_off": sum(bool(j.get("cut_off")) for j in judgments),  # traces stopped by max_new_tokens
        "cut_off_rate": _share([bool(j.get("cut_off")) for j in judgments]),
        "mean_judgment_tokens": float(np.mean([j["tokens"] for j in judgments])) if judgments else None,
    }


def _unique_judgments(rows: Sequence[Mapping]) -> dict[str, Mapping]:
    """Judgments by key: comparisons that share a judged pair (RMB BoN vs pairwise) count it once."""
    return {j["key"]: j for r in rows for j in r.get("judgments") or []}


def _share(flags: Sequence[bool]) -> float | None:
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def baselines(name: str, rows: Sequence[Mapping], kind: str, pair_rule: str = "benchmark") -> dict:
    """The benchmark's own scoring rule (and the run's pair rule) applied to judges that look only at
    length or position: each baseline judge answers both orders as the run's judge did, so under
    both_orders_must_agree an always-A judge scores 0 and under the benchmark's rule it ties."""
    rule = get_rule(name)

    def consistent(pick: str) -> tuple[str | None, float]:  # a judge that names the same answer in any order
        if kind == "scalar":
            return pick, 1.0 if pick == "chosen" else 0.0
        if pair_rule == "both_orders_must_agree":
            return pick, 1.0 if pick == "chosen" else 0.0
        return pick, outcomes.generative_score(pick, rule)

    def longer(row: Mapping) -> tuple[str | None, float]:
        diff = row["len_chosen"] - row["len_rejected"]
        return consistent("chosen" if diff > 0 else "rejected" if diff < 0 else "tie")

    def always_a(row: Mapping) -> tuple[str | None, float]:
        orders = dict.fromkeys(j["order"] for j in row.get("judgments") or [])
        said = [{"order": o, "valid": True, "picked": "chosen" if o == "AB" else "rejected"} for o in orders]
        return outcomes.judged(said, rule, pair_rule)

    def first_listed(row: Mapping) -> tuple[str | None, float]:
        return consistent("rejected" if row.get("source_order") == "rejected_first" else "chosen")

    judges = {"length_only": longer}
    if kind == "generative":
        judges["position_only"] = always_a
    if all(r.get("source_order") for r in rows if r.get("label") != "tie"):
        judges["first_listed"] = first_listed
    out = {}
    for label, judge in judges.items():
        picked = [{**r, "pick": p, "score": sc} for r in rows for p, sc in [judge(r)]]
        scores = score_rows(name, picked)
        out[label] = {
            "headline": scores["headline"],
            "accuracy": scores["accuracy"],
            "sections": {s: v["score"] for s, v in scores["sections"].items()},
            "subsets": {s: v["accuracy"] for s, v in scores["subsets"].items()},
        }
    return out


def diagnostics(rows: Sequence[Mapping], kind: str, rng: np.random.Generator) -> dict:
    rows = [r for r in rows if not r.get("skipped")]
    counted = [r for r in rows if r.get("label") != "tie"]
    out: dict[str, Any] = {"by_length": length_buckets(counted, rng)}
    decisive = [
        r for r in counted if r.get("pick") in ("chosen", "rejected") and r["len_chosen"] != r["len_rejected"]
    ]
    out["prefers_longer"] = _share(
        [(r["pick"] == "chosen") == (r["len_chosen"] > r["len_rejected"]) for r in decisive]
    )
    out["chosen_longer"] = _share([r["len_chosen"] > r["len_rejected"] for r in counted])
    if kind == "scalar":
        margins = [r["score_chosen"] - r["score_rejected"] for r in counted]
        out["mean_margin"] = float(np.mean(margins)) if margins else None
        out["tie_rate"] = _share([r.get("pick") == "tie" for r in counted])
        out["truncated_rate"] = _share([bool(r.get("truncated")) for r in rows])
        out["truncated_ties"] = sum(bool(r.get("truncated")) and r.get("pick") == "tie" for r in rows)
        return out
    out.update(judge_stats(rows))
    judgments = list(_unique_judgments(rows).values())
    valid = [j for j in judgments if j["valid"]]
    out["invalid_reasons"] = dict(Counter(j["reason"] for j in judgments if not j["valid"]).most_common())
    out["no_verdict_rate"] = _share([r.get("pick") is None for r in rows])
    out["truncated_rate"] = _share([bool(r.get("truncated")) for r in rows])
    as_a = [
        j["picked"] == "chosen" for r in counted for j in r["judgments"] if j["valid"] and j["order"] == "AB"
    ]
    as_b = [
        j["picked"] == "chosen" for r in counted for j in r["judgments"] if j["valid"] and j["order"] == "BA"
    ]
    out["position"] = {
        "p_verdict_a": _share([j["verdict"] == "A" for j in valid]),
        "accuracy_chosen_as_a": _share(as_a),
        "accuracy_chosen_as_b": _share(as_b),
    }
    by_type: dict[str, list[float]] = defaultdict(list)
    for r in counted:
        by_type[r.get("task_type") or "none"].append(r["score"])
    out["by_task_type"] = {
        t: {"accuracy": float(np.mean(v)), "n": len(v)} for t, v in sorted(by_type.items())
    }
    return out


def length_buckets(rows: Sequence[Mapping], rng: np.random.Generator) -> list[dict]:
    """Accuracy by relative length difference (chosen - rejected) / longer, in fixed buckets.

    >>> rows = [{"len_chosen": 10, "len_rejected": 1, "score": 1.0}, {"len_chosen": 1, "len_rejected": 10, "score": 0.0}]
    >>> [(b["bucket"], b["n"], b["accuracy"]) for b in length_buckets(rows, np.random.default_rng(0)) if b["n"]]
    [('-100%..-50%', 1, 0.0), ('+50%..+100%', 1, 1.0)]
    """
    scores: list[list[float]] = [[] for _ in LENGTH_EDGES[:-1]]
    for r in rows:
        rel = (r["len_chosen"] - r["len_rejected"]) / max(r["len_chosen"], r["len_rejected"], 1)
        index = next(i for i in range(len(scores)) if rel < LENGTH_EDGES[i + 1] or i == len(scores) - 1)
        scores[index].append(r["score"])
    out = []
    for i, values in enumerate(scores):
        lo, hi = LENGTH_EDGES[i], LENGTH_EDGES[i + 1]
        ci = eval_stats.mean_interval(values, rng)
        out.append(
            {
                "bucket": f"{lo:+.0%}..{hi:+.0%}",
                "lo": lo,
                "hi": hi,
                "n": len(values),
                "accuracy": float(np.mean(values)) if values else None,
                "ci": list(ci) if ci else None,
            }
        )
    return out
