"""benchmarks.shifts' strangers: a limp (every other step longer, nothing but the gait touched), a firmer and a
gentler walker; and made_up's names."""
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


def test_a_firmer_walker_moves_more_and_faster_and_a_gentler_one_less_and_slower(recording):
    from benchmarks.shifts import gentle

    spread = np.linalg.norm(recording.raw[_walking(recording), :3], axis=1).std()
    for pace, size in ((1.2, 1.3), (0.8, 0.7)):
        walker = gentle(recording, pace, size)
        assert abs(len(walker.t) * pace / len(recording.t) - 1) < 0.01
        assert abs(np.linalg.norm(walker.raw[_walking(walker), :3], axis=1).std() / spread - size) < 0.1


def test_made_up_draws_a_family_or_a_belt_gait_and_refuses_any_other_name():
    import pytest
    from benchmarks.generalisation import BELT_GAITS, made_up

    assert [len(r.t) for r in made_up("jump", count=2, seconds=4)] == [200, 200]
    walking, running = (made_up(gait, count=1, seconds=20)[0].raw for gait in BELT_GAITS)
    assert np.linalg.norm(walking[:, :3], axis=1).min() > 0.5 > np.linalg.norm(running[:, :3], axis=1).min()
    with pytest.raises(KeyError):
        made_up("belt skipping", count=1)
