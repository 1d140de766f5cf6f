"""``predict --plot``: the labels of a recording over time, above its ground truth when it has one.

A timeline is read at a glance where hundreds of JSON lines are not.  Needs matplotlib (the
``plot`` extra); the daemon never imports this module.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.recording import Recording


def plotting_available() -> bool:
    """matplotlib imports (tried, not looked up: an install can be there and broken)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


PLACEMENT_COLOURS = {"waist": "tab:blue", "pocket": "tab:orange", None: "lightgrey"}


def plot(labels: list, rec: Recording, activities: list[str], path: Path, title: str = "") -> None:
    """Draw one bar per window (its activity's row, its time span) and, where the recording is
    labelled, the truth as a thinner bar on the same row."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no screen needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'harstream[plot]'") from None
    rows = {name: i for i, name in enumerate(activities)}
    t0 = float(rec.t[0])
    fig, ax = plt.subplots(figsize=(12, 0.45 * len(activities) + 1.6))
    colours = plt.get_cmap("tab10")
    for label in labels:  # predicted: the window's first 64 samples' span, so that bars do not overlap
        hop = (label.end - label.start) / 2
        ax.barh(rows[label.activity], hop, left=label.start - t0 + hop / 2, height=0.6,
                color=colours(rows[label.activity] % 10), alpha=0.35 + 0.65 * label.confidence, linewidth=0)
    truth = np.asarray(rec.labels, dtype=object)
    if truth.size and (truth != "").any():
        changes = np.flatnonzero(truth[1:] != truth[:-1]) + 1
        for lo, hi in zip(np.r_[0, changes], np.r_[changes, len(truth)]):
            if truth[lo] in rows:
                ax.barh(rows[truth[lo]], rec.t[hi - 1] - rec.t[lo], left=rec.t[lo] - t0, height=0.15, color="black")
        ax.plot([], [], color="black", linewidth=3, label="ground truth")
        ax.legend(loc="upper right", fontsize=8)
    if any(label.placement is not None for label in labels):  # a strip above: where the device was believed worn
        for label in labels:
            hop = (label.end - label.start) / 2
            ax.barh(-1, hop, left=label.start - t0 + hop / 2, height=0.5, color=PLACEMENT_COLOURS.get(label.placement, "lightgrey"), linewidth=0)
        for name, colour in PLACEMENT_COLOURS.items():
            ax.barh(-1, 0, color=colour, label=f"worn: {name or 'not yet known'}")
        ax.legend(loc="upper right", fontsize=8)
        ax.set_yticks([-1, *range(len(activities))], ["placement", *activities])
    else:
        ax.set_yticks(range(len(activities)), activities)
    ax.invert_yaxis()
    ax.set_xlabel("seconds from the recording's start")
    ax.set_title(title or f"{rec.name}: {len(labels)} labels (bar opacity: confidence)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
