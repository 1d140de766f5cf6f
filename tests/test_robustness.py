"""The daemon under hostile input, faults and hostile clients: the scenarios of
``benchmarks/robustness/`` (whose full run writes docs/robustness.md), smaller."""
import json

import numpy as np
import pytest
from harstream.adapters.config import Settings
from harstream.engine import Engine
from harstream.adapters.replay import encode
from harstream.core import WindowQueue
from harstream.core.payloads import Reject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import hostile, robustness

hostile_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(["t", "acc", "gyro", "units", "x"]), children, max_size=4),
    max_leaves=24)


@pytest.fixture
def engine_for(model):
    """The engine with no transport: ``handle`` is the whole input path."""
    def make(**overrides):
        return Engine(Settings(**overrides).validate(), model)
    return make


def outcome(engine, topic, payload):
    try:
        engine.handle(topic, payload)
    except Reject as exc:
        return exc.reason
    return None


def test_every_hostile_case_earns_its_reason_and_leaves_no_trace(engine_for):
    engine = engine_for()
    for m in hostile.messages(len(hostile.CASES) * 6, seed=3):
        assert outcome(engine, m.topic, m.payload) == m.expect, m.case
    assert "clean" not in engine.recognizer.devices  # everything sent to it was rejected whole
    assert not any(name.startswith(("$", "a/", "x" * 129)) for name in engine.recognizer.devices)


@pytest.mark.parametrize("gyro_ms", [0, 10, -10])
def test_a_rejected_sensor_logger_message_leaves_the_aligner_as_it_was(engine_for, recording, gyro_ms):
    """In step or with the gyroscope apart (ahead, or behind so that a reading waits): the quick path and the
    general one alike leave no trace of a message with one bad reading."""
    engine = engine_for()

    def message(lo, hi):
        msg = json.loads(encode("sensor-logger", "pixel", 1.7e9 + recording.t[lo:hi], recording.raw[lo:hi]))
        for item in msg["payload"]:
            item["time"] += gyro_ms * 1_000_000 if item["name"] == "gyroscope" else 0
        return msg

    engine.handle("sensor-logger", json.dumps(message(0, 50)).encode())
    before = {k: (t.copy(), v.copy()) for k, (t, v) in engine.intake.aligners["pixel"].buffers.items()}
    bad = message(50, 100)
    bad["payload"][-1]["x"] = 1e30  # one bad reading among good ones
    assert outcome(engine, "sensor-logger", json.dumps(bad).encode()) == "out_of_range"
    for name, (t, v) in engine.intake.aligners["pixel"].buffers.items():
        np.testing.assert_array_equal(t, before[name][0])
        np.testing.assert_array_equal(v, before[name][1])


def _state(engine, device):
    stream = engine.recognizer.devices[device]
    return (stream.resampler.last_t, stream.resampler.k_next, stream.seq, stream._filled, stream._rows.tobytes(),
            dict(stream.counts), repr(stream.preprocessor._noise_state))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=st.one_of(st.binary(max_size=300), hostile_json.map(lambda v: json.dumps(v).encode())))
def test_fuzz_the_daemon_input_path_a_reject_changes_nothing(engine_for, recording, payload):
    engine = engine_for()
    engine.handle("har/d/imu", encode("batch", "d", 1.7e9 + recording.t[:150], recording.raw[:150]))
    before = _state(engine, "d")
    try:
        engine.handle("har/d/imu", payload)
    except Reject:
        assert _state(engine, "d") == before
        return


def test_booleans_and_milliseconds_are_rejected(engine_for):
    engine = engine_for()
    assert outcome(engine, "har/d/imu", b'{"t": true, "acc": [0, 0, 1], "gyro": [0, 0, 0]}') == "bad_type"
    assert outcome(engine, "har/d/imu", b'[{"t": 1, "acc": [0, 0, 1], "gyro": [0, false, 0]}]') == "bad_type"
    assert outcome(engine, "har/d/imu", b'{"t": 1700000000000, "acc": [0, 0, 1], "gyro": [0, 0, 0]}') == "bad_time"
    assert outcome(engine, "har/d/imu", b'{"t": 1.5, "acc": [0, 0, 1], "gyro": [0, 0, 0], "note": true}') is None


def test_devices_beyond_max_devices_are_turned_away_and_the_others_go_on(engine_for):
    engine = engine_for(max_devices=3)
    payload = encode("batch", "x", np.array([1.0, 1.02]), np.tile([0, 0, 1, 0, 0, 0], (2, 1)))
    assert [outcome(engine, f"har/d{i}/imu", payload) for i in range(4)] == [None, None, None, "too_many_devices"]
    later = encode("batch", "x", np.array([1.04]), np.array([[0, 0, 1, 0, 0, 0]]))
    assert outcome(engine, "har/d0/imu", later) is None
    engine.settings.idle_timeout = 0.0
    engine.evict_idle()
    assert outcome(engine, "har/d3/imu", payload) is None and engine.counts["evicted"] == 3


def test_window_queue_is_bounded_and_fair():
    q = WindowQueue(limit=10, per_device=4)
    for i in range(100):
        q.put("flood", i)
    for i in range(3):
        q.put(f"quiet{i}", i)
    assert len(q) == 7 and q.dropped == 96
    first = q.take(4)
    assert first[0] == 96 and sorted(first[1:]) == [0, 1, 2]  # every device gets its turn, not the flood first
    for i in range(30):
        q.put(f"many{i}", i)
    assert len(q) == 10 and q.dropped == 96 + 23


def test_window_queue_when_the_device_next_in_line_is_the_one_adding():
    q = WindowQueue(limit=2, per_device=5)
    q.put("a", 1)
    q.put("b", 2)
    q.put("a", 3)  # full: a's oldest goes, which empties a's line for a moment
    assert len(q) == 2 and q.dropped == 1 and q.take(5) == [2, 3] and len(q) == 0


def test_evicted_devices_keep_their_counts_in_the_stats(engine_for):
    engine = engine_for()
    engine.handle("har/a/imu", b'{"t": [1, 3, 3], "acc": [[0,0,1],[0,0,1],[0,0,1]], "gyro": [[0,0,0],[0,0,0],[0,0,0]]}')
    engine.handle("har/a/imu", b'{"t": 0.5, "acc": [0,0,1], "gyro": [0,0,0]}')  # backwards
    assert engine.stats()["resets"] == {"backwards": 1, "gap": 1, "duplicate": 1}
    engine.settings.idle_timeout = 0.0
    engine.evict_idle()
    stats = engine.stats()
    assert stats["devices"] == 0 and stats["evicted"] == 1 and stats["resets"] == {"backwards": 1, "gap": 1, "duplicate": 1}


def test_thousands_of_hostile_messages_through_mosquitto(model):
    r = robustness.fuzz(noise=4000, seed=1, model=model)
    assert r["handled_all"] and r["alive"] and r["stats_seen"]
    assert r["rejects_counted"] == r["rejects_expected"] and "internal_error" not in r["rejects_counted"]
    assert r["clean_labels_identical"] and r["clean_labels"] == r["clean_labels_expected"] == 257
    assert r["resets"].get("backwards") and r["resets"].get("duplicate") and r["resets"].get("gap")
    reasons = len(r["rejects_counted"])
    assert reasons <= r["log_lines"] <= reasons * (r["seconds"] / 10 + 2)  # each reason said, at most once per 10 s


def test_broker_killed_and_restarted(model):
    r = robustness.broker_restart(model=model, samples=3000, down=2.0, delay=0.15)
    print(r)  # shown when an assertion fails
    assert r["reconnected"] and r["reconnect_s"] < 5 and r["disconnects"] == 1
    assert r["labels_made_while_down"] > 0 and r["dropped_labels"] == 0
    assert r["readings_processed"] == 3000  # including what the broker kept while the daemon was away
    assert r["labels_received"] == r["labels_expected"] == (3000 - 128) // 64 + 1 and r["received_identical"]


def test_labels_beyond_the_pending_bound_are_dropped_and_counted(model):
    r = robustness.broker_restart(model=model, samples=3000, down=1.5, max_pending_labels=3, delay=0.15)
    print(r)
    assert r["labels_made_while_down"] > 3 and r["dropped_labels"] > 0
    assert r["missing_equals_dropped"] and r["received_identical"]


def test_daemon_killed_and_restarted():
    r = robustness.daemon_sigkill(samples=2000)
    assert r["online"] and r["before_identical"] and r["will_offline"] and r["restart_online"]
    assert r["after_identical"] and r["labels_after_restart"] == r["labels_after_expected"] > 0
    assert r["labels_lost"] <= 2 and r["sigterm_exit"] == 0


def test_overload_keeps_queues_bounded_and_memory_flat():
    r = robustness.overload(devices=400, rounds=5, delay=0.01, max_queue=150, idle_timeout=3.0)
    assert r["queue_max"] <= 150 and r["dropped_windows"] > 0 and r["accounted"]
    assert r["windows"] == 400 * 5
    later = r["memory_after_round_mb"][1:]
    assert max(later) - min(later) < 10  # MB: the queue is full from round 2 on; nothing else may grow
    assert r["evicted_all"] and r["evicted"] == 400 and r["rejects"] == {}


def test_memory_per_device_is_measured():
    r = robustness.memory_per_device(devices=200)
    assert 2_000 < r["bytes_per_device"] < 40_000


def test_bad_model_files_give_one_clear_line_and_a_non_zero_exit():
    rows = robustness.bad_models()
    assert len(rows) == 11
    for row in rows:
        assert row["exit"] == 2 and row["lines"] == 1 and row["error"].startswith("harstream: error: "), row
    errors = {row["case"]: row["error"] for row in rows}
    assert "no such model file" in errors["no such file"]
    assert "not a loadable TFLite model" in errors["not a TFLite file (random bytes)"]
    assert "preprocessing" in errors["another preprocessing version"]
    assert "does not fit window 100" in errors["metadata window 100, model takes 128"]


def test_passwords_tls_and_the_acl():
    r = robustness.security()
    for a in r["attempts"]:
        assert (a["outcome"] == "connected") == (a["expect"] == "connected"), a
        assert a["connections"] <= 1, a  # refused once, no retry storm
    outcomes = {a["case"]: a["outcome"] for a in r["attempts"]}
    assert "Not authorized" in outcomes["wrong password"] and "HARSTREAM_PASSWORD" in outcomes["wrong password"]
    assert "not trusted" in outcomes["TLS, an impostor CA"]
    assert "another name" in outcomes["TLS, certificate for another host"]
    assert "client certificate" in outcomes["TLS, client certificate required, none given"]
    acl = r["acl"]
    assert acl["phone-b got its own labels"] == 3 and acl["phone-a read its own labels"] == 3  # the paths work...
    assert acl["phone-b got labels forged by phone-a"] == 0  # ...but not for an impostor
    assert acl["phone-a's readings as phone-b reached the daemon"] == 0
    assert acl["phone-a read phone-b's labels or readings"] == 0 and acl["status changed by phone-a"] == []
    leak = r["leak"]
    assert leak["stats_messages"] > 0 and leak["output_lines"] > 0
    assert not (leak["in_stats"] or leak["in_argv"] or leak["in_output"] or leak["wrong_password_in_output"])
    assert leak["wrong_password_exit"] == 2 and not r["passwords_in_broker_log"]


def test_the_readme_shows_the_acl_that_the_tests_use():
    from pathlib import Path

    from benchmarks.secure import ACL

    readme = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()  # the README links it
    assert "\n".join("    " + line if line else "" for line in ACL.splitlines()) in readme
