"""The daemon's reader: :func:`~.payloads.parse`'s values, checks and rejects, with the commonest messages
spared numpy's per-call cost (one plain sample as Python floats; a plain batch, whatever its shape, as
lists of numbers for the device's buffer).  A message the quick paths do not take, or doubt, goes through
``parse``; tests hold the two to the same outcome on valid, hostile and fuzzed messages.
"""
from __future__ import annotations

import math
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


def _one_sample(obj, units: Units) -> tuple[float, tuple] | None:
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
    return t, row


def _plain_columns(t: list, acc: list, gyro: list, units: Units) -> tuple[list, tuple[list, list]] | None:
    """A column batch in g and rad/s of plain numbers, in time order, every value plausible: its lists
    as JSON gave them, for the device's buffer of floats (no numpy at all); else None."""
    if units.acc != "g" or units.gyro != "rad/s" or not _NUMBER_SET.issuperset(map(type, t)):
        return None
    a, g = list(chain.from_iterable(acc)), list(chain.from_iterable(gyro))
    if not (_NUMBER_SET.issuperset(map(type, a)) and _NUMBER_SET.issuperset(map(type, g))):
        return None
    try:
        if max(map(abs, t)) > MAX_ABS_TIME or max(map(abs, a)) > MAX_ABS_ACC_G or max(map(abs, g)) > MAX_ABS_GYRO:
            return None  # (inf too; NaN never comes out of decode_json)
        dt = list(map(sub, t[1:], t[:-1]))
    except OverflowError:  # an integer beyond any float
        return None
    if min(dt) < 0.0 or sum(dt) >= len(t) / MIN_RATE_HZ + MAX_GAP_S - 1e-6:
        return None  # out of order (parse sorts), or maybe too sparse (parse decides, to the last bit)
    return t, (acc, gyro)


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


def _csv_columns(payload: bytes) -> tuple[list, list, list] | None:
    """CSV lines of seven finite numbers (2 to MAX_SAMPLES) as columns of Python floats; anything else: None."""
    try:
        lines = [line for line in payload.decode("ascii").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return None
    if not 1 < len(lines) <= MAX_SAMPLES:
        return None
    try:
        rows = [[float(v) for v in line.split(",")] for line in lines]
    except ValueError:
        return None
    if {*map(len, rows)} != _SEVEN:
        return None
    flat = list(chain.from_iterable(rows))
    if not all(map(math.isfinite, flat)):
        return None
    return [r[0] for r in rows], [r[1:4] for r in rows], [r[4:7] for r in rows]


_SEVEN = {7}


def _clean_columns(t: list, acc: list, gyro: list, units: Units) -> tuple[np.ndarray, np.ndarray] | None:
    """A plain column batch, in time order, every value plausible, as (t, raw); else None."""
    n = len(t)
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
    return tt, np.concatenate((acc_g, gyro_r), axis=1)


def read(payload: bytes, units: Units = Units()):
    """:func:`parse` for the daemon, with the commonest messages spared numpy's per-call cost:
    one plain sample comes back as ``(t, row)`` in Python floats; a plain batch in g and rad/s
    (columns, a list of sample objects, CSV lines) as ``(t, (acc, gyro))``, lists of numbers;
    anything else as ``parse`` gives it:
    ``(t (n,), raw (n, 6))`` arrays.  The values, the checks and the rejects are
    ``parse``'s: a message the quick paths do not take, or doubt, goes through ``parse``.

    >>> read(b'{"t": 10.0, "acc": [0, 0, 9.80665], "gyro": [0, 0, 0]}', Units("m/s2"))
    (10.0, (0.0, 0.0, 1.0, 0.0, 0.0, 0.0))
    >>> read(b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, 1]], "gyro": [[0, 0, 0], [0, 0, 0]]}')
    ([1.0, 1.02], ([[0, 0, 1], [0, 0, 1]], [[0, 0, 0], [0, 0, 0]]))
    >>> t, raw = read(b'{"t": [1.0, 1.02], "acc": [[0, 0, 9.8], [0, 0, 9.8]], "gyro": [[0, 0, 0], [0, 0, 0]]}', Units("m/s2"))
    >>> t.tolist(), raw.shape
    ([1.0, 1.02], (2, 6))
    """
    head = payload[:1]
    if head not in b"{[" or not head:  # CSV lines (or nothing): parse's verdict unless they are plain
        columns = _csv_columns(payload) if head else None
        quick = columns and (_plain_columns(*columns, units) or _clean_columns(*columns, units))
        return quick if quick is not None else parse(payload, units)
    if b"true" in payload or b"false" in payload:
        return parse(payload, units)
    obj = decode_json(payload)
    quick = _one_sample(obj, units) if head == b"{" else None
    if quick is None:
        columns = _column_lists(obj, units) if head == b"{" else _object_list(obj, units)
        if columns is not None:
            quick = _plain_columns(*columns) or _clean_columns(*columns)
    return quick if quick is not None else parse_decoded(obj, payload, units)


