"""The daemon's reader: :func:`~.payloads.parse`'s values, checks and rejects, with the commonest messages
spared numpy's per-call cost (one plain sample as Python floats; a plain batch, whatever its shape, as
lists of numbers for the device's buffer).  A message the quick paths do not take, or doubt, goes through
``parse``; tests hold the two to the same outcome on valid, hostile and fuzzed messages.
"""
from __future__ import annotations

from itertools import chain
from operator import sub

import numpy as np

from .payloads import (
    ACC_UNITS,
    GYRO_UNITS,
    MAX_ABS_ACC_G,
    MAX_ABS_GYRO,
    MAX_ABS_TIME,
    MAX_GAP_S,
    MAX_SAMPLES,
    MIN_RATE_HZ,
    Reject,
    Units,
    parse_decoded,
    decode_json,
    parse,
)

_NUMBER = (float, int)
_NUMBER_SET = frozenset(_NUMBER)
_LIST, _THREE = {list}, {3}
LIMITS = np.array([MAX_ABS_TIME] + [MAX_ABS_ACC_G] * 3 + [MAX_ABS_GYRO] * 3)  # |t|, |acc|, |gyro|


class Samples:
    """What one message held, in one shape for every reader: ``len()`` samples; ``onto(stream)`` appends them
    to a device's stream the way that costs least for what the message was, and returns the windows they
    complete; ``arrays()`` gives them as ``parse`` does, ``(t (n,), raw (n, 6))``."""

    __slots__ = ()


class OneSample(Samples):
    """One plain sample, in Python floats: no numpy at all on its way into the device's buffer."""

    __slots__ = ("t", "row")

    def __init__(self, t: float, row: tuple):
        self.t, self.row = t, row

    def __len__(self) -> int:
        return 1

    def onto(self, stream, defer: bool = False) -> list:
        return stream.append_one(self.t, self.row, defer=defer)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self.t]), np.array([self.row], dtype=np.float64)


class Rows(Samples):
    """A plain batch in g and rad/s as one flat list, seven numbers a sample (``t``, acc xyz, gyro xyz): the
    layout of the device's buffer, which takes it in one copy."""

    __slots__ = ("flat", "steps")

    def __init__(self, flat: list, steps: tuple[float, float] | None = None):
        self.flat = flat
        self.steps = steps  # the shortest and longest step in time, when the reader measured them

    @classmethod
    def of_columns(cls, t: list, columns, steps: tuple[float, float] | None = None) -> "Rows":
        """Times and six columns (acc xyz, gyro xyz) in the buffer's layout, by seven slice copies (a third of a
        loop's cost)."""
        flat = [0.0] * (7 * len(t))
        flat[0::7] = t
        flat[1::7], flat[2::7], flat[3::7], flat[4::7], flat[5::7], flat[6::7] = columns
        return cls(flat, steps)

    def __len__(self) -> int:
        return len(self.flat) // 7

    def onto(self, stream, defer: bool = False) -> list:
        return stream.append_rows(self.flat, defer=defer, steps=self.steps)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        rows = np.array(self.flat, dtype=np.float64).reshape(-1, 7)
        return rows[:, 0].copy(), rows[:, 1:].copy()


class Arrays(Samples):
    """Samples as numpy arrays: what ``parse`` gives, and a batch that needed converting."""

    __slots__ = ("t", "raw")

    def __init__(self, t: np.ndarray, raw: np.ndarray):
        self.t, self.raw = t, raw

    def __len__(self) -> int:
        return len(self.t)

    def onto(self, stream, defer: bool = False) -> list:
        return stream.append(self.t, self.raw, defer=defer) if len(self.t) else []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.t, self.raw


def _own_units(obj: dict, units: Units) -> Units | None:
    """The units a message names (``"units"``, its only other key), else the device's; None if it names
    them wrongly or holds anything else (parse says what)."""
    if len(obj) == 3:
        return units
    if len(obj) != 4 or "units" not in obj:
        return None
    try:
        return units.override(obj["units"])
    except Reject:
        return None


def _one_sample(obj, units: Units) -> OneSample | None:
    """A plain one-sample object as (t, 6 raw values) in Python floats, if every check passes; else None."""
    if type(obj) is not dict:
        return None
    units = _own_units(obj, units)
    if units is None:
        return None
    t, acc, gyro = obj.get("t"), obj.get("acc"), obj.get("gyro")
    if type(t) not in _NUMBER or type(acc) is not list or type(gyro) is not list or len(acc) != 3 or len(gyro) != 3:
        return None
    if not _NUMBER_SET.issuperset(map(type, acc)) or not _NUMBER_SET.issuperset(map(type, gyro)):
        return None  # a string, a null, a list where a number belongs: parse says which
    try:
        a, g = ACC_UNITS[units.acc], GYRO_UNITS[units.gyro]
        # float(v) * scale: numpy's float64 conversion and product, value for value
        row = (float(acc[0]) * a, float(acc[1]) * a, float(acc[2]) * a, float(gyro[0]) * g, float(gyro[1]) * g, float(gyro[2]) * g)
        t = float(t)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (abs(t) <= MAX_ABS_TIME and abs(row[0]) <= MAX_ABS_ACC_G and abs(row[1]) <= MAX_ABS_ACC_G and abs(row[2]) <= MAX_ABS_ACC_G
            and abs(row[3]) <= MAX_ABS_GYRO and abs(row[4]) <= MAX_ABS_GYRO and abs(row[5]) <= MAX_ABS_GYRO):
        return None  # also NaN, which compares false
    return OneSample(t, row)


def _plain_columns(t: list, acc: list, gyro: list, units: Units) -> Rows | None:
    """A column batch of plain numbers, in time order, every value plausible: its numbers as JSON gave them
    (in g and rad/s; scaled to them as ``parse`` scales them), in the layout of the device's buffer of
    floats (no numpy at all); else None."""
    if not _NUMBER_SET.issuperset(map(type, t)):
        return None
    a, g = list(chain.from_iterable(acc)), list(chain.from_iterable(gyro))
    if not (_NUMBER_SET.issuperset(map(type, a)) and _NUMBER_SET.issuperset(map(type, g))):
        return None
    try:
        a, g = _in_g(a, units), _in_rad_s(g, units)
    except OverflowError:  # an integer beyond any float
        return None
    steps = _plausible(t, a, g)
    if steps is None:
        return None
    return Rows.of_columns(t, (a[0::3], a[1::3], a[2::3], g[0::3], g[1::3], g[2::3]), steps)


def _plausible(t: list, acc: list, gyro: list) -> tuple[float, float] | None:
    """The shortest and the longest step of times in order, if every value is within its limit (``acc`` in g,
    ``gyro`` in rad/s); else None: out of order (parse sorts), maybe too sparse (parse decides, to the last
    bit), or a value too large (inf too; NaN never comes out of decode_json)."""
    dt = list(map(sub, t[1:], t[:-1]))
    shortest = min(dt)
    if shortest < 0.0 or sum(dt) >= len(t) / MIN_RATE_HZ + MAX_GAP_S - 1e-6:
        return None
    # in time order, so the first and the last time are the extremes; max and min spare a call of abs a value
    if abs(t[0]) > MAX_ABS_TIME or abs(t[-1]) > MAX_ABS_TIME or max(acc) > MAX_ABS_ACC_G or min(acc) < -MAX_ABS_ACC_G \
            or max(gyro) > MAX_ABS_GYRO or min(gyro) < -MAX_ABS_GYRO:
        return None
    return shortest, max(dt)


def _in_g(values: list, units: Units) -> list:
    """Acceleration values in g: ``parse``'s product with the unit's scale, value for value (float(v) * scale)."""
    if units.acc == "g":
        return values
    scale = ACC_UNITS[units.acc]
    return [v * scale for v in values]  # an integer too large for a float: OverflowError, as float() would


def _in_rad_s(values: list, units: Units) -> list:
    """Angular velocity in rad/s, as ``_in_g``."""
    if units.gyro == "rad/s":
        return values
    scale = GYRO_UNITS[units.gyro]
    return [v * scale for v in values]


def _column_lists(obj, units: Units) -> tuple[list, list, list, Units] | None:
    """A column batch's ``t``, ``acc``, ``gyro`` if it is one: nothing else in it, lists of equal length
    (2 to MAX_SAMPLES), rows of three as lists (a string of three characters would pass for one).
    Anything else: None, and parse says what is wrong."""
    if type(obj) is not dict:
        return None
    units = _own_units(obj, units)
    t, acc, gyro = obj.get("t"), obj.get("acc"), obj.get("gyro")
    if units is None or type(t) is not list or type(acc) is not list or type(gyro) is not list \
            or not 1 < len(t) == len(acc) == len(gyro) <= MAX_SAMPLES:
        return None
    try:
        if {*map(type, acc), *map(type, gyro)} != _LIST or {*map(len, acc), *map(len, gyro)} != _THREE:
            return None
    except TypeError:
        return None
    return t, acc, gyro, units


def _object_list(obj, units: Units) -> tuple[list, list, list, Units] | None:
    """A batch as a list of plain one-sample objects (2 to MAX_SAMPLES, each exactly ``t``, ``acc``, ``gyro``
    with rows of three as lists) turned into the columns it stands for; anything else: None (parse decides)."""
    if type(obj) is not list or not 1 < len(obj) <= MAX_SAMPLES or type(obj[0]) is not dict:
        return None
    named = obj[0].get("units")  # every item must name the same units, or none
    units = _own_units(obj[0], units)
    if units is None:
        return None
    size = 3 if named is None else 4
    t, acc, gyro = [], [], []
    for item in obj:
        if type(item) is not dict or len(item) != size or (named is not None and item.get("units") != named):
            return None
        a, g = item.get("acc"), item.get("gyro")
        if type(a) is not list or type(g) is not list or len(a) != 3 or len(g) != 3:
            return None
        t.append(item.get("t"))
        acc.append(a)
        gyro.append(g)
    return t, acc, gyro, units


#: What plain CSV lines of numbers hold: anything else (letters, brackets, quotes) goes the slow way.
_CSV_BYTES = b"0123456789+-.eE, \t\r\n"


def _csv_rows(payload: bytes) -> list | None:
    """CSV lines of seven numbers (2 to MAX_SAMPLES) as their rows, read by the JSON parser: each line made a
    JSON array, the lines an array of them.  Only digits, signs, points, exponents, commas and white space
    may be in the message, so that the brackets added are the only ones; a number JSON does not write as
    CSV does (``+1``, ``.5``, ``1.``) fails the JSON parse, and the message goes the slow way.  The
    numbers JSON reads are the numbers ``float`` reads, to the last bit (a test holds the two readers to
    the same outcome on fuzzed lines)."""
    body = payload.strip()
    if not body or body.translate(None, _CSV_BYTES):
        return None
    try:
        rows = decode_json(b"[[" + body.replace(b"\n", b"],[") + b"]]")
    except Reject:
        return None
    if not 1 < len(rows) <= MAX_SAMPLES or {*map(len, rows)} != _SEVEN:
        return None
    return rows


def _plain_rows(rows: list, units: Units) -> Rows | None:
    """Rows of seven numbers, in time order, every value plausible: one flat list for the device's buffer of
    floats, in g and rad/s (scaled to them as ``parse`` scales them); else None."""
    flat = list(chain.from_iterable(rows))
    t, n = flat[0::7], len(rows)
    try:
        acc, gyro = _in_g(flat[1::7] + flat[2::7] + flat[3::7], units), _in_rad_s(flat[4::7] + flat[5::7] + flat[6::7], units)
    except OverflowError:  # an integer beyond any float
        return None
    steps = _plausible(t, acc, gyro)
    if steps is None:
        return None
    if units.acc != "g":
        flat[1::7], flat[2::7], flat[3::7] = acc[:n], acc[n:2 * n], acc[2 * n:]
    if units.gyro != "rad/s":
        flat[4::7], flat[5::7], flat[6::7] = gyro[:n], gyro[n:2 * n], gyro[2 * n:]
    return Rows(flat, steps)


_SEVEN = {7}


def _clean_columns(t: list, acc: list, gyro: list, units: Units) -> Arrays | None:
    """A plain column batch, in time order, every value plausible, as (t, raw); else None."""
    n = len(t)
    if not _NUMBER_SET.issuperset(map(type, chain(t, chain.from_iterable(acc), chain.from_iterable(gyro)))):
        return None  # a boolean, which numpy would take for a number (parse rejects it), or no number at all
    try:
        # One conversion of all 7n values, as numpy's would convert each (float(v))
        flat = np.fromiter(chain(t, chain.from_iterable(acc), chain.from_iterable(gyro)), np.float64, 7 * n)
    except (TypeError, ValueError, OverflowError):
        return None
    tt, acc_g, gyro_r = flat[:n], flat[n:4 * n].reshape(n, 3), flat[4 * n:].reshape(n, 3)
    if units.acc != "g":
        acc_g *= ACC_UNITS[units.acc]
    if units.gyro != "rad/s":
        gyro_r *= GYRO_UNITS[units.gyro]
    size = np.abs(flat)
    if not (size[:n].max() <= MAX_ABS_TIME and size[n:4 * n].max() <= MAX_ABS_ACC_G and size[4 * n:].max() <= MAX_ABS_GYRO):
        return None  # NaN fails too
    dt = tt[1:] - tt[:-1]
    if not (dt.min() >= 0.0 and dt.sum() <= n / MIN_RATE_HZ + MAX_GAP_S):
        return None  # out of order (parse sorts), or maybe too sparse (parse decides)
    return Arrays(tt, np.concatenate((acc_g, gyro_r), axis=1))


def read(payload: bytes, units: Units = Units()) -> Samples:
    """:func:`parse` for the daemon, as :class:`Samples`, with the commonest messages spared numpy's per-call
    cost: one plain sample comes as a ``OneSample`` of Python floats; a plain batch (columns, a list of sample
    objects, CSV lines) as ``Rows``, one flat list of its numbers in g and rad/s; anything else as ``parse``
    gives it, ``Arrays``.  The values, the checks and the rejects are ``parse``'s: a message the quick
    paths do not take, or doubt, goes through ``parse``.

    >>> one = read(b'{"t": 10.0, "acc": [0, 0, 9.80665], "gyro": [0, 0, 0]}', Units("m/s2"))
    >>> type(one).__name__, one.t, one.row
    ('OneSample', 10.0, (0.0, 0.0, 1.0, 0.0, 0.0, 0.0))
    >>> batch = read(b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, 1]], "gyro": [[0, 0, 0], [0, 0, 0]]}')
    >>> type(batch).__name__, len(batch), batch.flat
    ('Rows', 2, [1.0, 0, 0, 1, 0, 0, 0, 1.02, 0, 0, 1, 0, 0, 0])
    >>> t, raw = read(b'{"t": [1.0, 1.02], "acc": [[0, 0, 9.8], [0, 0, 9.8]], "gyro": [[0, 0, 0], [0, 0, 0]]}', Units("m/s2")).arrays()
    >>> t.tolist(), raw.shape
    ([1.0, 1.02], (2, 6))
    """
    head = payload[:1]
    if head not in b"{[" or not head:  # CSV lines (or nothing): parse's verdict unless they are plain
        rows = _csv_rows(payload) if head else None
        quick = None
        if rows is not None:
            quick = _plain_rows(rows, units) or _clean_columns([r[0] for r in rows], [r[1:4] for r in rows],
                                                                [r[4:] for r in rows], units)
        return quick if quick is not None else Arrays(*parse(payload, units))
    obj = decode_json(payload)
    quick = _one_sample(obj, units) if head == b"{" else None
    if quick is None:
        columns = _column_lists(obj, units) if head == b"{" else _object_list(obj, units)
        if columns is not None:
            quick = _plain_columns(*columns) or _clean_columns(*columns)
    return quick if quick is not None else Arrays(*parse_decoded(obj, payload, units))
