"""The tables of ``rmr1 experiment-report``: one function per table, rows in, (header, cells) out.

Each takes the rows ``reports/experiment.py`` collected from one experiment folder and, optionally,
``(run name, rows)`` blocks from more folders (``--beside``), which get a leading ``run`` column. The
same tables go to results.md (as markdown) and to the terminal (as Rich tables).
"""

from __future__ import annotations

from rmr1_cli.reports.formatting import arrow, format_value, interval, number, percent

# the reward-hacking diagnostics of a GRPO run: (column name, key of its train_log.jsonl rows)
HACKING = [
    ("swap flip rate", "judge/swap_flip_rate"),
    ("tie rate", "judge/tie_rate"),
    ("invalid verdicts", "judge/invalid_rate"),
    ("verifiable agreement", "hacking/verifiable_agreement"),
    ("reward~length r (within step)", "hacking/reward_length_corr"),
    ("scalar~length r (within step)", "hacking/scalar_length_corr"),
]


def _runs(blocks: list[tuple[str | None, list[dict]]]) -> list[tuple[str | None, dict]]:
    return [(run, row) for run, rows in blocks for row in rows]


def _with_run(
    header: list[str], rows: list[tuple[str | None, list[str]]]
) -> tuple[list[str], list[list[str]]]:
    """A leading ``run`` column when the rows come from more than one experiment folder."""
    if any(run is not None for run, _ in rows):
        return ["run", *header], [[run or "-", *cells] for run, cells in rows]
    return header, [cells for _, cells in rows]


def rm_table(rms: list[dict], *blocks: tuple[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Results table (1): each RM's accuracy on every test set, swap consistency, length preference,
    own solution right and per-error accuracy. ``blocks`` (run name, rows) are more experiments' RMs,
    tabulated after ``rms`` with a ``run`` column."""
    named = [(None, r) for r in rms] + _runs(list(blocks))
    errors = sorted({e for _, r in named for e in r["by_error"]})
    header = [
        "RM", "test acc", "concise acc", "iid acc", "swap consistency (test / concise)", "picks longer (test)",
        "own solution right (test)", *errors,
    ]  # fmt: skip
    rows = [
        (
            run,
            [
                r["rm"],
                percent(r["test_accuracy"], r["test_accuracy_ci"]),
                percent(r.get("concise_accuracy"), r.get("concise_accuracy_ci")),
                percent(r["iid_accuracy"], r["iid_accuracy_ci"]),
                f"{percent(r.get('swap_consistency'))} / {percent(r.get('concise_swap_consistency'))}",
                percent(r["prefers_longer"]),
                percent(r["own_solution_correct"]),
                *(percent(r["by_error"].get(e)) for e in errors),
            ],
        )
        for run, r in named
    ]
    if blocks:
        rows = [(run or "this run", cells) for run, cells in rows]
    return _with_run(header, rows)


def ablation_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The judge ablation: one row per judge, accuracy and swap consistency on both test sets."""
    header = [
        "judge", "test acc (longer is wrong)", "concise acc", "swap consistency (test / concise)",
        "own solution right (test / concise)", "invalid (test)",
    ]  # fmt: skip
    body = [
        [
            r["judge"],
            percent(r["test_accuracy"], r["test_accuracy_ci"]),
            percent(r["concise_accuracy"], r["concise_accuracy_ci"]),
            f"{percent(r['swap_consistency'])} / {percent(r['concise_swap_consistency'])}",
            f"{percent(r['own_solution_correct'])} / {percent(r['concise_own_solution_correct'])}",
            percent(r["invalid_rate"]),
        ]
        for r in rows
    ]
    return header, body


TRACE_STEPS = [
    ("own solution right", "solution"),
    ("own solution = answer A's wrong result (when A is wrong)", "copies_wrong_a"),
    ("each answer's result read right", "read"),
    ("marks agree with the numbers", "mark"),
    ("verdict follows the marks", "follows"),
    ("verdict right", "verdict"),
    ("verdict read from the marks (re-read)", "from_marks"),
]


def trace_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Each generative judge of the ablation, step by step of its trace (``trace_steps``), on both test
    sets (test / concise): where the trace goes wrong."""
    header = ["judge", *(f"{name} (test / concise)" for name, _ in TRACE_STEPS)]
    body = []
    for r in rows:
        test, concise = r.get("trace_steps") or {}, r.get("concise_trace_steps") or {}
        if not test and not concise:
            continue
        body.append(
            [
                r["judge"],
                *(f"{percent(test.get(key))} / {percent(concise.get(key))}" for _, key in TRACE_STEPS),
            ]
        )
    return header, body


def policy_table(policies: list[dict], *blocks: tuple[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Results table (2): each GRPO policy's accuracy before/after (95% intervals), the paired change,
    win rate, reward trend and answer length."""
    header = [
        "policy",
        "accuracy before -> after",
        "change [95% CI] (McNemar p)",
        "win rate vs start",
        "GRPO reward first -> last",
        "reward~length r",
        "answer tokens before -> after",
    ]
    named = [(None, p) for p in policies] + _runs(list(blocks))
    rows = [
        (
            run,
            [
                p["policy"],
                f"{percent(p['accuracy_before'], p.get('accuracy_before_ci'))} -> "
                f"{percent(p['accuracy_after'], p.get('accuracy_after_ci'))} (n={p['prompts']})",
                _change(p),
                percent(p["win_rate"], se=p["win_rate_se"]),
                arrow(p["reward_first"], p["reward_last"], when_missing=None),
                number(p["reward_length_corr"], 2),
                arrow(p["length_before"], p["length_after"], lambda v: number(v, 1), when_missing=None),
            ],
        )
        for run, p in named
    ]
    if blocks:
        rows = [(run or "this run", cells) for run, cells in rows]
    return _with_run(header, rows)


def _change(p: dict) -> str:
    if p.get("accuracy_change") is None:
        return "-"
    sign = "+" if p["accuracy_change"] >= 0 else ""
    return (
        f"{sign}{100 * p['accuracy_change']:.1f} pts {interval(p['accuracy_change_ci'])} "
        f"(+{p['improved']} / -{p['worsened']}, p={p['mcnemar_p']:.3f})"
    )


def hacking_table(runs: list[dict], *blocks: tuple[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Results table (2b): each GRPO run's reward-hacking diagnostics."""
    header = [
        "GRPO run", "steps", "reward first -> last", "reward~length r (over steps)", "completion tokens first -> last",
        "rollouts right (verifiable, first -> last quarter)", *(name + " (mean)" for name, _ in HACKING),
    ]  # fmt: skip
    named = [(None, r) for r in runs] + _runs(list(blocks))
    rows = [
        (
            run,
            [
                r["policy"],
                format_value(r["steps"]) if r["steps"] is not None else "-",
                arrow(r["reward_first"], r["reward_last"], when_missing=None),
                number(r["reward_length_trend_corr"], 2),
                arrow(r["length_first"], r["length_last"], lambda v: number(v, 1), when_missing=None),
                arrow(
                    r["verifiable_first_quarter"], r["verifiable_last_quarter"], percent, when_missing=None
                ),
                *(number(r[key], 3) for _, key in HACKING),
            ],
        )
        for run, r in named
    ]
    if blocks:
        rows = [(run or "this run", cells) for run, cells in rows]
    return _with_run(header, rows)
