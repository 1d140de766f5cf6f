"""Faults: the broker killed and restarted under the daemon; the daemon itself killed and restarted."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording
from harstream.core import Recognizer
from harstream.core.model import Model
from harstream.core.recording import read_csv

from benchmarks import hostile
from benchmarks.clients import Collector, close, publisher

from .harness import (
    ROOT,
    SlowModel,
    chunks,
    load_model,
    part,
    same_labels,
    wait_until,
)


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
        # (or it is idle already: under load it may have kept up with the readings and made every label)
        wait_until(lambda: slow.held.is_set() or daemon.counts["labels"] >= daemon.counts["windows"], 30)
        # Two saves from now: Mosquitto logs a save as it starts writing, so a kill just after the first
        # line could catch it half-written, and the broker would come back without our sessions; the
        # second starts only once the first is on disk.
        saves = broker.log().count("Saving in-memory database")
        wait_until(lambda: broker.log().count("Saving in-memory database") >= saves + 2, 10)
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


