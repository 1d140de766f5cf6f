"""The Sensor Logger app's MQTT messages (Android and iOS), aligned into (t, raw) samples.

A message: ``{"messageId", "sessionId", "deviceId", "payload": [{"name", "time", "x", "y", "z"}, ...]}``
with ``time`` in epoch nanoseconds (the values may also sit under ``"values"``).
``accelerometer`` is without gravity, so total = accelerometer + gravity, or
Android's ``totalacceleration`` where sent; all in m/s² by default, gyroscope
in rad/s.  Each sensor has its own timestamps: the aligner emits a sample at
each acceleration reading once the other sensors have caught up with it,
interpolating them linearly.  On iOS without "Standardise Units & Frames",
acceleration and gravity have the opposite sign: ``frame="ios"`` flips them.

>>> aligner = Aligner()
>>> msg = {"deviceId": "pixel", "payload": [
...     {"name": "totalacceleration", "time": 1_000_000_000, "x": 0, "y": 0, "z": 9.80665},
...     {"name": "gyroscope", "time": 1_010_000_000, "x": 0.2, "y": 0, "z": 0},
...     {"name": "gyroscope", "time": 990_000_000, "x": 0.0, "y": 0, "z": 0}]}
>>> device, items = split_message(msg)
>>> t, raw = aligner.push(items)
>>> device, t.tolist(), raw.round(6).tolist()
('pixel', [1.0], [[0.0, 0.0, 1.0, 0.1, 0.0, 0.0]])
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from itertools import repeat
from operator import add, lt, mul, sub, truediv

import numpy as np

from .payloads import (
    ACC_UNITS,
    GYRO_UNITS,
    MAX_ABS_ACC_G,
    MAX_ABS_GYRO,
    MAX_ABS_TIME,
    MAX_GAP_S,
    MIN_RATE_HZ,
    Units,
    check_density,
    check_readings,
)
from .quickread import Arrays, Rows, Samples
from .sensorreadings import (  # the message's side, re-exported: the aligner and its message are one subject
    MAX_BUFFERED,
    PARTS,
    SENSORS,
    TOTAL,
    Laid,
    Readings,
    message_device,
    ns_to_seconds,
    seconds_of,
    seconds_to_ns,
    split,
    split_items,
    split_message,
)

__all__ = ["Aligner", "Laid", "PARTS", "Readings", "SENSORS", "TOTAL", "interpolate", "message_device", "ns_to_seconds",
           "seconds_to_ns", "split", "split_items", "split_message"]


class Aligner:
    """Per device: buffers each sensor and emits joint samples when all have caught up."""

    def __init__(self, units: Units = Units("m/s2", "rad/s"), frame: str = "android"):
        if frame not in ("android", "ios"):
            raise ValueError(f"frame {frame!r}: use android or ios")
        self.units, self.frame = units, frame
        self.buffers = {name: (np.zeros(0), np.zeros((0, 3))) for name in SENSORS}
        self.counts = Counter()
        self.emitted_to = -np.inf

    def take(self, payload: list) -> Samples:
        """A message's readings (its ``payload`` list): the samples they complete, as ``push`` gives them.
        Plain readings in order, whose every check passes at a glance, are aligned in Python floats with no
        numpy (``_quick``); ``push`` takes any other, and tests hold the two to the same samples and state."""
        laid = Laid.read(payload)
        if laid is not None:
            rows = self._quick(laid)
            if rows is not None:
                return rows
            readings = laid.readings()
            if readings is not None:
                return Arrays(*self.push(readings))
        return Arrays(*self.push(split(payload)))

    def _quick(self, laid: Laid) -> Rows | None:
        """``push``'s samples and state for a plain message, as one flat list (t and 6 raw values a sample): the
        acceleration readings every other sensor has caught up with, the others interpolated at their instants
        with ``interpolate``'s arithmetic, in Python floats.  None unless the message holds exactly the sensors
        ``push`` would use, each one's readings come in order after those it holds (none to sort, too many to
        keep, or already emitted), and every check ``push`` makes passes at a glance."""
        buffers = self.buffers
        names = TOTAL if len(buffers["totalacceleration"][0]) or "totalacceleration" in laid.values else PARTS
        if len(laid.values) != len(names) or not set(names).issubset(laid.values):
            return None
        times, ref_steps, ns = {}, None, None  # each sensor's times in seconds, computed and checked once for sensors read together
        for name in names:
            if laid.times[name] != ns:
                ns = laid.times[name]
                t = seconds_of(ns)
                steps = list(map(sub, t[1:], t[:-1]))
                first, last = t[0], t[-1]
                if not (min(steps, default=1.0) > 0.0 and abs(first) <= MAX_ABS_TIME and abs(last) <= MAX_ABS_TIME
                        and last - first <= len(t) / MIN_RATE_HZ + MAX_GAP_S):
                    return None  # out of order, or maybe too sparse: push decides
                if ref_steps is None:
                    ref_steps = steps  # (the reference comes first)
            times[name] = t
            held = buffers[name][0]
            if len(held) + len(t) > MAX_BUFFERED or not (held[-1] < t[0] if len(held) else t[0] > self.emitted_to):
                return None  # too many to keep, or before those held or emitted
            scale, limit = self._scale_and_limit(name)  # _plainly_within's test, in the same operations
            x, y, z = laid.values[name]
            if not max(max(x), max(y), max(z), -min(x), -min(y), -min(z)) * scale <= limit:
                return None  # inf too
        reference, *others = names
        ready_to = min(times[name][-1] for name in others)
        if not len(buffers[reference][0]) and times[reference][-1] <= ready_to:  # the commonest case: all of it at once
            t, (ax, ay, az), steps = times[reference], laid.values[reference], ref_steps
        else:
            if len(buffers[reference][0]) and buffers[reference][0][0] <= self.emitted_to:
                return None  # held from before another sensor became the reference: push drops it
            ref_t, ref_v = _joined(buffers[reference], times[reference], laid.values[reference])
            steps = list(map(sub, ref_t[1:], ref_t[:-1]))
            if not min(steps, default=1.0) > 0.0:
                return None  # a repeated instant held: _interpolated takes the instants to be distinct
            ready = bisect_right(ref_t, ready_to)
            t, steps = ref_t[:ready], steps[:ready - 1] if ready else []
            ax, ay, az = (v[:ready] for v in ref_v)
            buffers[reference] = (np.array(ref_t[ready:], dtype=np.float64), np.array([v[ready:] for v in ref_v], dtype=np.float64).T)
        emitted_to = t[-1] if t else self.emitted_to
        caught_up = {}
        for name in others:
            if times[name] == t and t:  # read with the reference: its own readings, the last kept to interpolate from
                caught_up[name] = x, y, z = laid.values[name]
                buffers[name] = (np.array([t[-1]]), np.array([[x[-1], y[-1], z[-1]]], dtype=np.float64))
                continue
            st, sv = _joined(buffers[name], times[name], laid.values[name])
            caught_up[name] = _interpolated(st, sv, t)
            keep = max(bisect_right(st, emitted_to) - 1, 0)  # the last reading at or before what is emitted, to interpolate from
            buffers[name] = (np.array(st[keep:], dtype=np.float64), np.array([v[keep:] for v in sv], dtype=np.float64).T)
        self.emitted_to = emitted_to
        if reference == "accelerometer":
            gx, gy, gz = caught_up["gravity"]
            ax, ay, az = map(add, ax, gx), map(add, ay, gy), map(add, az, gz)
        # push's sign * value * scale, value for value: negating is exact and rounding symmetric, so (-v) * a == v * -a
        a = ACC_UNITS[self.units.acc] * (-1.0 if self.frame == "ios" else 1.0)
        g = GYRO_UNITS[self.units.gyro]
        columns = [list(map(mul, c, repeat(a, len(t)))) for c in (ax, ay, az)]
        columns += [list(map(mul, c, repeat(g, len(t)))) for c in caught_up["gyroscope"]]
        return Rows.of_columns(t, columns, (min(steps), max(steps)) if steps else None)

    def push(self, readings: Readings) -> tuple[np.ndarray, np.ndarray]:
        self._check(readings)
        for name, (t_new, v_new) in readings.items():
            t_old, v_old = self.buffers[name]
            t = np.concatenate([t_old, t_new])
            v = np.concatenate([v_old, v_new])
            if len(t) > 1 and (t[1:] < t[:-1]).any():
                order = np.argsort(t, kind="stable")
                t, v = t[order], v[order]
            if len(t) > MAX_BUFFERED:
                self.counts["sensor_logger_overflow"] += len(t) - MAX_BUFFERED
                t, v = t[-MAX_BUFFERED:], v[-MAX_BUFFERED:]
            self.buffers[name] = (t, v)
        total = len(self.buffers["totalacceleration"][0]) > 0
        reference = "totalacceleration" if total else "accelerometer"
        others = ["gyroscope"] if total else ["gravity", "gyroscope"]
        ref_t, ref_v = self.buffers[reference]
        if not len(ref_t) or any(not len(self.buffers[o][0]) for o in others):
            return np.zeros(0), np.zeros((0, 6))
        ready_to = min(self.buffers[o][0][-1] for o in others)
        ready = (ref_t <= ready_to) & (ref_t > self.emitted_to)
        t = ref_t[ready]
        acc = ref_v[ready].copy()
        if not total:
            acc += self._at("gravity", t)
        gyro = self._at("gyroscope", t)
        if len(t):
            self.emitted_to = t[-1]
        self._trim(reference, others)
        sign = -1.0 if self.frame == "ios" else 1.0
        raw = np.hstack([sign * acc * ACC_UNITS[self.units.acc], gyro * GYRO_UNITS[self.units.gyro]])
        return t, raw  # every reading was checked in _check; their interpolations and sums stay within the limits

    def _check(self, readings: Readings) -> None:
        """Reject a bad message before it touches the buffers (each sensor's limit: ``_scale_and_limit``)."""
        if not readings:
            return
        names = list(readings)
        if all(self._plainly_within(name, *readings[name]) for name in names):  # the common case, in a few calls
            for name in names:
                check_density(readings[name][0])
            return
        t = np.concatenate([readings[n][0] for n in names])
        values = np.concatenate([readings[n][1] * self._scale_and_limit(n)[0] for n in names])
        limits = np.concatenate([np.full(len(readings[n][0]), self._scale_and_limit(n)[1]) for n in names])
        check_readings(t, values, limits[:, None])
        for name in names:
            check_density(readings[name][0])

    def _scale_and_limit(self, name: str) -> tuple[float, float]:
        """A sensor's scale to g or rad/s, and the limit of its scaled values.  Acceleration and gravity may
        each reach half the acceleration limit, so that their sum, the total acceleration, stays within it."""
        if name == "gyroscope":
            return GYRO_UNITS[self.units.gyro], MAX_ABS_GYRO
        return ACC_UNITS[self.units.acc], MAX_ABS_ACC_G if name == "totalacceleration" else MAX_ABS_ACC_G / 2

    def _plainly_within(self, name: str, t: np.ndarray, values: np.ndarray) -> bool:
        """Every time and value finite and within its limit, for ``_check``'s limits; False also for any doubt
        (then ``_check`` finds the reason).  A positive scale keeps the order of absolute values, rounding
        included, so the largest value scaled is the largest scaled value."""
        if not len(t):
            return True
        scale, limit = self._scale_and_limit(name)
        return bool(np.abs(t).max() <= MAX_ABS_TIME and np.abs(values).max() * scale <= limit)  # NaN: False

    def _at(self, name: str, t: np.ndarray) -> np.ndarray:
        return interpolate(*self.buffers[name], t)

    def _trim(self, reference: str, others: list[str]) -> None:
        rt, rv = self.buffers[reference]
        keep = rt > self.emitted_to
        self.buffers[reference] = (rt[keep], rv[keep])
        for name in others:  # keep the last reading at or before what was emitted, to interpolate from
            st, sv = self.buffers[name]
            first = max(int(np.searchsorted(st, self.emitted_to, side="right")) - 1, 0)
            self.buffers[name] = (st[first:], sv[first:])


def interpolate(st: np.ndarray, sv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Readings ``sv`` (n, 3) at increasing times ``st`` at the instants ``t``, linearly: ``np.interp``'s values
    (the end readings held beyond the ends, a reading's own value at its instant), in its arithmetic written out
    (the slope times the time since the reading before, plus that reading), so that ``_interpolated`` repeats it
    to the last bit on any machine (a compiler may fuse np.interp's multiply and add).

    >>> interpolate(np.array([0.0, 1.0]), np.array([[0.0, 2.0, 4.0], [1.0, 2.0, 0.0]]), np.array([-1.0, 0.25, 1.0, 2.0])).tolist()
    [[0.0, 2.0, 4.0], [0.25, 2.0, 3.0], [1.0, 2.0, 0.0], [1.0, 2.0, 0.0]]
    """
    n = len(st)
    j = np.searchsorted(st, t, side="right") - 1  # the last reading at or before each instant
    before = np.clip(j, 0, max(n - 2, 0))
    after = np.minimum(before + 1, n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # repeated instants: their slopes are never used
        slope = (sv[after] - sv[before]) / (st[after] - st[before])[:, None]
        out = slope * (t - st[before])[:, None] + sv[before]
    at = np.clip(j, 0, n - 1)
    held = (j < 0) | (j >= n - 1) | (st[at] == t)
    out[held] = sv[at[held]]
    return out


def _interpolated(st: list, sv: list, t: list) -> list:
    """``interpolate`` in Python floats, for increasing ``st`` and strictly increasing ``t``: three lists."""
    k = len(t)
    if not k:
        return [[], [], []]
    if st[-k:] == t:  # at the last readings' own instants (readings in step): the readings themselves
        return [v[-k:] for v in sv]
    j = bisect_right(st, t[0]) - 1
    before, after = st[j:j + k], st[j + 1:j + k + 1]
    if j >= 0 and len(after) == k and all(map(lt, before, t)) and all(map(lt, t, after)):  # one instant between each two readings
        steps, since = list(map(sub, after, before)), list(map(sub, t, before))
        # (b - a) / step * since + a, reading after reading, in C
        return [list(map(add, map(mul, map(truediv, map(sub, v[j + 1:j + k + 1], v[j:j + k]), steps), since), v[j:j + k])) for v in sv]
    xs, ys, zs = sv
    ox, oy, oz = [], [], []
    j, last = 0, len(st) - 1
    for x in t:
        while j < last and st[j + 1] <= x:
            j += 1
        if j == last or x <= st[j]:  # at or after the last reading, at a reading, or before the first
            ox.append(xs[j]), oy.append(ys[j]), oz.append(zs[j])
        else:
            x0, k = st[j], j + 1
            step, since = st[k] - x0, x - x0
            ox.append((xs[k] - xs[j]) / step * since + xs[j])
            oy.append((ys[k] - ys[j]) / step * since + ys[j])
            oz.append((zs[k] - zs[j]) / step * since + zs[j])
    return [ox, oy, oz]


def _joined(held: tuple, t: list, columns) -> tuple[list, list]:
    """A sensor's readings held (arrays) and a message's (Python values), as lists: times, and x, y, z columns."""
    held_t, held_v = held
    if not len(held_t):
        return t, list(columns)
    return held_t.tolist() + t, [h + list(c) for h, c in zip(held_v.T.tolist(), columns)]
