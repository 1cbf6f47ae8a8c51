"""PNG plots written next to a stage's metrics: training curves now, eval reports later.

matplotlib is imported inside each function with the Agg backend, so plotting works on a machine
without a screen and costs nothing when no plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(
    history: Sequence[dict], keys: Sequence[str], out_png: str | Path, title: str
) -> Path | None:
    """One panel per logged series in ``keys`` (those never logged are left out), against the step."""
    present = [k for k in keys if any(k in h for h in history)]
    if not present:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(present), 1, figsize=(7, 2.4 * len(present)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], present, strict=True):
        points = [(h.get("step", i), h[key]) for i, h in enumerate(history) if key in h]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=2, linewidth=1.2)
        ax.set_ylabel(key.replace("/", "/\n"), fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------------
# Evaluation reports


def plot_accuracy_bars(
    entries: Sequence[dict], out_png: str | Path, title: str, *, baseline_label: str = "length-only baseline"
) -> Path | None:
    """Horizontal bars with 95% intervals, one per entry (headline and sections first, then subsets).

    Entry: ``label``, ``value``, optional ``ci`` [lo, hi], ``baseline`` (drawn as a marker), ``strong``
    (headline/section rows, drawn darker). A dashed line marks chance (0.5).
    """
    entries = [e for e in entries if e.get("value") is not None]
    if not entries:
        return None
    plt = pyplot()
    height = max(2.5, 0.28 * len(entries) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    ys = list(range(len(entries)))[::-1]
    colors = ["#2b5d8a" if e.get("strong") else "#7fa7cc" for e in entries]
    values = [e["value"] for e in entries]
    ax.barh(ys, values, color=colors, height=0.7)
    for y, e in zip(ys, entries, strict=True):
        if e.get("ci"):
            lo, hi = e["ci"]
            ax.plot([lo, hi], [y, y], color="black", linewidth=1.2)
        if e.get("baseline") is not None:
            ax.plot(e["baseline"], y, marker="|", color="#c0392b", markersize=12, markeredgewidth=2)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([_short(e["label"]) for e in entries], fontsize=7 if len(entries) > 30 else 9)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"accuracy (black line: 95% bootstrap interval; red tick: {baseline_label})", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_length_buckets(buckets: Sequence[dict], out_png: str | Path, title: str) -> Path | None:
    """Accuracy against the length difference (chosen minus rejected, relative), with intervals and n.

    A judge that prefers longer answers scores high on the right and low on the left.
    """
    buckets = [b for b in buckets if b.get("n")]
    if not buckets:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    xs = list(range(len(buckets)))
    values = [b["accuracy"] for b in buckets]
    ax.bar(xs, values, color="#7fa7cc", width=0.7)
    for x, b in zip(xs, buckets, strict=True):
        if b.get("ci"):
            ax.plot([x, x], b["ci"], color="black", linewidth=1.2)
        ax.annotate(f"n={b['n']}", (x, 0.02), ha="center", fontsize=7)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(xs)
    ax.set_xticklabels([b["bucket"] for b in buckets], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_xlabel(
        "(len chosen - len rejected) / longer length   <- chosen shorter | chosen longer ->", fontsize=8
    )
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_style_matrices(
    matrices: dict[str, list[list[float]]], out_png: str | Path, title: str
) -> Path | None:
    """RM-Bench's 3x3 matrix per domain: rows chosen style, columns rejected style (upper triangle = hard)."""
    if not matrices:
        return None
    plt = pyplot()
    styles = ("concise", "detailed", "markdown")
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.2 * len(matrices), 3.2), squeeze=False)
    for ax, (domain, matrix) in zip(axes[0], matrices.items(), strict=True):
        ax.imshow(matrix, vmin=0, vmax=1, cmap="RdYlGn")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{matrix[i][j]:.2f}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(3))
        ax.set_xticklabels(styles, fontsize=7)
        ax.set_yticks(range(3))
        ax.set_yticklabels(styles, fontsize=7)
        ax.set_xlabel("rejected style", fontsize=8)
        ax.set_ylabel("chosen style", fontsize=8)
        ax.set_title(domain, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _short(label: str, width: int = 48) -> str:
    return label if len(label) <= width else "..." + label[-(width - 3) :]


def plot_experiment_rms(rms: list[dict], out_png: Path) -> Path | None:
    """Grouped bars: each RM's accuracy on the length-inverted test and on the iid test, with CIs."""
    if not rms:
        return None
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


def plot_experiment_policies(policies: list[dict], out_png: Path) -> Path | None:
    """Verifiable accuracy of the starting policy and of each GRPO-trained policy."""
    if not policies:
        return None
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
