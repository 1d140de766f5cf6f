"""A phone worn another way round than a study's, and a subject's recordings as one device's day: what
``benchmarks.generalisation`` and ``benchmarks.across_validation`` stream to see what a device learns from how
it is worn (``harstream.core.upright``)."""
from __future__ import annotations

import numpy as np
from harstream.core.recording import Recording
from harstream.core.windows import DeviceStream


#: A phone worn another way round than the study's: turns of its axes (rotations, so the gyroscope turns alike).
MOUNTINGS = {
    "turned a quarter about the screen's normal": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    "upside down (half a turn about the normal)": np.diag([-1.0, -1.0, 1.0]),
    "screen facing the other way": np.diag([-1.0, 1.0, -1.0]),
}


def mounted(rec: Recording, R: np.ndarray) -> Recording:
    """As a phone worn turned by ``R`` (its axes' new directions) would read it: a holster upright rather than
    sideways, a clip upside down, the screen against the body."""
    raw = np.hstack([rec.raw[:, :3] @ R.T, rec.raw[:, 3:] @ R.T])
    return Recording(rec.t, raw, rec.labels, rec.name)


def one_day(recordings: list[Recording], gap_s: float = 60.0) -> Recording:
    """One subject's recordings one after another, ``gap_s`` apart, as one device worn all day would send them: its
    windows restart after each gap, but what the device learnt (its placement, how it is worn) carries on."""
    t, start = [], 0.0
    for rec in recordings:
        t.append(rec.t - rec.t[0] + start)
        start = t[-1][-1] + gap_s
    return Recording(np.concatenate(t), np.concatenate([r.raw for r in recordings]),
                     np.concatenate([r.labels for r in recordings]), "+".join(r.name for r in recordings))


def as_days(records) -> list[tuple[Recording, int]]:
    """A dataset reader's recordings as days, one per subject in the order recorded (``one_day``), each with how many
    windows its first recording gives (those read before the device had walked, in HAPT's)."""
    subjects: dict[int, list[Recording]] = {}
    for r in records:
        subjects.setdefault(r.subject, []).append(Recording.from_dataset(r))
    return [(one_day(recs), sum(1 for _ in DeviceStream().push(recs[0].t, recs[0].raw))) for recs in subjects.values()]
