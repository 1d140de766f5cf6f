"""``harstream serve``: the MQTT daemon, composed of one part per job.

* ``connection``: the paho client and why a broker said no;
* ``intake``: messages in, device state updated, completed windows out;
* ``worker``: the window queue and the thread that classifies it in batches;
* ``publisher``: labels, status, stats and discovery out.

Readings arrive on ``<prefix>/<device>/imu`` (and Sensor Logger's topic); the
network thread parses each and appends it to its device's samples.  Devices whose samples
complete a window are processed together every few milliseconds (``core.blocks``), and their
windows classified in one batch: on the network thread while the model is fast, else on the
worker thread (``worker``).  Labels go to ``<prefix>/<device>/activity``;
``<prefix>/status`` is retained ``online`` while any instance of the prefix runs (``answer_status``);
``<prefix>/stats`` is published every ``stats_interval`` seconds.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter

import numpy as np
import paho.mqtt.client as mqtt

from ...core import Recognizer
from ..config import Settings
from .connection import (
    BrokerUnreachable,
    FatalError,
    connect,
    dropped_before_connack,
    make_client,
    refusal,
)
from .intake import Intake
from .publisher import Publisher
from .worker import Worker

log = logging.getLogger("harstream")


class Daemon:
    #: Replicas that share the work (adapters.amqp) name their group in their stats; None: one process.
    group: str | None = None

    def __init__(self, settings: Settings, model):
        self.settings, self.model = settings, model
        self.counts = Counter()  # messages, samples, windows, labels, dropped_labels, evicted, disconnects, ...
        self.started = time.time()
        self.recognizer = Recognizer(model, smoothing=settings.smoothing, placement_for=settings.placement_for, stay=settings.time_filter)
        self.stopping = threading.Event()
        self._status_lock = threading.Lock()
        self.connected = threading.Event()
        self.client_id = settings.own_client_id()
        self.client = self._make_client()
        from ... import __version__

        self.publisher = Publisher(self.client, settings, self.counts, labels=self.recognizer.labels, version=__version__)
        self.intake = Intake(settings, self.recognizer, self.counts, on_new_device=self._on_new_device,
                             on_evicted=self.publisher.forget, on_due=lambda: self.worker.note_due())
        self._ha_status = f"{settings.ha_prefix}/status"
        self._stats_topic = f"{settings.prefix}/stats"
        self._other_said = -1e9
        self.worker = Worker(self.recognizer, self.counts, self._deliver, settings.max_queue,
                             settings.max_queue_per_device, settings.max_batch, self.stopping, flush=self.intake.flush_due)
        self._fatal: str | None = None
        self._labelled = False
        self._ever_connected = False
        self._connected_at = 0.0
        self._short_sessions = 0  # connections in a row the broker closed within seconds of accepting them
        self._take_over_said = -1e9
        self._last_error = ""
        self._threads: list[threading.Thread] = []

    # -- what the parts hold, under the names callers know ----------------------------------
    @property
    def aligners(self):
        return self.intake.aligners

    @property
    def rejects(self) -> Counter:
        return self.intake.rejects

    @property
    def latency_ms(self):
        return self.worker.latency_ms

    def handle(self, topic: str, payload: bytes) -> None:
        """One message through the intake; the windows it completes go to the worker.  Raises Reject."""
        device, windows = self.intake.handle(topic, payload)
        if windows:
            self.worker.put(windows)

    def evict_idle(self) -> None:
        self.intake.evict_idle()

    # -- the connection's callbacks -----------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = make_client(s, self.client_id, clean_session=not s.persistent)
        client.will_set(f"{s.prefix}/status", "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=2)  # backoff 1, 2, 2... s: back within 3 s of the broker's return
        client.max_queued_messages_set(s.max_pending_labels)  # labels kept while disconnected, bounded
        client.max_inflight_messages_set(100)  # labels awaiting the broker's PUBACK (paho's default is 20)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_log = self._on_log
        return client

    def _on_log(self, client, userdata, level, message):
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = message

    def _on_connect(self, client, userdata, flags, reason, properties=None):
        if reason.is_failure:  # retrying cannot help: stop rather than hammer the broker
            self._fatal = f"{self.settings.broker}: {refusal(reason)}"  # raised by start() or wait(): said once
            self.stopping.set()
            return
        if self._ever_connected and self.settings.persistent and not flags.session_present:
            self.counts["sessions_lost"] += 1
            log.warning("the broker lost our persistent session: readings sent while we were away are gone")
        self._ever_connected = True
        self._connected_at = time.monotonic()
        s = self.settings
        topics = self._topics()
        client.subscribe(topics)
        self._online = self.publisher.status("online")
        if s.ha_discovery:
            self.announce()
        self.connected.set()
        log.info("connected to %s; listening on %s", s.broker, ", ".join(t for t, _ in topics))

    def _topics(self) -> list[tuple[str, int]]:
        """What to subscribe to: readings, and the daemon's own business."""
        s = self.settings
        topics = [(f"{s.prefix}/+/imu", s.qos), (f"{s.prefix}/stats", 0),  # stats: is another daemon on our prefix?
                  (f"{s.prefix}/status", 1)]  # another instance's "offline" while we serve: say "online" again
        if s.sensor_logger_topic:
            topics.append((s.sensor_logger_topic, s.qos))
        if s.ha_discovery:  # Home Assistant says "online" there when it starts: announce everything again then
            topics.append((self._ha_status, 1))
        return topics

    def _on_disconnect(self, client, userdata, flags, reason, properties=None):
        self.connected.clear()
        if not self._ever_connected and not self.stopping.is_set():  # cut off before the first CONNACK: TLS said no
            self._fatal = f"{self.settings.broker}: {dropped_before_connack(self._last_error, reason)}"
            self.stopping.set()
            return
        if not self.stopping.is_set():
            self.counts["disconnects"] += 1
            log.warning("disconnected from the broker (%s); reconnecting", reason)
            self._note_session_length(time.monotonic() - self._connected_at)

    #: A connection the broker closes sooner than this after accepting it counts as short.
    SHORT_SESSION_S = 5.0

    def _note_session_length(self, seconds: float) -> None:
        """MQTT 3.1.1 does not say why a broker closed a connection.  When it keeps closing ours within
        seconds of accepting it, another client is almost always connecting with our client id (the
        broker lets the newer one in): say so, once a minute, with what to change."""
        if seconds >= self.SHORT_SESSION_S:
            self._short_sessions = 0
            return
        self._short_sessions += 1
        if self._short_sessions >= 2 and time.monotonic() - self._take_over_said > 60:
            self._take_over_said = time.monotonic()
            self.counts["taken_over"] += 1
            log.error("the broker closed our connection %d times in a row within %g s of accepting it: another client is "
                      "probably connecting with our client id %r, and each takes the other's place. Give each daemon its own "
                      "client_id (leave it unset for a unique one). Two daemons on one prefix would both label every device: "
                      "give them different prefixes",
                      self._short_sessions, self.SHORT_SESSION_S, self.client_id)

    def _on_message(self, client, userdata, msg):
        if msg.topic == self.publisher.status_topic:
            self.answer_status(msg.payload)
            return
        if msg.topic == self._ha_status and self.settings.ha_discovery:
            if msg.payload == b"online":
                self.announce()
            return
        if msg.topic == self._stats_topic:
            self._other_daemon(msg.payload)
            return
        received = self.intake.on_message(msg.topic, msg.payload)
        if received and received[1]:
            self.worker.put(received[1])

    def answer_status(self, payload: bytes) -> None:
        """``<prefix>/status`` stands for the service, not for one process: it is ``online`` while any daemon or
        replica of the prefix runs.  Every instance has the last will ``offline`` and says ``offline`` when it
        stops; every instance still serving answers an ``offline`` it reads (another's will or clean stop) with
        ``online``.  Each instance's last word is ``offline``, and its answers come before it (the lock), so
        when the last instance is gone, ``offline`` is what stays retained."""
        with self._status_lock:
            if payload == b"offline" and not self.stopping.is_set() and self.connected.is_set():
                self._online = self.publisher.status("online")

    def _other_daemon(self, payload: bytes) -> None:
        """Stats from another client id on our prefix: a second daemon labels every device too.  Said once
        every 10 minutes, with what to change."""
        try:
            said = json.loads(payload)
            other = said.get("client_id")
        except (ValueError, AttributeError):
            return
        if self.group is not None and said.get("group") == self.group:  # a fellow replica (adapters.amqp)
            return
        if isinstance(other, str) and other and other != self.client_id and time.monotonic() - self._other_said > 600:
            self._other_said = time.monotonic()
            self.counts["other_daemons_seen"] += 1
            log.error("another harstream daemon (client id %r) serves the prefix %r on this broker: every device is "
                      "labelled twice, and each publishes %s/status. Stop one, or give each its own prefix",
                      other, self.settings.prefix, self.settings.prefix)

    # -- devices ------------------------------------------------------------------------------
    def _on_new_device(self, device: str) -> None:
        self.counts["devices_seen"] += 1
        if self.counts["devices_seen"] <= 20 or self.counts["devices_seen"] % 1000 == 0:  # the first few by name
            log.info("new device %r (%d so far)", device, self.counts["devices_seen"])
        if self.settings.ha_discovery:
            self.publisher.discovery(device)

    def announce(self) -> None:
        """Home Assistant discovery for the daemon and every device held."""
        self.publisher.announce_bridge()
        with self.intake.lock:
            devices = list(self.intake.last_seen)
        for device in devices:
            self.publisher.discovery(device)

    # -- stats and housekeeping ---------------------------------------------------------------
    def stats(self) -> dict:
        def pct(values, q):
            return round(float(np.percentile(values, q)), 3) if values else None

        inference, latency = list(self.worker.inference_ms), list(self.worker.latency_ms)
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "devices": len(self.recognizer.devices),
            **{k: self.counts[k] for k in ("messages", "samples", "windows", "labels", "dropped_labels", "evicted", "disconnects",
                                           "sessions_lost")},
            "dropped_windows": self.worker.queue.dropped,
            "rejects": dict(self.intake.rejects),
            "resets": dict(self.intake.resets()),
            "queue": len(self.worker.queue),
            "memory_mb": resident_mb(),
            "inference_ms_per_window": {"p50": pct(inference, 50), "p99": pct(inference, 99)},
            "window_to_label_ms": {"p50": pct(latency, 50), "p99": pct(latency, 99)},
            "model": self.model.name,
            "client_id": self.client_id,
            "pid": os.getpid(),
            "runtime": self.model.backend,
        }

    #: Seconds between the INFO lines that show a running daemon's totals.
    TOTALS_EVERY_S = 300.0

    def _housekeeping(self) -> None:
        said = time.monotonic()
        while not self.stopping.wait(self.settings.stats_interval):
            self.intake.evict_idle()
            if self.connected.is_set():
                self.publisher.stats(self.stats())
            if time.monotonic() - said >= self.TOTALS_EVERY_S:
                said = time.monotonic()
                c = self.counts
                log.info("%d devices held; since start %d messages, %d samples, %d labels, %d rejected, %d windows dropped",
                         len(self.intake.last_seen), c["messages"], c["samples"], c["labels"], sum(self.intake.rejects.values()),
                         self.worker.queue.dropped)

    def _deliver(self, label) -> None:
        self._send_label(label)
        if not self._labelled:  # the first of this run: it works, say so
            self._labelled = True
            log.info("first label: %s is %s (%.2f)", label.device, label.activity, label.confidence)

    def _send_label(self, label) -> None:
        self.publisher.label(label)

    # -- life cycle ---------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Classify one largest batch now, so that the interpreter sizes its memory at start, not mid-stream;
        then time one window (a fast model runs on the network thread: see ``Worker``)."""
        info = self.model.info
        n = self.settings.max_batch if getattr(self.model, "dynamic_batch", False) else 1
        self.model.predict(np.zeros((n, info.window, len(info.channels)), dtype=np.float32))
        window = np.zeros((1, info.window, len(info.channels)), dtype=np.float32)
        self.model.predict(window)
        t0 = time.perf_counter()
        self.model.predict(window)
        self.worker.note_inference_ms((time.perf_counter() - t0) * 1000)

    def _connect_when_up(self) -> None:
        """Connect; while the broker is not up yet (a boot, a restart), retry for ``connect_timeout`` seconds."""
        limit = self.settings.connect_timeout
        deadline, delay, first = time.monotonic() + limit, 1.0, True
        while True:
            try:
                connect(self.client, self.settings)
                return
            except BrokerUnreachable as exc:
                if time.monotonic() + delay > deadline or self.stopping.is_set():
                    if limit:
                        raise BrokerUnreachable(f"{exc}; gave up after {limit:g} s (connect_timeout)") from None
                    raise
                log.warning("%s; trying again in %g s (for up to %g s in all: connect_timeout)%s", exc, delay, limit,
                            "; Ctrl-C stops waiting, --connect-timeout 0 fails at once" if first else "")
                first = False
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    def start(self, timeout: float = 10.0) -> None:
        self.warm_up()
        self._connect_when_up()
        self.client.loop_start()
        self._threads = [threading.Thread(target=self.worker.run, name="harstream-classify", daemon=True),
                         threading.Thread(target=self._housekeeping, name="harstream-stats", daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        while not self.connected.is_set() and time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(0.02)
        if self._fatal or not self.connected.is_set():
            self.stop(publish_offline=False)
            raise FatalError(self._fatal or f"{self.settings.broker}: no answer to CONNECT within {timeout:g} s")
        try:  # started means announced: whoever subscribes from now on finds "online" retained
            self._online.wait_for_publish(max(deadline - time.monotonic(), 0.1))
        except (RuntimeError, ValueError):
            pass  # disconnected meanwhile: it is sent again on reconnection

    def stop(self, publish_offline: bool = True) -> None:
        """Finish the windows in hand, publish ``offline``, disconnect cleanly."""
        with self._status_lock:  # no "online" answer after this
            self.stopping.set()
        self.worker.wake()
        for t in self._threads:
            t.join(timeout=30)
        if publish_offline and self.connected.is_set():
            info = self.publisher.status("offline")
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def wait(self) -> None:
        while not self.stopping.wait(0.5):
            pass
        if self._fatal:
            raise FatalError(self._fatal)


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
