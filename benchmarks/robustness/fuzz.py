"""Hostile messages mixed into a clean replay: the daemon stays up, counts every reject, and the clean device's labels do not change."""
from __future__ import annotations

import json
import time
from collections import Counter

from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording
from harstream.core import Recognizer
from harstream.core.model import Model
from harstream.core.recording import Recording, read_csv

from benchmarks import hostile
from benchmarks.clients import Collector, Paced, close, publisher

from .harness import (
    captured_log,
    chunks,
    load_model,
    same_labels,
    wait_until,
)


def fuzz(noise: int = 100_000, seed: int = 0, model: Model | None = None, recording: Recording | None = None) -> dict:
    """A clean device's replay with ``noise`` hostile messages mixed in, through Mosquitto and the daemon.

    Passes when the daemon stays up, counts every reject under the reason its case must
    earn (in ``har/stats``), logs at a rate-limited pace, and the clean device's labels are
    exactly those of the recording on its own.
    """
    model = model or load_model()
    rec = recording or read_csv(bundled_recording())
    clean = chunks(rec, hostile.T0 + 5e7)
    bad = hostile.messages(noise, seed)
    expected_rejects = Counter(m.expect for m in bad if m.expect)
    offline = Recognizer(model).feed("clean", hostile.T0 + 5e7 + rec.t, rec.raw)
    with Mosquitto() as broker, captured_log() as logged:
        settings = Settings(broker=broker.url, client_id="harstream-fuzz", stats_interval=1.0).validate()
        daemon = Daemon(settings, model)
        daemon.start()
        out = Collector(broker.port, ["har/clean/activity", "har/stats"], "fuzz-collector")
        pub = publisher(broker.port, "robustness-publisher")
        started = time.perf_counter()
        every = max(len(bad) // len(clean), 1)
        send, sent = Paced(pub), 0
        for k, payload in enumerate(clean):
            send("har/clean/imu", payload)
            noise = bad[k * every:(k + 1) * every if k < len(clean) - 1 else len(bad)]  # the last takes the rest
            for m in noise:
                send(m.topic, m.payload)
            sent += 1 + len(noise)
        send.flush()
        total = len(clean) + len(bad)
        handled = wait_until(lambda: daemon.counts["messages"] >= total, timeout=120 + total / 500)
        seconds = time.perf_counter() - started
        labels = out.labels(len(offline), timeout=30)
        stats = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the first stats published after everything was handled
            for _, payload, _ in out.take(1, 1.5, lambda t: t == "har/stats"):
                s = json.loads(payload)
                if s["messages"] >= total:
                    stats = s
            if stats:
                break
        alive = daemon.engine.running() and daemon.client.is_connected()
        daemon.stop()
        out.close()
        close(pub)
    counted = Counter(stats["rejects"]) if stats else Counter()
    per_case = Counter(m.case for m in bad)
    return {
        "sent": sent, "noise": len(bad), "clean_messages": len(clean), "handled_all": handled, "seconds": round(seconds, 1),
        "alive": alive, "stats_seen": stats is not None,
        "rejects_expected": dict(expected_rejects), "rejects_counted": dict(counted),
        "rejects_match": counted == expected_rejects,
        "accepted_noise": sum(1 for m in bad if m.expect is None),
        "resets": stats["resets"] if stats else {},
        "clean_labels": len(labels), "clean_labels_expected": len(offline), "clean_labels_identical": same_labels(labels, offline),
        "log_lines": len(logged.records),
        "cases": [{"case": c.name, "what": c.what, "sent": per_case[c.name],
                   "expect": c.expect or "accepted (noisy device)"} for c in hostile.CASES],
    }


# -- faults --------------------------------------------------------------------------------------
