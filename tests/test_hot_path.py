"""The daemon's hot path (issue 11): samples wait in a flat buffer and are processed in blocks, and the
commonest messages are read without numpy.  Nothing may change but the speed: the same windows, at
the same message, the same counts, the same values and the same rejects as the plain path."""
import json

import numpy as np
import pytest
from harstream.core import DeviceStream
from harstream.core import payloads
from harstream.core.payloads import Reject, Units, parse
from harstream.core.quickread import Arrays, OneSample, Rows, Samples, read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import hostile


def awkward_stream(recording, n=4000, seed=0):
    """A phone's timestamps at their worst: jitter, a slower rate, duplicates, a gap, time running back."""
    rng = np.random.default_rng(seed)
    t = 1.7e9 + np.arange(n) / 50.0 + rng.uniform(-0.004, 0.004, n)
    t[1000:1500] = t[1000] + np.arange(500) / 37.0  # a slower stretch
    t[1500:] += t[1499] - t[1500] + 0.02
    t[2000] = t[1999]  # a duplicate
    t[2600:] += 3.0  # a gap
    t[3200:] -= 10.0  # backwards
    return t, recording.raw[:n]


def messages(t, raw, seed):
    """The stream cut into messages of 1 to 40 samples, some of them one sample as Python floats."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(t):
        k = 1 if rng.random() < 0.5 else int(rng.integers(1, 40))
        yield t[i:i + k], raw[i:i + k]
        i += k


def same_window(a, b):
    assert (a.device, a.seq, a.start, a.end) == (b.device, b.seq, b.start, b.end)
    # The filters run in blocks of matrices: other block boundaries round differently (see preprocess),
    # at 1e-12; a resampled value that hung on where a block ends would differ by 1e-6.
    np.testing.assert_allclose(a.data, b.data, atol=1e-9, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_appended_samples_give_push_s_windows_at_the_same_message(recording, seed):
    t, raw = awkward_stream(recording, seed=seed)
    pushed, appended = DeviceStream(device="d", dtype=np.float64), DeviceStream(device="d", dtype=np.float64)
    total = 0
    for tm, rm in messages(t, raw, seed):
        now = pushed.push(tm, rm)
        if len(tm) == 1:
            later = appended.append_one(float(tm[0]), tuple(float(v) for v in rm[0]))
        elif len(tm) % 2:  # as a quick reader gives a batch: one flat list, its steps in time measured by the reader or not
            steps = (float(np.diff(tm).min()), float(np.diff(tm).max())) if len(tm) % 4 == 1 else None
            later = appended.append_rows(np.column_stack((tm, rm)).ravel().tolist(), steps=steps)
        else:
            later = appended.append(tm, rm)
        assert len(later) == len(now)  # no window waits in the buffer: it comes out with its last sample
        for a, b in zip(later, now):
            same_window(a, b)
        total += len(now)
    assert total > 40
    assert appended.pending() < 64 * 2
    appended.push([], np.zeros((0, 6)))  # everything pending processed: the same state and counts as push's
    assert appended.counts == pushed.counts and appended.counts["gap"] == 1 and appended.counts["duplicate"] == 1
    assert appended.counts["backwards"] == 1
    np.testing.assert_allclose(appended._rows, pushed._rows, atol=1e-9, rtol=0)
    assert (appended.resampler.last_t, appended.resampler.k_next, appended.seq) == (pushed.resampler.last_t, pushed.resampler.k_next, pushed.seq)


def test_a_buffered_device_keeps_little(recording):
    stream = DeviceStream()
    t = 1.7e9 + np.arange(1000) / 50.0
    for i in range(1000):
        stream.append_one(float(t[i]), tuple(float(v) for v in recording.raw[i]))
        assert stream.pending() < (128 if i < 128 else 64)  # never a whole window, then never a whole hop
        assert len(stream._rows) + stream.pending() <= 127
    assert 0 < stream.pending()


def sample_payloads(recording, rng):
    """Valid messages in every JSON shape and CSV, with and without units, in and out of order."""
    i = int(rng.integers(0, len(recording) - 40))
    n = int(rng.integers(1, 30))
    t = (1.7e9 + recording.t[i:i + n]).tolist()
    acc, gyro = recording.raw[i:i + n, :3].tolist(), recording.raw[i:i + n, 3:].tolist()
    if rng.random() < 0.3:
        t = t[::-1]
    kind = rng.integers(0, 5)
    if kind == 0:
        return json.dumps({"t": t[0], "acc": acc[0], "gyro": gyro[0]}).encode()
    if kind == 1:
        return json.dumps({"t": t, "acc": acc, "gyro": gyro}).encode()
    if kind == 2:
        return json.dumps([{"t": a, "acc": b, "gyro": c} for a, b, c in zip(t, acc, gyro)]).encode()
    if kind == 3:
        return json.dumps({"t": t, "acc": acc, "gyro": gyro, "units": {"acc": "m/s2"}}).encode()
    return "\n".join(",".join(map(repr, [a, *b, *c])) for a, b, c in zip(t, acc, gyro)).encode()


def as_arrays(result):
    """``read``'s Samples or ``parse``'s arrays, as arrays."""
    return result.arrays() if isinstance(result, Samples) else result


@pytest.mark.parametrize("units", [Units(), Units("m/s2", "deg/s")])
def test_read_gives_parse_s_values_bit_for_bit(recording, units):
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(400):
        payload = sample_payloads(recording, rng)
        t, raw = as_arrays(read(payload, units))
        t0, raw0 = parse(payload, units)
        np.testing.assert_array_equal(t, t0)
        np.testing.assert_array_equal(raw, raw0)
        kinds.add(type(read(payload, units)))
    # the quick paths (one sample; plain columns, in g and rad/s only) and the general one were all taken
    assert kinds == {OneSample, Rows, Arrays}


def outcome(fn, payload, units=Units()):
    try:
        t, raw = as_arrays(fn(payload, units))
    except Reject as exc:
        return exc.reason
    return t.tobytes() + raw.tobytes()


@pytest.mark.parametrize("units", [Units(), Units("m/s2", "deg/s")])
def test_read_rejects_what_parse_rejects_for_the_same_reason(units):
    for m in hostile.messages(len(hostile.CASES) * 8, seed=11):
        assert outcome(read, m.payload, units) == outcome(parse, m.payload, units), m.case
    for payload in [b'{"t": 1.5, "acc": [0, 0, NaN], "gyro": [0, 0, 0]}', b'{"t": "1.5", "acc": [0, 0, 1], "gyro": [0, 0, 0]}',
                    b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, 1e3]], "gyro": [[0, 0, 0], [0, 0, 0]]}',
                    b'{"t": [1.0, 900.0], "acc": [[0, 0, 1], [0, 0, 1]], "gyro": [[0, 0, 0], [0, 0, 0]]}',
                    b'{"t": 1.5, "acc": [0, 0, null], "gyro": [0, 0, 0]}', b'{"t": 1.5, "acc": [0, 0, 1], "gyro": [0, 0, true]}',
                    b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, true]], "gyro": [[0, 0, 0], [0, 0, 0]]}',
                    b'[{"t": 1.0, "acc": [0, 0, 1], "gyro": [0, 0, 0]}, {"t": 1.02, "acc": [0, 0, 1], "gyro": [false, 0, 0]}]',
                    b'{"t": [1.0, 1.02], "acc": [[0, 0, 980.665], [0, 0, -980.6650000000001]], "gyro": [[0, 0, 5729.5779513], [0, 0, 0]]}',
                    b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, 1]], "gyro": [[0, 0, 5729.58], [0, 0, 0]]}',
                    b"1.0,0,0,980.665,0,0,5729.5779513\n1.02,0,0,980.6650000000001,0,0,0",
                    b'{"t": [1.0, 1.02], "acc": [[0, 0, 1], [0, 0, 1]], "gyro": [[0, 0, 1' + b"0" * 400 + b'], [0, 0, 0]]}']:
        assert outcome(read, payload, units) == outcome(parse, payload, units), payload


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["t", "acc", "gyro", "units"]), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_read_and_parse_agree(payload):
    assert outcome(read, payload, Units("m/s2")) == outcome(parse, payload, Units("m/s2"))


def test_without_orjson_the_standard_library_reads_the_same(monkeypatch, recording):
    rng = np.random.default_rng(9)
    cases = [sample_payloads(recording, rng) for _ in range(50)] + [m.payload for m in hostile.messages(100, seed=2)]
    fast = [outcome(read, p) for p in cases]
    assert payloads._fast_loads is not None, "orjson is in the test extra: the fast path must be the one tested first"
    monkeypatch.setattr(payloads, "_fast_loads", None)
    assert [outcome(read, p) for p in cases] == fast


def test_many_devices_flushed_together_give_each_one_s_windows(recording):
    """Due devices processed in one vectorised pass (blocks.flush_many), at random moments, against
    each device on its own: the same windows, the values to the rounding of a matrix product."""
    from harstream.core.blocks import flush_many

    rng = np.random.default_rng(0)
    devices = 7
    alone = [DeviceStream(device=f"d{k}", dtype=np.float64) for k in range(devices)]
    together = [DeviceStream(device=f"d{k}", dtype=np.float64) for k in range(devices)]
    ts = [1.7e9 + k * 0.37 + np.arange(3000) / 50.0 + rng.uniform(-0.004, 0.004, 3000) for k in range(devices)]
    ts[3][1500:] += 2.0  # one device with a gap, one with another rate: they take their own ways
    ts[5] = 1.7e9 + np.arange(3000) / 61.0
    raws = [recording.raw[k * 300:k * 300 + 3000] for k in range(devices)]
    expected, got = [], []
    pos = [0] * devices
    while min(pos) < 3000:
        for k in range(devices):
            a, b = pos[k], min(pos[k] + int(rng.integers(1, 30)), 3000)
            if a < b:
                pos[k] = b
                expected += alone[k].append(ts[k][a:b], raws[k][a:b])
                got += together[k].append(ts[k][a:b], raws[k][a:b], defer=True)
        if rng.random() < 0.3:
            got += flush_many([s for s in together if s.due])
    got += flush_many([s for s in together if s.due])
    key = lambda w: (w.device, w.seq)  # noqa: E731
    expected.sort(key=key)
    got.sort(key=key)
    assert [key(w) for w in got] == [key(w) for w in expected] and len(got) > 200
    for a, b in zip(got, expected):
        assert (a.start, a.end) == (b.start, b.end)
        np.testing.assert_allclose(a.data, b.data, atol=1e-9, rtol=0)
    for a, b in zip(together, alone):
        assert not a.due
        for s in (a, b):
            s.push([], np.zeros((0, 6)))  # what is still pending (too few for a window), processed
        assert a.counts == b.counts and a.resampler.k_next == b.resampler.k_next and a.resampler.last_t == b.resampler.last_t


csv_field = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**20, 10**20).map(str),
                      st.sampled_from(["", " 1.5", "nan", "-inf", "1e400", "1_0", "0x10", "true", "1.7e9", "\u00e9"]))
csv_line = st.lists(csv_field, min_size=5, max_size=8).map(",".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(csv_line, min_size=1, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8")))
def test_fuzz_csv_read_and_parse_agree(payload):
    for units in (Units(), Units("m/s2", "deg/s")):
        assert outcome(read, payload, units) == outcome(parse, payload, units)


def test_every_batch_shape_takes_a_quick_path(recording):
    """Columns, a list of sample objects and CSV lines, plain and in g and rad/s, skip parse's numpy arrays."""
    t = (1.7e9 + recording.t[:25]).tolist()
    acc, gyro = recording.raw[:25, :3].tolist(), recording.raw[:25, 3:].tolist()
    shapes = {"columns": json.dumps({"t": t, "acc": acc, "gyro": gyro}).encode(),
              "objects": json.dumps([{"t": a, "acc": b, "gyro": c} for a, b, c in zip(t, acc, gyro)]).encode(),
              "csv": "\n".join(",".join(map(repr, [a, *b, *c])) for a, b, c in zip(t, acc, gyro)).encode()}
    for name, payload in shapes.items():
        for units in (Units(), Units("m/s2", "deg/s")):
            quick = read(payload, units)
            assert type(quick) is Rows, name
            np.testing.assert_array_equal(as_arrays(quick)[1], parse(payload, units)[1])


def number_text(value: float, style: int) -> str:
    """One number as CSV writers write it: repr, fixed, exponent, an integer, padded."""
    return [repr(value), f"{value:.6f}", f"{value:.17e}", f"{value:E}", str(int(value)) if value == int(value) else repr(value),
            f" {value!r}\t"][style]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.floats(-3.9, 3.9), st.floats(-3.9, 3.9), st.floats(-3.9, 3.9), st.floats(-30, 30),
                          st.floats(-30, 30), st.floats(-30, 30), st.integers(0, 5)), min_size=2, max_size=40),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_fuzz_plausible_csv_lines_read_as_parse_reads_them(rows, newline, trailing):
    """The quick CSV reader (the JSON parser over the lines) on lines it takes: every number as ``float`` reads it."""
    lines = [",".join([repr(1.7e9 + i / 50), *(number_text(v, style) for v in row)]) for i, (*row, style) in enumerate(rows)]
    payload = (newline.join(lines) + (newline if trailing else "")).encode()
    for units in (Units(), Units("m/s2", "deg/s")):
        assert outcome(read, payload, units) == outcome(parse, payload, units)
    assert type(read(payload)) is Rows  # in order and plausible: the quick way
