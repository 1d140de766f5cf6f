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
import os
import re
import socket
import ssl
import threading
import time
from collections import Counter, deque

import numpy as np
import paho.mqtt.client as mqtt

from .config import ConfigError, Settings
from .core import Recognizer, WindowQueue
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
        self.recognizer = Recognizer(model, smoothing=settings.smoothing, placement_for=settings.placement_for)
        self.aligners: dict[str, Aligner] = {}
        self.last_seen: dict[str, float] = {}
        self.counts = Counter()  # messages, samples, windows, labels, dropped_labels, evicted, disconnects
        self.rejects = Counter()
        self.inference_ms = deque(maxlen=2000)
        self.latency_ms = deque(maxlen=2000)
        self._queue = WindowQueue(settings.max_queue, settings.max_queue_per_device)
        self._cond = threading.Condition()
        self._state = threading.Lock()  # device state: the network thread feeds it, housekeeping evicts from it
        self._topic_levels = len(settings.prefix.split("/")) + 2  # <prefix>/<device>/imu
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        self._ever_connected = False
        self._last_error = ""
        self._warn = RateLimitedLog()
        self._evicted_resets = Counter()
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
            self._stop.set()
            return
        if self._ever_connected and self.settings.persistent and not flags.session_present:
            self.counts["sessions_lost"] += 1
            log.warning("the broker lost our persistent session: readings sent while we were away are gone")
        self._ever_connected = True
        s = self.settings
        topics = [(f"{s.prefix}/+/imu", s.qos)]
        if s.sensor_logger_topic:
            topics.append((s.sensor_logger_topic, s.qos))
        client.subscribe(topics)
        self._online = client.publish(self.status_topic, "online", qos=1, retain=True)
        self._connected.set()
        log.info("connected to %s; listening on %s", s.broker, ", ".join(t for t, _ in topics))

    def _on_disconnect(self, client, userdata, flags, reason, properties=None):
        self._connected.clear()
        if not self._ever_connected and not self._stop.is_set():  # cut off before the first CONNACK: TLS said no
            self._fatal = f"{self.settings.broker}: {dropped_before_connack(self._last_error, reason)}"
            self._stop.set()
            return
        if not self._stop.is_set():
            self.counts["disconnects"] += 1
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, client, userdata, msg):
        try:
            self.handle(msg.topic, msg.payload)
        except Reject as exc:
            self.rejects[exc.reason] += 1
            self._warn(exc.reason, f"rejected a message on {msg.topic[:200]!r}: {exc}")
        except Exception:  # a bug must cost one message, not the daemon
            self.rejects["internal_error"] += 1
            log.exception("failed to handle a message on %r", msg.topic[:200])

    # -- input --------------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes) -> None:
        """One message: parse, push through the core, queue completed windows.

        A message is parsed and checked whole before any device state changes, so a
        rejected message leaves no trace but its count.
        """
        s = self.settings
        self.counts["messages"] += 1
        if len(payload) > s.max_payload:
            raise Reject("too_large", f"{len(payload)} bytes; the limit is {s.max_payload}")
        logger = topic == s.sensor_logger_topic
        if logger:
            device, items = split_message(decode_json(payload))
            device = check_device_id(device)
        else:
            parts = topic.split("/")
            if len(parts) != self._topic_levels or parts[-1] != "imu":
                raise Reject("bad_topic", f"topic {topic[:200]!r} is not {s.prefix}/<device>/imu")
            device = check_device_id(parts[-2])
            t, raw = parse(payload, s.units_for(device))
        with self._state:  # parsed and checked above; from here on device state changes
            if device not in self.last_seen and len(self.last_seen) >= s.max_devices:
                raise Reject("too_many_devices", f"already {len(self.last_seen)} devices (max_devices); {device[:40]!r} is not taken on")
            if logger:
                aligner = self.aligners.get(device)
                if aligner is None:
                    aligner = self.aligners[device] = Aligner(s.units_for(device, sensor_logger=True), s.frame_for(device))
                t, raw = aligner.push(items)  # checks the readings before it buffers them
            self._push(device, t, raw)

    def _push(self, device: str, t, raw) -> None:
        new = device not in self.last_seen
        self.last_seen[device] = time.monotonic()
        if new and self.settings.ha_discovery:
            self._publish_discovery(device)
        if not len(t):
            return
        windows = self.recognizer.push(device, t, raw)
        self.counts["samples"] += len(t)
        if windows:
            now = time.perf_counter()
            with self._cond:
                for w in windows:
                    self._queue.put(device, (now, w))
                self.counts["windows"] += len(windows)
                self._cond.notify()

    # -- classification -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                if not self._work_once():
                    return
            except Exception:  # a bug must cost one batch, not every label from now on
                self.counts["worker_errors"] += 1
                log.exception("the classification worker failed on a batch; going on")

    def _work_once(self) -> bool:
        """Classify and publish one batch; False when stopping and nothing is left."""
        with self._cond:
            while not len(self._queue) and not self._stop.is_set():
                self._cond.wait(0.5)
            if not len(self._queue) and self._stop.is_set():
                return False
            batch = self._queue.take(self.settings.max_batch)
        if not batch:
            return True
        t0 = time.perf_counter()
        try:
            labels = self.recognizer.classify([w for _, w in batch])
        except Exception:
            self.counts["inference_errors"] += len(batch)
            log.exception("inference failed for %d windows", len(batch))
            return True
        self.inference_ms.append((time.perf_counter() - t0) * 1000 / len(batch))
        for (queued, _), label in zip(batch, labels):
            info = self.client.publish(f"{self.settings.prefix}/{label.device}/activity", json.dumps(label.to_dict()),
                                       qos=self.settings.qos)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # broker away and max_pending_labels held already
                self.counts["dropped_labels"] += 1
            self.latency_ms.append((time.perf_counter() - queued) * 1000)
        self.counts["labels"] += len(labels)
        return True

    # -- housekeeping -------------------------------------------------------------------------
    def stats(self) -> dict:
        def pct(values, q):
            return round(float(np.percentile(values, q)), 3) if values else None

        resets = Counter(self._evicted_resets)
        with self._state:
            for stream in self.recognizer.devices.values():
                resets.update({k: v for k, v in stream.counts.items() if k != "samples"})
            for aligner in self.aligners.values():
                resets.update(aligner.counts)
        inference, latency = list(self.inference_ms), list(self.latency_ms)
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "devices": len(self.recognizer.devices),
            **{k: self.counts[k] for k in ("messages", "samples", "windows", "labels", "dropped_labels", "evicted", "disconnects",
                                           "sessions_lost")},
            "dropped_windows": self._queue.dropped,
            "rejects": dict(self.rejects),
            "resets": dict(resets),
            "queue": len(self._queue),
            "memory_mb": resident_mb(),
            "inference_ms_per_window": {"p50": pct(inference, 50), "p99": pct(inference, 99)},
            "window_to_label_ms": {"p50": pct(latency, 50), "p99": pct(latency, 99)},
            "model": self.model.name,
            "runtime": self.model.backend,
        }

    def _evict_idle(self) -> None:
        cutoff = time.monotonic() - self.settings.idle_timeout
        with self._state:
            for device in [d for d, seen in self.last_seen.items() if seen < cutoff]:
                stream = self.recognizer.devices.get(device)
                if stream is not None:  # keep its counts for the stats
                    self._evicted_resets.update({k: v for k, v in stream.counts.items() if k != "samples"})
                aligner = self.aligners.pop(device, None)
                if aligner is not None:
                    self._evicted_resets.update(aligner.counts)
                self.recognizer.forget(device)
                del self.last_seen[device]
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
    def warm_up(self) -> None:
        """Classify one largest batch now: the interpreter sizes its memory for it at start, not mid-stream."""
        info = self.model.info
        n = self.settings.max_batch if getattr(self.model, "dynamic_batch", False) else 1
        self.model.predict(np.zeros((n, info.window, len(info.channels)), dtype=np.float32))

    def start(self, timeout: float = 10.0) -> None:
        self.warm_up()
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
        try:  # started means announced: whoever subscribes from now on finds "online" retained
            self._online.wait_for_publish(max(deadline - time.monotonic(), 0.1))
        except (RuntimeError, ValueError):
            pass  # disconnected meanwhile: it is sent again on reconnection

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


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


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
    client.on_socket_open = no_delay
    return client


def no_delay(client, userdata, sock) -> None:
    """Send small packets at once: with Nagle's algorithm, QoS 1 labels wait ~40 ms for the broker's delayed ACK."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):  # a websocket wrapper, or not TCP
        pass


def _connect(client: mqtt.Client, s: Settings) -> None:
    host, port, *_ = s.endpoint()
    try:
        client.connect(host, port, keepalive=s.keepalive)
    except ssl.SSLCertVerificationError as exc:
        if "Hostname mismatch" in str(exc.verify_message):
            raise FatalError(f"{s.broker}: the broker's certificate is for another name ({exc.verify_message}); "
                             "connect by the name it was issued for") from None
        raise FatalError(f"{s.broker}: the broker's certificate is not trusted ({exc.verify_message}); give its CA with 'ca'") from None
    except ssl.SSLError as exc:
        raise FatalError(f"{s.broker}: TLS failed ({exc.reason or exc})") from None
    except OSError as exc:
        raise FatalError(f"{s.broker}: cannot connect ({exc.strerror or exc})") from None


def refusal(reason) -> str:
    text = f"the broker refused the connection: {reason}"
    if str(reason) in ("Bad user name or password", "Not authorized"):
        text += " (check username, and HARSTREAM_PASSWORD or password_file)"
    return text


def dropped_before_connack(last_error: str, reason) -> str:
    """Why a broker closed the connection before accepting it, usually a TLS alert about our certificate."""
    detail = last_error.replace("failed to receive on socket: ", "") or str(reason)
    if "certificate required" in detail or "handshake failure" in detail:
        return f"the broker wants a client certificate: give cert and key ({detail})"
    if "unknown ca" in detail or "bad certificate" in detail or "certificate unknown" in detail:
        return f"the broker does not trust our client certificate ({detail})"
    if "EOF occurred" in detail:
        return f"the broker closed the TLS connection at once: it wants a client certificate (cert and key), or does not trust ours ({detail})"
    return f"the broker closed the connection before accepting it ({detail})"


def connect_or_explain(client: mqtt.Client, s: Settings, timeout: float = 10.0) -> None:
    """Connect and start the network loop; a refusal (bad password, a TLS alert, ...) raises FatalError at once."""
    answer: dict = {}
    done = threading.Event()
    errors: list[str] = []

    def on_connect(c, u, flags, reason, properties=None):
        answer["reason"] = reason
        done.set()

    def on_disconnect(c, u, flags, reason, properties=None):
        if not done.is_set():
            answer["dropped"] = dropped_before_connack(errors[-1] if errors else "", reason)
            done.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    client.on_log = lambda c, u, level, message: errors.append(message) if level == mqtt.MQTT_LOG_ERR else None
    _connect(client, s)
    client.loop_start()
    if not done.wait(timeout) or "dropped" in answer or answer["reason"].is_failure:
        client.loop_stop()
        why = answer.get("dropped") or (refusal(answer["reason"]) if "reason" in answer else f"no answer to CONNECT within {timeout:g} s")
        raise FatalError(f"{s.broker}: {why}")
    client.on_disconnect = client.on_log = None


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
