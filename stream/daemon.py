"""``harstream serve``: the MQTT shell around the core.

Readings arrive on ``<prefix>/<device>/imu`` (and Sensor Logger's topic); the
network thread parses them and cuts windows; one worker thread classifies every
window that is waiting in a single batch and publishes ``<prefix>/<device>/activity``.
``<prefix>/status`` is retained ``online``, with a last will of ``offline``;
``<prefix>/stats`` is published every ``stats_interval`` seconds.
"""
from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
from collections import Counter, deque

import numpy as np
import paho.mqtt.client as mqtt

from .config import ConfigError, Settings
from .core import Recognizer
from .payloads import Reject, decode_json, parse
from .sensorlogger import Aligner, split_message

log = logging.getLogger("harstream")
_BAD_ID = re.compile(r"[/+#\x00-\x1f\x7f]")
MAX_DEVICE_ID = 128


class FatalError(Exception):
    """The daemon cannot run as configured (bad credentials, untrusted broker, ...)."""


def check_device_id(device) -> str:
    if not isinstance(device, str) or not device or len(device) > MAX_DEVICE_ID or _BAD_ID.search(device) or device.startswith("$"):
        raise Reject("bad_device_id", f"device id {str(device)[:40]!r} is empty, too long, or holds / + # $ or control characters")
    return device


class RateLimitedLog:
    """At most one line per reason every ``every`` seconds, with how many were held back."""

    def __init__(self, every: float = 10.0):
        self.every, self.last, self.held = every, {}, Counter()

    def __call__(self, reason: str, message: str) -> None:
        now = time.monotonic()
        if now - self.last.get(reason, -1e9) >= self.every:
            more = f" (and {self.held[reason]} more since the last report)" if self.held[reason] else ""
            log.warning("%s%s", message, more)
            self.last[reason], self.held[reason] = now, 0
        else:
            self.held[reason] += 1


class Daemon:
    def __init__(self, settings: Settings, model):
        self.settings, self.model = settings, model
        self.recognizer = Recognizer(model, smoothing=settings.smoothing)
        self.aligners: dict[str, Aligner] = {}
        self.last_seen: dict[str, float] = {}
        self.counts = Counter()  # samples, windows, labels, messages, dropped_windows, evicted
        self.rejects = Counter()
        self.inference_ms = deque(maxlen=2000)
        self.latency_ms = deque(maxlen=2000)
        self._queue: deque = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        self._warn = RateLimitedLog()
        self._announced: set[str] = set()
        self.started = time.time()
        self.client = self._make_client()

    # -- MQTT ---------------------------------------------------------------------------------
    @property
    def status_topic(self) -> str:
        return f"{self.settings.prefix}/status"

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = make_client(s, s.client_id, clean_session=not s.persistent)
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=4)  # back within 5 s of the broker's return
        client.max_queued_messages_set(s.max_queue)  # labels kept while disconnected, bounded
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, userdata, flags, reason, properties=None):
        if reason.is_failure:
            self._fatal = f"the broker refused the connection: {reason}"
            if str(reason) in ("Bad user name or password", "Not authorized"):
                self._fatal += " (check username and HARSTREAM_PASSWORD or password_file)"
            log.error("%s", self._fatal)
            self._stop.set()
            return
        s = self.settings
        topics = [(f"{s.prefix}/+/imu", s.qos)]
        if s.sensor_logger_topic:
            topics.append((s.sensor_logger_topic, s.qos))
        client.subscribe(topics)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self._connected.set()
        log.info("connected to %s; listening on %s", s.broker, ", ".join(t for t, _ in topics))

    def _on_disconnect(self, client, userdata, flags, reason, properties=None):
        self._connected.clear()
        if not self._stop.is_set():
            self.counts["disconnects"] += 1
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, client, userdata, msg):
        try:
            self.handle(msg.topic, msg.payload)
        except Reject as exc:
            self.rejects[exc.reason] += 1
            self._warn(exc.reason, f"rejected a message on {msg.topic[:200]}: {exc}")
        except Exception:  # a bug must cost one message, not the daemon
            self.rejects["internal_error"] += 1
            log.exception("failed to handle a message on %s", msg.topic[:200])

    # -- input --------------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> None:
        """One message: parse, push through the core, queue completed windows."""
        s = self.settings
        self.counts["messages"] += 1
        if len(payload) > s.max_payload:
            raise Reject("too_large", f"{len(payload)} bytes; the limit is {s.max_payload}")
        if topic == s.sensor_logger_topic:
            device, items = split_message(decode_json(payload))
            device = check_device_id(device)
            aligner = self.aligners.get(device)
            if aligner is None:
                aligner = self.aligners[device] = Aligner(s.units_for(device, sensor_logger=True), s.frame_for(device))
            t, raw = aligner.push(items)
        else:
            parts = topic.split("/")
            prefix_parts = s.prefix.split("/")
            if len(parts) != len(prefix_parts) + 2 or parts[-1] != "imu":
                raise Reject("bad_topic", f"topic {topic[:200]!r} is not {s.prefix}/<device>/imu")
            device = check_device_id(parts[-2])
            t, raw = parse(payload, s.units_for(device))
        self._push(device, t, raw)

    def _push(self, device: str, t, raw) -> None:
        self.last_seen[device] = time.monotonic()
        if device not in self._announced:
            self._announced.add(device)
            if self.settings.ha_discovery:
                self._publish_discovery(device)
        if not len(t):
            return
        windows = self.recognizer.push(device, t, raw)
        self.counts["samples"] += len(t)
        if windows:
            now = time.perf_counter()
            with self._cond:
                for w in windows:
                    if len(self._queue) >= self.settings.max_queue:
                        self._queue.popleft()
                        self.counts["dropped_windows"] += 1
                    self._queue.append((now, w))
                self.counts["windows"] += len(windows)
                self._cond.notify()

    # -- classification -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait(0.5)
                if not self._queue and self._stop.is_set():
                    return
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.settings.max_batch))]
            t0 = time.perf_counter()
            try:
                labels = self.recognizer.classify([w for _, w in batch])
            except Exception:
                self.counts["inference_errors"] += len(batch)
                log.exception("inference failed for %d windows", len(batch))
                continue
            self.inference_ms.append((time.perf_counter() - t0) * 1000 / len(batch))
            for (queued, _), label in zip(batch, labels):
                self.client.publish(f"{self.settings.prefix}/{label.device}/activity", json.dumps(label.to_dict()),
                                    qos=self.settings.qos)
                self.latency_ms.append((time.perf_counter() - queued) * 1000)
            self.counts["labels"] += len(labels)

    # -- housekeeping -------------------------------------------------------------------------
    def stats(self) -> dict:
        def pct(values, q):
            return round(float(np.percentile(values, q)), 3) if values else None

        resets = Counter()
        for stream in list(self.recognizer.devices.values()):
            resets.update({k: v for k, v in stream.counts.items() if k != "samples"})
        for aligner in list(self.aligners.values()):
            resets.update(aligner.counts)
        inference, latency = list(self.inference_ms), list(self.latency_ms)
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "devices": len(self.recognizer.devices),
            **{k: self.counts[k] for k in ("messages", "samples", "windows", "labels", "dropped_windows", "evicted", "disconnects")},
            "rejects": dict(self.rejects),
            "resets": dict(resets),
            "queue": len(self._queue),
            "inference_ms_per_window": {"p50": pct(inference, 50), "p99": pct(inference, 99)},
            "window_to_label_ms": {"p50": pct(latency, 50), "p99": pct(latency, 99)},
            "model": self.model.name,
            "runtime": self.model.backend,
        }

    def _evict_idle(self) -> None:
        cutoff = time.monotonic() - self.settings.idle_timeout
        for device, seen in list(self.last_seen.items()):
            if seen < cutoff:
                self.recognizer.forget(device)
                self.aligners.pop(device, None)
                self.last_seen.pop(device, None)
                self._announced.discard(device)
                self.counts["evicted"] += 1

    def _housekeeping(self) -> None:
        while not self._stop.wait(self.settings.stats_interval):
            self._evict_idle()
            if self._connected.is_set():
                self.client.publish(f"{self.settings.prefix}/stats", json.dumps(self.stats()), qos=0)

    def _publish_discovery(self, device: str) -> None:
        p = self.settings.prefix
        config = {
            "name": "Activity", "unique_id": f"harstream_{device}_activity", "object_id": f"harstream_{device}_activity",
            "state_topic": f"{p}/{device}/activity", "value_template": "{{ value_json.activity }}",
            "json_attributes_topic": f"{p}/{device}/activity", "availability_topic": self.status_topic,
            "icon": "mdi:run", "device": {"identifiers": [f"harstream_{device}"], "name": device, "via_device": "harstream"},
        }
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", device)
        self.client.publish(f"homeassistant/sensor/harstream_{safe}/activity/config", json.dumps(config), qos=1, retain=True)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        _connect(self.client, self.settings)
        self.client.loop_start()
        self._threads = [threading.Thread(target=self._work, name="harstream-classify", daemon=True),
                         threading.Thread(target=self._housekeeping, name="harstream-stats", daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        while not self._connected.is_set() and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.02)
        if self._fatal or not self._connected.is_set():
            self.stop(publish_offline=False)
            raise FatalError(self._fatal or f"{self.settings.broker}: no answer to CONNECT within {timeout:g} s")

    def stop(self, publish_offline: bool = True) -> None:
        """Finish the windows in hand, publish ``offline``, disconnect cleanly."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in getattr(self, "_threads", []):
            t.join(timeout=30)
        if publish_offline and self._connected.is_set():
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
        if self._fatal:
            raise FatalError(self._fatal)


def make_client(s: Settings, client_id: str, clean_session: bool = True) -> mqtt.Client:
    """A paho client with the transport, TLS and credentials of the settings (not yet connected)."""
    host, port, transport, tls, path = s.endpoint()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         transport=transport, protocol=mqtt.MQTTv311)
    if transport == "websockets":
        client.ws_set_options(path=path)
    if tls:
        client.tls_set(ca_certs=s.ca, certfile=s.cert, keyfile=s.key, cert_reqs=ssl.CERT_REQUIRED)
        client.tls_insecure_set(s.insecure)
    if s.username:
        client.username_pw_set(s.username, s.password)
    return client


def _connect(client: mqtt.Client, s: Settings) -> None:
    host, port, *_ = s.endpoint()
    try:
        client.connect(host, port, keepalive=s.keepalive)
    except ssl.SSLCertVerificationError as exc:
        raise FatalError(f"{s.broker}: the broker's certificate is not trusted ({exc.verify_message}); give its CA with 'ca'") from None
    except ssl.SSLError as exc:
        raise FatalError(f"{s.broker}: TLS failed ({exc.reason or exc})") from None
    except OSError as exc:
        raise FatalError(f"{s.broker}: cannot connect ({exc.strerror or exc})") from None


def connect_or_explain(client: mqtt.Client, s: Settings, timeout: float = 10.0) -> None:
    """Connect and start the network loop; a refusal (bad password, ...) raises FatalError at once."""
    answer: dict = {}
    done = threading.Event()

    def on_connect(c, u, flags, reason, properties=None):
        answer["reason"] = reason
        done.set()

    client.on_connect = on_connect
    _connect(client, s)
    client.loop_start()
    if not done.wait(timeout) or answer["reason"].is_failure:
        client.loop_stop()
        raise FatalError(f"{s.broker}: " + (f"the broker refused the connection: {answer['reason']}" if answer else "no answer to CONNECT"))


def serve(settings: Settings, model) -> int:
    import signal

    daemon = Daemon(settings, model)
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()
        daemon._stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    daemon.start()
    log.info("model %s (%s, %s); publishing to %s/<device>/activity", model.name, model.path, model.backend, settings.prefix)
    try:
        daemon.wait()
    finally:
        daemon.stop()
        log.info("stopped: %s", json.dumps(daemon.stats()))
    return 0


__all__ = ["Daemon", "FatalError", "serve", "check_device_id", "ConfigError"]
