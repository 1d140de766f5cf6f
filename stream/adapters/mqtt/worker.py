"""The inference worker: windows wait in a bounded, fair queue; one thread classifies whatever waits
as one batch and hands the labels on."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque

from ...core import Label, Recognizer, Window, WindowQueue

log = logging.getLogger("harstream")


class Worker:
    """``put`` windows from any thread; ``run`` (on its own thread) classifies them in batches of up to
    ``max_batch`` and calls ``deliver(label, queued_at)`` for each, until ``stop`` is set and the queue is empty."""

    def __init__(self, recognizer: Recognizer, counts: Counter, deliver, max_queue: int, max_queue_per_device: int,
                 max_batch: int, stop: threading.Event):
        self.recognizer, self.counts, self.deliver, self.max_batch, self.stop = recognizer, counts, deliver, max_batch, stop
        self.queue = WindowQueue(max_queue, max_queue_per_device)
        self.cond = threading.Condition()
        self.inference_ms = deque(maxlen=2000)
        self.latency_ms = deque(maxlen=2000)

    def put(self, device: str, windows: list[Window]) -> None:
        now = time.perf_counter()
        with self.cond:
            for w in windows:
                self.queue.put(device, (now, w))
            self.counts["windows"] += len(windows)
            self.cond.notify()

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
            while not len(self.queue) and not self.stop.is_set():
                self.cond.wait(0.5)
            if not len(self.queue) and self.stop.is_set():
                return False
            batch = self.queue.take(self.max_batch)
        if not batch:
            return True
        t0 = time.perf_counter()
        try:
            labels: list[Label] = self.recognizer.classify([w for _, w in batch])
        except Exception:
            self.counts["inference_errors"] += len(batch)
            log.exception("inference failed for %d windows", len(batch))
            return True
        self.inference_ms.append((time.perf_counter() - t0) * 1000 / len(batch))
        for (queued, _), label in zip(batch, labels):
            self.deliver(label)
            self.latency_ms.append((time.perf_counter() - queued) * 1000)
        self.counts["labels"] += len(labels)
        return True
