"""Classifying windows: on the network thread while the model is fast and nothing waits, otherwise on
a worker thread that takes what waits in a bounded, fair queue as one batch."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque

import numpy as np

from ..core import Label, Recognizer, Window, WindowQueue

log = logging.getLogger("harstream")

#: Above this many milliseconds a window, the model runs on the worker thread only, so that the
#: network thread keeps reading (and the window queue bounds what waits, dropping the oldest).
INLINE_BELOW_MS = 2.0


class Worker:
    """``put`` windows from the network thread; they come out as ``deliver(label)``, in order per device.

    Windows wait in a bounded, fair queue.  When nothing else happens, ``run`` (on its own thread)
    takes them after ``gather_s`` and classifies them as one batch.  Under load that hand-over is
    what costs: every pass of Python's interpreter lock between two busy threads waits up to its
    switch interval (5 ms), and a model as fast as ours (~0.1 ms a window) costs less than that.
    So while the model is fast, a backlog (``inline_batch`` windows, or windows older than
    ``gather_s``) is classified by ``put`` itself, on the network thread, as one batch.  A slow
    model runs on the worker thread only, so that the network thread keeps reading and the queue's
    bounds decide what is dropped.  ``run`` ends when ``stop`` is set and the queue is empty.
    """

    def __init__(self, recognizer: Recognizer, counts: Counter, deliver, max_queue: int, max_queue_per_device: int,
                 max_batch: int, stop: threading.Event, gather_s: float = 0.003, inline: bool = True, inline_batch: int = 32,
                 flush=None):
        self.recognizer, self.counts, self.deliver, self.max_batch, self.stop = recognizer, counts, deliver, max_batch, stop
        self.gather_s, self.inline, self.inline_batch = gather_s, inline, inline_batch
        self._since = 0.0
        self.flush = flush  # the intake's flush_due(enqueue): windows completed but not yet cut, when the network goes quiet
        self._due = False
        self.queue = WindowQueue(max_queue, max_queue_per_device)
        self.cond = threading.Condition()
        self.busy = False  # a batch is being classified: later windows must queue behind it, to stay in order
        self.inference_ms = deque(maxlen=2000)
        self.latency_ms = deque(maxlen=2000)
        self._recent_ms = deque(maxlen=50)  # per-window inference time of the last batches: is the model fast?
        self._fast = False  # until a window has been timed
        self.observers: list = []  # called with (window-to-label seconds, model seconds per window) for each label

    def note_inference_ms(self, per_window: float) -> None:
        """Time the model took a window; the median of the last few decides whether it runs inline."""
        self._recent_ms.append(per_window)
        self._fast = float(np.median(self._recent_ms)) < INLINE_BELOW_MS

    def note_due(self) -> None:
        """The intake holds due samples: cut and classify them in gather_s, unless the network thread does first."""
        with self.cond:
            self._due = True
            self.cond.notify()

    def put(self, windows: list[Window]) -> None:
        """Windows, of one device or several, to be classified."""
        now = time.perf_counter()
        with self.cond:
            if not len(self.queue):
                self._since = min((w.completed or now for w in windows), default=now)  # the oldest window waiting
                self.cond.notify()  # the worker takes them in gather_s, if nothing else does first
            self._queue(windows, now)
            # A backlog of windows (a burst, a flood) is classified here, as one batch, rather than
            # handed over: see the class.
            if not (self.inline and self._fast and not self.busy
                    and (len(self.queue) >= self.inline_batch or now - self._since >= self.gather_s)):
                return
            batch = self.queue.take(self.max_batch)
            self._since = now
            self.busy = True
        try:
            self.classify(batch)
        finally:
            with self.cond:
                self.busy = False
                if len(self.queue):
                    self.cond.notify()

    def enqueue(self, windows: list[Window]) -> None:
        """Windows into the queue, for the worker thread only (``put`` may classify them at once)."""
        with self.cond:
            self._queue(windows, time.perf_counter())

    def _queue(self, windows: list[Window], now: float) -> None:
        """Into the queue, each under its device, stamped with when it was completed (under ``cond``)."""
        self.counts["windows"] += len(windows)
        for w in windows:
            self.queue.put(w.device, (w.completed or now, w))

    def drop_all(self) -> int:
        """Drop every window waiting, and wait for a batch in hand to be delivered: none of them may be
        labelled from now on (their readings go to another replica).  Returns the windows
        dropped from the queue."""
        with self.cond:
            dropped = len(self.queue.take(len(self.queue) + 1))
            while self.busy:
                self.cond.wait(0.01)
        return dropped

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def run(self) -> None:
        while True:
            try:
                if not self.run_once():
                    return
            except Exception:  # a bug must cost one batch, not every label from now on
                self.counts["worker_errors"] += 1
                log.exception("the classification worker failed on a batch; going on")

    def run_once(self) -> bool:
        """Classify and deliver one batch; False when stopping and nothing is left."""
        with self.cond:
            while (self.busy or not (len(self.queue) or self._due)) and not self.stop.is_set():
                self.cond.wait(0.5)
            if not len(self.queue) and not self._due and self.stop.is_set():
                return False
        # Let the windows of the next few milliseconds join this batch: one wake-up per window
        # would hand the interpreter lock back and forth (see the class).
        if self.gather_s and len(self.queue) < self.max_batch and not self.stop.is_set():
            time.sleep(self.gather_s)
        if self._due and self.flush is not None:
            self._due = False
            self.flush(self.enqueue)
        with self.cond:
            if self.busy:  # the network thread classifies a batch of its own: wait for it, for the order
                return True
            batch = self.queue.take(self.max_batch)
            self.busy = bool(batch)
        try:
            self.classify(batch)
        finally:
            with self.cond:
                self.busy = False
        return True

    def classify(self, batch: list[tuple[float, Window]]) -> None:
        """Classify ``(queued_at, window)`` pairs and deliver their labels; a failure costs this batch."""
        if not batch:
            return
        t0 = time.perf_counter()
        try:
            labels: list[Label] = self.recognizer.classify([w for _, w in batch])
        except Exception:
            self.counts["inference_errors"] += len(batch)
            log.exception("inference failed for %d windows", len(batch))
            return
        per_window = (time.perf_counter() - t0) * 1000 / len(batch)
        self.inference_ms.append(per_window)
        self.note_inference_ms(per_window)
        for (queued, _), label in zip(batch, labels):
            self.deliver(label)
            waited = time.perf_counter() - queued
            self.latency_ms.append(waited * 1000)
            for observe in self.observers:
                observe(waited, per_window / 1000)
        self.counts["labels"] += len(labels)
