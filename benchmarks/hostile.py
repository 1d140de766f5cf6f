"""Hostile input for the daemon: every kind of bad message we know of, each with what it must earn.

A ``Case`` makes its i-th message as (topic kind, device, payload).  Topic kinds:
``own`` (the clean device's own topic: only messages rejected whole may go there, since
they must leave its state untouched), ``other`` (a noisy device's topic), ``logger``
(the Sensor Logger topic) and ``raw`` (``device`` is then the whole topic).  ``expect`` is
the reject reason the daemon must count, ``None`` for messages it must accept (they
reach noisy devices only), or ``"parse"`` where only the parser itself can say (random
mutations: the oracle is ``harstream.core.payloads.parse``).

>>> msgs = messages(200, seed=1)
>>> len(msgs), sorted({m.case for m in msgs}) == sorted(c.name for c in CASES)
(200, True)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
from harstream.engine import MAX_DEVICE_ID
from harstream.core.payloads import MAX_SAMPLES, Reject, parse

MAX_PAYLOAD = 256 * 1024  # the daemon's default max_payload
T0 = 1.7e9


def sample(t: float = T0, acc=(0.0, 0.0, 1.0), gyro=(0.0, 0.0, 0.0)) -> dict:
    return {"t": t, "acc": list(acc), "gyro": list(gyro)}


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def batch(n: int, t0: float = T0, dt: float = 0.02) -> dict:
    return {"t": [t0 + k * dt for k in range(n)], "acc": [[0.0, 0.0, 1.0]] * n, "gyro": [[0.0, 0.0, 0.0]] * n}


def logger_message(device: str, items: list[dict]) -> bytes:
    return dumps({"messageId": 1, "sessionId": "s", "deviceId": device, "payload": items})


def logger_item(name="totalacceleration", time=int(T0 * 1e9), x=0.0, y=0.0, z=9.8) -> dict:
    return {"name": name, "time": time, "x": x, "y": y, "z": z}


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    kind: str  # own, other, logger, raw
    expect: str | None
    make: Callable  # (rng, i) -> (device or topic, payload bytes)
    weight: float = 1.0


def _padded(obj, size: int) -> bytes:
    body = dumps(obj)
    return body + b" " * (size - len(body))


def _mutate(rng, i):
    """A valid message with a few bytes flipped, cut short or doubled."""
    body = bytearray(dumps(batch(int(rng.integers(1, 30)), T0 + i)))
    how = rng.integers(3)
    if how == 0:
        for _ in range(int(rng.integers(1, 4))):
            body[int(rng.integers(len(body)))] = int(rng.integers(256))
    elif how == 1:
        body = body[: int(rng.integers(len(body)))]
    else:
        at = int(rng.integers(len(body)))
        body = body[:at] + body[at - 5 if at > 5 else 0:]
    return f"mutant-{i % 50}", bytes(body)


CASES = [
    # -- rejected whole: sent on the clean device's own topic ---------------------------------
    Case("invalid_utf8", "bytes that are not UTF-8", "own", "invalid_utf8",
         lambda r, i: (None, b"\xff\xfe" + r.bytes(int(r.integers(0, 64)))), 4),
    Case("invalid_utf8_json", "a JSON object with a stray non-UTF-8 byte", "own", "invalid_utf8",
         lambda r, i: (None, b'{"t": 1.0, "acc": "\xc3\x28"}')),
    Case("invalid_json", "JSON cut short", "own", "invalid_json",
         lambda r, i: (None, dumps(sample())[: int(r.integers(1, 40))].replace(b"\"", b"") or b"{"), 4),
    Case("empty", "an empty message", "own", "empty", lambda r, i: (None, b"")),
    Case("not_an_object", "a JSON string, a batch of numbers or of nulls", "own", "bad_type",
         lambda r, i: (None, [b'"walking"', b"[1, 2]", b"[null]"][i % 3])),
    Case("bare_words", "null, a bare number (read as a CSV line)", "own", "bad_shape", lambda r, i: (None, [b"null", b"3"][i % 2])),
    Case("wrong_type_t", "t as a string", "own", "bad_type", lambda r, i: (None, dumps({**sample(), "t": "now"})), 2),
    Case("wrong_type_values", "a string among the readings", "own", "bad_type",
         lambda r, i: (None, dumps({**sample(), "gyro": [0, "x", 0]})), 2),
    Case("booleans", "true where a number belongs", "own", "bad_type",
         lambda r, i: (None, dumps({**sample(), "acc": [0, True, 1]}))),
    Case("wrong_shape", "acc with two axes", "own", "bad_shape", lambda r, i: (None, dumps({**sample(), "acc": [0, 1]})), 2),
    Case("ragged_columns", "t, acc and gyro of different lengths", "own", "bad_shape",
         lambda r, i: (None, dumps({**batch(5), "t": [T0, T0 + 0.02]}))),
    Case("batch_item_not_object", "a batch holding a list", "own", "bad_type", lambda r, i: (None, dumps([sample(), [1, 2, 3]]))),
    Case("missing_field", "no gyro", "own", "missing_field",
         lambda r, i: (None, dumps({k: v for k, v in sample().items() if k != ["t", "acc", "gyro"][i % 3]})), 2),
    Case("nan", "NaN in the readings", "own", "not_finite", lambda r, i: (None, b'{"t": 1.0, "acc": [NaN, 0, 1], "gyro": [0, 0, 0]}'), 2),
    Case("infinity", "Infinity and 1e400", "own", "not_finite",
         lambda r, i: (None, [b'{"t": 1.0, "acc": [0, -Infinity, 1], "gyro": [0, 0, 0]}',
                              b'{"t": 1e400, "acc": [0, 0, 1], "gyro": [0, 0, 0]}'][i % 2]), 2),
    Case("1e30", "values of 1e30", "own", "out_of_range", lambda r, i: (None, dumps({**sample(), "gyro": [0, 1e30, 0]})), 2),
    Case("bad_units", "units nobody uses", "own", "bad_units",
         lambda r, i: (None, dumps({**sample(), "units": {"acc": "furlongs/fortnight"}}))),
    Case("csv_garbage", "CSV with a word or a missing field", "own", "bad_type",
         lambda r, i: (None, b"1.0,0,0,1,0,0,zero")),
    Case("csv_fields", "CSV with six fields", "own", "bad_shape", lambda r, i: (None, b"1.0,0,0,1,0,0")),
    Case("logger_on_device_topic", "a Sensor Logger message on a device topic", "own", "unexpected_format",
         lambda r, i: (None, logger_message("x", [logger_item()]))),
    Case("too_many_samples", f"{MAX_SAMPLES + 1:,} samples in one message", "own", "too_many_samples",
         lambda r, i: (None, "".join(f"{k},0,0,1,0,0,0\n" for k in range(MAX_SAMPLES + 1)).encode()), 0.05),
    Case("deep_nesting", "arrays nested 100,000 deep", "own", "invalid_json",
         lambda r, i: (None, b"[" * 100_000 + b"]" * 100_000), 0.05),
    Case("nesting_500", "readings nested 500 deep", "own", "bad_type",
         lambda r, i: (None, b'{"t": 1, "acc": ' + b"[" * 500 + b"]" * 500 + b', "gyro": [0, 0, 0]}'), 0.2),
    Case("over_size_limit", "one byte over max_payload", "own", "too_large",
         lambda r, i: (None, _padded(sample(), MAX_PAYLOAD + 1)), 0.05),
    Case("far_over_size_limit", "a 1 MB array", "own", "too_large",
         lambda r, i: (None, b"[" + b"0," * 500_000 + b"0]"), 0.02),
    Case("milliseconds", "timestamps in ms (1.7e12)", "own", "bad_time", lambda r, i: (None, dumps(sample(T0 * 1000)))),
    Case("sparse", "2,000 readings 0.99 s apart (would resample to 100,000)", "own", "too_sparse",
         lambda r, i: (None, "".join(f"{T0 + k * 0.99:.2f},0,0,1,0,0,0\n" for k in range(2000)).encode()), 0.1),
    # -- device ids that would break topics ----------------------------------------------------
    Case("id_too_long", f"a device id of {MAX_DEVICE_ID + 1} characters", "raw", "bad_device_id",
         lambda r, i: ("har/" + "x" * (MAX_DEVICE_ID + 1) + "/imu", dumps(sample()))),
    Case("id_dollar", "a device id starting with $", "raw", "bad_device_id", lambda r, i: ("har/$SYS/imu", dumps(sample()))),
    # (a control character in a topic never reaches us: Mosquitto disconnects the publisher)
    Case("logger_bad_id", "Sensor Logger deviceId with / + # $, a control character, empty, too long", "logger", "bad_device_id",
         lambda r, i: (None, logger_message(["a/b", "a+b", "a#", "$SYS", "nl\nx", "", "y" * 200][i % 7], [logger_item()])), 2),
    # -- Sensor Logger garbage ------------------------------------------------------------------
    Case("logger_no_payload", "Sensor Logger without a payload list", "logger", "bad_shape",
         lambda r, i: (None, dumps({"deviceId": "p", "payload": {"x": 1}}))),
    Case("logger_no_id", "Sensor Logger without deviceId", "logger", "missing_field", lambda r, i: (None, dumps({"payload": []}))),
    Case("logger_wrong_type", "Sensor Logger reading with a string value", "logger", "bad_type",
         lambda r, i: (None, logger_message("p", [logger_item(x="fast")]))),
    Case("logger_nan", "Sensor Logger reading of 1e400", "logger", "not_finite",
         lambda r, i: (None, logger_message("p", [logger_item()]).replace(b'"x": 0.0', b'"x": 1e400'))),
    Case("logger_1e30", "Sensor Logger reading of 1e30", "logger", "out_of_range",
         lambda r, i: (None, logger_message("p", [logger_item(name="gyroscope", z=1e30)]))),
    Case("logger_invalid_json", "Sensor Logger topic, not JSON", "logger", "invalid_json", lambda r, i: (None, b"{deviceId")),
    Case("logger_sparse", "Sensor Logger readings 0.9 s apart", "logger", "too_sparse",
         lambda r, i: (None, logger_message("p", [logger_item(time=int(T0 * 1e9) + k * 900_000_000) for k in range(50)])), 0.2),
    # -- accepted, on noisy devices: time that misbehaves ----------------------------------------
    Case("duplicated", "every sample sent twice", "other", None,
         lambda r, i: (f"dup-{i % 20}", dumps(sample(T0 + (i // 40) * 0.02))), 2),
    Case("backwards", "time running backwards", "other", None,
         lambda r, i: (f"back-{i % 20}", dumps(batch(5, T0 + 100 - (i // 20) * 0.1)))),
    Case("years_away", "timestamps years apart", "other", None,
         lambda r, i: (f"years-{i % 20}", dumps(sample(T0 + ((i // 20) % 2) * 3e8 + i * 1e-3)))),
    Case("near_size_limit", "exactly max_payload bytes", "other", None,
         lambda r, i: ("edge", _padded(sample(T0 + i * 0.02), MAX_PAYLOAD)), 0.05),
    Case("mutant", "a valid batch with bytes flipped, cut short or doubled", "other", "parse", _mutate, 8),
]
BY_NAME = {c.name: c for c in CASES}


@dataclass(frozen=True)
class Message:
    case: str
    topic: str
    payload: bytes
    expect: str | None  # the reject reason, or None when it must be accepted


def topic_for(case: Case, device, prefix: str, clean: str, logger_topic: str) -> str:
    return {"own": f"{prefix}/{clean}/imu", "other": f"{prefix}/{device}/imu", "logger": logger_topic, "raw": device}[case.kind]


def oracle(payload: bytes) -> str | None:
    try:
        parse(payload)
    except Reject as exc:
        return exc.reason
    return None


def messages(n: int, seed: int = 0, prefix: str = "har", clean: str = "clean", logger_topic: str = "sensor-logger") -> list[Message]:
    """n hostile messages, every case at least once, the rest drawn by weight, shuffled."""
    rng = np.random.default_rng(seed)
    weights = np.array([c.weight for c in CASES])
    picks = list(range(len(CASES))) + list(rng.choice(len(CASES), size=max(n - len(CASES), 0), p=weights / weights.sum()))
    rng.shuffle(picks)
    out, seen = [], {}
    for k in picks[:n]:
        case = CASES[k]
        i = seen[case.name] = seen.get(case.name, -1) + 1
        device, payload = case.make(rng, i)
        expect = oracle(payload) if case.expect == "parse" else case.expect
        out.append(Message(case.name, topic_for(case, device, prefix, clean, logger_topic), payload, expect))
    return out
