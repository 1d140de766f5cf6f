"""The models the repository ships: loadable, described, and as accurate as the README says."""
import json

import pytest
from conftest import MODELS, SHARED_ZIP

POCKET_ZIP = SHARED_ZIP.with_name("motionsense-pocket.zip")
from harstream.core.activities import ACTIVITIES
from harstream.core.model import Model

SEEDS = ["lstm", "cnn-lstm", "convlstm"]


@pytest.mark.parametrize("name", SEEDS + ["hcnn"])
def test_shipped_model_loads_with_its_report(name):
    model = Model(MODELS / f"{name}.tflite")
    assert model.info.window == 128 and model.info.step == 64 and model.info.sample_rate_hz == 50
    report = json.loads((MODELS / f"{name}.report.json").read_text())
    assert len(report["repeats"]) >= 5 and report["exported"]["parity"]["argmax_disagreements"] == 0
    assert model.info.accuracy["test"] == round(report["exported"]["accuracy"], 4)


def test_default_model_is_shipped():
    from harstream.cli import default_model

    assert default_model().exists()


@pytest.mark.skipif(not SHARED_ZIP.exists(), reason="needs ../shared/data/hapt-rawdata.zip")
def test_seed_models_reach_88_percent_on_the_test_subjects():
    from harstream.datasets import load_windows

    _, test = load_windows(SHARED_ZIP).split()
    for name in SEEDS:
        model = Model(MODELS / f"{name}.tflite")
        accuracy = (model.predict(test.select(model.info.channels)).argmax(1) == test.y).mean()
        assert accuracy >= 0.88, (name, accuracy)
        assert accuracy == pytest.approx(model.info.accuracy["test"], abs=1e-4)


def test_hcnn_ships_as_small_int8_close_to_its_float_model():
    report = json.loads((MODELS / "hcnn.report.json").read_text())
    quantized = report["exported"]["parity"]["quantized"]
    assert quantized["type"] == "int8-weights" and (MODELS / "hcnn.tflite").stat().st_size <= 64 * 1024
    assert abs(quantized["accuracy"] - quantized["float_accuracy"]) <= 0.003


@pytest.mark.skipif(not SHARED_ZIP.exists(), reason="needs ../shared/data/hapt-rawdata.zip")
def test_default_model_on_the_waist():
    """About 96.7%: short of the 98% that hcnn (waist only) reaches; docs/generalisation.md says so and why."""
    from harstream.cli import default_model
    from harstream.datasets import load_windows

    _, test = load_windows(SHARED_ZIP).split()
    model = Model(default_model())
    waist = [model.info.placements.index("waist")] * len(test) if model.info.placements else None  # HAPT's phone is on the waist
    accuracy = (model.predict(test.select(model.info.channels), placement=waist).argmax(1) == test.y).mean()
    assert accuracy >= 0.96 and accuracy == pytest.approx(model.info.accuracy["hapt_test"], abs=1e-4)
    assert default_model().stat().st_size <= 128 * 1024


@pytest.mark.skipif(not POCKET_ZIP.exists(), reason="needs ../shared/data/motionsense-pocket.zip")
def test_default_model_in_a_pocket():
    from harstream.cli import default_model
    from harstream.datasets import scored_windows

    model = Model(default_model())
    scored = scored_windows(POCKET_ZIP).for_labels(ACTIVITIES)  # MotionSense's scored subjects: never trained on, never chosen on
    accuracy = (model.predict(scored.select(model.info.channels), placement=[1] * len(scored)).argmax(1) == scored.y).mean()
    assert model.info.placements == ["waist", "pocket"] and accuracy >= 0.95
    assert accuracy == pytest.approx(model.info.accuracy["motionsense_scored"], abs=1e-4)


@pytest.mark.parametrize("name, stored", [("anyone", "int8-weights"), ("hcnn", "int8-weights"), ("lstm", "float32")])
def test_the_models_benchmark_reads_how_a_file_stores_its_weights(name, stored):
    """``benchmarks.models`` said float32 for ``anyone``, whose report names no ``quantized`` entry: it reads the file."""
    from benchmarks.models import weight_format

    assert weight_format(MODELS / f"{name}.tflite") == stored
