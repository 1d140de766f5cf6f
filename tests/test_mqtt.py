"""The daemon through a real Mosquitto: what it publishes is exactly what ``predict`` computes."""
import json
import time

import numpy as np
import pytest
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import encode, replay
from harstream.core import Recognizer
from harstream.core.recording import Recording

N = 2200  # 33 windows


@pytest.fixture
def daemon(broker, model):
    made = []

    def start(**overrides):
        settings = Settings(broker=broker.url, client_id=f"harstream-test-{len(made)}", stats_interval=0.3, **overrides).validate()
        d = Daemon(settings, model)
        d.start()
        made.append(d)
        return d

    yield start
    for d in made:
        d.stop()


def offline_labels(model, rec: Recording):
    return Recognizer(model).feed("x", rec.t, rec.raw)


def part(recording, lo=0, n=N) -> Recording:
    return Recording(recording.t[lo:lo + n] - recording.t[lo], recording.raw[lo:lo + n], recording.labels[lo:lo + n], "part")


def assert_same(streamed, offline):
    assert [lab["seq"] for lab in streamed] == [lab.seq for lab in offline]
    assert [lab["activity"] for lab in streamed] == [lab.activity for lab in offline]
    diff = max(abs(lab["probabilities"][k] - off.probabilities[k]) for lab, off in zip(streamed, offline) for k in off.probabilities)
    assert diff <= 1e-6


@pytest.mark.parametrize("fmt", ["json", "batch", "csv", "sensor-logger"])
def test_daemon_labels_equal_predict_in_every_format(fmt, recording, model, daemon, listen, publisher):
    rec = part(recording)
    d = daemon()
    device = "phone-1"
    labels_in = listen(f"har/{device}/activity")
    replay(publisher, [rec], device, fmt, speed=0)
    expected = offline_labels(model, rec)
    assert len(expected) == (N - 128) // 64 + 1
    streamed = labels_in.labels(len(expected))
    assert_same(streamed, expected)
    first = streamed[0]
    assert set(first) >= {"activity", "confidence", "probabilities", "start", "end", "seq", "model", "device"}
    assert first["model"] == model.name and first["device"] == device
    assert first["end"] - first["start"] == pytest.approx(127 / 50)
    assert d.engine.rejects == {}


@pytest.mark.parametrize("shape", ["single-m/s2", "columns-m/s2", "objects", "objects-m/s2", "csv-m/s2"])
def test_every_benchmarked_shape_is_labelled_as_predict_labels_it(shape, recording, model, daemon, listen, publisher):
    """The shapes of benchmarks.throughput beside the four replay formats: lists of sample objects (the batch a
    phone app writes first), and m/s² said in the message or, for CSV lines, in the device's setting."""
    from benchmarks.throughput import SHAPES, message, settings_for

    _, _, per_message, fmt, ms2 = SHAPES[shape]
    rec = part(recording, n=640 if per_message == 1 else N)
    d = daemon(acc_units=settings_for(shape).acc_units)
    labels_in = listen("har/shape-phone/activity")
    for i in range(0, len(rec.t), per_message):
        payload = message(fmt, ms2, "shape-phone", rec.t[i:i + per_message], rec.raw[i:i + per_message])
        publisher.publish("har/shape-phone/imu", payload, qos=1).wait_for_publish()
    expected = offline_labels(model, rec)
    assert_same(labels_in.labels(len(expected)), expected)
    assert d.engine.rejects == {}


def test_sensor_logger_read_apart_is_labelled_as_its_readings_aligned_offline(recording, model, daemon, listen, publisher):
    """Sensor Logger with the gyroscope read 10 ms after acceleration and gravity (the benchmark's
    sensor-logger-apart): the daemon aligns it in Python floats; its labels are predict's on what the general
    path (sort, buffer, interpolate in numpy) aligns from the same messages offline."""
    from benchmarks.throughput import message
    from harstream.core.sensorlogger import Aligner, split_message

    rec = part(recording)
    daemon()
    labels_in = listen("har/apart-phone/activity")
    payloads = [message("sensor-logger-apart", True, "apart-phone", 1.7e9 + rec.t[i:i + 25], rec.raw[i:i + 25]) for i in range(0, N, 25)]
    for payload in payloads:
        publisher.publish("sensor-logger", payload, qos=1).wait_for_publish()
    offline = Aligner()
    aligned = [offline.push(split_message(json.loads(payload))[1]) for payload in payloads]
    t, raw = np.concatenate([a[0] for a in aligned]), np.concatenate([a[1] for a in aligned])
    assert len(t) == N  # rotation runs ahead: every acceleration reading is caught up with
    expected = Recognizer(model).feed("apart-phone", t, raw)
    assert_same(labels_in.labels(len(expected)), expected)


def test_status_is_retained_online_then_offline(broker, daemon, listen):
    d = daemon()
    status = listen("har/status", client_id="late-listener")  # subscribes after the daemon: gets the retained value
    [(topic, payload, retain)] = status.take(1, 5)
    assert (payload, retain) == (b"online", True)
    d.stop()
    [(_, payload, _)] = status.take(1, 5)
    assert payload == b"offline"


def test_last_will_says_offline_when_the_daemon_dies(broker, model, listen):
    settings = Settings(broker=broker.url, client_id="harstream-dies", keepalive=1).validate()
    d = Daemon(settings, model)
    d.start()
    status = listen("har/status")
    assert status.take(1, 5)[0][1] == b"online"
    d.client._sock.close()  # the connection drops without a DISCONNECT, as when the process is killed
    d.client.loop_stop()
    assert any(p == b"offline" for _, p, _ in status.take(1, 10))


def test_stats_count_samples_windows_and_rejects(recording, daemon, listen, publisher):
    d = daemon()
    stats = listen("har/stats")
    rec = part(recording, n=700)
    replay(publisher, [rec], "s1", "batch", speed=0)
    publisher.publish("har/s1/imu", b"{not json", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 15
    latest = None
    while time.monotonic() < deadline:
        for _, payload, _ in stats.take(1, 2):
            latest = json.loads(payload)
        if latest and latest["labels"] == (700 - 128) // 64 + 1 and latest["rejects"].get("invalid_json"):
            break
    assert latest["samples"] == 700 and latest["devices"] == 1 and latest["rejects"] == {"invalid_json": 1}
    assert latest["inference_ms_per_window"]["p50"] > 0 and latest["model"] == d.model.name


def test_one_devices_garbage_does_not_disturb_another(recording, model, daemon, listen, publisher):
    d = daemon()
    rec = part(recording)
    clean = listen("har/clean/activity")
    garbage = [b"", b"\xff\xfe", b"[1, 2", b'{"t": "x", "acc": [0,0,1], "gyro": [0,0,0]}', b'{"t": 1, "acc": [0,0], "gyro": [0,0,0]}',
               b'{"t": 1, "acc": [NaN,0,1], "gyro": [0,0,0]}', b'{"t": 1, "acc": [1e30,0,1], "gyro": [0,0,0]}',
               b"1,2,3", b"[" * 100000 + b"]" * 100000, b"x" * 300_000, b'{"acc": [0,0,1]}', b"[[[]]]", b"null", b"3"]
    sent = 0
    for lo in range(0, len(rec), 25):
        publisher.publish("har/clean/imu", encode("batch", "clean", 1.7e9 + rec.t[lo:lo + 25], rec.raw[lo:lo + 25]), qos=1)
        publisher.publish("har/noisy/imu", garbage[sent % len(garbage)], qos=1)
        sent += 1
    publisher.publish("har/noisy/imu", b"end", qos=1).wait_for_publish(10)
    assert_same(clean.labels((N - 128) // 64 + 1), offline_labels(model, rec))
    deadline = time.monotonic() + 20
    while sum(d.engine.rejects.values()) < sent + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(d.engine.rejects.values()) == sent + 1
    assert {"invalid_utf8", "invalid_json", "bad_type", "bad_shape", "not_finite", "out_of_range", "too_large",
            "missing_field", "empty"} <= set(d.engine.rejects)


@pytest.mark.parametrize("device_id", ["a/b", "a+b", "a#", "tab\there", "x" * 129, "", "$SYS"])
def test_device_ids_that_would_break_topics_are_rejected(device_id, recording, daemon, publisher):
    d = daemon()
    message = json.loads(encode("sensor-logger", device_id, 1.7e9 + recording.t[:5], recording.raw[:5]))
    publisher.publish("sensor-logger", json.dumps(message), qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while not d.engine.rejects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert d.engine.rejects == {"bad_device_id": 1}
    assert not d.engine.recognizer.devices


def test_units_per_device_and_per_message(recording, model, daemon, listen, publisher):
    daemon(devices={"metric": {"acc_units": "m/s2", "gyro_units": "deg/s"}})
    rec = part(recording, n=600)
    labels = listen("har/metric/activity", "har/inline/activity")
    metric = np.hstack([rec.raw[:, :3] * 9.80665, np.degrees(rec.raw[:, 3:])])
    t = 1.7e9 + rec.t
    publisher.publish("har/metric/imu", json.dumps({"t": t.tolist(), "acc": metric[:, :3].tolist(), "gyro": metric[:, 3:].tolist()}), qos=1)
    publisher.publish("har/inline/imu", json.dumps({"t": t.tolist(), "acc": metric[:, :3].tolist(), "gyro": metric[:, 3:].tolist(),
                                                    "units": {"acc": "m/s2", "gyro": "deg/s"}}), qos=1)
    got = labels.labels(2 * ((600 - 128) // 64 + 1))
    expected = offline_labels(model, rec)
    for device in ("metric", "inline"):
        mine = [lab for lab in got if lab["device"] == device]
        assert [lab["activity"] for lab in mine] == [lab.activity for lab in expected]
        assert max(abs(a["confidence"] - b.confidence) for a, b in zip(mine, expected)) < 1e-5


def test_sensor_logger_ios_frame_flips_acceleration(recording, model, daemon, listen, publisher):
    daemon(devices={"iphone": {"frame": "ios"}})
    rec = part(recording, n=600)
    message = json.loads(encode("sensor-logger", "iphone", 1.7e9 + rec.t, rec.raw))
    for item in message["payload"]:
        if item["name"] in ("accelerometer", "gravity"):
            item.update(x=-item["x"], y=-item["y"], z=-item["z"])
    labels = listen("har/iphone/activity")
    publisher.publish("sensor-logger", json.dumps(message), qos=1)
    got = labels.labels((600 - 128) // 64 + 1)
    assert [lab["activity"] for lab in got] == [lab.activity for lab in offline_labels(model, rec)]


def retained(broker, topic_filter, n, timeout=5.0):
    """What the broker holds retained under a filter: a fresh subscriber's first n messages, by topic."""
    from benchmarks import clients

    reader = clients.Collector(broker.port, [topic_filter], f"reader-{time.monotonic_ns()}")
    try:
        return {t: json.loads(p) if p[:1] in b"{[" else p.decode() for t, p, r in reader.take(n, timeout) if r}
    finally:
        reader.close()


def test_home_assistant_discovery_follows_its_conventions(recording, model, daemon, broker, publisher):
    d = daemon(ha_discovery=True)
    for device in ("kitchen", "anna.phone", "anna_phone"):  # the last two read alike once made safe for HA
        replay(publisher, [part(recording, n=200)], device, "batch", speed=0)
    deadline = time.monotonic() + 10
    while d.counts["labels"] < 3 * 2 and time.monotonic() < deadline:  # every device announced and labelled
        time.sleep(0.05)
    configs = retained(broker, "homeassistant/#", 4)
    sensors = {t: c for t, c in configs.items() if "/sensor/" in t}
    assert len(sensors) == 3  # one config topic per device, none overwriting another
    [(topic, c)] = [(t, c) for t, c in sensors.items() if c["device"]["name"] == "kitchen"]
    assert topic.startswith("homeassistant/sensor/harstream_kitchen_") and topic.endswith("/activity/config")
    # Field by field against https://www.home-assistant.io/integrations/sensor.mqtt/ and /integrations/mqtt/:
    assert c["state_topic"] == "har/kitchen/activity" and c["value_template"] == "{{ value_json.activity }}"
    assert c["device_class"] == "enum" and c["options"] == list(model.info.labels)  # enum sensors list their states
    assert c["default_entity_id"].startswith("sensor.harstream_kitchen_") and "object_id" not in c  # object_id: gone in 2026.4
    assert c["unique_id"] != sensors[next(t for t in sensors if t != topic)]["unique_id"]
    assert c["origin"]["name"] == "harstream" and c["origin"]["sw_version"]  # origin: who sent the discovery
    assert c["availability_mode"] == "all" and {a["topic"] for a in c["availability"]} == {"har/status", "har/kitchen/availability"}
    assert c["expire_after"] == 60  # a silent phone reads unavailable, not its last activity
    assert c["json_attributes_topic"] == "har/kitchen/attributes"  # not the label topic: it changes every 1.28 s
    bridge = configs[f"homeassistant/binary_sensor/{d.publisher.bridge_id}/status/config"]
    assert c["device"]["via_device"] == bridge["device"]["identifiers"][0]  # via a device that is announced
    assert bridge["state_topic"] == "har/status" and bridge["device_class"] == "connectivity"
    held = retained(broker, "har/kitchen/+", 2)
    assert held["har/kitchen/availability"] == "online"
    assert set(held["har/kitchen/attributes"]) == {"placement", "model"}


def test_discovery_is_sent_again_when_home_assistant_starts_and_under_its_prefix(recording, daemon, listen, publisher):
    d = daemon(ha_discovery=True, ha_prefix="ha-test")
    replay(publisher, [part(recording, n=30)], "kitchen", "batch", speed=0)
    deadline = time.monotonic() + 10
    while d.counts["samples"] < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    configs = listen("ha-test/sensor/+/activity/config")
    assert len(configs.take(1, 5)) == 1  # retained from the first announcement
    publisher.publish("ha-test/status", "online", qos=1)  # Home Assistant (re)started
    [(topic, payload, retain)] = configs.take(1, 5)
    assert not retain and json.loads(payload)["device"]["name"] == "kitchen"


def test_device_ids_made_safe_do_not_collide():
    from harstream.adapters.mqtt.publisher import slug

    ids = ["anna.phone", "anna_phone", "Anna.Phone", "anna phone", "ünïcode", "x" * 128]
    slugs = [slug(i) for i in ids]
    assert len(set(slugs)) == len(ids)
    assert all(s and set(s) <= set("abcdefghijklmnopqrstuvwxyz0123456789_") for s in slugs)
