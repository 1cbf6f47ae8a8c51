"""PNG plots written next to a stage's metrics: training curves now, eval reports later.

matplotlib is imported inside each function with the Agg backend, so plotting works on a machine
without a screen and costs nothing when no plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _pyplot():
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
    plt = _pyplot()
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
