"""The daemon against a bare MQTT subscriber, draining the same flood from the same broker.

    python -m benchmarks.throughput [--model M] [--shape all|single|columns|...] [--repeats 3] [--latency] [--memory]

Every message shape of ``SHAPES`` (each the README documents) is a flood written to a Mosquitto of our own
(queues unbounded) in one go while the subscriber under test is connected: 64,000 one-sample messages from
200 devices, or 13,000 messages of 25 samples from 1,000 devices.  A bare paho subscriber that only parses
each message (``bare_parse``) drains it, then the daemon of ``harstream serve`` (default settings) until
every window is labelled and handed to the broker; in turn, ``--repeats`` times, in this process.  The
ratio of the two rates is the figure; devices at 50 Hz is what each rate would carry live.

``--latency`` then streams live devices from a separate process (pre-encoded, one write per
20 ms tick, so that it costs little), searches the largest load the daemon keeps up with from
its drain rate, and reports the window->label latency (p50/p99) at 80% of that load.
``--memory`` reports what an idle device holds (tracemalloc, 10,000 devices that each
sent 230 samples).  ``--one-core`` pins the subscribers (not the broker) to one core and
estimates a Pi 4 from it, by the ratio of a pure-Python benchmark's speed here and on a Pi 4
(see PI4_NBODY_S_PER_STEP).  To see where the time goes, run it under ``py-spy record --threads``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording, encode
from harstream.cli import default_model
from harstream.core.model import Model
from harstream.core.recording import read_csv

from .pi4 import PI4_NBODY_S_PER_STEP, nbody_seconds_per_step

#: Every message shape the README documents: (devices, samples per device, samples per message, format, m/s²).
#: "m/s2" shapes send acceleration in m/s² and say so in the message ("units"), or, for CSV lines, which
#: cannot, through the device's setting; Sensor Logger always sends m/s².  Its acceleration, gravity and rotation
#: come at the same instants, as iOS and Android's fused sensors give them; in "sensor-logger-apart" the
#: gyroscope reads 10 ms after them, as a separate sensor may (the aligner then interpolates).
SHAPES = {
    "single": (200, 320, 1, "json", False), "single-m/s2": (200, 320, 1, "json", True),
    "columns": (1000, 325, 25, "batch", False), "columns-m/s2": (1000, 325, 25, "batch", True),
    "objects": (1000, 325, 25, "objects", False), "objects-m/s2": (1000, 325, 25, "objects", True),
    "csv": (1000, 325, 25, "csv", False), "csv-m/s2": (1000, 325, 25, "csv", True),
    "sensor-logger": (1000, 325, 25, "sensor-logger", True),
    "sensor-logger-apart": (1000, 325, 25, "sensor-logger-apart", True),
}
ALIASES = {"batch": ["columns"], "both": ["single", "columns"], "all": list(SHAPES)}
RATE = 50.0
G = 9.80665


def message(fmt: str, ms2: bool, device: str, t: np.ndarray, raw: np.ndarray) -> bytes:
    """One message of a shape, as a phone or a microcontroller would send it."""
    if fmt == "sensor-logger":
        return encode(fmt, device, t, raw)
    if fmt == "sensor-logger-apart":
        msg = json.loads(encode("sensor-logger", device, t, raw))
        for item in msg["payload"]:
            item["time"] += 10_000_000 if item["name"] == "gyroscope" else 0
        return json.dumps(msg).encode()
    if ms2:
        raw = raw.copy()
        raw[:, :3] *= G
    units = {"units": {"acc": "m/s2"}} if ms2 else {}
    if fmt == "objects":
        return json.dumps([{"t": float(ti), "acc": r[:3], "gyro": r[3:], **units} for ti, r in zip(t, raw.tolist())]).encode()
    if fmt == "csv":
        return encode("csv", device, t, raw)
    if len(t) == 1:
        return json.dumps({"t": float(t[0]), "acc": raw[0, :3].tolist(), "gyro": raw[0, 3:].tolist(), **units}).encode()
    return json.dumps({"t": t.tolist(), "acc": raw[:, :3].tolist(), "gyro": raw[:, 3:].tolist(), **units}).encode()


def flood(shape: str, t0: float) -> list[tuple[str, bytes]]:
    """The messages of one flood, devices interleaved as they would arrive live."""
    devices, samples, per_message, fmt, ms2 = SHAPES[shape]
    rec = read_csv(bundled_recording())
    out = []
    for k in range(0, samples, per_message):
        t = t0 + np.arange(k, k + per_message) / RATE
        for d in range(devices):
            i = (k + 997 * d) % (len(rec) - samples)
            topic = "sensor-logger" if fmt.startswith("sensor-logger") else f"har/dev{d}/imu"
            out.append((topic, message(fmt, ms2, f"dev{d}", t, rec.raw[i:i + per_message])))
    return out


def settings_for(shape: str, **kw) -> Settings:
    _, _, _, fmt, ms2 = SHAPES[shape]
    return Settings(acc_units="m/s2" if fmt == "csv" and ms2 else "g", **kw)


def windows_in(shape: str) -> int:
    devices, samples = SHAPES[shape][:2]
    return devices * ((samples - 128) // 64 + 1)


def bare_parse(payload: bytes):
    """What a bare subscriber does with a message: JSON parsed, or CSV lines split into floats."""
    if payload[:1] in (b"{", b"["):
        return json.loads(payload)
    return [[float(v) for v in line.split(",")] for line in payload.decode().splitlines()]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


def _string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def blast(broker: Mosquitto, messages, qos: int = 0) -> None:
    """Send the whole flood as PUBLISH packets in one write, as MQTT on the wire: a paho publisher
    (about 25,000 messages/s here) would be slower than the subscribers it is meant to outrun.
    QoS 1 (at most 65,535 messages) returns when the broker has acknowledged every message."""
    with socket.create_connection((broker.host, broker.port)) as sock:
        sock.sendall(_packet(0x10, _string(b"MQTT") + bytes([4, 2]) + struct.pack("!H", 60) + _string(b"bench-flood")))
        if sock.recv(4)[:1] != b"\x20":
            raise RuntimeError("the broker did not accept the flood's connection")
        if qos == 0:
            sock.sendall(b"".join(_packet(0x30, _string(topic.encode()) + payload) for topic, payload in messages))
        else:
            if len(messages) > 65535:
                raise ValueError("QoS 1: at most 65,535 messages in flight")
            acks = threading.Thread(target=_read_acks, args=(sock, len(messages)))
            acks.start()
            sock.sendall(b"".join(_packet(0x32, _string(topic.encode()) + struct.pack("!H", i + 1) + payload)
                                  for i, (topic, payload) in enumerate(messages)))
            acks.join()
        sock.sendall(_packet(0xE0, b""))  # DISCONNECT: everything before it is delivered


def _read_acks(sock: socket.socket, n: int) -> None:
    """Read until n PUBACKs (4 bytes each) came."""
    want = 4 * n
    while want > 0:
        chunk = sock.recv(min(want, 1 << 16))
        if not chunk:
            raise RuntimeError("the broker closed the flood's connection")
        want -= len(chunk)


def _until(done: threading.Event, broker, messages, shortfall) -> float:
    """Seconds from writing the flood until ``done`` (both subscribers wait on an event: a thread polling
    would take the interpreter lock from the one under test); ``shortfall()`` says what was missing."""
    t0 = time.perf_counter()
    blast(broker, messages)
    if not done.wait(300):
        raise RuntimeError(shortfall())
    return time.perf_counter() - t0


def bare_drain(broker: Mosquitto, messages) -> float:
    """Seconds for a paho subscriber that only parses each message to take the flood."""
    n, done, count = len(messages), threading.Event(), [0]

    def on_message(client, userdata, msg):
        bare_parse(msg.payload)
        count[0] += 1
        if count[0] == n:
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare")
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe([("har/+/imu", 1), ("sensor-logger", 1)])
    time.sleep(0.3)
    elapsed = _until(done, broker, messages, lambda: f"the bare subscriber got {count[0]} of {n} messages")
    client.disconnect()
    client.loop_stop()
    return elapsed


def daemon_drain(broker: Mosquitto, model, shape: str, messages) -> tuple[float, Daemon]:
    """Seconds for the daemon to label every window of the flood."""
    daemon = Daemon(settings_for(shape, broker=broker.url, client_id=f"bench-daemon-{shape.replace('/', '')}", stats_interval=3600), model)
    daemon.start()
    time.sleep(0.3)
    expected, labelled, done = windows_in(shape), [0], threading.Event()

    def seen(waited, per_window):  # told of each label as it is handed over
        labelled[0] += 1
        if labelled[0] == expected:
            done.set()

    daemon.engine.observe(seen)
    elapsed = _until(done, broker, messages, lambda: f"the daemon labelled {labelled[0]} of {expected} windows")
    daemon.stop()
    return elapsed, daemon


def drain(broker, model, shape: str, repeats: int) -> dict:
    """Bare subscriber and daemon in turn, ``repeats`` times on the same flood; medians."""
    devices, samples, per_message = SHAPES[shape][:3]
    messages = flood(shape, time.time())
    gc.collect()
    gc.freeze()  # as `harstream serve` does once started; the flood is then out of the collector's sight for both
    bare, ours = [], []
    for _ in range(repeats):  # in turn, so that a slow spell of the machine falls on both
        bare.append(bare_drain(broker, messages))
        elapsed, daemon = daemon_drain(broker, model, shape, messages)  # a new daemon: no history of these devices
        ours.append(elapsed)
    b, d = float(np.median(bare)), float(np.median(ours))
    n, total = len(messages), devices * samples
    r = {"shape": shape, "messages": n, "samples": total, "devices": devices, "windows": windows_in(shape), "repeats": repeats,
         "bare_s": bare, "daemon_s": ours, "ratio": b / d, "ratios": [x / y for x, y in zip(bare, ours)],
         "median_paired_ratio": float(np.median([x / y for x, y in zip(bare, ours)])),
         "bare_messages_per_s": n / b, "daemon_messages_per_s": n / d,
         "bare_samples_per_s": total / b, "daemon_samples_per_s": total / d,
         "bare_devices_at_50hz": total / b / RATE, "daemon_devices_at_50hz": total / d / RATE,
         "rejects": dict(daemon.engine.rejects), "daemon_latency_p99_ms": float(np.percentile(list(daemon.engine.worker.latency_ms), 99))}
    print(f"{shape:13s} {n:6,} messages of {per_message:2d} ({devices:,} devices), median of {repeats}: "
          f"bare paho+json {b:5.2f} s ({r['bare_messages_per_s']:7,.0f} msg/s, {r['bare_samples_per_s']:8,.0f} samples/s "
          f"= {r['bare_devices_at_50hz']:6,.0f} devices at 50 Hz); daemon {d:5.2f} s ({r['daemon_messages_per_s']:7,.0f} msg/s, "
          f"{r['daemon_samples_per_s']:8,.0f} samples/s = {r['daemon_devices_at_50hz']:6,.0f} devices); "
          f"ratio {r['ratio']:.2f} (each run: {', '.join(f'{x:.2f}' for x in r['ratios'])}; their median "
          f"{r['median_paired_ratio']:.2f})", flush=True)
    return r


LOAD = r"""
import json, socket, sys, time
import numpy as np
from harstream.core.recording import read_csv
from harstream.adapters.replay import bundled_recording, encode
from benchmarks.throughput import _packet, _string
port, devices, seconds, batch = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rec = read_csv(bundled_recording())
fmt = "json" if batch == 1 else "batch"
n = int(seconds * 50)
ticks = []  # every message of a tick, encoded beforehand: sending costs one write per tick
for k in range(0, n, batch):
    t = 1.7e9 + np.arange(k, k + batch) / 50  # device time: the daemon never compares it with its clock
    ticks.append(b"".join(_packet(0x30, _string(f"har/dev{d}/imu".encode()) + encode(fmt, f"dev{d}", t, rec.raw[(k + 997 * d) % (len(rec) - batch):][:batch]))
                          for d in range(devices)))
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(_packet(0x10, _string(b"MQTT") + bytes([4, 2]) + (60).to_bytes(2, "big") + _string(b"bench-load")))
sock.recv(4)
start = time.time() + 0.2
sent = 0; behind = 0.0
for i, data in enumerate(ticks):
    due = start + (i * batch + batch - 1) / 50
    wait = due - time.time()
    if wait > 0: time.sleep(wait)
    else: behind = max(behind, -wait)
    sock.sendall(data)
    sent += batch * devices
sock.sendall(_packet(0xE0, b"")); sock.close()
print(json.dumps({"sent": sent, "generator_behind_s": behind}))
"""


def live_run(broker, model, devices: int, per_message: int, seconds: float = 8.0) -> dict:
    """Devices streaming in real time from another process: did the daemon keep up, and its latency.
    Kept up: every sample processed within a second of the last one sent, the generator on time
    (within 0.5 s), and p99 latency under 250 ms."""
    daemon = Daemon(Settings(broker=broker.url, client_id=f"bench-live-{devices}", qos=0, stats_interval=3600), model)
    daemon.start()
    gc.collect()
    gc.freeze()  # as `harstream serve` does once started
    root = Path(__file__).resolve().parent.parent
    load = subprocess.run([sys.executable, "-c", LOAD, str(broker.port), str(devices), str(seconds), str(per_message)],
                          capture_output=True, text=True, cwd=root, timeout=seconds * 10 + 60)
    if load.returncode:
        raise RuntimeError(load.stderr)
    report = json.loads(load.stdout)
    deadline = time.monotonic() + 1.0
    while daemon.counts["samples"] < report["sent"] and time.monotonic() < deadline:
        time.sleep(0.02)
    processed = daemon.counts["samples"]
    time.sleep(0.3)
    latency = np.array(daemon.engine.worker.latency_ms)
    daemon.stop()
    r = {"devices": devices, "per_message": per_message, "sent": report["sent"], "processed": processed,
         "generator_behind_s": report["generator_behind_s"],
         "latency_p50_ms": float(np.percentile(latency, 50)), "latency_p99_ms": float(np.percentile(latency, 99))}
    r["kept_up"] = processed >= report["sent"] and r["generator_behind_s"] < 0.5 and r["latency_p99_ms"] < 250
    print(f"live   {devices:,} devices at 50 Hz, {per_message} samples/message: processed {processed:,} of {report['sent']:,} "
          f"samples (generator behind by {r['generator_behind_s']:.2f} s); window->label p50 {r['latency_p50_ms']:.1f} ms, "
          f"p99 {r['latency_p99_ms']:.1f} ms -> {'keeps up' if r['kept_up'] else 'falls behind'}", flush=True)
    return r


def live_latency(broker, model, per_message: int, start: int) -> dict:
    """The largest live load kept up with, searched from ``start`` devices (up by a quarter while it
    keeps up, at most three times; else down by a fifth until it does), then the latency at 80% of it."""
    devices = max(start, 1)
    if live_run(broker, model, devices, per_message)["kept_up"]:
        for _ in range(3):
            more = int(devices * 1.25)
            if not live_run(broker, model, more, per_message)["kept_up"]:
                break
            devices = more
    else:
        while devices > 1:
            devices = int(devices * 0.8)
            if live_run(broker, model, devices, per_message)["kept_up"]:
                break
    at = live_run(broker, model, max(int(devices * 0.8), 1), per_message)
    return {"largest_kept_up": devices, "at_80_percent": at}


def idle_device_bytes(model, devices: int = 10_000) -> float:
    """Bytes an idle device holds in the daemon (its stream, placement, bookkeeping), by tracemalloc."""
    import tracemalloc

    from harstream.engine.intake import Intake
    from harstream.core import Recognizer
    from collections import Counter

    settings = Settings()
    recognizer = Recognizer(model, placement_for=settings.placement_for)
    intake = Intake(settings, recognizer, Counter())
    rec = read_csv(bundled_recording())
    # 230 samples in two messages: two windows done, and some samples waiting for the next one
    first = [encode("batch", "x", np.arange(100) / RATE + 1e9, rec.raw[i:i + 100]) for i in range(0, 1000, 100)]
    second = [encode("batch", "x", np.arange(100, 230) / RATE + 1e9, rec.raw[i + 100:i + 230]) for i in range(0, 1000, 100)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for d in range(devices):
        intake.handle(f"har/dev{d}/imu", first[d % len(first)])
        intake.handle(f"har/dev{d}/imu", second[d % len(second)])
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per = (after - before) / devices
    print(f"memory {per / 1000:.1f} KB per idle device ({devices:,} devices that sent 230 samples each, tracemalloc)", flush=True)
    return per


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--shape", nargs="+", choices=[*SHAPES, *ALIASES], default=["all"],
                        help="message shapes (default all; batch: columns; both: single and columns)")
    parser.add_argument("--repeats", type=int, default=3, help="drains of each kind per shape (medians are reported)")
    parser.add_argument("--latency", action="store_true", help="also find the largest live load kept up with and report latency at 80%% of it")
    parser.add_argument("--memory", action="store_true", help="also report the memory an idle device holds")
    parser.add_argument("--one-core", action="store_true",
                        help="run the subscribers (not the broker) on one core, as on a Pi 4 core, and estimate a Pi 4's figures")
    args = parser.parse_args(argv)
    model = Model(args.model or default_model())
    broker = Mosquitto().start()
    if args.one_core:  # after the broker started: it keeps the other core, as it would keep another of a Pi's four
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    results = {"model": model.name, "drains": [], "live": []}
    try:
        shapes = list(dict.fromkeys(s for given in args.shape for s in ALIASES.get(given, [given])))
        for shape in shapes:
            results["drains"].append(drain(broker, model, shape, args.repeats))
        print("\n| message shape | bare paho + parse, samples/s | daemon, samples/s (devices at 50 Hz) | ratio (each run) |\n|---|---|---|---|")
        for r in results["drains"]:
            print(f"| {r['shape']} | {r['bare_samples_per_s']:,.0f} | {r['daemon_samples_per_s']:,.0f} ({r['daemon_devices_at_50hz']:,.0f}) | "
                  f"**{r['ratio']:.2f}** ({', '.join(f'{x:.2f}' for x in r['ratios'])}) |", flush=True)
        if args.latency:
            for r in results["drains"]:
                if r["shape"] not in ("single", "columns"):
                    continue  # the live generator sends these two shapes
                live = live_latency(broker, model, SHAPES[r["shape"]][2], int(r["daemon_devices_at_50hz"]))
                results["live"].append(live)
                print(f"{r['shape']:6s} live: keeps up with {live['largest_kept_up']:,} devices; at 80% of that, window->label "
                      f"p50 {live['at_80_percent']['latency_p50_ms']:.1f} ms, p99 {live['at_80_percent']['latency_p99_ms']:.1f} ms", flush=True)
    finally:
        broker.stop()
    if args.memory:
        results["idle_device_bytes"] = idle_device_bytes(model)
    if args.one_core:
        factor = PI4_NBODY_S_PER_STEP / nbody_seconds_per_step()
        results["pi4_factor"] = factor
        for r in results["drains"]:
            print(f"{r['shape']:6s} on a Pi 4 core (this core's figure / {factor:.1f}, the n-body factor): "
                  f"{r['daemon_devices_at_50hz'] / factor:,.0f} devices at 50 Hz", flush=True)
    return results


if __name__ == "__main__":
    main()
