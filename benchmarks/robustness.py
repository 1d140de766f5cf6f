"""The daemon under hostile input, faults and hostile clients, through real Mosquitto brokers.

    python -m benchmarks.robustness [--noise 100000] [--devices 10000] [--out docs/robustness.md]

Each scenario returns a dict of what it tried and what happened; ``main`` runs them all and
writes the tables of ``docs/robustness.md``.  The tests run the same scenarios, smaller
(``tests/test_robustness.py``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks import hostile
from benchmarks.clients import Collector, Paced, close, publisher
from harstream.adapters.brokers import Mosquitto, free_port
from harstream.cli import default_model
from harstream.adapters.config import Settings
from harstream.core import Recognizer
from harstream.adapters.mqtt import Daemon
from harstream.core.model import Model
from harstream.core.recording import Recording, read_csv
from harstream.adapters.replay import bundled_recording, encode

ROOT = Path(__file__).resolve().parent.parent


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
        alive = all(t.is_alive() for t in daemon._threads) and daemon.client.is_connected()
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
class SlowModel:
    """A real model that takes ``delay`` seconds more per window: a Pi running something big."""

    def __init__(self, model: Model, delay: float):
        self.model, self.delay = model, delay
        self.gate, self.held = threading.Event(), threading.Event()  # to hold the worker still at a chosen moment
        self.gate.set()
        self.info, self.name, self.backend, self.path = model.info, model.name, model.backend, model.path
        self.dynamic_batch = model.dynamic_batch

    def predict(self, X):
        if not self.gate.is_set():
            self.held.set()
            self.gate.wait()
            self.held.clear()
        if X.any():  # not the start-up warm-up
            time.sleep(self.delay * len(X))
        return self.model.predict(X)


def part(rec: Recording, lo: int, n: int) -> Recording:
    return Recording(rec.t[lo:lo + n], rec.raw[lo:lo + n], rec.labels[lo:lo + n], rec.name)


def broker_restart(model: Model | None = None, samples: int = 6000, down: float = 3.0, max_pending_labels: int = 10_000,
                   delay: float = 0.1) -> dict:
    """Mosquitto (persistent) is SIGKILLed mid-stream and started again on the same port.

    The daemon (persistent session, a model slowed to ``delay`` s a window, so that labels are
    still being made when the broker dies) must reconnect within 5 s of the broker's return,
    process the QoS 1 readings the broker kept for it, and deliver the labels it made while
    disconnected, up to ``max_pending_labels``; the rest are dropped and counted.
    """
    model = model or load_model()
    rec = read_csv(bundled_recording())
    t0 = hostile.T0 + 1e8
    first, second = part(rec, 0, samples // 2), part(rec, samples // 2, samples - samples // 2)
    offline = Recognizer(model).feed("dev", t0 + rec.t[:samples], rec.raw[:samples])
    broker = Mosquitto(persist=True).start()
    try:
        settings = Settings(broker=broker.url, client_id="harstream-restart", persistent=True, max_batch=1,
                            max_pending_labels=max_pending_labels, stats_interval=60).validate()
        slow = SlowModel(model, delay)
        daemon = Daemon(settings, slow)
        daemon.start()
        out = Collector(broker.port, ["har/dev/activity"], "restart-collector", persistent=True)
        pub = publisher(broker.port, "robustness-publisher")
        for payload in chunks(first, t0):
            pub.publish("har/dev/imu", payload, qos=1)
        wait_until(lambda: daemon.counts["samples"] >= len(first), 30)
        # Hold the worker between two batches, so that no label is on its way when the broker dies
        # (a broker killed with a message half-forwarded loses it: that is the broker's loss, not
        # what this measures), and let the broker save our sessions to disk.
        slow.gate.clear()
        wait_until(slow.held.is_set, 30)
        saves = broker.log().count("Saving in-memory database")
        wait_until(lambda: broker.log().count("Saving in-memory database") > saves, 5)
        labels_before = daemon.counts["labels"]
        broker.kill()
        killed = time.monotonic()
        wait_until(lambda: not daemon.connected.is_set(), 5)
        slow.gate.set()  # labels made from here on are made while disconnected
        time.sleep(down)
        broker.start()
        back = time.monotonic()
        for payload in chunks(second, t0):  # the device goes on at once; the daemon is not back yet
            pub.publish("har/dev/imu", payload, qos=1)
        reconnected = wait_until(daemon.connected.is_set, 15, every=0.01)
        reconnect_s = time.monotonic() - back
        made_while_down = daemon.counts["labels"] - labels_before  # until the daemon was back
        waiting = samples - daemon.counts["samples"]  # readings the broker kept for the daemon, not yet handed over
        # made while disconnected and not dropped, or made afterwards: all must come
        wait_until(lambda: daemon.counts["labels"] >= len(offline), 30 + len(offline) * delay)
        dropped = daemon.counts["dropped_labels"]
        labels, duplicates = out.unique_labels(len(offline) - dropped, timeout=30)
        stats = daemon.stats()
        daemon.stop()
        out.close()
        close(pub)
    finally:
        broker.stop()
    received = {d["seq"] for d in labels}
    expected = {lab.seq: lab for lab in offline}
    return {
        "samples": samples, "broker_down_s": round(back - killed, 1), "reconnected": reconnected, "reconnect_s": round(reconnect_s, 2),
        "readings_waiting_at_reconnect": waiting, "readings_processed": stats["samples"], "duplicates": duplicates,
        "labels_made_while_down": made_while_down, "max_pending_labels": max_pending_labels, "dropped_labels": dropped,
        "labels_expected": len(offline), "labels_received": len(labels), "disconnects": stats["disconnects"],
        "received_identical": all(same_labels([d], [expected[d["seq"]]]) for d in labels),
        "missing_equals_dropped": len(offline) - len(received) == dropped,
    }


def daemon_sigkill(samples: int = 3000) -> dict:
    """``harstream serve`` (persistent session) is SIGKILLed and started again while a device streams.

    What must hold: the broker says ``offline`` (last will) at once; readings sent while the
    daemon is dead are kept by the broker and processed after the restart; the restarted
    daemon's labels for them equal those of a fresh start on those readings.  What is lost:
    the window in progress (up to 127 samples of context and the filters' state), so the
    device's labels start over (seq 0) 128 samples after the restart's first reading.
    """
    model = load_model()
    rec = read_csv(bundled_recording())
    t0 = hostile.T0 + 2e8
    first, second = part(rec, 0, samples // 2), part(rec, samples // 2, samples - samples // 2)
    expect_first = Recognizer(model).feed("dev", t0 + first.t, first.raw)
    expect_second = Recognizer(model).feed("dev", t0 + second.t, second.raw)
    with Mosquitto() as broker:
        command = [sys.executable, "-m", "harstream.cli", "serve", "--broker", broker.url, "--client-id", "harstream-sigkill",
                   "--persistent", "--stats-interval", "1"]
        out = Collector(broker.port, ["har/dev/activity", "har/status"], "sigkill-collector")
        status = lambda: [p for _, p, _ in out.take(1, 15, lambda t: t == "har/status")]
        proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        first_online = status() == [b"online"]
        pub = publisher(broker.port, "robustness-publisher")
        for payload in chunks(first, t0):
            pub.publish("har/dev/imu", payload, qos=1)
        before = out.labels(len(expect_first), 30)
        proc.kill()
        proc.wait()
        killed = time.monotonic()
        will = status()
        will_s = time.monotonic() - killed
        for payload in chunks(second, t0):
            pub.publish("har/dev/imu", payload, qos=1).wait_for_publish(5)
        restarted = time.monotonic()
        proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        online_again = status() == [b"online"]
        online_s = time.monotonic() - restarted
        after = out.labels(len(expect_second), 60)
        after += out.labels(1, 3)  # one more if readings were delivered twice (below)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        close(pub)
        out.close()
    # QoS 1 is at least once: readings handed to the old process but not yet acknowledged come again.
    # The new process starts afresh at the first reading it gets, which is where its first window starts.
    t = t0 + rec.t[:samples]
    first_seen = int(np.searchsorted(t, after[0]["start"])) if after else len(first)
    expect_second = Recognizer(model).feed("dev", t[first_seen:], rec.raw[first_seen:samples])
    return {
        "samples": samples, "online": first_online, "labels_before_kill": len(before), "before_identical": same_labels(before, expect_first),
        "readings_redelivered": len(first) - first_seen,
        "will_offline": will == [b"offline"], "will_s": round(will_s, 2), "restart_online": online_again, "restart_online_s": round(online_s, 1),
        "readings_while_dead": len(second), "labels_after_restart": len(after), "labels_after_expected": len(expect_second),
        "after_identical": same_labels(after, expect_second),
        "labels_lost": len(Recognizer(model).feed("dev", t0 + rec.t[:samples], rec.raw[:samples])) - len(before) - len(after),
        "sigterm_exit": rc,
    }


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
        code = f"from benchmarks.robustness import _overload_child; _overload_child({broker.url!r}, {delay!r}, {overrides!r})"
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
    daemon.handle("har/warmup/imu", payloads[0])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for d in range(devices):
        for payload in payloads:
            daemon.handle(f"har/device-{d:05d}/imu", payload)
    daemon.worker.queue = WindowQueue(1, 1)  # count the devices, not the windows waiting
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    # windows waiting for the model, as the queue holds them
    queue = WindowQueue(1000, 1000)
    gc.collect()
    empty = tracemalloc.get_traced_memory()[0]
    for w in daemon.recognizer.push("one", hostile.T0 + rec.t, rec.raw):  # one more device: its state is subtracted
        queue.put(w.device, (0.0, w))
    gc.collect()
    queued = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_device = (after - before) / devices
    return {"devices": devices, "bytes_per_device": round(per_device),
            "bytes_per_queued_window": round((queued - empty - per_device) / len(queue))}


def bad_models() -> list[dict]:
    """``harstream serve`` with a model that is missing, corrupt or mismatched: one clear error, a non-zero exit."""
    source = Path(default_model())
    meta = json.loads(source.with_suffix(".json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def model(name: str, tflite: bytes | None, metadata) -> Path:
            path = tmp / f"{name}.tflite"
            if tflite is not None:
                path.write_bytes(tflite)
            if metadata is not None:
                path.with_suffix(".json").write_text(metadata if isinstance(metadata, str) else json.dumps(metadata))
            return path

        body = source.read_bytes()
        cases = [
            ("no such file", model("missing", None, None)),
            ("metadata missing", model("nometa", body, None)),
            ("metadata not JSON", model("badjson", body, "{labels: ")),
            ("not a TFLite file (random bytes)", model("random", os.urandom(len(body)), meta)),
            ("TFLite file cut in half", model("half", body[: len(body) // 2], meta)),
            ("empty file", model("empty", b"", meta)),
            ("another preprocessing version", model("prep", body, {**meta, "preprocessing": "someone-else-1"})),
            ("metadata window 100, model takes 128", model("window", body, {**meta, "window": 100})),
            ("five labels for six outputs", model("labels", body, {**meta, "labels": meta["labels"][:5]})),
            ("acceleration in m/s2, runtime sends g", model("units", body, {**meta, "units": {**meta["units"], "acc": "m/s2"}})),
            ("a channel the runtime does not make", model("channel", body, {**meta, "channels": meta["channels"][:-1] + ["magnetometer_x"]})),
        ]
        rows = []
        for case, path in cases:
            # the broker is never reached: the model is checked before connecting
            proc = subprocess.run([sys.executable, "-m", "harstream.cli", "serve", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--model", str(path)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)
            lines = [line for line in proc.stderr.splitlines() if line.strip() and "XNNPACK delegate" not in line]
            rows.append({"case": case, "exit": proc.returncode, "lines": len(lines),
                         "error": (lines[-1] if lines else "").replace(str(tmp) + "/", "")})
    return rows


# -- security ------------------------------------------------------------------------------------
def security() -> dict:
    """Passwords, TLS and the README's ACL against a real Mosquitto (``benchmarks.secure``).

    Each way in is tried with the daemon itself; a refusal must be one clear error after one
    connection (no retry storm).  Then the ACL: a device cannot publish readings or labels as
    another device, nor read another's labels.  Then ``harstream serve`` at DEBUG: the password
    must appear nowhere in its argv, its output or ``har/stats``.
    """
    import secrets

    from benchmarks.secure import secure_broker
    from harstream.adapters.mqtt import FatalError

    model = load_model()
    users = {name: f"{name}-{secrets.token_hex(12)}" for name in ("harstream", "monitor", "phone-a", "phone-b")}
    rec = read_csv(bundled_recording())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with secure_broker(tmp / "broker", users) as sb:
            pki = sb.pki

            def password_file(text: str) -> str:
                path = tmp / f"pw-{secrets.token_hex(4)}"
                path.write_text(text)
                return str(path)

            good = password_file(users["harstream"])
            attempts = []

            def attempt(case: str, expect: str, url: str, **settings):
                before = sb.connections()
                started = time.monotonic()
                try:
                    d = Daemon(Settings(broker=url, client_id=f"harstream-{len(attempts)}", **settings).validate(), model)
                    d.start(timeout=10)
                    d.stop()
                    outcome = "connected"
                except FatalError as exc:
                    outcome = str(exc).split(": ", 1)[1]
                seconds = time.monotonic() - started
                time.sleep(1.5)  # room for a retry storm to show in the broker's log
                attempts.append({"case": case, "expect": expect, "outcome": outcome, "seconds": round(seconds, 2),
                                 "connections": sb.connections() - before})

            plain, tls = f"mqtt://127.0.0.1:{sb.port}", f"mqtts://localhost:{sb.tls_port}"
            mtls, wrong_name = f"mqtts://localhost:{sb.mtls_port}", f"mqtts://localhost:{sb.wrong_name_port}"
            attempt("right user and password", "connected", plain, username="harstream", password_file=good)
            attempt("wrong password", "refused", plain, username="harstream", password_file=password_file("guess"))
            attempt("no credentials", "refused", plain)
            attempt("TLS, broker verified by our CA", "connected", tls, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS, broker's CA not given (system CAs)", "refused", tls, username="harstream", password_file=good)
            attempt("TLS, an impostor CA", "refused", tls, username="harstream", password_file=good, ca=str(pki.rogue_ca))
            attempt("TLS, certificate for another host", "refused", wrong_name, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS + client certificate", "connected", mtls, username="harstream", password_file=good, ca=str(pki.ca),
                    cert=str(pki.client_cert), key=str(pki.client_key))
            attempt("TLS, client certificate required, none given", "refused", mtls, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS, client certificate from an impostor CA", "refused", mtls, username="harstream", password_file=good,
                    ca=str(pki.ca), cert=str(pki.rogue_client_cert), key=str(pki.rogue_client_key))

            acl = acl_checks(sb, users, good, model, rec)
            leak = credential_leak(sb, users["harstream"], users["monitor"])
            broker_log = sb.broker.log()
    return {"attempts": attempts, "acl": acl, "leak": leak,
            "passwords_in_broker_log": any(p in broker_log for p in users.values())}


def acl_checks(sb, users: dict, daemon_password_file: str, model: Model, rec: Recording) -> dict:
    """phone-a tries to pass for phone-b; phone-b's own readings are the control that the paths work."""
    t0 = hostile.T0 + 4e8
    n = 128 + 64 * 2  # three windows
    settings = Settings(broker=f"mqtt://127.0.0.1:{sb.port}", client_id="harstream-acl", username="harstream",
                        password_file=daemon_password_file, stats_interval=60).validate()
    daemon = Daemon(settings, model)
    daemon.start()
    b_labels = Collector(sb.port, ["har/phone-b/activity"], "acl-phone-b-labels", username="phone-b", password=users["phone-b"])
    a_snoops = Collector(sb.port, ["har/phone-b/activity", "har/+/activity", "har/phone-b/imu"], "acl-phone-a-snoop",
                         username="phone-a", password=users["phone-a"])
    status = Collector(sb.port, ["har/status"], "acl-phone-b-status", username="phone-b", password=users["phone-b"])
    status.take(1, 5)  # the retained "online"
    a = publisher(sb.port, "acl-phone-a", "phone-a", users["phone-a"])
    fake = {"device": "phone-b", "seq": 0, "activity": "LAYING", "confidence": 1.0, "forged_by": "phone-a"}
    attempts = {
        "readings as phone-b": [a.publish("har/phone-b/imu", p, qos=1) for p in chunks(part(rec, 0, n), t0)],
        "labels for phone-b": [a.publish("har/phone-b/activity", json.dumps(fake), qos=1)],
        "the daemon's status": [a.publish("har/status", "offline", qos=1, retain=True)],
        "Home Assistant discovery": [a.publish("homeassistant/sensor/x/activity/config", "{}", qos=1, retain=True)],
    }
    for infos in attempts.values():
        for info in infos:
            info.wait_for_publish(5)
    for p in chunks(part(rec, 0, n), t0):
        a.publish("har/phone-a/imu", p, qos=1)
    b = publisher(sb.port, "acl-phone-b", "phone-b", users["phone-b"])
    for p in chunks(part(rec, 0, n), t0):
        b.publish("har/phone-b/imu", p, qos=1).wait_for_publish(5)
    b_got = b_labels.labels(3, 15)
    wait_until(lambda: daemon.counts["labels"] >= 6, 10)
    time.sleep(0.5)
    forged_seen = [d for d in b_got if d.get("forged_by")]
    snooped = a_snoops.take(100, 1.0)
    status_after = status.take(1, 1.0)
    result = {
        "phone-b got its own labels": len([d for d in b_got if not d.get("forged_by")]),
        "phone-b got labels forged by phone-a": len(forged_seen),
        "phone-a's readings as phone-b reached the daemon": daemon.counts["samples"] - 2 * n,
        "phone-a's own readings reached the daemon": "phone-a" in daemon.recognizer.devices,
        "phone-a read phone-b's labels or readings": len([t for t, _, _ in snooped if "phone-b" in t]),
        "phone-a read its own labels": len([t for t, _, _ in snooped if t == "har/phone-a/activity"]),
        "status changed by phone-a": [p for _, p, _ in status_after],
        "publishes denied in the broker log": sb.broker.log().count("Denied PUBLISH from acl-phone-a"),
    }
    for c in (b_labels, a_snoops, status):
        c.close()
    for c in (a, b):
        close(c)
    daemon.stop()
    return result


def credential_leak(sb, password: str, monitor_password: str) -> dict:
    """``harstream serve`` at DEBUG, its password in HARSTREAM_PASSWORD: is it anywhere it should not be?"""
    env = {**os.environ, "HARSTREAM_PASSWORD": password, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harstream.cli", "serve", "--broker", f"mqtt://127.0.0.1:{sb.port}", "--username", "harstream",
               "--client-id", "harstream-leak", "--log-level", "DEBUG", "--stats-interval", "0.5"]
    stats = Collector(sb.port, ["har/stats"], "leak-stats", username="monitor", password=monitor_password)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    got = stats.take(1, 30)
    argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes() if Path(f"/proc/{proc.pid}/cmdline").exists() else b""
    pub = publisher(sb.port, "leak-device", "harstream", password)
    pub.publish("har/leak/imu", b"{garbage", qos=1).wait_for_publish(5)
    got += stats.take(2, 5)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    wrong = subprocess.run(command, cwd=ROOT, env={**env, "HARSTREAM_PASSWORD": password + "x"}, capture_output=True, text=True, timeout=60)
    close(pub)
    stats.close()
    secret = password.encode()
    return {
        "stats_messages": len(got), "in_stats": any(secret in p for _, p, _ in got), "in_argv": secret in argv,
        "in_output": secret in output, "output_lines": len(output.splitlines()), "sigterm_exit": proc.returncode,
        "wrong_password_exit": wrong.returncode, "wrong_password_error": wrong.stderr.strip().splitlines()[-1:],
        "wrong_password_in_output": (password + "x") in wrong.stderr + wrong.stdout,
    }


# -- report --------------------------------------------------------------------------------------
def _yes(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def report(r: dict, command: str) -> str:
    f, out = r["fuzz"], []
    add = out.append
    add("# Robustness: every fault and bad input tried, and what happened\n")
    add(f"Produced by `{command}` ({r['when']}, {r['machine']}); the tests run the same scenarios, smaller "
        "(`tests/test_robustness.py`). Every broker here is a real Mosquitto started for the purpose.\n")
    add("## Bad input\n")
    add(f"{f['noise']:,} hostile messages mixed into a clean device's replay ({f['clean_messages']} messages of 25 samples, "
        f"the bundled recording), all QoS 1 through Mosquitto, {f['sent']:,} in {f['seconds']} s:\n")
    add(f"* the daemon stayed up and connected: {_yes(f['alive'])}; it handled every message: {_yes(f['handled_all'])}")
    add(f"* every reject counted in `har/stats` under the reason its case must earn: {_yes(f['rejects_match'])} "
        f"({sum(f['rejects_counted'].values()):,} rejects)")
    add(f"* the clean device's labels are exactly those of its recording alone (same windows, activities, probabilities "
        f"within 1e-6): {_yes(f['clean_labels_identical'])} ({f['clean_labels']} of {f['clean_labels_expected']})")
    add(f"* warning lines logged for all of it: {f['log_lines']} (at most one per reason per 10 s, saying how many were held back)")
    add("* misbehaving time on noisy devices reset their streams, counted in `har/stats` `resets`: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(f["resets"].items())) + "\n")
    add("| case | sent | must earn |")
    add("|---|---|---|")
    for c in f["cases"]:
        add(f"| {c['what']} | {c['sent']:,} | {c['expect'] if c['expect'] != 'parse' else 'whatever the parser says (mutations)'} |")
    add("\n| reject reason | expected | counted in `har/stats` |")
    add("|---|---|---|")
    for reason in sorted(set(f["rejects_expected"]) | set(f["rejects_counted"])):
        add(f"| `{reason}` | {f['rejects_expected'].get(reason, 0):,} | {f['rejects_counted'].get(reason, 0):,} |")
    add("\nA control character in a topic never reaches the daemon: Mosquitto disconnects the publisher. "
        "Device ids with one are tested through the Sensor Logger topic, whose ids travel in the payload.\n")
    add("## Model files\n")
    add("`harstream serve --model M` before it connects to anything:\n")
    add("| model | exit | stderr (the whole of it) |")
    add("|---|---|---|")
    for m in r["models"]:
        more = "" if m["lines"] == 1 else f" ({m['lines']} lines)"
        add(f"| {m['case']} | {m['exit']} | `{m['error']}`{more} |")
    add("\n## Faults\n")
    b, bd, k, o, mem = r["broker_restart"], r["broker_restart_bounded"], r["daemon_sigkill"], r["overload"], r["memory"]
    add("| fault | what happened |")
    add("|---|---|")
    add(f"| Mosquitto SIGKILLed mid-stream, back after {b['broker_down_s']} s (persistent sessions, daemon with `persistent = true`) | "
        f"reconnected {b['reconnect_s']} s after the broker's return (limit 5); {b['labels_made_while_down']} labels made while "
        f"disconnected delivered afterwards; readings the device sent before the daemon was back were kept by the broker and "
        f"processed ({b['readings_processed']:,} of {b['samples']:,}); all {b['labels_expected']} labels identical to an "
        f"uninterrupted run: {_yes(b['received_identical'] and b['labels_received'] == b['labels_expected'])} "
        f"({b['duplicates']} delivered twice, as QoS 1 allows) |")
    add(f"| the same, `max_pending_labels = {bd['max_pending_labels']}` | {bd['labels_made_while_down']} labels made while "
        f"disconnected; {bd['dropped_labels']} beyond the bound dropped and counted (`dropped_labels`); the other "
        f"{bd['labels_received']} delivered and identical: {_yes(bd['received_identical'] and bd['missing_equals_dropped'])} |")
    add(f"| `harstream serve` SIGKILLed and started again | `offline` (last will) at once ({k['will_s']} s); online again "
        f"{k['restart_online_s']} s after the restart; the {k['readings_while_dead']:,} readings sent while it was dead were kept "
        f"by the broker and processed: {k['labels_after_restart']} labels, identical to a fresh start on them: "
        f"{_yes(k['after_identical'])}; readings delivered twice: {k['readings_redelivered']}; lost: {k['labels_lost']} label "
        f"(the window across the kill) |")
    add(f"| overload: {o['devices']:,} devices at once, a model slowed to {o['model_delay_ms']:g} ms a window | "
        f"{o['windows']:,} windows in {o['load_s']} s: {o['labels']:,} classified, {o['dropped_windows']:,} dropped (oldest first, "
        f"counted); every window accounted for: {_yes(o['accounted'])}; queue at most {o['queue_max']:,} (`max_queue` "
        f"{o['max_queue']:,}); memory after each round "
        + " / ".join(f"{m:g}" for m in o["memory_after_round_mb"]) + f" MB (from {o['memory_baseline_mb']:g} MB idle); "
        f"all evicted once silent: {_yes(o['evicted_all'])} ({o['evicted']:,}) |")
    add(f"\nMemory per device: {mem['bytes_per_device'] / 1000:.1f} kB of state (stream, filters, bookkeeping; "
        f"`memory_per_device` over {mem['devices']:,} devices), plus {mem['bytes_per_queued_window'] / 1000:.1f} kB for each window "
        f"waiting for the model, at most `max_queue` of them. Resident memory does not shrink after eviction: Python keeps "
        f"the freed memory and reuses it for the devices that come next.\n")
    add("## Security\n")
    add("Against Mosquitto with a password file, the README's ACL, and TLS listeners using certificates made on the spot "
        "(`benchmarks/secure.py`), each way in tried by the daemon itself:\n")
    add("| attempt | outcome | connections the broker saw | seconds |")
    add("|---|---|---|---|")
    for a in r["security"]["attempts"]:
        add(f"| {a['case']} | {a['outcome']} | {a['connections']} | {a['seconds']} |")
    add("\nThe ACL (phone-a tries to pass for phone-b; phone-b's own traffic shows that the paths work):\n")
    add("| check | result |")
    add("|---|---|")
    for key, value in r["security"]["acl"].items():
        add(f"| {key} | {value} |")
    leak = r["security"]["leak"]
    add("\nCredentials (`harstream serve --log-level DEBUG`, password in `HARSTREAM_PASSWORD`):\n")
    add("| where | password found |")
    add("|---|---|")
    add(f"| its argv (`/proc/PID/cmdline`) | {leak['in_argv']} |")
    add(f"| its output at DEBUG ({leak['output_lines']} lines) | {leak['in_output']} |")
    add(f"| `har/stats` ({leak['stats_messages']} messages) | {leak['in_stats']} |")
    add(f"| the broker's log (`log_type all`) | {r['security']['passwords_in_broker_log']} |")
    add(f"| output of a run with a wrong password (exit {leak['wrong_password_exit']}: `{' '.join(leak['wrong_password_error'])}`) "
        f"| {leak['wrong_password_in_output']} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    import datetime
    import platform

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=int, default=100_000, help="hostile messages in the fuzz run")
    ap.add_argument("--devices", type=int, default=10_000, help="devices in the overload run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "robustness.md")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "robustness.json")
    ap.add_argument("--report-only", action="store_true", help="rewrite --out from the results in --json, running nothing")
    args = ap.parse_args(argv)
    if args.report_only:
        results = json.loads(args.json.read_text())
        args.out.write_text(report(results, results.get("command", "python -m benchmarks.robustness")))
        return 0
    logging.basicConfig(level=logging.ERROR)
    steps = {
        "fuzz": lambda: fuzz(args.noise),
        "models": bad_models,
        "broker_restart": broker_restart,
        "broker_restart_bounded": lambda: broker_restart(max_pending_labels=5),
        "daemon_sigkill": daemon_sigkill,
        "overload": lambda: overload(args.devices),
        "memory": memory_per_device,
        "security": security,
    }
    results = {"when": datetime.date.today().isoformat(),
               "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"}
    for name, step in steps.items():
        started = time.monotonic()
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = step()
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    command = "python -m benchmarks.robustness" + "".join(f" --{k} {v}" for k, v in (("noise", args.noise), ("devices", args.devices))
                                                          if v != ap.get_default(k))
    results["command"] = command
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    text = report(results, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
