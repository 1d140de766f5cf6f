"""RUNNING and UNKNOWN end to end through a real Mosquitto, with the default model; models that predate them
still load and keep their six labels."""
from __future__ import annotations

import time

import numpy as np
import pytest
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import replay
from harstream.core import Recognizer
from harstream.core.activities import ACTIVITIES
from harstream.core.catalog import default_model, resolve_model
from harstream.core.model import Model
from harstream.core.recording import Recording, read_csv
from harstream.datasets import synthetic
from test_mqtt import retained

from conftest import ROOT

JOGGING = ROOT / "stream" / "data" / "jog_sub01.csv.gz"


@pytest.fixture(scope="module")
def anyone():
    return Model(default_model())


def shaking(seconds=30.0, seed=5) -> Recording:
    raw = synthetic.make("shake", np.random.default_rng(seed), seconds)
    return Recording(np.arange(len(raw)) / 50.0, raw, np.array([""] * len(raw), dtype=object), "shake")


def test_the_default_model_labels_running_and_unknown(anyone):
    assert anyone.info.labels[-2:] == ["RUNNING", "UNKNOWN"] and 0 < anyone.info.unknown_threshold < 1
    assert len(anyone.info.prior) == len(anyone.info.labels)


def test_running_and_unknown_through_mosquitto_equal_predict(broker, anyone, listen, publisher):
    d = Daemon(Settings(broker=broker.url, client_id="run-unknown", placement="pocket").validate(), anyone)
    d.start()
    try:
        jog, shake = read_csv(JOGGING), shaking()
        got = {}
        for device, rec in (("jogger", jog), ("shaker", shake)):
            labels = listen(f"har/{device}/activity")
            replay(publisher, [rec], device, "batch", speed=0)
            got[device] = labels.labels((len(rec) - 128) // 64 + 1)
    finally:
        d.stop()
    for device, rec in (("jogger", jog), ("shaker", shake)):
        offline = Recognizer(anyone, placement_for=lambda _: "pocket").feed("x", rec.t, rec.raw)
        assert [g["activity"] for g in got[device]] == [o.activity for o in offline]
    jogging = [g["activity"] for g in got["jogger"]]
    assert jogging.count("RUNNING") >= 0.8 * len(jogging), jogging
    shaken = [g["activity"] for g in got["shaker"]]
    assert shaken.count("UNKNOWN") >= 0.8 * len(shaken), shaken


@pytest.mark.parametrize("family", ["bag", "jump"])
def test_a_motion_unlike_anything_learnt_is_unknown_through_mosquitto(broker, anyone, listen, publisher, recording, family):
    """A phone in a swinging bag, or worn by someone jumping on the spot (motions the model never met, not even among
    UNKNOWN's made-up kinds): UNKNOWN, because its features lie far from every activity's (without the distance both
    are mostly RUNNING); a walking phone published beside it keeps the labels predict gives it."""
    raw = synthetic.make(family, np.random.default_rng(5), 30.0)
    motion = Recording(np.arange(len(raw)) / 50.0, raw, np.array([""] * len(raw), dtype=object), family)
    walking = np.flatnonzero(recording.labels == "WALKING")
    walk = Recording(recording.t[walking[0]:walking[0] + 1000], recording.raw[walking[0]:walking[0] + 1000],
                     recording.labels[walking[0]:walking[0] + 1000], "walk")
    d = Daemon(Settings(broker=broker.url, client_id=f"far-{family}").validate(), anyone)
    d.start()
    try:
        got = {}
        for device, rec in ((family, motion), ("walker", walk)):
            labels = listen(f"har/{device}/activity")
            replay(publisher, [rec], device, "batch", speed=0)
            got[device] = [g["activity"] for g in labels.labels((len(rec) - 128) // 64 + 1)]
    finally:
        d.stop()
    for device, rec in ((family, motion), ("walker", walk)):
        assert got[device] == [o.activity for o in Recognizer(anyone).feed("x", rec.t, rec.raw)]
    assert got[family].count("UNKNOWN") >= 0.9 * len(got[family]), got[family]
    assert got["walker"].count("WALKING") >= 0.8 * len(got["walker"]), got["walker"]


def test_home_assistant_offers_running_and_unknown(broker, anyone, publisher):
    d = Daemon(Settings(broker=broker.url, client_id="ha-labels", ha_discovery=True).validate(), anyone)
    d.start()
    try:
        replay(publisher, [read_csv(JOGGING)], "jogger", "batch", speed=0)
        deadline = time.monotonic() + 10
        while d.counts["labels"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        [config] = [c for t, c in retained(broker, "homeassistant/sensor/#", 1).items()]
    finally:
        d.stop()
    assert config["options"] == list(ACTIVITIES) + ["RUNNING", "UNKNOWN"]


@pytest.mark.parametrize("name", ["hcnn", "anywhere", "lstm"])
def test_models_that_predate_running_and_unknown_keep_their_six_labels(name, recording):
    model = Model(resolve_model(name))
    assert model.info.labels == list(ACTIVITIES) and model.info.unknown_threshold == 0.0 and model.info.prior == []
    recognizer = Recognizer(model)
    assert recognizer.labels == list(ACTIVITIES)
    labels = recognizer.feed("d", recording.t[:2000], recording.raw[:2000])
    assert labels and {label.activity for label in labels} <= set(ACTIVITIES)
