"""Replicas of ``harstream serve --amqp`` as processes, and phones publishing to them: for the
scale-out tests and ``benchmarks.scale``."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from . import clients

ROOT = Path(__file__).resolve().parent.parent


class Fleet:
    """Replicas on one RabbitMQ node (``harstream.adapters.amqp.node``) and prefix; ``stats`` holds the
    last ``<prefix>/stats`` of each, by client id."""

    def __init__(self, node, prefix: str, model: str = "models/lstm.tflite", folder: Path | None = None, env: dict | None = None,
                 extra: tuple = ()):
        self.node, self.prefix, self.model, self.extra = node, prefix, str(ROOT / model), extra
        self.folder = Path(folder or "/tmp")
        self.env = {**os.environ, **(env or {})}
        self.procs: list[subprocess.Popen] = []
        self.stats: dict[str, dict] = {}
        self.by_pid: dict[int, str] = {}
        self._watch = clients.Collector(node.mqtt_port, [f"{prefix}/stats"], f"fleet-{prefix}-{os.getpid()}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            for _, payload, _ in self._watch.take(1, 0.5):
                said = json.loads(payload)
                self.stats[said["client_id"]] = said
                self.by_pid[said.get("pid", 0)] = said["client_id"]

    def start(self, n: int = 1, extra: tuple = ()) -> list[subprocess.Popen]:
        started = []
        for _ in range(n):
            log = open(self.folder / f"replica-{self.prefix}-{len(self.procs)}.log", "w")
            proc = subprocess.Popen([sys.executable, "-m", "harstream", "serve", "--amqp", self.node.amqp_url, "--broker", self.node.mqtt_url,
                                     "--prefix", self.prefix, "--model", self.model, "--stats-interval", "0.5", *self.extra, *extra],
                                    stderr=log, stdout=subprocess.DEVNULL, env=self.env, cwd=ROOT)
            self.procs.append(proc)
            started.append(proc)
        return started

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def held(self, proc: subprocess.Popen) -> list[int]:
        """The partitions a replica said it held, in its last stats."""
        said = self.stats.get(self.by_pid.get(proc.pid, ""), {})
        return said.get("replica", {}).get("partitions", [])

    def spread(self, procs=None) -> list[int]:
        return sorted(len(self.held(p)) for p in (procs or self.alive()))

    def wait_spread(self, expected: list[int], timeout: float = 30.0, procs=None) -> float:
        """Seconds until the live replicas hold ``expected`` partitions each (sorted); raises on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.spread(procs) == sorted(expected) and all(self.held(p) for p in (procs or self.alive())):
                return time.monotonic() - t0
            time.sleep(0.1)
        raise AssertionError(f"spread {self.spread(procs)} after {timeout:g} s, not {sorted(expected)}; logs in {self.folder}")

    def signal(self, proc: subprocess.Popen, sig: int) -> None:
        os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait()

    def stop(self) -> None:
        for p in self.alive():
            try:
                os.kill(p.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self._watch.close()


class Phones:
    """``devices`` phones publishing ``batch``-sample messages at ``rate`` Hz over MQTT (QoS 1), in real
    time, from a recording; ``sent[device]`` is the number of samples each sent."""

    def __init__(self, port: int, prefix: str, raw: np.ndarray, devices: int = 50, batch: int = 5, rate: float = 50.0):
        self.port, self.prefix, self.raw, self.devices, self.batch, self.rate = port, prefix, raw, devices, batch, rate
        self.stopping = threading.Event()
        self.sent = {f"phone{d:02d}": 0 for d in range(devices)}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Phones":
        self._thread.start()
        return self

    def _message(self, k: int, d: int) -> bytes:
        n = len(self.raw)
        rows = [(k + i + 97 * d) % n for i in range(self.batch)]
        return json.dumps({"t": [1000.0 + (k + i) / self.rate for i in range(self.batch)],
                           "acc": self.raw[rows, :3].tolist(), "gyro": self.raw[rows, 3:].tolist()}).encode()

    def _run(self) -> None:
        client = clients.publisher(self.port, f"phones-{self.prefix}-{os.getpid()}")
        send = clients.Paced(client)
        t0, k = time.monotonic(), 0
        while not self.stopping.is_set():
            for d, device in enumerate(self.sent):
                send(f"{self.prefix}/{device}/imu", self._message(k, d))
                self.sent[device] += self.batch
            k += self.batch
            time.sleep(max(0.0, t0 + k / self.rate - time.monotonic()))
        send.flush()
        clients.close(client)

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(30)
