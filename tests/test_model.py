import json
import shutil

import numpy as np
import pytest
from harstream.core.model import Model, ModelError


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
