"""MotionSense: an iPhone 6s in the front trouser pocket, Core Motion at 50 Hz, one trial per file.

Layout: ``A_DeviceMotion_data/<code>_<trial>/sub_<N>.csv`` with columns
``attitude.*, gravity.xyz, rotationRate.xyz, userAcceleration.xyz`` (g, rad/s).
Each trial is one continuous recording of one activity; it becomes one
:class:`~.common.Recording` in the project's units and frame:

* total acceleration = gravity + userAcceleration, **negated**: Core Motion reports
  the acceleration the phone undergoes, Android (and HAPT, and this project) the
  reaction to it, so a phone lying face up reads z = -1 g on iOS and +1 g here;
* rotation rates keep their sign (both systems use the right-hand rule);
* jogging is labelled RUNNING (``activities.RUNNING_ID``); a model without RUNNING leaves it out
  (``WindowSet.classes``).

Subjects are numbered ``SUBJECT_OFFSET + N`` so that they never collide with
HAPT's 1..30 when both datasets train one model.

>>> _trial("dws_11")
('dws', 11)
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .archive import Archive
from ..core.activities import RUNNING_ID
from .common import POCKET, DatasetError, Recording, open_archive

SUBJECT_OFFSET = 100
#: Trial code -> a recording's label id (1 WALKING .. 6 LAYING as HAPT's, RUNNING after them).
ACTIVITY_IDS = {"wlk": 1, "ups": 2, "dws": 3, "sit": 4, "std": 5, "jog": RUNNING_ID}
#: Fixed before any result was seen: two women and two men out of subjects 1..16, spread over
#: the numbering (2, 5, 11, 16).  They are scored only; nothing is chosen on them.
VALIDATION_SUBJECTS = tuple(SUBJECT_OFFSET + n for n in (2, 5, 11, 16))
MARKER = "A_DeviceMotion_data/"
_FILE = re.compile(r"A_DeviceMotion_data/([a-z]+)_(\d+)/sub_(\d+)\.csv$")
_COLUMNS = ("gravity.x", "gravity.y", "gravity.z", "rotationRate.x", "rotationRate.y", "rotationRate.z",
            "userAcceleration.x", "userAcceleration.y", "userAcceleration.z")


def _trial(folder: str) -> tuple[str, int]:
    code, number = folder.rsplit("_", 1)
    return code, int(number)


def is_motionsense(path: str | Path) -> bool:
    try:
        with Archive(path) as archive:
            return any(_FILE.search(n) for n in archive.names)
    except (FileNotFoundError, OSError):
        return False


def parse_trial(text: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(acc (n, 3) total acceleration in g, Android's signs; gyro (n, 3) rad/s) from one trial's CSV."""
    lines = text.splitlines()
    if not lines:
        raise DatasetError(f"{what}: empty file")
    header = [h.strip() for h in lines[0].split(",")]
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise DatasetError(f"{what}: not a MotionSense DeviceMotion file (no column {', '.join(missing)})")
    cols = [header.index(c) for c in _COLUMNS]
    try:
        table = np.array([line.split(",") for line in lines[1:] if line.strip()], dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"{what}: not a table of numbers ({exc})") from None
    if table.ndim != 2 or table.shape[1] != len(header):
        raise DatasetError(f"{what}: rows do not all have the header's {len(header)} columns")
    if not np.isfinite(table[:, cols]).all():
        raise DatasetError(f"{what}: holds values that are not finite numbers")
    gravity, rotation, user = table[:, cols[0:3]], table[:, cols[3:6]], table[:, cols[6:9]]
    return -(gravity + user), rotation


def read_motionsense(path: str | Path, subjects=None) -> list[Recording]:
    """Every trial (the five shared activities and jogging) as a Recording, labelled per sample.

    ``subjects`` keeps only those ids (``SUBJECT_OFFSET + N``).  ``experiment`` is the
    trial number (1..16), unique within a subject.
    """
    recordings = []
    with open_archive(path, "MotionSense", f"{MARKER}<trial>/sub_N.csv") as archive:
        for name in sorted(archive.names):
            match = _FILE.search(name)
            if not match:
                continue
            code, trial, subject = match.group(1), int(match.group(2)), SUBJECT_OFFSET + int(match.group(3))
            if subjects is not None and subject not in subjects:
                continue
            if code not in ACTIVITY_IDS:
                raise DatasetError(f"{path}: {name}: unknown trial code {code!r} (known: {', '.join(sorted(ACTIVITY_IDS))})")
            try:
                acc, gyro = parse_trial(archive.read_text(name), f"{path}: {name}")
            except (UnicodeDecodeError, OSError) as exc:
                raise DatasetError(f"{path}: {name}: unreadable ({exc})") from None
            labels = np.full(len(acc), ACTIVITY_IDS[code], dtype=np.int64)
            recordings.append(Recording(trial, subject, acc, gyro, labels, placement=POCKET, dataset="motionsense",
                                        title=f"{code}_{trial}/sub_{subject - SUBJECT_OFFSET}"))
    if not recordings:
        raise DatasetError(f"{path}: no MotionSense trials found (expected {MARKER}<code>_<trial>/sub_N.csv)")
    return sorted(recordings, key=lambda r: (r.subject, r.experiment))
