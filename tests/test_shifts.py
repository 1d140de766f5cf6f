"""benchmarks.shifts' limp: a gait made uneven, every other step longer, and nothing else touched."""
from __future__ import annotations

import numpy as np
from benchmarks.shifts import uneven
from harstream.core.activities import GAITS


def _walking(rec):
    idx = np.flatnonzero(rec.labels == "WALKING")
    return idx[: np.argmax(np.diff(idx) > 1)] if (np.diff(idx) > 1).any() else idx


def _autocorrelation(rec, lags):
    size = np.linalg.norm(rec.raw[_walking(rec), :3], axis=1)
    x = size - size.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1:] / (x @ x)
    return float(ac[lags[0]:lags[1]].max())


def test_a_limp_makes_one_step_unlike_the_next_and_keeps_the_stride(recording):
    limp = uneven(recording, 1.25)
    assert abs(len(limp.t) - len(recording.t)) < 0.005 * len(recording.t)  # the cadence on the mean as recorded
    step, stride = (12, 45), (45, 80)  # a belt's step is 0.5 to 0.6 s, its stride twice that
    assert _autocorrelation(recording, step) - _autocorrelation(limp, step) > 0.1
    assert abs(_autocorrelation(recording, stride) - _autocorrelation(limp, stride)) < 0.1


def test_a_limp_leaves_what_is_not_a_gait_as_recorded(recording):
    first_gait = int(np.argmax(np.isin(recording.labels, GAITS)))
    assert first_gait > 100
    limp = uneven(recording, 1.25)
    np.testing.assert_allclose(limp.raw[:first_gait - 1], recording.raw[:first_gait - 1], atol=1e-9)
    labels = recording.labels[:first_gait - 1]
    steady = np.r_[False, (labels[1:-1] == labels[:-2]) & (labels[1:-1] == labels[2:]), False]  # a sample off at a change
    np.testing.assert_array_equal(limp.labels[:first_gait - 1][steady], labels[steady])
    even = uneven(recording, 1.0)
    np.testing.assert_allclose(even.raw, recording.raw[:len(even.raw)], atol=1e-9)
