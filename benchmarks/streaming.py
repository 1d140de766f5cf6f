"""Streaming accuracy: every recording of the 9 test subjects replayed through Mosquitto and the daemon.

Each label is scored against the majority ground truth of its window; windows in transitions or
unlabelled time are counted apart.  Printed beside the same model's offline (UCI-window) accuracy.

    python -m benchmarks.streaming [--model models/X.tflite] [--data ../shared/data/hapt-rawdata.zip]
"""
from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from harstream.adapters.brokers import start_broker
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import replay
from harstream.cli import default_model
from harstream.core.model import Model
from harstream.core.recording import Recording, window_truth
from harstream.core.scoring import StreamScore
from harstream.datasets import TEST_SUBJECTS, default_data_path, load_windows, read_hapt


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--format", default="batch", choices=["json", "batch", "csv", "sensor-logger"])
    parser.add_argument("--placement", default="auto", choices=["auto", "waist", "pocket"],
                        help="the daemon's placement setting (default auto: inferred per device, as a new user runs it)")
    args = parser.parse_args(argv)
    model = Model(args.model or default_model())
    data = args.data or default_data_path()
    recordings = [Recording.from_dataset(r) for r in read_hapt(data, subjects=set(TEST_SUBJECTS))]
    broker = start_broker("auto")
    daemon = Daemon(Settings(broker=broker.url, client_id="bench-streaming", placement=args.placement), model)
    daemon.start()
    got: queue.Queue = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-listener")
    listener.on_message = lambda c, u, m: got.put(json.loads(m.payload))
    ready = threading.Event()
    listener.on_subscribe = lambda *a: ready.set()
    listener.connect(broker.host, broker.port)
    listener.loop_start()
    listener.subscribe("har/+/activity", 1)
    ready.wait(5)
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-phone")
    phone.connect(broker.host, broker.port)
    phone.loop_start()
    score, per_subject, starts = StreamScore(), {}, {}
    t0 = time.time()
    for rec in recordings:
        starts[rec.name] = start = time.time()
        replay(phone, [rec], rec.name, args.format, speed=0, start=start)
    expected = sum((len(r) - 128) // 64 + 1 for r in recordings)
    by_name = {r.name: r for r in recordings}
    labels = [got.get(timeout=120) for _ in range(expected)]
    elapsed = time.time() - t0
    for label in labels:
        rec = by_name[label["device"]]
        start = starts[rec.name]
        truth = window_truth(rec, label["start"] - start, label["end"] - start)
        score.add(label["activity"], truth)
        subject = rec.name.split("_user")[1]
        per_subject.setdefault(subject, StreamScore()).add(label["activity"], truth)
    for client in (phone, listener):
        client.disconnect()
        client.loop_stop()
    daemon.stop()
    broker.stop()
    _, test = load_windows(data).split()
    waist = [model.info.placements.index("waist")] * len(test) if model.info.placements else None  # HAPT: the waist
    offline = float((model.predict(test.select(model.info.channels), placement=waist).argmax(1) == test.y).mean())
    result = {"model": model.name, "recordings": len(recordings), "labels": len(labels), **score.summary(),
              "offline_accuracy": offline, "per_subject": {s: v.summary()["accuracy"] for s, v in sorted(per_subject.items())},
              "seconds": round(elapsed, 1), "rejects": dict(daemon.engine.rejects)}
    print(f"{model.name} (placement {args.placement}): streaming accuracy {result['accuracy'] * 100:.2f}% over {result['scored']} windows inside an activity "
          f"({len(recordings)} recordings of subjects {', '.join(map(str, TEST_SUBJECTS))}, {len(labels)} labels); "
          f"apart: {result['transition']} in transitions, {result['unlabelled']} unlabelled. "
          f"Offline (UCI windows): {offline * 100:.2f}%. Replayed in {elapsed:.0f} s.")
    return result


if __name__ == "__main__":
    main()
