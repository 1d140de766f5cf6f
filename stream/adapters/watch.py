"""``harstream watch``: every device's latest label in the terminal, one line each, updated in place.

For a person checking that their phone works: device, activity, confidence, where it is worn, and how
long ago its last label came.  In a terminal the table is redrawn in place; piped, each label is a line.
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time

from .config import Settings

COLUMNS = f"{'device':<24} {'activity':<19} {'conf':>5}  {'placement':<10} {'age':>6}"


def line(device: str, label: dict, age: float) -> str:
    """One device's row.

    >>> line("phone", {"activity": "WALKING", "confidence": 0.93, "placement": "pocket"}, 1.25)
    'phone                    WALKING              0.93  pocket       1.2s'
    """
    conf = label.get("confidence")
    conf = f"{conf:5.2f}" if isinstance(conf, (int, float)) else "    ?"
    return f"{device[:24]:<24} {str(label.get('activity', '?'))[:19]:<19} {conf}  {str(label.get('placement') or '-')[:10]:<10} {age:5.1f}s"


def watch(client, settings: Settings, device: str | None = None, seconds: float = 0.0, out=sys.stdout,
          stop: threading.Event | None = None, live: bool | None = None) -> int:
    """Show labels until ``seconds`` pass (0: until ``stop``, Ctrl-C in the command); returns the labels seen."""
    topic = f"{settings.prefix}/{device or '+'}/activity"
    got: queue.Queue = queue.Queue()
    client.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    client.subscribe(topic, settings.qos)
    live = out.isatty() if live is None else live
    latest: dict[str, tuple[dict, float]] = {}
    seen, drawn, started = 0, 0, time.monotonic()
    stop = stop or threading.Event()
    if live:
        print(f"watching {topic} on {settings.broker} (Ctrl-C to stop)\n{COLUMNS}", file=out, flush=True)
    while not stop.is_set() and not (seconds and time.monotonic() - started >= seconds):
        try:
            name, payload = got.get(timeout=0.5)
        except queue.Empty:
            name = None
        if name is not None:
            try:
                label = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(label, dict):
                continue
            dev = name.split("/")[-2]
            latest[dev] = (label, time.monotonic())
            seen += 1
            if not live:
                print(line(dev, label, 0.0), file=out, flush=True)
        if live:
            now = time.monotonic()
            rows = [line(d, lab, now - at) for d, (lab, at) in sorted(latest.items())] or ["(no label yet)"]
            print(("\x1b[F\x1b[2K" * drawn) + "\n".join(rows), file=out, flush=True)  # up over the last table, then redraw
            drawn = len(rows)
    return seen
