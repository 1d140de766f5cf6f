"""``harstream record``: what one phone sends, captured into the CSV that ``predict`` and ``replay`` read.

Any input format the daemon takes is read the daemon's way (the device's units and frame from the
settings), so the file holds what the daemon would have classified: t in seconds, acceleration in g,
angular velocity in rad/s.  ``--label`` adds a ground-truth column, for a recording to score.
"""
from __future__ import annotations

import queue
import sys
import threading
import time

import numpy as np

from ..core.payloads import Reject, decode_json, parse
from ..core.recording import COLUMNS
from ..core.sensorlogger import Aligner, split_message
from .config import Settings


class Recorder:
    """Messages of one device in, rows of the CSV out (``rows``), in time order; bad messages counted."""

    def __init__(self, settings: Settings, device: str):
        self.settings, self.device = settings, device
        self.aligner = Aligner(settings.units_for(device, sensor_logger=True), settings.frame_for(device))
        self.rejects = 0
        self.last_t = -np.inf

    def topics(self) -> list[str]:
        return [f"{self.settings.prefix}/{self.device}/imu", self.settings.sensor_logger_topic]

    def rows(self, topic: str, payload: bytes) -> np.ndarray:
        """(n, 7) rows of t and raw values from one message (none if not this device's, or rejected)."""
        try:
            if topic == self.settings.sensor_logger_topic:
                device, items = split_message(decode_json(payload))
                if device != self.device:
                    return np.zeros((0, 7))
                t, raw = self.aligner.push(items)
            else:
                t, raw = parse(payload, self.settings.units_for(self.device))  # the frame is Sensor Logger's alone
        except Reject:
            self.rejects += 1
            return np.zeros((0, 7))
        keep = t > self.last_t  # repeated or late samples: the daemon drops them too
        if keep.any():
            self.last_t = float(t[keep][-1])
        return np.hstack([t[keep, None], raw[keep]])


def record(client, settings: Settings, device: str, out, label: str = "", seconds: float = 0.0, samples: int = 0,
           quiet: bool = False, stop: threading.Event | None = None) -> int:
    """Write the device's samples to ``out`` (a text file) until ``seconds`` pass, ``samples`` are written, or ``stop``
    is set (Ctrl-C in the command); returns the samples written."""
    recorder = Recorder(settings, device)
    got: queue.Queue = queue.Queue()
    client.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    for topic in recorder.topics():
        client.subscribe(topic, settings.qos)
    out.write(",".join(COLUMNS + (("label",) if label else ())) + "\n")
    written, started = 0, time.monotonic()
    stop = stop or threading.Event()
    while not stop.is_set():
        if seconds and time.monotonic() - started >= seconds:
            break
        try:
            topic, payload = got.get(timeout=0.2)
        except queue.Empty:
            continue
        rows = recorder.rows(topic, payload)
        if samples:
            rows = rows[:samples - written]
        for row in rows.tolist():
            out.write(",".join(map(repr, row)) + (f",{label}\n" if label else "\n"))
        written += len(rows)
        if not quiet and sys.stderr.isatty():
            print(f"\r{written} samples", end="", file=sys.stderr, flush=True)
        if samples and written >= samples:
            break
    out.flush()
    if not quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    if recorder.rejects:
        print(f"harstream: warning: {recorder.rejects} messages from {device} were not valid readings and were left out", file=sys.stderr)
    return written
