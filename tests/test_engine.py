"""The engine driven directly, with no broker: what every transport relies on."""
import threading
import time

import numpy as np
import pytest
from harstream.adapters.config import Settings
from harstream.adapters.replay import encode, topic_for
from harstream.core import Recognizer
from harstream.core.recording import Recording
from harstream.engine import Engine, Events

N = 128 + 64 * 5  # six windows


class Kept(Events):
    """Every event, in order, with the thread it came on."""

    def __init__(self):
        self.labels, self.added, self.gone, self.reports, self.threads = [], [], [], [], set()

    def label(self, label):
        self.labels.append(label)
        self.threads.add(threading.current_thread().name)

    def device_added(self, device):
        self.added.append(device)

    def device_gone(self, device):
        self.gone.append(device)

    def report(self, stats):
        self.reports.append(stats)


def part(recording, lo=0, n=N) -> Recording:
    return Recording(recording.t[lo:lo + n] - recording.t[lo] + 1.7e9, recording.raw[lo:lo + n], recording.labels[lo:lo + n], "part")


def messages(fmt, device, rec, per_message):
    return [(topic_for(fmt, "har", device), encode(fmt, device, rec.t[i:i + per_message], rec.raw[i:i + per_message], message_id=i))
            for i in range(0, len(rec.t), per_message)]


def run(engine, stream):
    engine.start()
    try:
        for topic, payload in stream:
            engine.receive(topic, payload)
    finally:
        engine.stop()


@pytest.mark.parametrize("fmt,per_message", [("json", 1), ("batch", 25), ("csv", 25), ("sensor-logger", 25)])
def test_labels_equal_the_offline_recognizer_in_every_format(fmt, per_message, recording, model):
    rec = part(recording)
    kept = Kept()
    run(Engine(Settings().validate(), model, kept), messages(fmt, "phone", rec, per_message))
    offline = Recognizer(model).feed("phone", rec.t, rec.raw)
    assert len(offline) == 6
    assert [(lab.device, lab.seq, lab.activity) for lab in kept.labels] == [(lab.device, lab.seq, lab.activity) for lab in offline]
    assert max(abs(a.probabilities[k] - b.probabilities[k]) for a, b in zip(kept.labels, offline) for k in b.probabilities) <= 1e-6
    assert kept.added == ["phone"]


def test_a_bad_device_costs_only_its_own_messages(recording, model):
    rec = part(recording)
    clean, noisy = Kept(), Kept()
    good = messages("batch", "anna", rec, 25)
    run(Engine(Settings().validate(), model, clean), good)
    mixed, rejected = [], 0
    for i, message in enumerate(good):  # bob sends garbage between every two of anna's messages
        mixed.append(message)
        for junk in (b"{", b'{"t": [1, 2], "acc": [[0, 0, 1]], "gyro": [[0, 0, 0]]}', b"\xff" * 10, b'{"t": 1e99, "acc": [0,0,1], "gyro": [0,0,0]}'):
            mixed.append(("har/bob/imu", junk))
            rejected += 1
    engine = Engine(Settings().validate(), model, noisy)
    run(engine, mixed)
    assert [(lab.seq, lab.activity, lab.confidence) for lab in noisy.labels] == [(lab.seq, lab.activity, lab.confidence) for lab in clean.labels]
    assert sum(engine.rejects.values()) == rejected and engine.devices() == ["anna"] and noisy.added == ["anna"]


def test_silent_devices_are_forgotten_and_the_transport_told(model):
    kept = Kept()
    engine = Engine(Settings(idle_timeout=1, stats_interval=0.2).validate(), model, kept)
    engine.start()
    try:
        engine.receive("har/quiet/imu", b'{"t": 1.7e9, "acc": [0, 0, 1], "gyro": [0, 0, 0]}')
        deadline = time.monotonic() + 10
        while not kept.gone and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
    assert kept.gone == ["quiet"] and engine.devices() == [] and engine.counts["evicted"] == 1
    assert kept.reports and {"devices", "messages", "labels", "rejects", "window_to_label_ms"} <= set(kept.reports[-1])
    assert kept.reports[0]["messages"] == 1


def test_a_device_moving_to_another_engine_keeps_its_belief(recording, model):
    """What the replicas do (adapters.amqp): the old engine hands a device over with what its labels carry, the new
    one continues it, whether the state comes before the device's next reading or after."""
    rec = part(recording, n=N * 2)
    first, second = messages("batch", "mover", Recording(rec.t[:N], rec.raw[:N], rec.labels[:N], "a"), 32), \
        messages("batch", "mover", Recording(rec.t[N:], rec.raw[N:], rec.labels[N:], "b"), 32)
    for state_first in (True, False):
        old, new = Engine(Settings().validate(), model, Kept()), Engine(Settings().validate(), model, Kept())
        run(old, first)
        carried = {}
        assert old.hand_over(["mover"], carry=carried.__setitem__) >= 0
        assert old.devices() == [] and set(carried) == {"mover"}
        new.start()
        try:
            if state_first:
                assert new.restore("mover", carried["mover"])
            for topic, payload in second[:1]:
                new.receive(topic, payload)
            if not state_first:
                assert new.restore("mover", carried["mover"])
        finally:
            new.stop()
        assert new.counts["devices_carried_over"] == 1
        assert new.recognizer.carried("mover")["placement"] == pytest.approx(carried["mover"]["placement"])


def test_a_slow_model_is_classified_on_the_worker_thread_and_a_fast_one_inline(recording, model):
    """The engine decides where a window is classified: while the model is fast, a backlog on the thread that
    brought it (no hand-over); a slow model only on the worker, so that the transport keeps reading."""
    class Slow:
        def __init__(self, inner):
            self.inner, self.info, self.name, self.backend = inner, inner.info, inner.name, inner.backend

        def predict(self, x):
            time.sleep(0.005 * len(x))
            return self.inner.predict(x)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    stream = [m for d in range(40) for m in messages("batch", f"d{d}", part(recording), 64)]
    fast, slow = Kept(), Kept()
    run(Engine(Settings().validate(), model, fast), stream)
    run(Engine(Settings().validate(), Slow(model), slow), stream)
    assert threading.main_thread().name in fast.threads  # inline, as a backlog formed
    assert slow.threads == {"harstream-classify"}
    assert len(fast.labels) == len(slow.labels) == 40 * 6


def test_drop_all_leaves_nothing_to_label(recording, model):
    kept = Kept()
    engine = Engine(Settings().validate(), model, kept)  # not started: windows wait in the queue
    for topic, payload in messages("batch", "gone", part(recording), 64):
        engine.receive(topic, payload)
    samples, windows = engine.drop_all(["gone"])
    engine.start()
    engine.stop()
    assert windows >= 1 and engine.queued() == 0 and kept.labels == [] and engine.devices() == []
    assert np.isfinite(samples)
