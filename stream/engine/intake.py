"""Messages in, device state updated, completed windows out: the engine's input side.

A message is parsed and checked whole before any device's state changes, so a
rejected message leaves no trace but its count.  The state (every device's
stream, Sensor Logger aligners, when each was last heard) is guarded by one lock:
the network thread feeds it, housekeeping evicts from it.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter

from ..core import Recognizer, Window
from ..core.blocks import flush_many
from ..core.payloads import Reject, decode_json
from ..core.quickread import Samples, read
from ..core.sensorlogger import Aligner, message_device

log = logging.getLogger("harstream")
_BAD_ID = re.compile(r"[/+#\x00-\x1f\x7f]")
MAX_DEVICE_ID = 128


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


class Intake:
    """Every device's state, fed one message at a time.  ``handle`` returns the device and the windows
    the message completed; ``on_new_device`` is called once for each device taken on.  ``settings`` are
    the daemon's (``adapters.config.Settings``): only their fields are read."""

    #: Devices whose pending samples complete a window wait for one another this long, or until
    #: this many are due, and are then processed together (``blocks.flush_many``).
    FLUSH_WAIT_S = 0.003
    FLUSH_DEVICES = 32

    def __init__(self, settings, recognizer: Recognizer, counts: Counter, on_new_device=None, on_evicted=None,
                 on_due=None):
        self.settings, self.recognizer, self.counts = settings, recognizer, counts
        self.on_new_device, self.on_evicted = on_new_device, on_evicted
        self.on_due = on_due  # called (under the lock) when a device falls due and none was: flush_due within FLUSH_WAIT_S
        self._due: dict[str, float] = {}  # device -> when its window completed (perf_counter), in arrival order
        self.aligners: dict[str, Aligner] = {}
        self.last_seen: dict[str, float] = {}
        self.rejects = Counter()
        self.evicted_resets = Counter()  # reset counts of devices no longer held, kept for the stats
        self.lock = threading.Lock()
        self._topic_levels = len(settings.prefix.split("/")) + 2  # <prefix>/<device>/imu
        self._topics: dict[str, tuple] = {}  # topic -> (device, units), checked
        self._warn = RateLimitedLog()

    def on_message(self, topic: str, payload: bytes) -> tuple[str, list[Window]] | None:
        """``handle``, with a reject counted and logged (rate-limited) and a bug costing one message."""
        try:
            return self.handle(topic, payload)
        except Reject as exc:
            self.rejects[exc.reason] += 1
            self._warn(exc.reason, f"rejected a message on {topic[:200]!r}: {exc}")
        except Exception:  # a bug must cost one message, not the daemon
            self.rejects["internal_error"] += 1
            log.exception("failed to handle a message on %r", topic[:200])
        return None

    def handle(self, topic: str, payload: bytes) -> tuple[str, list[Window]]:
        """One message: parse, check, append to the device's samples.  Raises Reject for a bad message.

        The common case costs a dictionary look-up for the topic, one JSON parse and a few
        comparisons: resampling, filtering and cutting wait until a window falls due (see
        ``DeviceStream.append``)."""
        s = self.settings
        self.counts["messages"] += 1
        if len(payload) > s.max_payload:
            raise Reject("too_large", f"{len(payload)} bytes; the limit is {s.max_payload}")
        if topic == s.sensor_logger_topic:
            return self._sensor_logger(payload)
        known = self._topics.get(topic)
        if known is None:
            known = self._learn(topic)
        device, units = known
        samples = read(payload, units)
        with self.lock:  # parsed and checked above; from here on device state changes
            self._take_on(device)
            return device, self._feed(device, samples)

    def _feed(self, device: str, samples: Samples) -> list[Window]:
        """A message's samples onto the device's stream, under the lock; the windows completed now: its own
        when it breaks the regular flow, every due device's when their wait is over."""
        if not len(samples):  # an empty batch, or Sensor Logger readings still waiting for the other sensor
            return []
        stream = self.recognizer.stream(device)
        windows = samples.onto(stream, defer=True)
        self.counts["samples"] += len(samples)
        if stream.due and device not in self._due:
            now = time.perf_counter()
            if not self._due and self.on_due is not None:
                self.on_due()
            self._due[device] = now
        if self._due and (len(self._due) >= self.FLUSH_DEVICES
                          or time.perf_counter() - next(iter(self._due.values())) >= self.FLUSH_WAIT_S):
            windows = windows + self._flush_due()
        return windows

    def flush_due(self, enqueue) -> None:
        """Process every due device's samples now and hand the windows to ``enqueue`` before letting go of
        the lock: a device's next windows, cut by the network thread, cannot overtake them."""
        with self.lock:
            windows = self._flush_due()
            if windows:
                enqueue(windows)

    def _flush_due(self) -> list[Window]:
        if not self._due:
            return []
        due, self._due = self._due, {}
        streams = [self.recognizer.devices[d] for d in due if d in self.recognizer.devices]
        windows = flush_many([s for s in streams if s.due])
        for w in windows:
            w.completed = due[w.device]
        return windows

    def _learn(self, topic: str) -> tuple[str, object]:
        """A topic's device and input units, checked once and remembered while the device is held."""
        s = self.settings
        parts = topic.split("/")
        if len(parts) != self._topic_levels or parts[-1] != "imu":
            raise Reject("bad_topic", f"topic {topic[:200]!r} is not {s.prefix}/<device>/imu")
        known = check_device_id(parts[-2]), s.units_for(parts[-2])
        if len(self._topics) < 2 * s.max_devices:  # only the topics of held devices stay long: see evict_idle
            self._topics[topic] = known
        return known

    def _take_on(self, device: str) -> None:
        """Note the device as heard now; a new one is taken on (or refused beyond max_devices)."""
        if device not in self.last_seen:
            if len(self.last_seen) >= self.settings.max_devices:
                raise Reject("too_many_devices", f"already {len(self.last_seen)} devices (max_devices); {device[:40]!r} is not taken on")
            self.last_seen[device] = time.monotonic()
            if self.on_new_device is not None:
                self.on_new_device(device)
        else:
            self.last_seen[device] = time.monotonic()

    def _sensor_logger(self, payload: bytes) -> tuple[str, list[Window]]:
        s = self.settings
        message = decode_json(payload)
        device = check_device_id(message_device(message))
        with self.lock:
            if device not in self.last_seen and len(self.last_seen) >= s.max_devices:
                raise Reject("too_many_devices", f"already {len(self.last_seen)} devices (max_devices); {device[:40]!r} is not taken on")
            aligner = self.aligners.get(device)
            if aligner is None:  # kept once a message of the device is taken
                aligner = Aligner(s.units_for(device, sensor_logger=True), s.frame_for(device))
            samples = aligner.take(message["payload"])  # checks the readings before it buffers them
            self.aligners[device] = aligner
            self._take_on(device)
            return device, self._feed(device, samples)

    def evict_idle(self) -> None:
        """Free the state of devices silent for ``idle_timeout``; their reset counts stay in the stats."""
        cutoff = time.monotonic() - self.settings.idle_timeout
        with self.lock:
            for device in [d for d, seen in self.last_seen.items() if seen < cutoff]:
                self._forget(device)
                self.counts["evicted"] += 1
                if self.on_evicted is not None:
                    self.on_evicted(device)
            self._forget_topics()

    def hand_over(self, devices, enqueue, carry=None) -> int:
        """Devices now served elsewhere (by another replica): the windows they completed go to ``enqueue``, what their
        labels carry from window to window to ``carry(device, state)`` (if given), the rest of their state is
        freed.  Returns the samples dropped: those of windows in progress."""
        dropped = 0
        with self.lock:
            windows = self._flush_due()
            if windows:
                enqueue(windows)
            for device in devices:
                if device in self.last_seen:
                    stream = self.recognizer.devices.get(device)
                    dropped += stream.in_progress() if stream is not None else 0
                    if carry is not None:
                        carry(device, self.recognizer.carried(device))
                    self._forget(device)
            self._forget_topics()
        return dropped

    def _forget(self, device: str) -> None:
        """Free a device's state (under the lock); its reset counts stay in the stats."""
        stream = self.recognizer.devices.get(device)
        if stream is not None:
            self.evicted_resets.update({k: v for k, v in stream.counts.items() if k != "samples"})
        aligner = self.aligners.pop(device, None)
        if aligner is not None:
            self.evicted_resets.update(aligner.counts)
        self.recognizer.forget(device)
        self._due.pop(device, None)
        del self.last_seen[device]

    def _forget_topics(self) -> None:
        if len(self._topics) > len(self.last_seen):
            self._topics = {topic: known for topic, known in self._topics.items() if known[0] in self.last_seen}

    def resets(self) -> Counter:
        """Resets by reason (gap, backwards, duplicate, ...) over every device, evicted ones included."""
        resets = Counter(self.evicted_resets)
        with self.lock:
            for stream in self.recognizer.devices.values():
                resets.update({k: v for k, v in stream.counts.items() if k != "samples"})
            for aligner in self.aligners.values():
                resets.update(aligner.counts)
        return resets
