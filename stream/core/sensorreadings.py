"""A Sensor Logger message's items read into each sensor's readings (``split``; ``Laid`` for the aligner's
quick path), and the envelope's checks.  See ``sensorlogger`` for the message and the aligner.
"""
from __future__ import annotations

from operator import itemgetter, methodcaller

import numpy as np

from .payloads import MAX_SAMPLES, Reject

SENSORS = ("accelerometer", "totalacceleration", "gravity", "gyroscope")

MAX_BUFFERED = 2_000  # readings per sensor waiting for the others


def ns_to_seconds(ns) -> float:
    """Epoch nanoseconds to seconds, as exactly as a float allows (ns / 1e9 loses ~100 ns at today's epoch)."""
    if isinstance(ns, bool) or not isinstance(ns, (int, float)):
        raise TypeError("time must be a number")
    if isinstance(ns, int):
        return (ns // 1_000_000_000) + (ns % 1_000_000_000) / 1e9
    return ns / 1e9


def seconds_of(ns: list) -> list:
    """``ns_to_seconds`` of every one of a list of integer epoch nanoseconds, as Python floats."""
    return [(i // 1_000_000_000) + (i % 1_000_000_000) / 1e9 for i in ns]


def seconds_to_ns(t: float) -> int:
    """The inverse of ``ns_to_seconds`` for float seconds: whole seconds and fraction apart."""
    whole = int(t // 1)
    return whole * 1_000_000_000 + round((t - whole) * 1e9)


#: A message's readings of the sensors we use: sensor -> (t seconds (n,), values (n, 3)), in message order.
Readings = dict


def message_device(msg) -> str:
    """The device id of a Sensor Logger message whose shape is right (a ``payload`` list, not too long)."""
    if not isinstance(msg, dict) or not isinstance(msg.get("payload"), list):
        raise Reject("bad_shape", "a Sensor Logger message needs a 'payload' list")
    device = msg.get("deviceId")
    if not isinstance(device, str):
        raise Reject("missing_field", "a Sensor Logger message needs a 'deviceId' string")
    if len(msg["payload"]) > 4 * MAX_SAMPLES:
        raise Reject("too_many_samples", f"{len(msg['payload'])} readings in one message")
    return device


def split_message(msg) -> tuple[str, Readings]:
    """(device id, readings by sensor) of the sensors we use; others are ignored.  Plain messages (numbers
    where numbers belong) are read in one pass per sensor; anything else item by item, for the reason."""
    device = message_device(msg)
    return device, split(msg["payload"])


def split(payload: list) -> Readings:
    """A message's readings by sensor (``split_message`` without the envelope)."""
    readings = _plain_readings(payload)
    return readings if readings is not None else split_items(payload)


_NUMBER = frozenset((int, float))


def _seconds(ns: list) -> np.ndarray:
    """Integer epoch nanoseconds to seconds, as exactly as a float allows, as ``ns_to_seconds`` does
    (OverflowError beyond 64 bits)."""
    seconds, rest = np.divmod(np.array(ns, dtype=np.int64), 1_000_000_000)
    return seconds.astype(np.float64) + rest / 1e9


def _plain_readings(payload: list) -> Readings | None:
    """The readings of a message whose every item we use is a plain object with numbers; else None."""
    groups: dict[str, tuple[list, list]] = {}
    try:
        for item in payload:
            if type(item) is not dict:
                return None
            name = item.get("name")
            if name not in SENSORS:
                continue
            values = item.get("values", item)
            group = groups.get(name)
            if group is None:
                group = groups[name] = ([], [])
            group[0].append(item["time"])
            group[1].extend((values["x"], values["y"], values["z"]))  # flat: numpy reads a flat list fastest
        out = {}
        for name, (times, flat) in groups.items():
            kinds = set(map(type, times))
            if not _NUMBER.issuperset(map(type, flat)) or not kinds or not _NUMBER.issuperset(kinds):
                return None
            if kinds == {int}:
                t = _seconds(times)
            elif kinds == {float}:
                t = np.array(times, dtype=np.float64) / 1e9
            else:
                return None
            out[name] = (t, np.array(flat, dtype=np.float64).reshape(-1, 3))
        return out
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def split_items(payload: list) -> Readings:
    """Item by item, with each bad item's reason."""
    items = []
    for i, item in enumerate(payload):
        if not isinstance(item, dict):
            raise Reject("bad_type", f"payload item {i} is not an object")
        name = item.get("name")
        if name not in SENSORS:
            continue  # the app also sends location, battery, ...; not ours
        values = item.get("values", item)
        if not isinstance(values, dict):
            raise Reject("bad_type", f"payload item {i}: 'values' is not an object")
        try:
            xyz = [float(values[k]) for k in ("x", "y", "z")]
            t = ns_to_seconds(item["time"])
        except KeyError as exc:
            raise Reject("missing_field", f"payload item {i} ({name}) has no {exc.args[0]}") from None
        except (TypeError, ValueError):
            raise Reject("bad_type", f"payload item {i} ({name}) holds something that is not a number") from None
        if any(isinstance(values.get(k), bool) for k in ("x", "y", "z")):
            raise Reject("bad_type", f"payload item {i} ({name}) holds a boolean")
        items.append((name, t, xyz))
    out = {}
    for name in SENSORS:
        mine = [(t, xyz) for n, t, xyz in items if n == name]
        if mine:
            out[name] = (np.array([t for t, _ in mine], dtype=np.float64), np.array([xyz for _, xyz in mine], dtype=np.float64))
    return out


_FLAT = itemgetter("name", "time", "x", "y", "z")
_NESTED = itemgetter("name", "time", "values")
_XYZ = itemgetter("x", "y", "z")
_HAS_VALUES = methodcaller("__contains__", "values")
_FIVE = {5}  # keys of an item with nothing but a name, a time and x, y, z
_INT = {int}
PARTS = ("accelerometer", "gravity", "gyroscope")  # acceleration without gravity, gravity, rotation
TOTAL = ("totalacceleration", "gyroscope")


class Laid:
    """A plain message's readings, as Python values: per sensor, its times (epoch nanoseconds, integers) and its
    (x, y, z) columns.  ``read`` gives one, or None for anything else; ``readings`` them as ``split`` gives
    them, without a second pass over the items."""

    __slots__ = ("times", "values")

    def __init__(self, times: dict, values: dict):
        self.times, self.values = times, values

    @classmethod
    def read(cls, payload: list) -> "Laid | None":
        """Every item of a sensor we use ``{"name", "time", "x", "y", "z"}`` (or the values under ``"values"``),
        integer times, numbers where numbers belong; items of other sensors are passed over, as ``split`` does."""
        return cls._regular(payload) or cls._grouped(payload)

    @classmethod
    def _regular(cls, payload: list) -> "Laid | None":
        """The commonest layout, read column by column in C: only sensors we use, in a repeating order
        (interleaved, or one block each) with as many readings each."""
        try:
            try:
                names, times, xs, ys, zs = zip(*map(_FLAT, payload))
                if {*map(len, payload)} != _FIVE and any(map(_HAS_VALUES, payload)):  # split reads "values" where an item has both
                    return None
            except KeyError:
                names, times, values = zip(*map(_NESTED, payload))
                xs, ys, zs = zip(*map(_XYZ, values))
            sensors = set(names)
        except (KeyError, TypeError, ValueError):  # a missing field, an item not an object, nothing at all
            return None
        n, k = len(names), len(sensors)
        if n % k or not sensors.issubset(SENSORS) or n // k > MAX_BUFFERED or set(map(type, times)) != _INT \
                or not (_NUMBER.issuperset(map(type, xs)) and _NUMBER.issuperset(map(type, ys)) and _NUMBER.issuperset(map(type, zs))):
            return None  # (more than MAX_BUFFERED of a sensor: push keeps the last of them)
        m = n // k
        if names[:k].count(names[0]) == 1:  # interleaved: a, g, w, a, g, w, ...
            places = [slice(j, None, k) for j in range(k)]
        else:  # one block per sensor: a, a, ..., g, g, ..., w, w, ...
            places = [slice(j * m, (j + 1) * m) for j in range(k)]
        if any(names[where].count(names[where.start]) != m for where in places):
            return None
        return cls({names[where.start]: times[where] for where in places},
                   {names[where.start]: (xs[where], ys[where], zs[where]) for where in places})

    @classmethod
    def _grouped(cls, payload: list) -> "Laid | None":
        """Any other plain message (sensors read at their own rates, other sensors among them), item by item."""
        groups: dict[str, tuple[list, list, list, list]] = {}
        try:
            for item in payload:
                name = item.get("name")
                if name not in SENSORS:
                    continue
                values = item.get("values", item)
                group = groups.get(name) or groups.setdefault(name, ([], [], [], []))
                group[0].append(item["time"])
                group[1].append(values["x"]), group[2].append(values["y"]), group[3].append(values["z"])
        except (AttributeError, KeyError, TypeError):  # not an object, a field missing, a name not a string
            return None
        for times, *columns in groups.values():
            if len(times) > MAX_BUFFERED or set(map(type, times)) != _INT or not all(_NUMBER.issuperset(map(type, c)) for c in columns):
                return None
        if not groups:
            return None
        return cls({name: group[0] for name, group in groups.items()}, {name: tuple(group[1:]) for name, group in groups.items()})

    def readings(self) -> Readings | None:
        """As ``split`` reads the message (None where it would go item by item: a time beyond 64 bits)."""
        out = {}
        try:
            for name, times in self.times.items():
                out[name] = (_seconds(times), np.array(self.values[name], dtype=np.float64).T.copy())
        except OverflowError:
            return None
        return out
