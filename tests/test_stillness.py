"""``benchmarks.stillness --drift`` (item 31 of docs/generalisation-choices.md): how far a still posture's gravity strays."""
import numpy as np
from benchmarks.stillness import drifts, still_runs
from harstream.core.recording import Recording


def test_a_gravity_that_holds_does_not_drift_and_one_that_turns_drifts_by_half_its_turn():
    held = np.tile([0.0, 0.0, 1.0], (10, 1))
    assert drifts(held, 4).shape == (7,) and np.allclose(drifts(held, 4), 0.0, atol=1e-5)
    angle = np.radians(np.linspace(0.0, 1.0, 10))  # one degree, evenly over ten windows
    turning = np.stack([np.sin(angle), np.zeros(10), np.cos(angle)], axis=1) * 0.98  # not unit length: it is normalised
    assert np.allclose(drifts(turning, 10), [0.5], atol=0.01)
    assert len(drifts(turning, 11)) == 0  # a run shorter than the span gives none


def test_still_runs_end_at_a_change_of_posture_and_skip_a_window_across_two():
    labels = np.array(["SITTING"] * 640 + ["WALKING"] * 64 + ["SITTING"] * 384 + ["STANDING"] * 448, dtype=object)
    processed = np.zeros((len(labels), 12))
    processed[:, 9:12] = [0.0, 1.0, 0.0]
    processed[labels == "STANDING", 9:12] = [1.0, 0.0, 0.0]
    rec = Recording(np.arange(len(labels)) / 50.0, np.zeros((len(labels), 6)), labels, "runs")
    runs = [(label, len(g)) for label, g in still_runs(rec, processed)]
    assert runs == [("SITTING", 9), ("SITTING", 5), ("STANDING", 6)]
    assert all(np.allclose(g, g[0]) for _, g in still_runs(rec, processed))
