"""The engine: readings in, labels and device events out, for any transport.

A transport (the MQTT daemon, an AMQP replica, a test) hands the engine each message with its topic,
``<prefix>/<device>/imu`` or Sensor Logger's, and gets back, through the :class:`Events` it gives:
every label, each device taken on and each device forgotten, and its figures every ``stats_interval``.
Inside: the ``Intake`` (every device's state), the ``Worker`` (classify inline or queue), eviction of
silent devices, and the carried state of devices that moved between replicas.  No broker anywhere:

>>> from harstream.core import Model
>>> from harstream.core.catalog import resolve_model
>>> from harstream.adapters.config import Settings
>>> class Kept(Events):
...     def __init__(self):
...         self.labels = []
...     def label(self, label):
...         self.labels.append((label.device, label.activity))
>>> kept = Kept()
>>> engine = Engine(Settings(), Model(resolve_model("hcnn")), kept)
>>> engine.start()
>>> for i in range(128):  # a phone lying still on its back: gravity along its z axis
...     _ = engine.receive("har/anna/imu", b'{"t": %.2f, "acc": [0, 0, 1], "gyro": [0, 0, 0]}' % (i / 50))
>>> engine.receive("har/bob/imu", b'{"t": "soon"}') is None  # rejected, and counted
True
>>> engine.stop()  # labels the windows in hand
>>> kept.labels, engine.devices(), dict(engine.rejects)
([('anna', 'LAYING')], ['anna'], {'missing_field': 1})
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

import numpy as np

from ..core import Label, Recognizer
from .intake import Intake
from .worker import Worker

log = logging.getLogger("harstream")


class Events:
    """What a transport does with what the engine makes.  Each method does nothing unless overridden.

    ``label`` is called on the thread that classified the window (the transport's, or the engine's
    worker), in order per device; ``device_added`` on the transport's thread, under the engine's lock
    (keep it short); ``device_gone`` and ``report`` on the engine's housekeeping thread."""

    def label(self, label: Label) -> None:
        """A window's label."""

    def device_added(self, device: str) -> None:
        """A device heard for the first time (or again after it was forgotten)."""

    def device_gone(self, device: str) -> None:
        """A device silent for ``idle_timeout``: its state is freed."""

    def report(self, stats: dict) -> None:
        """The engine's figures, every ``stats_interval`` seconds (see ``Engine.stats``)."""


class Engine:
    """Every device's windows and labels.  ``receive`` a message from any thread that a transport reads on;
    ``start`` the worker and housekeeping threads; ``stop`` finishes the windows in hand."""

    #: Seconds between the INFO lines that show a running engine's totals.
    TOTALS_EVERY_S = 300.0
    #: A carried state (``restore``) whose device has not arrived by then is forgotten: it went quiet.
    CARRIED_FOR_S = 60.0

    def __init__(self, settings, model, events: Events | None = None):
        self.settings, self.model = settings, model
        self.events = events or Events()
        self.counts = Counter()  # messages, samples, windows, labels, dropped_labels, evicted, devices_seen, ...
        self.started = time.time()
        self.stopping = threading.Event()
        self.recognizer = Recognizer(model, smoothing=settings.smoothing, placement_for=settings.placement_for,
                                     stay=settings.time_filter)
        self.worker = Worker(self.recognizer, self.counts, self._deliver, settings.max_queue, settings.max_queue_per_device,
                             settings.max_batch, self.stopping)
        self.intake = Intake(settings, self.recognizer, self.counts, on_new_device=self._added,
                             on_evicted=self.events.device_gone, on_due=self.worker.note_due)
        self.worker.flush = self.intake.flush_due  # windows completed but not cut, when the transport goes quiet
        self._waiting_carried: dict[str, tuple[dict, float]] = {}  # device -> (state from its last replica, when)
        self._labelled = False
        self._threads: list[threading.Thread] = []

    # -- readings in ------------------------------------------------------------------------------
    def receive(self, topic: str, payload: bytes) -> str | None:
        """One message: its device, or None when it was rejected (counted in ``rejects``, logged at most
        every few seconds per reason).  A bad message changes no device's state."""
        received = self.intake.on_message(topic, payload)
        if received is None:
            return None
        device, windows = received
        if windows:
            self.worker.put(windows)
        return device

    def handle(self, topic: str, payload: bytes) -> str:
        """``receive``, but a bad message raises ``Reject`` (uncounted): for callers that report it themselves."""
        device, windows = self.intake.handle(topic, payload)
        if windows:
            self.worker.put(windows)
        return device

    # -- what it holds ----------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return self.recognizer.labels

    @property
    def rejects(self) -> Counter:
        return self.intake.rejects

    def devices(self) -> list[str]:
        with self.intake.lock:
            return list(self.intake.last_seen)

    def resets(self) -> Counter:
        return self.intake.resets()

    def queued(self) -> int:
        return len(self.worker.queue)

    def dropped_windows(self) -> int:
        return self.worker.queue.dropped

    def observe(self, observer) -> None:
        """Call ``observer(window-to-label seconds, model seconds per window)`` for every label (metrics)."""
        self.worker.observers.append(observer)

    def stats(self) -> dict:
        def pct(values, q):
            return round(float(np.percentile(values, q)), 3) if values else None

        inference, latency = list(self.worker.inference_ms), list(self.worker.latency_ms)
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "devices": len(self.recognizer.devices),
            **{k: self.counts[k] for k in ("messages", "samples", "windows", "labels", "dropped_labels", "evicted", "disconnects",
                                           "sessions_lost")},
            "dropped_windows": self.worker.queue.dropped,
            "rejects": dict(self.intake.rejects),
            "resets": dict(self.intake.resets()),
            "queue": len(self.worker.queue),
            "memory_mb": resident_mb(),
            "inference_ms_per_window": {"p50": pct(inference, 50), "p99": pct(inference, 99)},
            "window_to_label_ms": {"p50": pct(latency, 50), "p99": pct(latency, 99)},
            "model": self.model.name,
            "pid": os.getpid(),
            "runtime": self.model.backend,
        }

    # -- devices moving between replicas ----------------------------------------------------------
    def hand_over(self, devices, carry=None) -> int:
        """Devices now served elsewhere: their completed windows are still labelled here, what their labels
        carry goes to ``carry(device, state)`` (under the lock), the rest is freed.  Returns the samples of
        windows in progress, dropped."""
        return self.intake.hand_over(devices, self.worker.enqueue, carry=carry)

    def drop_all(self, devices) -> tuple[int, int]:
        """Every window and sample of ``devices`` dropped, and every window waiting for the model, unlabelled
        (the connection that brought them is gone; another replica will label them).  Returns (samples,
        windows) dropped."""
        cut: list = []  # windows complete but not yet cut: dropped with the rest
        samples = self.intake.hand_over(devices, cut.extend)
        return samples, len(cut) + self.worker.drop_all()

    def restore(self, device: str, state: dict) -> bool:
        """Continue a device's placement belief, time filter and how it is worn from ``state`` (``Recognizer.carried``
        of the replica it left): now if it is held, else when it arrives (within ``CARRIED_FOR_S``).  False when
        ``state`` is not such a state."""
        now = time.monotonic()
        with self.intake.lock:
            for old in [d for d, (_, at) in self._waiting_carried.items() if now - at > self.CARRIED_FOR_S]:
                del self._waiting_carried[old]
            if device not in self.recognizer.devices:
                self._waiting_carried[device] = (state, now)
                return True
            return self._restore(device, state)

    def _restore(self, device: str, state: dict) -> bool:
        try:
            self.recognizer.restore(device, state)
        except (TypeError, ValueError, AttributeError, KeyError):  # not what a replica sends: ignored
            return False
        self.counts["devices_carried_over"] += 1
        return True

    # -- inside ---------------------------------------------------------------------------------------
    def _added(self, device: str) -> None:
        """(under the intake's lock) A device taken on: counted, named in the log while few, its carried state
        restored, and the transport told."""
        self.counts["devices_seen"] += 1
        if self.counts["devices_seen"] <= 20 or self.counts["devices_seen"] % 1000 == 0:
            log.info("new device %r (%d so far)", device, self.counts["devices_seen"])
        carried = self._waiting_carried.pop(device, None)
        if carried is not None:
            self._restore(device, carried[0])
        self.events.device_added(device)

    def _deliver(self, label: Label) -> None:
        self.events.label(label)
        if not self._labelled:  # the first of this run: it works, say so
            self._labelled = True
            log.info("first label: %s is %s (%.2f)", label.device, label.activity, label.confidence)

    def _housekeeping(self) -> None:
        said = time.monotonic()
        while not self.stopping.wait(self.settings.stats_interval):
            self.intake.evict_idle()
            self.events.report(self.stats())
            if time.monotonic() - said >= self.TOTALS_EVERY_S:
                said = time.monotonic()
                c = self.counts
                log.info("%d devices held; since start %d messages, %d samples, %d labels, %d rejected, %d windows dropped",
                         len(self.intake.last_seen), c["messages"], c["samples"], c["labels"], sum(self.intake.rejects.values()),
                         self.worker.queue.dropped)

    def evict_idle(self) -> None:
        """Forget the devices silent for ``idle_timeout`` now (housekeeping does it every ``stats_interval``)."""
        self.intake.evict_idle()

    # -- life cycle -------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Classify one largest batch now, so that the interpreter sizes its memory at start, not mid-stream;
        then time one window (a fast model runs on the transport's thread: see ``Worker``)."""
        info = self.model.info
        n = self.settings.max_batch if getattr(self.model, "dynamic_batch", False) else 1
        self.model.predict(np.zeros((n, info.window, len(info.channels)), dtype=np.float32))
        window = np.zeros((1, info.window, len(info.channels)), dtype=np.float32)
        self.model.predict(window)
        t0 = time.perf_counter()
        self.model.predict(window)
        self.worker.note_inference_ms((time.perf_counter() - t0) * 1000)

    def start(self) -> None:
        """Warm the model up and start the worker and housekeeping threads."""
        self.warm_up()
        self._threads = [threading.Thread(target=self.worker.run, name="harstream-classify", daemon=True),
                         threading.Thread(target=self._housekeeping, name="harstream-stats", daemon=True)]
        for t in self._threads:
            t.start()

    def running(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        """Label the windows in hand, then stop the threads."""
        self.stopping.set()
        self.worker.wake()
        for t in self._threads:
            t.join(timeout=30)


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
