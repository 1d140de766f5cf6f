"""MQTT clients for the tests and benchmarks: a subscriber that collects what it is sent, and
publishers that send as fast as a broker takes QoS 1."""
from __future__ import annotations

import json
import queue
import threading
import time

import paho.mqtt.client as mqtt
from harstream.adapters.mqtt.connection import no_delay


class Collector:
    """A subscriber that keeps everything delivered on its topics as (topic, payload, retain),
    and subscribes again whenever it reconnects."""

    def __init__(self, port: int, topics, client_id: str, persistent: bool = False,
                 username: str | None = None, password: str | None = None):
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_socket_open = no_delay
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(t, 1) for t in topics]) if not rc.is_failure else None
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(5):
            raise RuntimeError("the collector could not subscribe")

    def take(self, n: int, timeout: float = 30.0, where=lambda topic: True) -> list[tuple[str, bytes, bool]]:
        """Up to n messages whose topic passes ``where``, waiting at most ``timeout`` seconds."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if where(message[0]):
                out.append(message)
        return out

    def labels(self, n: int, timeout: float = 60.0) -> list[dict]:
        return [json.loads(p) for _, p, _ in self.take(n, timeout, lambda t: t.endswith("/activity"))]

    def unique_labels(self, n: int, timeout: float) -> tuple[list[dict], int]:
        """Labels by (device, seq) until n distinct ones came (QoS 1 may deliver one twice); and the duplicates."""
        seen, duplicates, deadline = {}, 0, time.monotonic() + timeout
        while len(seen) < n and time.monotonic() < deadline:
            for d in self.labels(1, max(deadline - time.monotonic(), 0.01)):
                duplicates += (d["device"], d["seq"]) in seen
                seen[d["device"], d["seq"]] = d
        return sorted(seen.values(), key=lambda d: (d["device"], d["seq"])), duplicates

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher(port: int, client_id: str, username: str | None = None, password: str | None = None) -> mqtt.Client:
    """A connected publisher: 200 QoS 1 messages in flight, an unbounded queue, no Nagle delay."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if username:
        client.username_pw_set(username, password)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1)
    client.on_socket_open = no_delay
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def close(client: mqtt.Client) -> None:
    client.loop_stop()
    client.disconnect()


class Paced:
    """Publishes with at most ``window`` messages unacknowledged: paho's message ids wrap at 65,535."""

    def __init__(self, client: mqtt.Client, window: int = 5000):
        self.client, self.window, self.pending = client, window, []

    def __call__(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.pending.append(self.client.publish(topic, payload, qos=qos))
        if len(self.pending) >= self.window:
            for info in self.pending[: self.window // 2]:
                info.wait_for_publish(30)
            del self.pending[: self.window // 2]

    def flush(self) -> None:
        for info in self.pending:
            info.wait_for_publish(30)
        self.pending.clear()
