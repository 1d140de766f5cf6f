"""What every scenario shares: the clean recording cut into messages, waiting, log counting, a slowed model."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from harstream.adapters.replay import encode
from harstream.cli import default_model
from harstream.core.model import Model
from harstream.core.recording import Recording

ROOT = Path(__file__).resolve().parent.parent.parent


# -- helpers -------------------------------------------------------------------------------------
def chunks(rec: Recording, t0: float, size: int = 25) -> list[bytes]:
    return [encode("batch", "clean", t0 + rec.t[i:i + size], rec.raw[i:i + size]) for i in range(0, len(rec), size)]


def same_labels(streamed: list[dict], offline) -> bool:
    """Same windows, same activities, probabilities within 1e-6."""
    if [(d["seq"], d["activity"]) for d in streamed] != [(lab.seq, lab.activity) for lab in offline]:
        return False
    return all(abs(d["probabilities"][k] - lab.probabilities[k]) <= 1e-6 for d, lab in zip(streamed, offline) for k in lab.probabilities)


def wait_until(condition, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


class LogCount(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def captured_log():
    handler = LogCount()
    logger = logging.getLogger("harstream")
    level = logger.level
    logger.setLevel(logging.WARNING)  # whatever the root logger says: these are the lines a user would see
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def load_model(path=None) -> Model:
    return Model(path or default_model())


# -- bad input -----------------------------------------------------------------------------------
class SlowModel:
    """A real model that takes ``delay`` seconds more per window: a Pi running something big."""

    def __init__(self, model: Model, delay: float):
        self.model, self.delay = model, delay
        self.gate, self.held = threading.Event(), threading.Event()  # to hold the worker still at a chosen moment
        self.gate.set()
        self.info, self.name, self.backend, self.path = model.info, model.name, model.backend, model.path
        self.dynamic_batch = model.dynamic_batch

    def _hold(self, X) -> None:
        if not self.gate.is_set():
            self.held.set()
            self.gate.wait()
            self.held.clear()
        if X.any():  # not the start-up warm-up
            time.sleep(self.delay * len(X))

    def predict(self, X, placement=None):
        self._hold(X)
        return self.model.predict(X, placement)

    def predict_all(self, X, features=False):  # what the recognizer calls for a placement-aware model
        self._hold(X)
        return self.model.predict_all(X, features=features)


def part(rec: Recording, lo: int, n: int) -> Recording:
    return Recording(rec.t[lo:lo + n], rec.raw[lo:lo + n], rec.labels[lo:lo + n], rec.name)


