"""Daemon speed through a real Mosquitto: replay speed, window->label latency, devices kept up with.

    python -m benchmarks.daemon [--model models/X.tflite] [--seconds 8]

* replay speed: the bundled 5.5-minute recording sent as fast as possible by one device;
  x real time = recording length / time until its last label arrived.
* latency: from a window's last sample entering the daemon to its label being handed to
  the broker (p50/p99), measured while devices stream in real time.
* devices: N simulated devices at 50 Hz for a few seconds, from a separate load-generating
  process; the daemon keeps up when every sample is processed within a second of being
  sent and p99 latency stays under 250 ms.  N doubles until it does not.
"""
from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from harstream.adapters.brokers import start_broker
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording, replay
from harstream.cli import default_model
from harstream.core.model import Model
from harstream.core.recording import read_csv

LOAD = r"""
import json, sys, time
import numpy as np
import paho.mqtt.client as mqtt
from harstream.core.recording import read_csv
from harstream.adapters.replay import bundled_recording, encode
port, devices, seconds, batch = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rec = read_csv(bundled_recording())
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-load")
client.max_inflight_messages_set(1000)
client.connect("127.0.0.1", port); client.loop_start()
fmt = "json" if batch == 1 else "batch"
payloads = {}  # pre-encode one period of messages per device offset so the generator is cheap
start = time.time() + 0.5
n = int(seconds * 50)
sent = 0; behind = 0.0
for k in range(0, n, batch):
    due = start + (k + batch - 1) / 50
    wait = due - time.time()
    if wait > 0: time.sleep(wait)
    else: behind = max(behind, -wait)
    for d in range(devices):
        i = (k + 997 * d) % (len(rec) - batch)
        t = start + (np.arange(k, k + batch)) / 50
        client.publish(f"har/dev{d}/imu", encode(fmt, f"dev{d}", t, rec.raw[i:i + batch]), qos=0)
        sent += batch
client.loop_stop(); client.disconnect()
print(json.dumps({"sent": sent, "generator_behind_s": behind}))
"""


def replay_speed(broker, model, fmt: str) -> float:
    rec = read_csv(bundled_recording())
    daemon = Daemon(Settings(broker=broker.url, client_id=f"bench-speed-{fmt}"), model)
    daemon.start()
    got: queue.Queue = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-l-{fmt}")
    listener.on_message = lambda c, u, m: got.put(1)
    listener.connect(broker.host, broker.port)
    listener.loop_start()
    listener.subscribe("har/speed/activity", 1)
    time.sleep(0.3)
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-p-{fmt}")
    phone.connect(broker.host, broker.port)
    phone.loop_start()
    t0 = time.perf_counter()
    replay(phone, [rec], "speed", fmt, speed=0)
    for _ in range((len(rec) - 128) // 64 + 1):
        got.get(timeout=120)
    elapsed = time.perf_counter() - t0
    for c in (phone, listener):
        c.disconnect()
        c.loop_stop()
    daemon.stop()
    return len(rec) / 50 / elapsed


def devices_run(broker, model, devices: int, seconds: float, batch: int) -> dict:
    daemon = Daemon(Settings(broker=broker.url, client_id=f"bench-dev-{devices}-{batch}", qos=0), model)
    daemon.start()
    root = Path(__file__).resolve().parent.parent
    load = subprocess.run([sys.executable, "-c", LOAD, str(broker.port), str(devices), str(seconds), str(batch)],
                          capture_output=True, text=True, cwd=root, timeout=seconds * 10 + 60)
    if load.returncode:
        raise RuntimeError(load.stderr)
    report = json.loads(load.stdout)
    deadline = time.monotonic() + 1.0
    while daemon.counts["samples"] < report["sent"] and time.monotonic() < deadline:
        time.sleep(0.02)
    processed = daemon.counts["samples"]
    time.sleep(0.3)
    latency = list(daemon.latency_ms)
    daemon.stop()
    p99 = float(np.percentile(latency, 99)) if latency else float("inf")
    ok = processed >= report["sent"] and p99 < 250 and report["generator_behind_s"] < 0.5
    return {"devices": devices, "batch": batch, "sent": report["sent"], "processed": processed, "kept_up": ok,
            "latency_p50_ms": float(np.percentile(latency, 50)) if latency else None, "latency_p99_ms": p99,
            "generator_behind_s": report["generator_behind_s"]}


def max_devices(broker, model, batch: int, seconds: float) -> tuple[int, list]:
    best, runs, n = 0, [], 4
    while n <= 8192:
        r = devices_run(broker, model, n, seconds, batch)
        runs.append(r)
        print(f"  {n:5d} devices, {batch:2d} samples/message: processed {r['processed']}/{r['sent']}, "
              f"latency p50 {r['latency_p50_ms'] or 0:.1f} ms p99 {r['latency_p99_ms']:.1f} ms "
              f"-> {'keeps up' if r['kept_up'] else 'falls behind'}", flush=True)
        if not r["kept_up"]:
            break
        best, n = n, n * 2
    return best, runs


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each device-count trial")
    args = parser.parse_args(argv)
    model = Model(args.model or default_model())
    broker = start_broker("mosquitto")
    try:
        speeds = {fmt: replay_speed(broker, model, fmt) for fmt in ("json", "batch")}
        print(f"{model.name}: one device replayed at x{speeds['json']:.0f} real time (one sample per message), "
              f"x{speeds['batch']:.0f} (25 per message)", flush=True)
        single, runs_single = max_devices(broker, model, 1, args.seconds)
        batched, runs_batched = max_devices(broker, model, 25, args.seconds)
    finally:
        broker.stop()
    kept = [r for r in runs_single + runs_batched if r["kept_up"]]
    at = max(kept, key=lambda r: r["devices"] * 50) if kept else None
    print(f"{model.name}: keeps up with {single} devices at 50 Hz sending one sample per message, {batched} sending 25; "
          + (f"window->label latency p50 {at['latency_p50_ms']:.1f} ms, p99 {at['latency_p99_ms']:.1f} ms at {at['devices']} devices"
             if at else ""))
    return {"replay_speed": speeds, "max_devices_single": single, "max_devices_batched": batched, "runs": runs_single + runs_batched}


if __name__ == "__main__":
    main()
