import json
import shutil

import numpy as np
import pytest
from harstream.core.model import Model, ModelError, decode_array, encode_array

from conftest import MODELS


@pytest.fixture
def copy(tmp_path, model_path):
    target = tmp_path / "m.tflite"
    shutil.copy(model_path, target)
    shutil.copy(model_path.with_suffix(".json"), target.with_suffix(".json"))
    return target


def edit_meta(path, **changes):
    meta = json.loads(path.with_suffix(".json").read_text())
    meta.update(changes)
    path.with_suffix(".json").write_text(json.dumps(meta))


@pytest.mark.parametrize("changes,message", [
    ({"preprocessing": "harstream-prep-0"}, "preprocessing"),
    ({"channels": ["total_acc_x", "magnetometer_x"]}, "unknown channels"),
    ({"units": {"acc": "m/s2", "gyro": "rad/s"}}, "units"),
    ({"window": 100}, "input shape"),
    ({"step": 0}, "step"),
    ({"labels": ["A", "B"]}, "outputs but 2 labels"),
    ({"format": "other/9"}, "format"),
])
def test_mismatched_metadata_is_refused(copy, changes, message):
    edit_meta(copy, **changes)
    with pytest.raises(ModelError, match=message):
        Model(copy)


def test_missing_and_corrupt_files(copy):
    copy.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        Model(copy)
    copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="metadata"):
        Model(copy)
    with pytest.raises(ModelError, match="no such model"):
        Model(copy.with_name("absent.tflite"))


def test_corrupt_tflite(copy):
    copy.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        Model(copy)


def test_predict_checks_shape_and_batches(model):
    with pytest.raises(ValueError, match="expected windows"):
        model.predict(np.zeros((2, 64, 9)))
    X = np.random.default_rng(0).normal(size=(5, 128, 9)).astype(np.float32)
    together = model.predict(X)
    apart = np.concatenate([model.predict(X[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, apart, atol=1e-6)
    np.testing.assert_allclose(together.sum(axis=1), 1, atol=1e-5)


def test_a_models_distance_is_checked_against_its_features(tmp_path):
    """The default model gives its features as a second output, for its ``distance`` (UNKNOWN for a window unlike
    anything it learnt); metadata whose distance does not fit the model, or is malformed, is refused."""
    from harstream.core.catalog import default_model

    anyone = Model(default_model())
    out, features = anyone.predict_all(np.zeros((3, 128, 12), np.float32), features=True)
    assert out.shape == (3, anyone.info.outputs) and features.shape == (3, 96)
    assert anyone.info.distance["threshold"] > 0 and len(anyone.info.distance["scales"]) == len(anyone.info.distance["labels"])
    source = default_model()
    target = tmp_path / "d.tflite"
    shutil.copy(source, target)
    meta = json.loads(source.with_suffix(".json").read_text())
    for broken, message in [({**meta["distance"], "scales": [0.0] * 7}, "scales"),
                            ({**meta["distance"], "whitening": {"shape": [3, 3], "float32": "AAAA"}}, "distance"),
                            ({**meta["distance"], "labels": ["FLYING"] * 7}, "distance")]:
        target.with_suffix(".json").write_text(json.dumps({**meta, "distance": broken}))
        with pytest.raises(ModelError, match=message):
            Model(target)
    shutil.copy(MODELS / "lstm.tflite", target)  # one output, no features: a distance in its metadata cannot be
    lstm = json.loads((MODELS / "lstm.json").read_text())
    six = {**meta["distance"], "labels": meta["distance"]["labels"][:6], "scales": meta["distance"]["scales"][:6],
           "means": encode_array(decode_array(meta["distance"]["means"])[:6])}
    target.with_suffix(".json").write_text(json.dumps({**lstm, "distance": six}))
    with pytest.raises(ModelError, match="features"):
        Model(target)
    with pytest.raises(ValueError, match="no features"):
        Model(MODELS / "lstm.tflite").predict_all(np.zeros((1, 128, 9), np.float32), features=True)


@pytest.mark.parametrize("prior", [
    "short", "negative", "text", "none above 0", "not a number", "true and false", "a mapping",
])
def test_a_malformed_prior_is_refused_in_one_line(copy, prior):
    """The prior is each label's share of training (the time filter divides it out; a share of 0 marks a label never
    learnt, never published): a model whose prior is not that is refused on load, whatever is wrong with it."""
    n = len(json.loads(copy.with_suffix(".json").read_text())["labels"])
    shares = {"short": [0.5, 0.5] if n != 2 else [1.0], "negative": [-0.1] + [0.2] * (n - 1), "text": ["many"] * n,
              "none above 0": [0.0] * n, "not a number": [float("nan")] * n, "true and false": [True] + [False] * (n - 1),
              "a mapping": {"WALKING": 1.0}}[prior]
    edit_meta(copy, prior=shares)
    with pytest.raises(ModelError, match=r"prior .* must give each of the \d+ labels its share of training"):
        Model(copy)
    edit_meta(copy, prior=[0.0] + [1.0 / (n - 1)] * (n - 1))  # a label training never had: loads
    assert Model(copy).info.prior[0] == 0.0
