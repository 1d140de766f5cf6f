import json

import numpy as np
import pytest
from harstream.core import DeviceStream, Recognizer, preprocess


def still(n, rate=50.0, t0=1732450000.0):
    t = t0 + np.arange(n) / rate
    return t, np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (n, 1))


@pytest.mark.parametrize("n", [127, 128, 129, 191, 192, 193, 1000, 16565])
@pytest.mark.parametrize("chunk", [1, 25, 100000])
def test_n_samples_give_floor_n_minus_128_over_64_plus_1_windows(n, chunk):
    t, raw = still(n)
    stream = DeviceStream()
    windows = [w for i in range(0, n, chunk) for w in stream.push(t[i:i + chunk], raw[i:i + chunk])]
    assert len(windows) == (max((n - 128) // 64 + 1, 0) if n >= 128 else 0)
    assert [w.seq for w in windows] == list(range(len(windows)))


def test_streamed_windows_equal_whole_recording_preprocessing(recording):
    whole = preprocess.Preprocessor().process(recording.raw)
    exact, stored = DeviceStream(dtype=np.float64), DeviceStream()  # float64 to compare; float32 as the daemon keeps it
    windows, kept = [], []
    rng = np.random.default_rng(0)
    i = 0
    while i < len(recording):
        k = int(rng.integers(1, 60))
        windows += exact.push(recording.t[i:i + k], recording.raw[i:i + k])
        kept += stored.push(recording.t[i:i + k], recording.raw[i:i + k])
        i += k
    assert len(windows) == len(kept) == (len(recording) - 128) // 64 + 1
    for w, w32 in zip(windows, kept):
        np.testing.assert_allclose(w.data, whole[w.seq * 64:w.seq * 64 + 128], atol=1e-9, rtol=0)
        assert w.start == recording.t[w.seq * 64] and w.end == recording.t[w.seq * 64 + 127]
        assert w32.data.dtype == np.float32
        np.testing.assert_array_equal(w32.data, w.data.astype(np.float32))  # rounded once, where the model would


@pytest.mark.parametrize("rate", [100.0, 60.0, 50.0])
def test_other_rates_and_jitter_are_resampled_to_the_models_rate(recording, rate):
    n = 3000  # 60 s at 50 Hz
    t_ref, raw_ref = recording.t[:n], recording.raw[:n]
    rng = np.random.default_rng(3)
    t_dev = np.arange(0, t_ref[-1], 1 / rate) + rng.uniform(-0.002, 0.002, int(np.ceil(t_ref[-1] * rate)))
    t_dev = np.sort(np.clip(t_dev, 0, t_ref[-1]))
    raw_dev = np.stack([np.interp(t_dev, t_ref, raw_ref[:, c]) for c in range(6)], axis=1)
    stream = DeviceStream()
    windows = [w for i in range(0, len(t_dev), 7) for w in stream.push(t_dev[i:i + 7], raw_dev[i:i + 7])]
    expected = (int((t_dev[-1] - t_dev[0]) * 50) + 1 - 128) // 64 + 1
    assert abs(len(windows) - expected) <= 1
    grid_step = np.diff([w.start for w in windows])
    np.testing.assert_allclose(grid_step, 64 / 50.0, atol=1e-9)  # labels every 1.28 s of device time


def test_gap_and_backwards_time_reset_and_are_counted_duplicates_dropped():
    t, raw = still(400)
    stream = DeviceStream()
    assert len(stream.push(t[:200], raw[:200])) == 2
    stream.push(t[199:201], raw[199:201])  # t[199] again: a duplicate
    assert stream.counts["duplicate"] == 1
    stream.push(t[201:] + 5.0, raw[201:])  # a 5 s gap
    assert stream.counts["gap"] == 1
    assert stream.seq == 2 + ((199 - 128) // 64 + 1)  # the window restarts after the gap
    stream.push(t[:10], raw[:10])  # back in time
    assert stream.counts["backwards"] == 1


def test_recognizer_batches_devices_and_smooths(model, recording):
    rec = Recognizer(model)
    a = rec.push("a", recording.t[:1000], recording.raw[:1000])
    b = rec.push("b", recording.t[5000:6000], recording.raw[5000:6000])
    labels = rec.classify(a + b)
    assert {lab.device for lab in labels} == {"a", "b"}
    assert all(abs(sum(lab.probabilities.values()) - 1) < 1e-4 for lab in labels)
    alone = Recognizer(model).feed("b", recording.t[5000:6000], recording.raw[5000:6000])
    assert [lab.activity for lab in labels if lab.device == "b"] == [lab.activity for lab in alone]
    alone = Recognizer(model, stay=0).feed("b", recording.t[5000:6000], recording.raw[5000:6000])
    smoothed = Recognizer(model, smoothing=3, stay=0).feed("b", recording.t[5000:6000], recording.raw[5000:6000])
    p = np.array([list(lab.probabilities.values()) for lab in alone])
    np.testing.assert_allclose(list(smoothed[2].probabilities.values()), p[:3].mean(axis=0), atol=1e-9)


def test_the_time_filter_is_causal_and_resets_on_a_gap(model, recording):
    """Each label depends only on its window and those before it; after a gap the device starts afresh."""
    t, raw = recording.t[:3000], recording.raw[:3000]
    whole = Recognizer(model).feed("d", t, raw)
    prefix = Recognizer(model).feed("d", t[:1500], raw[:1500])
    assert [(a.activity, a.confidence) for a in prefix] == [(b.activity, b.confidence) for b in whole[:len(prefix)]]
    unfiltered = Recognizer(model, stay=0).feed("d", t, raw)
    assert [a.confidence for a in whole] != [b.confidence for b in unfiltered]  # it does filter
    gap = np.concatenate([t[:1500], t[1500:] + 10.0])  # 10 s of silence: the stream resets, and so does the belief
    after_gap = Recognizer(model).feed("d", gap, raw)
    fresh = Recognizer(model).feed("e", t[1500:] + 10.0, raw[1500:])
    assert [(a.activity, round(a.confidence, 9)) for a in after_gap[-len(fresh):]] == [(b.activity, round(b.confidence, 9)) for b in fresh]


def test_a_carried_belief_moves_with_the_device(model, recording):
    """What a replica hands over: the next one continues the device's labels as if it had never moved."""
    t, raw = recording.t[:3000], recording.raw[:3000]
    first = Recognizer(model)
    first.feed("d", t[:1472], raw[:1472])  # ends on a window boundary: no window in progress is lost
    carried = json.loads(json.dumps(first.carried("d")))
    second = Recognizer(model)
    second.restore("d", carried)
    moved = second.feed("d", t[1408:], raw[1408:])  # the next window's readings, from its first
    stayed = first.feed("d", t[1472:], raw[1472:])
    assert [a.activity for a in moved[:5]] == [b.activity for b in stayed[:5]]
    kept = second.carried("d")
    with pytest.raises(ValueError):  # a good placement beside a bad filter: nothing of it is taken
        second.restore("d", {"placement": 9.0, "filter": {"belief": [1.0, 2.0]}})
    assert json.loads(json.dumps(second.carried("d"))) == json.loads(json.dumps(kept))


def test_unknown_below_the_models_threshold(model, recording):
    import dataclasses

    class Doubtful:  # the model, with a threshold no label reaches
        info = dataclasses.replace(model.info, unknown_threshold=1.01)
        name = model.name

        def predict(self, X):
            return model.predict(X)

    labels = Recognizer(Doubtful()).feed("d", recording.t[:1000], recording.raw[:1000])
    assert {label.activity for label in labels} == {"UNKNOWN"}
    assert "UNKNOWN" in Recognizer(Doubtful()).labels and "UNKNOWN" not in Recognizer(model).labels


POSTURE_LABELS = ["WALKING", "SITTING", "STANDING", "LAYING"]


def test_a_still_posture_changes_only_when_the_phone_turns():
    """Sitting, then windows that lean to standing: with the phone still, the filter holds sitting where the plain
    sticky filter gives way; one window in which gravity turned, and standing wins at once.  A gait is not held."""
    from harstream.core.timefilter import TURN_DEG, ActivityFilter

    sitting, leaning = [0.05, 0.85, 0.05, 0.05], [0.05, 0.25, 0.65, 0.05]
    held, plain = ActivityFilter(POSTURE_LABELS), ActivityFilter(POSTURE_LABELS)
    for _ in range(5):
        held.update(sitting, turned=0.5)
        plain.update(sitting)
    held_labels = [POSTURE_LABELS[int(np.argmax(held.update(leaning, turned=TURN_DEG / 2)))] for _ in range(5)]
    plain_labels = [POSTURE_LABELS[int(np.argmax(plain.update(leaning)))] for _ in range(5)]
    assert held_labels == ["SITTING"] * 5 and "STANDING" in plain_labels
    assert POSTURE_LABELS[int(np.argmax(held.update(leaning, turned=TURN_DEG * 2)))] == "STANDING"
    walking = [0.7, 0.1, 0.1, 0.1]
    a, b = ActivityFilter(POSTURE_LABELS), ActivityFilter(POSTURE_LABELS)
    for _ in range(5):
        a.update(sitting, turned=0.5)
        b.update(sitting)
    steps = [(int(np.argmax(a.update(walking, turned=0.5))), int(np.argmax(b.update(walking)))) for _ in range(4)]
    assert [x for x, _ in steps] == [y for _, y in steps] and POSTURE_LABELS[steps[-1][0]] == "WALKING"


def test_the_recognizer_measures_each_windows_turn():
    """Through the Recognizer: a model that leans to standing after five windows of sitting.  A still phone keeps
    sitting; the same phone turned by 40 degrees within a window changes at that window; with ``turn_deg=None``
    (postures as sticky as any activity) the lean wins without a turn."""

    class Leaning:
        info = type("Info", (), {"labels": POSTURE_LABELS, "channels": ["gravity_z"], "placements": [], "sample_rate_hz": 50.0,
                                 "window": 128, "step": 64, "prior": None})()
        name = "leaning"

        def predict(self, X):
            return np.array([[0.05, 0.85, 0.05, 0.05]] * min(len(X), 5) + [[0.05, 0.25, 0.65, 0.05]] * max(len(X) - 5, 0))

    n = 128 + 64 * 11  # twelve windows
    t, raw = still(n)
    kept = [label.activity for label in Recognizer(Leaning()).feed("d", t, raw)]
    assert kept == ["SITTING"] * 12
    assert "STANDING" in [label.activity for label in Recognizer(Leaning(), turn_deg=None).feed("d", t, raw)]
    turned = raw.copy()
    angle = np.deg2rad(40.0) * np.clip((np.arange(n) - 64 * 8 - 64) / 25.0, 0.0, 1.0)  # tilts over half a second in window 8
    turned[:, 1], turned[:, 2] = np.sin(angle), np.cos(angle)
    labels = [label.activity for label in Recognizer(Leaning()).feed("d", t, turned)]
    assert labels == ["SITTING"] * 8 + ["STANDING"] * 4, labels


def test_a_turn_in_progress_moves_with_the_device():
    """A replica that takes a device over mid-turn knows which posture was held before the turn began."""
    from harstream.core.timefilter import ActivityFilter

    first, second = ActivityFilter(POSTURE_LABELS), ActivityFilter(POSTURE_LABELS)
    for _ in range(4):
        first.update([0.05, 0.85, 0.05, 0.05], t=None, turned=0.5)
    first.update([0.1, 0.3, 0.3, 0.3], turned=30.0)
    state = json.loads(json.dumps(first.state()))
    assert state["held"] == "SITTING"
    second.restore(state)
    np.testing.assert_allclose(second.update([0.1, 0.4, 0.3, 0.2], turned=30.0), first.update([0.1, 0.4, 0.3, 0.2], turned=30.0), rtol=1e-12)
    with pytest.raises(ValueError):
        second.restore({**state, "held": "DANCING"})
    second.restore({"belief": state["belief"], "last_start": None})  # a replica from before the turn was carried
    assert second.state()["held"] is None


def test_a_window_that_tells_nothing_carries_the_belief_on():
    """A window unlike anything the model learnt gives the filter no evidence: the belief moves only as a person
    may move between windows (sticky; a still posture held), and the device's time runs on (no gap)."""
    from harstream.core.timefilter import ActivityFilter

    f = ActivityFilter(POSTURE_LABELS)
    for k in range(4):
        f.update([0.05, 0.85, 0.05, 0.05], t=1.28 * k, turned=0.5)
    after = f.update(None, t=1.28 * 4, turned=0.5)
    assert after[1] > 0.95 and max(after[2], after[3]) < 1e-3  # no drift from sitting to another posture
    plain = ActivityFilter(POSTURE_LABELS)
    plain.update([0.05, 0.85, 0.05, 0.05], t=0.0)
    expected = 0.9 * plain.belief + 0.1 * plain.day
    np.testing.assert_allclose(plain.update(None, t=1.28), expected / expected.sum())
    assert plain.state()["last_start"] == 1.28


@pytest.mark.parametrize("stay", [0.9, 0.0])
def test_a_label_no_training_window_had_is_never_published(stay):
    """A model trained without lying down still has LAYING among its outputs (its metadata's ``prior`` gives it no
    share of training): whatever it answers for it, the label is never LAYING, with the time filter or without, and
    the filter alone never believes it.  A label training saw rarely (a share of 0.001) is published as before."""
    from harstream.core.timefilter import ActivityFilter

    def model(prior):
        class Untaught:
            info = type("Info", (), {"labels": POSTURE_LABELS, "channels": ["gravity_z"], "placements": [], "sample_rate_hz": 50.0,
                                     "window": 128, "step": 64, "prior": prior})()
            name = "untaught"

            def predict(self, X):
                return np.array([[0.02, 0.06, 0.02, 0.9]] * len(X))  # sure of lying
        return Untaught()

    t, raw = still(128 + 64 * 5)
    assert {label.activity for label in Recognizer(model([0.4, 0.3, 0.3, 0.0]), stay=stay).feed("d", t, raw)} == {"SITTING"}
    assert {label.activity for label in Recognizer(model([0.4, 0.3, 0.3, 0.001]), stay=stay).feed("d", t, raw)} == {"LAYING"}
    f = ActivityFilter(POSTURE_LABELS, prior=[0.4, 0.3, 0.3, 0.0])
    assert all(f.update([0.02, 0.06, 0.02, 0.9])[3] == 0.0 for _ in range(3)) and f.update(None)[3] == 0.0
    f.restore({"belief": [0.0, 0.0, 0.0, 1.0], "last_start": None, "held": "LAYING"})  # a belief from a model that knew it
    assert f.update([0.1, 0.3, 0.5, 0.1], turned=0.5)[3] == 0.0
