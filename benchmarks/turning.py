"""Do the studies' walkers turn?  How far each gait window turns about gravity, per class and study.

    python -m benchmarks.turning [--hapt PATH] [--motionsense PATH]

For every whole 128-sample window of walking, stairs and running (HAPT on the waist, MotionSense in the pocket;
the scored subjects left out): how many degrees the phone turned about gravity (its wearer's heading) across the
window's newer half, the 64 samples new since the window before.  Walking straight, the hips' and thighs' swings
about the vertical cancel within a stride; a walker turning a corner or round turns the phone with them.  Both
studies walked straight and climbed stairwells whose landings turn the walker: if turning is common on their
stairs and rare on their level walking, a model trained on them can learn "turning, so stairs" and read a walk that
turns (between rooms, round a chair) as stairs (docs/generalisation-choices.md, item 20).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harstream.core.activities import GAITS
from harstream.core.preprocess import Preprocessor
from harstream.core.recording import Recording
from harstream.datasets import TEST_SUBJECTS, read_hapt, read_motionsense
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SCORED

from .generalisation import SHARED
from .stillness import inside_windows

THRESHOLDS_DEG = (30.0, 60.0)


def heading_turn(X: np.ndarray, rate: float = 50.0) -> np.ndarray:
    """Degrees the phone turned about gravity across the newer half of each window of the daemon's channels
    (n, window, 12): the rotation rate's component along gravity, summed over those samples.

    >>> X = np.zeros((2, 128, 12)); X[:, :, 11] = 1.0               # gravity along z throughout
    >>> X[1, 64:, 8] = np.pi / 2 / (64 / 50.0)                       # a quarter turn about z over the newer half
    >>> np.round(heading_turn(X), 1)
    array([ 0., 90.])
    """
    half = X.shape[1] // 2
    gyro, gravity = X[:, half:, 6:9], X[:, half:, 9:12]
    up = gravity / np.sqrt(np.maximum((gravity * gravity).sum(axis=2, keepdims=True), 1e-24))
    return np.abs(np.degrees((gyro * up).sum(axis=(1, 2)) / rate))


def headings(records) -> dict[str, np.ndarray]:
    """Per gait, the heading turn of every whole window inside it."""
    out: dict[str, list] = {}
    for rec in map(Recording.from_dataset, records):
        inside = list(inside_windows(rec, GAITS))
        if inside:
            processed = Preprocessor(50.0).process(rec.raw)
            for (label, _), turn in zip(inside, heading_turn(np.stack([processed[w] for _, w in inside]))):
                out.setdefault(label, []).append(turn)
    return {label: np.array(v) for label, v in sorted(out.items())}


def main(argv=None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    args = parser.parse_args(argv)
    sets = {"HAPT, subjects other than the test ones, waist": [r for r in read_hapt(args.hapt) if r.subject not in TEST_SUBJECTS],
            "MotionSense, subjects other than the scored ones, pocket": [r for r in read_motionsense(args.motionsense) if r.subject not in POCKET_SCORED]}
    print("| windows of | n | degrees turned about gravity in the newer half: 50th / 90th / 99th percentile | "
          + " | ".join(f"turned {t:g} degrees or more" for t in THRESHOLDS_DEG) + " |\n|---|---|---|" + "---|" * len(THRESHOLDS_DEG))
    rows = []
    for name, records in sets.items():
        for label, turns in headings(records).items():
            rows.append((name, label, turns))
            print(f"| {name}: {label} | {len(turns)} | " + " / ".join(f"{x:.1f}" for x in np.percentile(turns, [50, 90, 99])) + " | "
                  + " | ".join(f"{(turns >= t).mean():.1%}" for t in THRESHOLDS_DEG) + " |", flush=True)
    return rows


if __name__ == "__main__":
    main()
