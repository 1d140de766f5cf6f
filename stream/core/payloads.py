"""Sensor messages in every accepted shape, parsed to (t, raw) arrays or rejected with a reason.

Auto-detected:

1. one sample: ``{"t": 1732450000.02, "acc": [x, y, z], "gyro": [x, y, z]}``
2. a batch: a list of such objects, or columns ``{"t": [...], "acc": [[x, y, z], ...], "gyro": [...]}``
3. CSV lines ``t,ax,ay,az,gx,gy,gz`` (one or many lines)
4. Sensor Logger's ``{"messageId", "sessionId", "deviceId", "payload": [...]}`` (see ``sensorlogger``)

Units: acceleration in g and gyro in rad/s unless the topic's settings or a
``"units": {"acc": "m/s2", "gyro": "deg/s"}`` field in the message say otherwise.

>>> t, raw = parse(b'{"t": 10.0, "acc": [0, 0, 9.80665], "gyro": [0, 0, 180]}', Units("m/s2", "deg/s"))
>>> t.tolist(), raw.round(6).tolist()
([10.0], [[0.0, 0.0, 1.0, 0.0, 0.0, 3.141593]])
>>> parse(b'1.0,0,0,1,0,0', Units())
Traceback (most recent call last):
...
harstream.core.payloads.Reject: bad_shape: CSV line 1 has 6 fields, expected 7 (t,ax,ay,az,gx,gy,gz)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

try:  # several times faster than the standard library; optional (the "fast" extra)
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - exercised by the tests with orjson hidden
    _fast_loads = None

from .windows import MAX_GAP_S

G = 9.80665
MAX_SAMPLES = 10_000  # per message
MAX_ABS_ACC_G = 100.0  # phones saturate at 8-16 g; beyond this it is not a reading
MAX_ABS_GYRO = 100.0  # rad/s (5,700 deg/s)
MAX_ABS_TIME = 1e10  # seconds: the year 2286 since the epoch; 1.7e12 would be milliseconds
MIN_RATE_HZ = 5.0  # readings are resampled to the model's rate: sparser ones would make far more than they are
ACC_UNITS = {"g": 1.0, "m/s2": 1.0 / G, "m/s^2": 1.0 / G, "ms2": 1.0 / G}
GYRO_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0, "dps": math.pi / 180.0}


class Reject(ValueError):
    """A message that cannot be used; ``reason`` is a short key for counting."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Units:
    acc: str = "g"
    gyro: str = "rad/s"

    def __post_init__(self):
        if self.acc not in ACC_UNITS:
            raise ValueError(f"acceleration unit {self.acc!r}: use one of {', '.join(ACC_UNITS)}")
        if self.gyro not in GYRO_UNITS:
            raise ValueError(f"gyro unit {self.gyro!r}: use one of {', '.join(GYRO_UNITS)}")

    def override(self, field) -> "Units":
        if field is None:
            return self
        if not isinstance(field, dict):
            raise Reject("bad_units", "'units' must be an object like {\"acc\": \"m/s2\", \"gyro\": \"deg/s\"}")
        try:
            return Units(str(field.get("acc", self.acc)), str(field.get("gyro", self.gyro)))
        except ValueError as exc:
            raise Reject("bad_units", str(exc)) from None


def decode_json(payload: bytes):
    """JSON to Python, or Reject.  orjson reads what it accepts; anything it refuses (NaN, lone
    surrogates, bad UTF-8, deep nesting, ...) goes through the standard library, whose verdicts
    and reasons are the rules."""
    if _fast_loads is not None:
        try:
            return _fast_loads(payload)
        except ValueError:
            pass
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("invalid_utf8", "message is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise Reject("invalid_json", "nested too deeply") from None
    except Reject:
        raise
    except ValueError as exc:
        raise Reject("invalid_json", str(exc)) from None


def _no_constants(name: str):
    raise Reject("not_finite", f"{name} is not a finite number")


def _array(value, shape_tail: tuple, what: str) -> np.ndarray:
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise Reject("bad_type", f"{what} must be numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Reject("bad_type", f"{what} must hold numbers only") from None
    except OverflowError:  # an integer of 400 digits: no float holds it
        raise Reject("not_finite", f"{what} holds a number beyond any float") from None
    if arr.shape[1:] != shape_tail:
        raise Reject("bad_shape", f"{what} has shape {list(arr.shape)}, expected [n, {', '.join(map(str, shape_tail))}]"
                     if shape_tail else f"{what} has shape {list(arr.shape)}, expected a list of numbers")
    return arr


def _from_columns(obj: dict, units: Units) -> tuple[np.ndarray, np.ndarray]:
    missing = [k for k in ("t", "acc", "gyro") if k not in obj]
    if missing:
        raise Reject("missing_field", f"no {', '.join(missing)}")
    units = units.override(obj.get("units"))
    single = not isinstance(obj["t"], list)
    t = _array([obj["t"]] if single else obj["t"], (), "t")
    acc = _array([obj["acc"]] if single else obj["acc"], (3,), "acc")
    gyro = _array([obj["gyro"]] if single else obj["gyro"], (3,), "gyro")
    if not len(t) == len(acc) == len(gyro):
        raise Reject("bad_shape", f"t, acc and gyro have {len(t)}, {len(acc)} and {len(gyro)} rows")
    return t, np.hstack([acc * ACC_UNITS[units.acc], gyro * GYRO_UNITS[units.gyro]])


def _from_list(items: list, units: Units) -> tuple[np.ndarray, np.ndarray]:
    ts, rows = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise Reject("bad_type", f"batch item {i} is a {type(item).__name__}, expected an object")
        t, raw = _from_columns(item, units)
        if len(t) != 1:
            raise Reject("bad_shape", f"batch item {i} holds {len(t)} samples, expected one")
        ts.append(t)
        rows.append(raw)
    if not ts:
        return np.zeros(0), np.zeros((0, 6))
    return np.concatenate(ts), np.concatenate(rows)


def _from_csv(payload: bytes, units: Units) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise Reject("invalid_utf8", "CSV message is not ASCII") from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 7:
            raise Reject("bad_shape", f"CSV line {n} has {len(fields)} fields, expected 7 (t,ax,ay,az,gx,gy,gz)")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise Reject("bad_type", f"CSV line {n} holds something that is not a number") from None
        if len(rows) > MAX_SAMPLES:
            break
    data = np.array(rows, dtype=np.float64).reshape(-1, 7)
    scale = np.array([ACC_UNITS[units.acc]] * 3 + [GYRO_UNITS[units.gyro]] * 3)
    return data[:, 0], data[:, 1:] * scale


def check_readings(t: np.ndarray, values: np.ndarray, limits) -> None:
    """Reject non-finite values, implausible times, and values beyond ``limits`` (broadcast against ``values``)."""
    if not (np.isfinite(t).all() and np.isfinite(values).all()):
        raise Reject("not_finite", "NaN or infinite value")
    if len(t) and np.abs(t).max() > MAX_ABS_TIME:
        raise Reject("bad_time", f"timestamp {np.abs(t).max():.4g} s is past the year 2286: milliseconds or nanoseconds given as seconds?")
    if len(t) and (np.abs(values) > limits).any():
        raise Reject("out_of_range", f"acceleration beyond {MAX_ABS_ACC_G:g} g or rotation beyond {MAX_ABS_GYRO:g} rad/s")


RAW_LIMITS = np.array([MAX_ABS_ACC_G] * 3 + [MAX_ABS_GYRO] * 3)


def check(t: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reject what no sensor sends: too many samples, non-finite or absurd values, readings too sparse."""
    if len(t) > MAX_SAMPLES:
        raise Reject("too_many_samples", f"{len(t)} samples in one message; at most {MAX_SAMPLES}")
    check_readings(t, raw, RAW_LIMITS)
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")  # a batch may list its samples out of order
        t, raw = t[order], raw[order]
    check_density(t)
    return t, raw


def check_density(t: np.ndarray) -> None:
    """Reject readings (in any order) so sparse that resampling would multiply them: 10,000 readings 0.99 s
    apart would become 500,000 samples.  Gaps over ``MAX_GAP_S`` reset the stream instead and cost nothing."""
    if len(t) < 2:
        return
    limit = len(t) / MIN_RATE_HZ + MAX_GAP_S
    if t.max() - t.min() <= limit:  # the time covered is at most the span: dense enough, whatever the order
        return
    dt = np.diff(np.sort(t))
    covered = dt[(dt > 0) & (dt <= MAX_GAP_S)].sum()
    if covered > limit:
        raise Reject("too_sparse", f"{len(t)} readings spread over {covered:.0f} s; send at least {MIN_RATE_HZ:g} a second")


def _holds_bool(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, list):
        return any(_holds_bool(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_bool(value.get(k)) for k in ("t", "acc", "gyro"))
    return False


def parse(payload: bytes, units: Units = Units()) -> tuple[np.ndarray, np.ndarray]:
    """One device's message -> (t (n,), raw (n, 6) acc g + gyro rad/s), sorted by time."""
    head = payload.lstrip()[:1]
    if head in (b"{", b"[", b"\""):
        return parse_decoded(decode_json(payload), payload, units)
    if head:
        return check(*_from_csv(payload, units))
    raise Reject("empty", "empty message")


def parse_decoded(obj, payload: bytes, units: Units) -> tuple[np.ndarray, np.ndarray]:
    # numpy reads true as 1.0: look for booleans, but only where the text could hold one
    if (b"true" in payload or b"false" in payload) and _holds_bool(obj if isinstance(obj, list) else [obj]):
        raise Reject("bad_type", "true or false where a number belongs")
    if isinstance(obj, dict):
        if "payload" in obj:
            raise Reject("unexpected_format", "a Sensor Logger message on a device topic; send it to the Sensor Logger topic")
        t, raw = _from_columns(obj, units)
    elif isinstance(obj, list):
        t, raw = _from_list(obj, units)
    else:
        raise Reject("bad_type", "expected a JSON object or list")
    return check(t, raw)
