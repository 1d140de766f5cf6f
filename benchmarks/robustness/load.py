"""Load: thousands of devices against a slow model (bounded queue, eviction, memory), and memory per device."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording, encode
from harstream.core.recording import read_csv

from benchmarks import hostile
from benchmarks.clients import Collector, Paced, close, publisher

from .harness import (
    ROOT,
    SlowModel,
    load_model,
    wait_until,
)


def _overload_child(url: str, delay: float, overrides: dict) -> None:  # the daemon, in a process of its own
    from harstream.adapters.mqtt import serve

    logging.basicConfig(level=logging.WARNING)
    serve(Settings(broker=url, client_id="harstream-overload", **overrides).validate(), SlowModel(load_model(), delay))


def overload(devices: int = 10_000, rounds: int = 12, delay: float = 0.002, max_queue: int = 10_000, idle_timeout: float = 20.0) -> dict:
    """``devices`` devices at once, each sending 128 then 64 samples a message (a window each), to a
    daemon whose model takes ``delay`` s a window: far more windows than it can classify.

    Must hold: the window queue never exceeds ``max_queue``; the oldest windows are dropped and
    counted; memory stays flat from round to round; silent devices are evicted after ``idle_timeout``.
    """
    rec = read_csv(bundled_recording())
    t0 = hostile.T0 + 3e8
    payloads = [encode("batch", "d", t0 + rec.t[lo:hi], rec.raw[lo:hi])
                for lo, hi in [(0, 128)] + [(128 + 64 * k, 192 + 64 * k) for k in range(rounds - 1)]]
    overrides = {"max_queue": max_queue, "idle_timeout": idle_timeout, "stats_interval": 0.5, "max_devices": devices + 10}
    with Mosquitto() as broker:
        stats_in = Collector(broker.port, ["har/stats", "har/status"], "overload-collector")
        code = f"from benchmarks.robustness.load import _overload_child; _overload_child({broker.url!r}, {delay!r}, {overrides!r})"
        child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if not stats_in.take(1, 60, lambda t: t == "har/status"):
            raise RuntimeError("the daemon did not come online")
        timeline: list[dict] = []

        def latest(timeout: float = 2.0) -> dict:
            got = stats_in.take(1, timeout, lambda t: t == "har/stats")
            if got:
                timeline.append({"t": time.monotonic(), **json.loads(got[0][1])})
            return timeline[-1] if timeline else {}

        baseline = latest(5)["memory_mb"]
        pub = publisher(broker.port, "robustness-publisher")
        send = Paced(pub)
        after_round = []
        started = time.monotonic()
        for k, payload in enumerate(payloads):
            for d in range(devices):
                send(f"har/dev{d}/imu", payload)
            send.flush()
            wait_until(lambda: latest(1).get("messages", 0) >= devices * (k + 1), 120, every=0)
            after_round.append(timeline[-1])
        load_s = time.monotonic() - started
        drained = wait_until(lambda: latest(1).get("queue", 1) == 0, 120, every=0)
        time.sleep(1)  # the last batch's labels
        evicted = wait_until(lambda: latest(1).get("devices", 1) == 0, idle_timeout + 30, every=0)
        final = latest()
        child.terminate()
        child.wait(30)
        close(pub)
        stats_in.close()
    loaded = [s for s in timeline if s["devices"] == devices]
    return {
        "devices": devices, "rounds": rounds, "model_delay_ms": delay * 1000, "max_queue": max_queue, "load_s": round(load_s, 1),
        "windows": final["windows"], "labels": final["labels"], "dropped_windows": final["dropped_windows"],
        "accounted": drained and final["windows"] == final["labels"] + final["dropped_windows"],
        "queue_max": max(s["queue"] for s in timeline), "memory_baseline_mb": baseline,
        "memory_after_round_mb": [r["memory_mb"] for r in after_round], "queue_after_round": [r["queue"] for r in after_round],
        "memory_max_loaded_mb": max((s["memory_mb"] for s in loaded), default=None),
        "evicted_all": evicted, "evicted": final["evicted"], "memory_after_eviction_mb": final["memory_mb"],
        "rejects": final["rejects"],
    }


def memory_per_device(devices: int = 2000) -> dict:
    """Bytes of state per device in the daemon (streams, filters, bookkeeping), windows in the queue apart."""
    import gc
    import tracemalloc

    from harstream.core import WindowQueue

    rec = read_csv(bundled_recording())
    daemon = Daemon(Settings(max_queue=1, max_queue_per_device=1).validate(), load_model())
    payloads = [encode("batch", "d", hostile.T0 + rec.t[lo:hi], rec.raw[lo:hi]) for lo, hi in [(0, 100), (100, 200)]]
    daemon.engine.handle("har/warmup/imu", payloads[0])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for d in range(devices):
        for payload in payloads:
            daemon.engine.handle(f"har/device-{d:05d}/imu", payload)
    daemon.engine.worker.queue = WindowQueue(1, 1)  # count the devices, not the windows waiting
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    # windows waiting for the model, as the queue holds them
    queue = WindowQueue(1000, 1000)
    gc.collect()
    empty = tracemalloc.get_traced_memory()[0]
    for w in daemon.engine.recognizer.push("one", hostile.T0 + rec.t, rec.raw):  # one more device: its state is subtracted
        queue.put(w.device, (0.0, w))
    gc.collect()
    queued = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_device = (after - before) / devices
    return {"devices": devices, "bytes_per_device": round(per_device),
            "bytes_per_queued_window": round((queued - empty - per_device) / len(queue))}


