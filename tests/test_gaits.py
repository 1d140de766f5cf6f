"""Walking and stairs told apart by the model's features (``ModelInfo.gaits_from_features``): a linear
discriminant over the training windows' feature statistics, which the model's metadata already holds."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import MODELS
from harstream.core import Recognizer
from harstream.core.activities import ALL_LABELS, TRAINABLE
from harstream.core.catalog import default_model
from harstream.core.model import Model, ModelError, ModelInfo, decode_array, encode_array
from harstream.core.preprocess import CHANNELS
from harstream.core.recording import Recording, read_csv

POCKET = MODELS.parent / "stream" / "data" / "pocket_sub01.csv.gz"

# Four features; every in-set activity's mean a corner of its own, their shared spread one.
MEANS = np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 2.0], [0, 0, 0, -2.0], [-2.0, 0, 0, 0], [0, -2.0, 0, 0]])
PRIOR = [0.4, 0.1, 0.1, 0.15, 0.15, 0.05, 0.04, 0.01]


def info(gaits_from_features: bool = True) -> ModelInfo:
    distance = {"labels": list(TRAINABLE), "means": encode_array(MEANS), "whitening": encode_array(np.eye(4)),
                "scales": [1.0] * 7, "threshold": 50.0, "in_set_rate": 0.002}
    return ModelInfo.from_dict({"name": "corners", "labels": list(ALL_LABELS), "channels": list(CHANNELS), "prior": PRIOR,
                                "distance": distance, "gaits_from_features": gaits_from_features}, "test")


class Corners:
    """A stand-in model that answers WALKING_UPSTAIRS for every window, whose features lie at walking's mean."""

    def __init__(self, info: ModelInfo):
        self.info, self.name = info, info.name

    def predict_all(self, X, features=False):
        answer = np.tile([0.05, 0.85, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0], (len(X), 1))
        return (answer, np.tile(MEANS[0], (len(X), 1))) if features else answer


def test_a_windows_gait_is_the_one_its_features_lie_nearest():
    corners = info()
    odds = corners.gait_odds(np.stack([MEANS[0], MEANS[1], MEANS[2], MEANS[3], (MEANS[0] + MEANS[1]) / 2]))
    np.testing.assert_allclose(odds.sum(axis=1), 1.0)
    assert odds[:3].argmax(axis=1).tolist() == [0, 1, 2] and odds[0, 0] > 0.95
    assert odds[3].argmax() == 0 and odds[3, 0] > odds[3, 1] > 0.0  # no gait's: the likeliest in a day, walking
    assert odds[4, 0] / odds[4, 1] == pytest.approx(4.0)  # half way: as training saw them, walking four times as often
    far, together = corners.read_features(np.stack([MEANS[0], [12.0, 0, 0, 0]]))  # the daemon's one pass over the features
    assert far.tolist() == corners.far(np.stack([MEANS[0], [12.0, 0, 0, 0]])).tolist() == [False, True]
    np.testing.assert_allclose(together, corners.gait_odds(np.stack([MEANS[0], [12.0, 0, 0, 0]])))
    assert info(False).read_features(MEANS[:1])[1] is None


@pytest.mark.parametrize("from_features, expected", [(True, "WALKING"), (False, "WALKING_UPSTAIRS")])
def test_the_recognizer_shares_the_models_gait_out_by_its_features(from_features, expected):
    """The model's answer says how likely a gait is at all; the features, which gait.  Off: the model's answer."""
    t = np.arange(128 + 64 * 3) / 50.0
    raw = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (len(t), 1))
    labels = Recognizer(Corners(info(from_features)), stay=0).feed("d", t, raw)
    assert [label.activity for label in labels] == [expected] * 4
    p = labels[0].probabilities
    assert p["WALKING"] + p["WALKING_UPSTAIRS"] + p["WALKING_DOWNSTAIRS"] == pytest.approx(0.95)
    assert p["SITTING"] == pytest.approx(0.05)


def test_the_default_models_labels_do_not_depend_on_batching():
    """The bundled pocket recording (walking, standing, sitting) in one batch and a window at a time."""
    rec = read_csv(POCKET)
    model = Model(default_model())
    assert model.info.gaits_from_features
    together = Recognizer(model).feed("d", rec.t, rec.raw)
    alone = Recognizer(model)
    apart = [label for k in range(0, len(rec.t), 64) for label in alone.feed("d", rec.t[k:k + 64], rec.raw[k:k + 64])]
    assert {"WALKING", "SITTING"} <= {a.activity for a in together}
    assert [(a.activity, round(a.confidence, 9)) for a in together] == [(b.activity, round(b.confidence, 9)) for b in apart]


def distance_without_gaits(distance: dict) -> dict:
    keep = slice(3, 7)  # the postures and running
    return {**distance, "labels": distance["labels"][keep], "scales": distance["scales"][keep],
            "means": encode_array(decode_array(distance["means"])[keep])}


@pytest.mark.parametrize("change, message", [
    ({"gaits_from_features": "yes"}, "gaits_from_features 'yes'"),
    ({"gaits_from_features": 1}, "gaits_from_features 1"),
    ({"gaits_from_features": None}, "gaits_from_features None"),
    ({"distance": {}}, "only with a distance"),
    ("no gaits", "WALKING_UPSTAIRS"),
])
def test_a_malformed_gaits_from_features_is_refused_in_one_line(tmp_path, change, message):
    target = tmp_path / "m.tflite"
    shutil.copy(default_model(), target)
    meta = json.loads(default_model().with_suffix(".json").read_text())
    if change == "no gaits":
        change = {"distance": distance_without_gaits(meta["distance"])}
    target.with_suffix(".json").write_text(json.dumps({**meta, **change}))
    with pytest.raises(ModelError, match=message) as error:
        Model(target)
    assert "\n" not in str(error.value)


def test_models_before_it_read_their_gaits_as_they_did(tmp_path):
    """Metadata without the key (every model before it): the model's own answer, as always."""
    lstm = Model(MODELS / "lstm.tflite")
    assert lstm.info.gaits_from_features is False
    target = tmp_path / "anyone.tflite"
    shutil.copy(default_model(), target)
    meta = json.loads(default_model().with_suffix(".json").read_text())
    del meta["gaits_from_features"]
    target.with_suffix(".json").write_text(json.dumps(meta))
    old = Model(target)
    assert old.info.gaits_from_features is False


def test_the_vertical_tracked_with_the_gyroscope_follows_a_swing_the_low_pass_lags():
    """``benchmarks.gait_intensity`` (item 23 of docs/generalisation-choices.md) splits each gait's motion along the
    vertical it tracks with the gyroscope: a phone turning at 2 rad/s while bouncing 0.3 g along the vertical is
    split into the bounce alone (the low-pass's vertical, a second behind, mixes the two)."""
    from benchmarks.gait_intensity import measures, tracked_up

    t = np.arange(0, 6, 0.02)
    rate = np.where(t >= 1.0, 2.0, 0.0)  # still for a second, then turning about the phone's x axis
    turn, bounce = 0.02 * np.cumsum(rate), 1.0 + 0.3 * np.sin(2 * np.pi * 1.8 * t)
    up = np.stack([np.zeros_like(t), np.sin(turn), np.cos(turn)], axis=1)  # the world's up, seen from the phone
    raw = np.hstack([up * bounce[:, None], np.stack([rate, 0 * t, 0 * t], axis=1)])
    error = np.degrees(np.arccos(np.clip((tracked_up(raw) * up).sum(1), -1, 1)))
    assert error[50:].max() < 1.0
    wrong_way = raw * [1, 1, 1, -1, 1, 1]  # a gyroscope of the other sign: the estimate falls behind
    assert np.degrees(np.arccos(np.clip((tracked_up(wrong_way) * up).sum(1), -1, 1)))[50:].max() > 20.0

    rec = Recording(t, raw, np.full(len(t), "WALKING", dtype=object), "swing")
    rows = np.array(measures(rec)["WALKING"])
    assert len(rows) == 3  # whole windows of 128 samples, 64 apart, in 300 samples
    vertical, across, vertical_low, across_low = rows.mean(0)
    assert abs(vertical - 0.3 / np.sqrt(2)) < 0.02 and across < 0.02
    assert across_low > 0.1  # the low-pass's vertical lags the swing: part of gravity read as motion across it
