"""Why a model trained on one placement reads another's walking as stairs: each gait's motion, per placement.

    python -m benchmarks.gait_intensity [--hapt PATH] [--motionsense PATH]

For every whole 128-sample window of the gaits (HAPT on the waist, MotionSense in a front pocket; the scored
subjects are left out), the spread (standard deviation, in g) of the acceleration along the vertical and across it;
median and quartiles per placement and gait.

The vertical is found two ways: by the daemon's low-pass gravity (what the model's inputs split along), and by
gravity tracked with the gyroscope (a complementary filter: the low-pass lags a thigh's swing, the gyroscope does
not), so that a difference between placements is not the low-pass's error.  If walking moved more than stairs in
one placement and less in the other, no input built from one placement's recordings could tell walking from stairs
in the other by how much it moves (docs/generalisation-choices.md, item 23).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harstream.core.activities import RUNNING
from harstream.core.preprocess import Preprocessor
from harstream.core.recording import Recording
from harstream.datasets import TEST_SUBJECTS, read_hapt, read_motionsense
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SCORED

from .generalisation import SHARED
from .stillness import inside_windows

GAITS = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", RUNNING)
RATE = 50.0


def tracked_up(raw: np.ndarray, blend: float = 0.02, rate: float = RATE) -> np.ndarray:
    """The vertical (a unit vector, n x 3, in the phone's frame) tracked with the gyroscope: each sample turns the
    last estimate by the rotation measured, then pulls it ``blend`` of the way to the measured acceleration's
    direction (a time constant of 1 s at 50 Hz).

    >>> still = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (100, 1))
    >>> np.round(tracked_up(still)[-1], 3).tolist()
    [0.0, 0.0, 1.0]
    """
    acc, turn = raw[:, :3], raw[:, 3:6] / rate
    up = acc[: int(rate)].mean(0)
    up = up / np.linalg.norm(up)
    out = np.empty_like(acc)
    norms = np.maximum(np.linalg.norm(acc, axis=1), 1e-6)
    for i in range(len(acc)):
        up = up - np.cross(turn[i], up)  # a fixed direction, seen from a frame that turned by turn[i]
        up = (1.0 - blend) * up + blend * acc[i] / norms[i]
        up = up / np.linalg.norm(up)
        out[i] = up
    return out



def measures(rec: Recording) -> dict[str, list[tuple[float, ...]]]:
    """Per gait, per whole window: (vertical spread, across spread) with the tracked vertical, the same with the
    low-pass one."""
    acc = rec.raw[:, :3]
    low = Preprocessor(RATE).process(rec.raw)[:, 9:12]
    ups = {"tracked": tracked_up(rec.raw), "low-pass": low / np.maximum(np.linalg.norm(low, axis=1, keepdims=True), 1e-6)}
    parts = {}
    for name, up in ups.items():
        along = (acc * up).sum(1)
        parts[name] = (along, np.linalg.norm(acc - along[:, None] * up, axis=1))
    (v, h), (vl, hl) = parts["tracked"], parts["low-pass"]
    out: dict[str, list] = {}
    for gait, w in inside_windows(rec, GAITS):
        out.setdefault(gait, []).append((v[w].std(), h[w].std(), vl[w].std(), hl[w].std()))
    return out


def table(sets: dict[str, list[Recording]]) -> list[str]:
    lines = ["| placement | gait | windows | vertical, tracked | across, tracked | vertical, low-pass | across, low-pass |",
             "|---|---|---|---|---|---|---|"]
    for placement, recordings in sets.items():
        per: dict[str, list] = {}
        for rec in recordings:
            for gait, rows in measures(rec).items():
                per.setdefault(gait, []).extend(rows)
        for gait in GAITS:
            if gait not in per:
                continue
            a = np.array(per[gait])
            q = np.percentile(a, [25, 50, 75], axis=0)
            cells = [f"{q[1, k]:.2f} ({q[0, k]:.2f}–{q[2, k]:.2f})" for k in range(a.shape[1])]
            lines.append(f"| {placement} | {gait} | {len(a)} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    args = parser.parse_args(argv)
    keep_hapt = [s for s in range(1, 31) if s not in TEST_SUBJECTS]
    keep_pocket = [100 + s for s in range(1, 17) if 100 + s not in POCKET_SCORED]
    sets = {"waist (HAPT)": [Recording.from_dataset(r) for r in read_hapt(args.hapt, subjects=keep_hapt)],
            "pocket (MotionSense)": [Recording.from_dataset(r) for r in read_motionsense(args.motionsense, subjects=keep_pocket)]}
    lines = table(sets)
    print("Spread in g, median (quartiles), whole windows of the subjects no score is taken on:")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
