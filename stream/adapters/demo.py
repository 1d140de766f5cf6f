"""``harstream demo``: broker, daemon and a replay of a test subject, labels shown live beside the truth."""
from __future__ import annotations

import json
import queue
import sys
import threading
import time

import paho.mqtt.client as mqtt

from ..core.recording import window_truth
from ..core.scoring import StreamScore
from .brokers import free_port, start_broker
from .config import Settings
from .mqtt import Daemon
from .replay import bundled_recording, load_recording, replay


def run(model, speed: float = 10.0, broker_kind: str = "auto", fmt: str = "json", recording=None, out=sys.stdout,
        web: bool = False) -> dict:
    """``web``: the live page too (the web extra), its address printed first."""
    rec = load_recording(recording or bundled_recording())
    broker = start_broker(broker_kind)
    kind = "Mosquitto" if broker.__class__.__name__ == "Mosquitto" else "the built-in broker"
    print(f"broker: {kind} on {broker.url}; model: {model.name} ({model.backend}); "
          f"replaying {rec.name} ({len(rec) / 50:.0f} s of recording) " + (f"at x{speed:g}" if speed > 0 else "as fast as it goes"), file=out)
    settings = Settings(broker=broker.url, client_id="harstream-demo", stats_interval=5.0, web_port=free_port() if web else 0)
    daemon = Daemon(settings, model)
    pages = None
    labels: queue.Queue = queue.Queue()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="harstream-demo-watch")
    watcher.on_message = lambda c, u, m: labels.put(json.loads(m.payload))
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *a: subscribed.set()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="harstream-demo-phone")
    score = StreamScore()
    try:
        daemon.start()
        if web:
            from .web import WebFront

            try:
                pages = WebFront(settings, daemon.engine.labels).start()
                print(f"live page: {pages.url}  (a phone on this machine's network: serve --web-host 0.0.0.0)", file=out, flush=True)
            except RuntimeError as exc:
                print(f"no live page: {exc}", file=out)
        watcher.connect(broker.host, broker.port)
        watcher.subscribe("har/demo/activity", qos=1)
        watcher.loop_start()
        subscribed.wait(5)
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        start = time.time()
        expected = max((len(rec) - model.info.window) // model.info.step + 1, 0)
        sender = threading.Thread(target=replay, args=(publisher, [rec], "demo", fmt, speed), kwargs={"start": start}, daemon=True)
        sender.start()
        print(f"{'time':>7}  {'label':<19} {'conf':>5}  {'truth':<19}", file=out)
        seen = 0
        deadline = time.monotonic() + len(rec) / 50 / max(speed, 1e-9) + 30
        while seen < expected and time.monotonic() < deadline:
            try:
                label = labels.get(timeout=1.0)
            except queue.Empty:
                continue
            seen += 1
            truth = window_truth(rec, label["start"] - start, label["end"] - start)
            verdict = score.add(label["activity"], truth)
            mark = {"right": "ok", "wrong": "x", "apart": " "}[verdict]
            print(f"{label['end'] - start:7.2f}  {label['activity']:<19} {label['confidence']:5.2f}  {truth or '(unlabelled)':<19} {mark}",
                  file=out, flush=True)
        sender.join(timeout=10)
    finally:
        if pages is not None:
            pages.stop()
        for client in (publisher, watcher):
            client.disconnect()
            client.loop_stop()
        daemon.stop()
        broker.stop()
    summary = score.summary()
    print(score.describe(), file=out)
    return {**summary, "labels": seen, "expected": expected}
