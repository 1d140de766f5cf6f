"""Every payload parser: the accepted shapes, and garbage that must only ever be a counted Reject."""
import json
import math

import numpy as np
import pytest
from harstream.core.payloads import Reject, Units, parse
from harstream.core.quickread import Arrays, Rows
from harstream.core.sensorlogger import PARTS, Aligner, Laid, split, split_message
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


_garbage = st.floats() | st.integers(-2**70, 2**70) | st.booleans() | st.none() | st.text(max_size=2) | st.lists(st.integers(), max_size=2) \
    | st.dictionaries(st.sampled_from(["x", "y", "z"]), st.floats(-5, 5) | st.text(max_size=1), max_size=3)


@st.composite
def _logger_messages(draw):
    """Plain messages (the sensors apart or in step, readings dropped) with a few parts turned to garbage: an item's
    field (name, time, a value, "values") replaced or removed, a foreign or non-object item put in."""
    out, clock = [], 1_700_000_000_000_000_000
    for _ in range(draw(st.integers(1, 4))):
        sensors = draw(st.sampled_from([PARTS, ("totalacceleration", "gyroscope"), PARTS + ("location",)]))
        shift = {name: draw(st.sampled_from([0, 0, 7_000_000, -4_000_000])) for name in sensors}
        n = draw(st.integers(1, 5))
        payload = [{"name": name, "time": clock + i * 20_000_000 + shift[name], "x": 0.1 * i, "y": -0.2, "z": 9.8}
                   for i in range(n) for name in sensors]
        clock += n * 20_000_000
        if payload and draw(st.booleans()):
            del payload[draw(st.integers(0, len(payload) - 1))]
        for _ in range(draw(st.integers(0, 2))):
            if payload and draw(st.booleans()):
                item = payload[draw(st.integers(0, len(payload) - 1))]
                key = draw(st.sampled_from(["name", "time", "x", "y", "z", "values"]))
                if not isinstance(item, dict):  # garbage put in before
                    continue
                if draw(st.booleans()):
                    item[key] = draw(_garbage)
                else:
                    item.pop(key, None)
            else:
                payload.insert(draw(st.integers(0, len(payload))), draw(json_values))
        out.append(payload)
    return out


@settings(max_examples=400, deadline=None)
@given(_logger_messages())
def test_fuzz_sensor_logger_take_rejects_cleanly_or_gives_finite_samples(payloads):
    """Garbage through the daemon's way in (``Aligner.take``: the regular layout, items grouped one by one, the
    quick alignment or the general one), message after message: a message is taken whole, giving finite samples
    in time order, or rejected with its reason and no trace in what the aligner holds."""
    aligner = Aligner()
    for payload in payloads:
        before = {name: (t.copy(), v.copy()) for name, (t, v) in aligner.buffers.items()}, aligner.emitted_to
        try:
            t, raw = aligner.take(payload).arrays()
        except Reject:
            assert aligner.emitted_to == before[1]
            for name, (t_held, v_held) in aligner.buffers.items():
                np.testing.assert_array_equal(t_held, before[0][name][0])
                np.testing.assert_array_equal(v_held, before[0][name][1])
            continue
        assert raw.shape == (len(t), 6) and np.isfinite(raw).all() and np.isfinite(t).all()
        assert (np.diff(t) >= 0).all() and (len(t) == 0 or t[0] > before[1])


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
    from harstream.core.sensorreadings import _plain_readings, split_items

    quick = _plain_readings(items)
    if quick is None:
        return
    slow = split_items(items)
    assert set(quick) == set(slow)
    for name in quick:
        np.testing.assert_array_equal(quick[name][0], slow[name][0])
        np.testing.assert_array_equal(quick[name][1], slow[name][1])
    laid = Laid.read(items)
    laid = laid.readings() if laid is not None else None
    if laid is not None:  # a regular layout of the sensors we use: the same readings, read column by column
        assert list(laid) == list(quick)
        for name in quick:
            np.testing.assert_array_equal(laid[name][0], quick[name][0])
            np.testing.assert_array_equal(laid[name][1], quick[name][1])



class _GeneralOnly(Aligner):
    """The aligner without its quick paths: every message split item by item or in one pass per sensor, sorted,
    buffered and interpolated."""

    def take(self, payload):
        return Arrays(*self.push(split(payload)))


def _reading(name, ns, xyz, nested):
    """One reading, its values at the top (``nested`` False), under ``"values"`` (True), or both, with other numbers ("both")."""
    item = {"name": name, "time": ns, **dict(zip("xyz", xyz))} if nested != True else {"name": name, "time": ns}  # noqa: E712
    if nested:
        item["values"] = dict(zip("xyz", xyz if nested is True else [v + 1 for v in xyz]))
    return item


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 8), st.sampled_from([0.0, 0.0, 0.0, 0.003, 0.01, -0.015, -0.5, 1e-8]),
                          st.sampled_from([0.0, 0.0, 0.007, -0.004]),
                          st.sampled_from([("accelerometer", "gravity", "gyroscope")] * 3 + [("totalacceleration", "gyroscope"),
                                                                                             ("accelerometer", "gyroscope"), ("gyroscope",)]),
                          st.sampled_from(["interleaved", "blocks", "shuffled", "a repeated instant", "uneven", "with others"]), st.sampled_from([False, True, "both"]),
                          st.sampled_from(["ints", "floats", "huge", "a float time"]), st.integers(0, 2**31)), min_size=1, max_size=6),
       st.sampled_from(["android", "ios"]), st.sampled_from([Units("m/s2", "rad/s"), Units("g", "deg/s")]))
def test_sensor_logger_quick_alignment_gives_what_interpolation_gives(messages, frame, units):
    """Plain readings in order are aligned without numpy, in step or apart: the samples, and what the aligner
    keeps for the next message, are the general path's to the last bit, whatever came before."""
    quick, general = Aligner(units, frame), _GeneralOnly(units, frame)
    clock = 1_700_000_000.0
    for n, shift, gravity_shift, sensors, order, nested, values, seed in messages:
        rng = np.random.default_rng(seed)
        times = clock + np.arange(n) / 50
        if order == "a repeated instant":
            times[-1] = times[0]
        if sensors != ("gyroscope",):  # rotation alone runs ahead of the next message's instants
            clock += n / 50 if shift != -0.5 else -0.5
        payload = []
        for i, ti in enumerate(times):
            for name in sensors:
                ns = int(round((ti + {"gyroscope": shift, "gravity": gravity_shift}.get(name, 0.0)) * 1e9))
                xyz = rng.uniform(-5, 5, 3).tolist()
                if values == "ints":
                    xyz = [int(v) for v in xyz]
                elif values == "huge":
                    xyz[0] = float(rng.choice([49.0 * 9.80665, 50.0 * 9.80665, 100 * 9.80665, 1e300, 100.0, 200.0, 5729.57795])) * float(rng.choice([-1, 1]))
                payload.append(_reading(name, float(ns) if values == "a float time" and i == 0 else ns, xyz, nested))
        if order == "blocks":
            payload.sort(key=lambda item: sensors.index(item["name"]))
        elif order == "shuffled":
            payload = [payload[i] for i in rng.permutation(len(payload))]
        elif order == "uneven":  # a sensor read more often, or one reading fewer
            payload = payload[:-1] if seed % 2 else payload + [{**payload[-1], "time": payload[-1]["time"] + 7_000_000}]
        elif order == "with others":
            payload.insert(seed % (len(payload) + 1), {"name": "location", "time": "now", "latitude": 51.5})
        outcomes = []
        for aligner in (quick, general):
            try:
                outcomes.append(aligner.take(payload).arrays())
            except Reject as exc:
                outcomes.append(exc.reason)
        if isinstance(outcomes[1], str):
            assert outcomes[0] == outcomes[1]
            continue
        np.testing.assert_array_equal(outcomes[0][0], outcomes[1][0])
        np.testing.assert_array_equal(outcomes[0][1], outcomes[1][1])
        assert quick.emitted_to == general.emitted_to
        for name in quick.buffers:
            np.testing.assert_array_equal(quick.buffers[name][0], general.buffers[name][0])
            np.testing.assert_array_equal(quick.buffers[name][1], general.buffers[name][1])


@pytest.mark.parametrize("gyro_ms", [0, 10, -10, 7])
@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("order", ["interleaved", "blocks"])
def test_sensor_logger_plain_readings_skip_numpy(order, nested, gyro_ms):
    """The commonest messages (acceleration, gravity and rotation at the same instants, or rotation read apart)
    come out as rows of Python floats, message after message; readings out of order go the general way."""
    aligner = Aligner()
    emitted = 0
    for k in range(3):
        payload = [_reading(name, 1_700_000_000_000_000_000 + (25 * k + i) * 20_000_000 + (gyro_ms * 1_000_000 if name == "gyroscope" else 0),
                            [0.1, 0.2, 9.8], nested)
                   for i in range(25) for name in PARTS]
        if order == "blocks":
            payload.sort(key=lambda item: PARTS.index(item["name"]))
        samples = aligner.take(payload)
        assert type(samples) is Rows
        emitted += len(samples)
    assert emitted == 75 - (gyro_ms < 0)  # rotation behind: the last acceleration waits for it
    payload[-1]["time"] -= 500_000_000  # the last rotation reading before those held
    assert type(aligner.take([{**item, "time": item["time"] + 500_000_000} for item in payload])) is Arrays


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.005, 0.01, 0.02, 1e-9, 0.0133]), min_size=1, max_size=30),
       st.lists(st.floats(-1e3, 1e3), min_size=90, max_size=90), st.lists(st.floats(-0.05, 0.7), max_size=40),
       st.lists(st.floats(0, 1, exclude_max=True), min_size=29, max_size=29), st.floats(1e9, 2e9))
def test_interpolation_is_numpys(steps, values, offsets, fractions, start):
    """The aligner's interpolation, written out so that Python floats can repeat it, gives np.interp's values
    (ends held, repeated instants, instants at readings), and so does its Python twin: at any instants, one
    between each two readings, every other gap skipped, two in a gap."""
    from harstream.core.sensorlogger import _interpolated, interpolate

    st_ = start + np.cumsum(steps)
    sv = np.array(values[:3 * len(steps)], dtype=np.float64).reshape(-1, 3)
    t = np.sort(np.concatenate([start + np.array(offsets), st_[::3]]))
    ours = interpolate(st_, sv, t)
    for c in range(3):
        np.testing.assert_array_equal(ours[:, c], np.interp(t, st_, sv[:, c]))
    between = st_[:-1] + np.array(fractions[:len(st_) - 1]) * np.diff(st_)
    for instants in (t, between, between[::2], np.concatenate([between, between[1:2] + 1e-4])):
        distinct = np.unique(instants)
        twin = np.array(_interpolated(st_.tolist(), sv.T.tolist(), distinct.tolist()), dtype=np.float64).T.reshape(-1, 3)
        np.testing.assert_array_equal(twin, interpolate(st_, sv, distinct))
