"""Cut the pocket recordings shipped with the package from MotionSense (a training subject, never scored).

    python -m benchmarks.pocket_slice [--data ../shared/data/motionsense-pocket.zip]

Subject 1's walking, standing and sitting trials, 20 s each, joined into one 60 s recording
at 50 Hz in the project's units and frame (g, Android's signs): what an iPhone in a front
trouser pocket sends while its owner walks, stops and sits down.  MotionSense is MIT-licensed;
its notice ships beside the file (``stream/data/LICENSE-motionsense``).  Beside it, 20 s of the same
subject jogging (``jog_sub01.csv.gz``): what RUNNING looks like, for the tests.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harstream.core.activities import HAPT_LABELS, RUNNING
from harstream.core.recording import Recording, write_csv
from harstream.datasets import read_motionsense
from harstream.datasets.motionsense import SUBJECT_OFFSET

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "stream" / "data" / "pocket_sub01.csv.gz"
JOGGING = ROOT / "stream" / "data" / "jog_sub01.csv.gz"
TRIALS, SECONDS = ("wlk_7", "std_6", "sit_5"), 20


def pocket_slice(data: Path) -> Recording:
    subject = SUBJECT_OFFSET + 1
    trials = {r.name.split("/")[0]: r for r in read_motionsense(data, subjects={subject})}
    n = int(SECONDS * 50)
    raw = np.vstack([trials[name].raw[100:100 + n] for name in TRIALS])  # 2 s in: past the phone going into the pocket
    labels = np.concatenate([[HAPT_LABELS[trials[name].labels[0] - 1]] * n for name in TRIALS]).astype(object)
    return Recording(np.arange(len(raw)) / 50.0, raw, labels, "pocket_sub01")


def jogging_slice(data: Path) -> Recording:
    [trial] = [r for r in read_motionsense(data, subjects={SUBJECT_OFFSET + 1}) if r.name.startswith("jog_9/")]
    n = int(SECONDS * 50)
    return Recording(np.arange(n) / 50.0, trial.raw[100:100 + n], np.array([RUNNING] * n, dtype=object), "jog_sub01")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "motionsense-pocket.zip")
    args = ap.parse_args()
    write_csv(pocket_slice(args.data), OUT)
    write_csv(jogging_slice(args.data), JOGGING)
    for path in (OUT, JOGGING):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
