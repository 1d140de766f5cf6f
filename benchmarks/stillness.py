"""Can a phone at rest on a table be told from a person holding still?  How much a window moves, per class.

    python -m benchmarks.stillness [--hapt PATH] [--motionsense PATH]

For every whole 128-sample window of SITTING, STANDING and LAYING (HAPT on the
waist, MotionSense in the pocket; the scored subjects are left out), and for the made-up out-of-set
families of ``harstream.datasets.synthetic``: the spread of the acceleration (the norm of the three
axes' standard deviations, in mg) and of the rotation rate (mrad/s).  A rule "stiller than any person
recorded, so nobody carries it" needs a gap between the two; the table shows whether there is one.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harstream.core.recording import Recording
from harstream.datasets import TEST_SUBJECTS, read_hapt, read_motionsense
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SCORED

from .generalisation import SHARED, made_up

STATIC = ("SITTING", "STANDING", "LAYING")


def spread(raw: np.ndarray) -> tuple[float, float]:
    """(acceleration mg, rotation mrad/s) of one window."""
    return float(np.linalg.norm(raw[:, :3].std(0))) * 1000, float(np.linalg.norm(raw[:, 3:].std(0))) * 1000


def whole_windows(recordings, keep=STATIC) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list] = {}
    for r in recordings:
        rec = Recording.from_dataset(r)
        for k in range(len(rec.raw) // 64 - 1):
            labels = rec.labels[k * 64:k * 64 + 128]
            if labels[0] in keep and (labels == labels[0]).all():
                out.setdefault(labels[0], []).append(spread(rec.raw[k * 64:k * 64 + 128]))
    return out


def main(argv=None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    args = parser.parse_args(argv)
    sets = {"HAPT, subjects other than the test ones, waist": [r for r in read_hapt(args.hapt) if r.subject not in TEST_SUBJECTS],
            "MotionSense, subjects other than the scored ones, pocket": [r for r in read_motionsense(args.motionsense) if r.subject not in POCKET_SCORED]}
    rows = []
    for name, recordings in sets.items():
        for label, values in sorted(whole_windows(recordings).items()):
            rows.append((f"{name}: {label}", np.array(values)))
    for family in ("table", "vehicle", "bag"):
        values = [spread(r.raw[k * 64:k * 64 + 128]) for r in made_up(family) for k in range(len(r.raw) // 64 - 1)]
        rows.append((f"made up: {family}", np.array(values)))
    print("| windows of | n | acceleration spread, mg: 1st / 5th / 50th / 95th percentile | rotation, mrad/s: same |\n|---|---|---|---|")
    for name, a in rows:
        acc, rot = (" / ".join(f"{v:.1f}" for v in np.percentile(a[:, c], [1, 5, 50, 95])) for c in (0, 1))
        print(f"| {name} | {len(a)} | {acc} | {rot} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
