"""Every payload parser: the accepted shapes, and garbage that must only ever be a counted Reject."""
import json
import math

import numpy as np
import pytest
from harstream.core.payloads import Reject, Units, parse
from harstream.core.sensorlogger import Aligner, split_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SAMPLE = {"t": 1.5, "acc": [0.1, 0.2, 0.97], "gyro": [0.01, 0.02, 0.03]}


def test_single_list_columns_and_csv_agree():
    samples = [{**SAMPLE, "t": 1.5 + i / 50} for i in range(4)]
    as_list = parse(json.dumps(samples).encode())
    columns = parse(json.dumps({"t": [s["t"] for s in samples], "acc": [s["acc"] for s in samples],
                                "gyro": [s["gyro"] for s in samples]}).encode())
    csv = parse("\n".join(",".join(map(repr, [s["t"], *s["acc"], *s["gyro"]])) for s in samples).encode())
    single = [parse(json.dumps(s).encode()) for s in samples]
    for t, raw in (columns, csv, (np.concatenate([s[0] for s in single]), np.concatenate([s[1] for s in single]))):
        np.testing.assert_array_equal(t, as_list[0])
        np.testing.assert_array_equal(raw, as_list[1])


def test_batches_out_of_order_are_sorted():
    t, raw = parse(json.dumps({"t": [2.0, 1.0], "acc": [[0, 0, 2], [0, 0, 1]], "gyro": [[0, 0, 0]] * 2}).encode())
    assert t.tolist() == [1.0, 2.0] and raw[:, 2].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("payload,reason", [
    (b"", "empty"), (b"\xc3\x28", "invalid_utf8"), (b"{", "invalid_json"), (b'"x"', "bad_type"),
    (b'{"t": 1, "acc": [1, 2, 3]}', "missing_field"), (b'{"t": [1, 2], "acc": [[0,0,1]], "gyro": [[0,0,0]]}', "bad_shape"),
    (b'{"t": 1, "acc": [0,0,1], "gyro": [0,0,"x"]}', "bad_type"), (b'{"t": 1, "acc": [0,0,Infinity], "gyro": [0,0,0]}', "not_finite"),
    (b'{"t": 1e400, "acc": [0,0,1], "gyro": [0,0,0]}', "not_finite"), (b'{"t": 1, "acc": [0,0,1e30], "gyro": [0,0,0]}', "out_of_range"),
    (b'{"t": 1, "acc": [0,0,1], "gyro": [0,0,0], "units": {"acc": "furlongs"}}', "bad_units"),
    (b'{"payload": []}', "unexpected_format"), (b"1,2,3,4,5,6,x", "bad_type"), (b"[" * 50000, "invalid_json"),
    (b'{"t": [1], "acc": [[[0,0,1]]], "gyro": [[0,0,0]]}', "bad_shape"), (b'[1, 2]', "bad_type"),
])
def test_rejects_name_their_reason(payload, reason):
    with pytest.raises(Reject) as info:
        parse(payload)
    assert info.value.reason == reason


def test_too_many_samples():
    n = 10_001
    with pytest.raises(Reject, match="too_many_samples"):
        parse(json.dumps({"t": list(range(n)), "acc": [[0, 0, 1]] * n, "gyro": [[0, 0, 0]] * n}).encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["t", "acc", "gyro", "units", "x"]), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                 st.lists(st.lists(st.floats() | st.integers(), max_size=8), max_size=4).map(
                     lambda rows: "\n".join(",".join(map(str, r)) for r in rows).encode())))
def test_fuzz_parse_only_ever_rejects(payload):
    try:
        t, raw = parse(payload, Units("m/s2", "deg/s"))
    except Reject:
        return
    assert raw.shape == (len(t), 6) and np.isfinite(raw).all() and np.isfinite(t).all()


@settings(max_examples=300, deadline=None)
@given(json_values | st.fixed_dictionaries({"deviceId": st.text(max_size=5), "payload": st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["accelerometer", "gravity", "gyroscope", "totalacceleration", "x"]),
                           "time": st.integers(0, 2**63) | st.floats() | st.text(max_size=3),
                           "x": st.floats() | st.integers() | st.none(), "y": st.floats(), "z": st.floats()}), max_size=6)}))
def test_fuzz_sensor_logger_only_ever_rejects(message):
    aligner = Aligner()
    try:
        _, items = split_message(message)
        t, raw = aligner.push(items)
    except Reject:
        return
    assert raw.shape == (len(t), 6) and np.isfinite(raw).all()


def test_sensor_logger_waits_for_the_slower_sensor_and_interpolates():
    aligner = Aligner(Units("g", "rad/s"))
    ns = lambda s: int(s * 1e9)
    acc = [{"name": "totalacceleration", "time": ns(1 + i / 50), "x": 0, "y": 0, "z": 1 + i} for i in range(5)]
    gyro = [{"name": "gyroscope", "time": ns(1 + i / 40), "x": i, "y": 0, "z": 0} for i in range(3)]  # up to 1.05 s
    t, raw = aligner.push(split_message({"deviceId": "d", "payload": acc + gyro})[1])
    assert t.tolist() == [1.0, 1.02, 1.04]  # 1.06 and 1.08 wait for gyro
    np.testing.assert_allclose(raw[:, 3], [0, 0.8, 1.6])
    t, raw = aligner.push(split_message({"deviceId": "d", "payload": [{"name": "gyroscope", "time": ns(1.1), "x": 4, "y": 0, "z": 0}]})[1])
    assert t.tolist() == [1.06, 1.08] and math.isclose(raw[0, 2], 4.0)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from(["accelerometer", "gravity", "gyroscope", "totalacceleration", "location"]),
     "time": st.integers(-2**62, 2**62) | st.integers(1_700_000_000_000_000_000, 1_800_000_000_000_000_000) | st.floats(allow_nan=False),
     "x": st.floats() | st.integers(-10**5, 10**5), "y": st.floats(allow_nan=False), "z": st.floats() | st.booleans()}), max_size=8))
def test_sensor_logger_quick_reading_equals_item_by_item(items):
    """The one-pass reader of plain messages gives exactly what reading item by item gives."""
    from harstream.core.sensorlogger import _plain_readings, split_items

    quick = _plain_readings(items)
    if quick is None:
        return
    slow = split_items(items)
    assert set(quick) == set(slow)
    for name in quick:
        np.testing.assert_array_equal(quick[name][0], slow[name][0])
        np.testing.assert_array_equal(quick[name][1], slow[name][1])
