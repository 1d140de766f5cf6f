import numpy as np
import pytest
from harstream.core import preprocess
from harstream.core.preprocess import Preprocessor, butter_sections

scipy_signal = pytest.importorskip("scipy.signal")


@pytest.mark.parametrize("order,cutoff,rate", [(3, 20.0, 50.0), (3, 0.3, 50.0), (3, 20.0, 100.0), (1, 12.5, 50.0), (4, 5.0, 60.0)])
def test_butterworth_design_matches_scipy(order, cutoff, rate):
    b, a = np.array([1.0]), np.array([1.0])
    for bs, as_ in butter_sections(order, cutoff, rate):
        b, a = np.polymul(b, bs), np.polymul(a, as_)
    b_ref, a_ref = scipy_signal.butter(order, cutoff, fs=rate)
    np.testing.assert_allclose(b, b_ref, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(a, a_ref, rtol=1e-9, atol=1e-12)


def test_cutoff_beyond_nyquist_is_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        butter_sections(3, 30.0, 50.0)


def test_matches_the_uci_recipe_done_with_scipy(recording):
    raw = recording.raw[:5000]
    out = Preprocessor().process(raw)
    padded = np.concatenate([raw[:1], raw[:1], raw])  # the causal median starts from the first sample
    med = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    b, a = scipy_signal.butter(3, 20, fs=50)
    zi = scipy_signal.lfilter_zi(b, a)
    smooth = np.stack([scipy_signal.lfilter(b, a, med[:, c], zi=zi * med[0, c])[0] for c in range(6)], axis=1)
    b, a = scipy_signal.butter(3, 0.3, fs=50)
    zi = scipy_signal.lfilter_zi(b, a)
    gravity = np.stack([scipy_signal.lfilter(b, a, smooth[:, c], zi=zi * smooth[0, c])[0] for c in range(3)], axis=1)
    np.testing.assert_allclose(out[:, 0:3], smooth[:, :3], atol=1e-9)
    np.testing.assert_allclose(out[:, 6:9], smooth[:, 3:], atol=1e-9)
    np.testing.assert_allclose(out[:, 9:12], gravity, atol=1e-9)
    np.testing.assert_allclose(out[:, 3:6], smooth[:, :3] - gravity, atol=1e-9)


def test_sample_by_sample_equals_whole_recording(recording):
    raw = recording.raw[:3000]
    whole = Preprocessor().process(raw)
    prep = Preprocessor()
    one_by_one = np.concatenate([prep.process(raw[i:i + 1]) for i in range(len(raw))])
    assert np.abs(one_by_one - whole).max() < 1e-9
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(np.arange(1, len(raw)), 40, replace=False))
    prep = Preprocessor()
    pieces = np.concatenate([prep.process(p) for p in np.split(raw, cuts)])
    assert np.abs(pieces - whole).max() < 1e-9


def test_starts_in_steady_state_and_resets():
    still = np.tile([0.1, -0.2, 0.97, 0.01, 0.0, -0.01], (400, 1))
    prep = Preprocessor()
    out = prep.process(still)
    np.testing.assert_allclose(out[:, 9:12], still[:, :3], atol=1e-12)  # gravity = total from the first sample
    np.testing.assert_allclose(out[:, 3:6], 0.0, atol=1e-12)
    prep.reset()
    np.testing.assert_allclose(prep.process(still[:5] * 2)[:, 9:12], still[:5, :3] * 2, atol=1e-12)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="6 values"):
        Preprocessor().process(np.zeros((10, 9)))


def test_channels_in_uci_order():
    assert preprocess.UCI_CHANNELS == tuple(f"{k}_{a}" for k in ("total_acc", "body_acc", "body_gyro") for a in "xyz")
