"""Shared fixtures: a real Mosquitto on a free port, a small HAPT dataset, the committed models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harstream.adapters.brokers import Mosquitto, mosquitto_binary
from harstream.adapters.replay import bundled_recording
from harstream.core.recording import HAPT_LABELS, read_csv

from benchmarks import clients

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SHARED_ZIP = ROOT.parent / "shared" / "data" / "hapt-rawdata.zip"


@pytest.fixture(scope="session")
def recording():
    return read_csv(bundled_recording())


@pytest.fixture(scope="session")
def model_path():
    """The smallest committed model that runs anywhere (no TensorFlow needed)."""
    path = MODELS / "lstm.tflite"
    assert path.exists(), "models/lstm.tflite is committed with the repository"
    return path


@pytest.fixture(scope="session")
def model(model_path):
    from harstream.core.model import Model

    return Model(model_path)


@pytest.fixture
def broker():
    """A Mosquitto of our own on a free port; never one that happens to be running."""
    if not mosquitto_binary():
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (.ci/run does this)")
    with Mosquitto() as b:
        yield b


def write_hapt(folder: Path, recording, experiments: dict[int, tuple[int, slice]]) -> Path:
    """A HAPT RawData folder from slices of a recording: {experiment: (user, rows)}."""
    raw = folder / "RawData"
    raw.mkdir(parents=True)
    (folder / "activity_labels.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(HAPT_LABELS, 1)))
    ids = {name: i for i, name in enumerate(HAPT_LABELS, 1)}
    rows = []
    for exp, (user, part) in experiments.items():
        data = recording.raw[part]
        labels = np.array([ids.get(label, 0) for label in recording.labels[part]])
        for kind, cols in (("acc", data[:, :3]), ("gyro", data[:, 3:])):
            np.savetxt(raw / f"{kind}_exp{exp:02d}_user{user:02d}.txt", cols, fmt="%.17g")
        change = np.flatnonzero(np.diff(labels)) + 1
        for a, b in zip(np.r_[0, change], np.r_[change, len(labels)]):
            if labels[a]:
                rows.append(f"{exp} {user} {labels[a]} {a} {b - 1}\n")
    (raw / "labels.txt").write_text("".join(rows))
    return folder


@pytest.fixture(scope="session")
def hapt_dir(tmp_path_factory, recording):
    """Four 'subjects' made of the bundled recording: train (1, 3), validation (7), test (2)."""
    n = len(recording)
    return write_hapt(tmp_path_factory.mktemp("hapt"), recording, {
        1: (1, slice(0, n // 2)), 2: (3, slice(n // 2, n)), 3: (7, slice(0, n)), 4: (2, slice(0, n)),
    })


@pytest.fixture
def listen(broker):
    made = []

    def factory(*topics, client_id=None):
        listener = clients.Collector(broker.port, topics, client_id or f"test-listener-{len(made)}")
        made.append(listener)
        return listener

    yield factory
    for listener in made:
        listener.close()


@pytest.fixture
def publisher(broker):
    client = clients.publisher(broker.port, "test-publisher")
    yield client
    clients.close(client)
