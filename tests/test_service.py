"""Running as a service: unique client ids, a take-over said in one line, waiting for a broker at boot."""
import logging
import threading
import time

import pytest
from harstream.adapters.brokers import Mosquitto, free_port
from harstream.adapters.config import ConfigError, Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.mqtt.connection import BrokerUnreachable


def test_client_ids_are_unique_unless_given_and_a_persistent_session_needs_one():
    assert Settings().own_client_id() != Settings().own_client_id()
    assert Settings().own_client_id().startswith("harstream-")
    assert Settings(client_id="kitchen-pi").own_client_id() == "kitchen-pi"
    with pytest.raises(ConfigError, match="fixed client id"):
        Settings(persistent=True).validate()
    Settings(persistent=True, client_id="kitchen-pi").validate()


def test_two_daemons_started_alike_both_stay_connected(broker, model):
    a, b = (Daemon(Settings(broker=broker.url, stats_interval=3600).validate(), model) for _ in range(2))
    a.start()
    b.start()
    try:
        time.sleep(3)
        assert a.client_id != b.client_id
        assert a.counts["disconnects"] == b.counts["disconnects"] == 0
    finally:
        a.stop()
        b.stop()


def test_a_take_over_by_the_same_client_id_is_said_in_one_line(broker, model, caplog):
    import paho.mqtt.client as mqtt

    daemon = Daemon(Settings(broker=broker.url, client_id="same-id", stats_interval=3600).validate(), model)
    daemon.start()
    caplog.set_level(logging.ERROR, logger="harstream")
    try:
        deadline = time.monotonic() + 20
        while not daemon.counts["taken_over"] and time.monotonic() < deadline:
            rival = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="same-id")  # knocks the daemon off
            rival.connect(broker.host, broker.port)
            rival.loop_start()
            time.sleep(1.5)  # the daemon reconnects within its 1-2 s backoff and knocks the rival off in turn
            rival.loop_stop()
            rival.disconnect()
        assert daemon.counts["taken_over"] == 1
        [line] = [r.getMessage() for r in caplog.records if "client id" in r.getMessage()]
        assert "'same-id'" in line and "own client_id" in line
    finally:
        daemon.stop()


def test_at_boot_the_daemon_waits_for_the_broker(model, caplog):
    port = free_port()
    daemon = Daemon(Settings(broker=f"mqtt://127.0.0.1:{port}", stats_interval=3600, connect_timeout=30).validate(), model)
    caplog.set_level(logging.WARNING, logger="harstream")
    started = threading.Thread(target=daemon.start)
    started.start()
    time.sleep(2.5)
    assert not daemon.connected.is_set() and "trying again" in caplog.text
    with Mosquitto(port=port):
        started.join(30)
        try:
            assert daemon.connected.is_set()
        finally:
            daemon.stop()


def test_with_no_connect_timeout_an_absent_broker_fails_at_once(model):
    daemon = Daemon(Settings(broker=f"mqtt://127.0.0.1:{free_port()}", connect_timeout=0).validate(), model)
    t0 = time.monotonic()
    with pytest.raises(BrokerUnreachable, match="cannot connect"):
        daemon.start()
    assert time.monotonic() - t0 < 5


def test_serve_without_a_broker_gives_one_line_after_connect_timeout(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "harstream", "serve", "--broker", f"mqtt://127.0.0.1:{free_port()}",
                          "--connect-timeout", "2"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("harstream: error")]
    assert len(errors) == 1 and "gave up after 2 s" in errors[0]


def test_prometheus_metrics_count_what_the_stats_count(broker, model, publisher, recording):
    import urllib.request

    from harstream.adapters.brokers import free_port
    from harstream.adapters import metrics
    from harstream.adapters.replay import replay
    from harstream.core.recording import Recording

    daemon = Daemon(Settings(broker=broker.url, stats_interval=3600).validate(), model)
    port = free_port()
    metrics.start(daemon, port, addr="127.0.0.1")
    daemon.start()
    try:
        rec = Recording(recording.t[:400], recording.raw[:400], recording.labels[:400], "part")
        replay(publisher, [rec], "kitchen", "batch", speed=0)
        publisher.publish("har/kitchen/imu", b"{not json", qos=1)
        deadline = time.monotonic() + 10
        while (daemon.counts["labels"] < 5 or not daemon.engine.rejects) and time.monotonic() < deadline:
            time.sleep(0.05)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        daemon.stop()
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values["harstream_labels_total"] == 5 and values["harstream_samples_total"] == 400
    assert values['harstream_rejects_total{reason="invalid_json"}'] == 1
    assert values["harstream_devices"] == 1 and values["harstream_connected"] == 1
    assert values["harstream_window_to_label_seconds_count"] == 5
    assert values['harstream_window_to_label_seconds_bucket{le="+Inf"}'] == 5


def test_a_second_daemon_on_the_same_prefix_is_said_in_one_line(broker, model, caplog):
    caplog.set_level(logging.ERROR, logger="harstream")
    a, b = (Daemon(Settings(broker=broker.url, stats_interval=0.3).validate(), model) for _ in range(2))
    a.start()
    b.start()
    try:
        deadline = time.monotonic() + 10
        while not (a.counts["other_daemons_seen"] and b.counts["other_daemons_seen"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert a.counts["other_daemons_seen"] == b.counts["other_daemons_seen"] == 1
        lines = [r.getMessage() for r in caplog.records if "another harstream daemon" in r.getMessage()]
        assert len(lines) == 2 and any(repr(b.client_id) in line for line in lines) and "own prefix" in lines[0]
    finally:
        a.stop()
        b.stop()
    alone = Daemon(Settings(broker=broker.url, stats_interval=0.3, prefix="other").validate(), model)
    alone.start()
    try:
        time.sleep(1.5)  # its own stats come back to it: not another daemon
        assert alone.counts["other_daemons_seen"] == 0
    finally:
        alone.stop()


def test_garbage_on_the_stats_and_home_assistant_topics_disturbs_nothing(broker, model, publisher, recording):
    from harstream.adapters.replay import replay
    from harstream.core.recording import Recording

    daemon = Daemon(Settings(broker=broker.url, stats_interval=3600, ha_discovery=True).validate(), model)
    daemon.start()
    try:
        for topic in ("har/stats", "homeassistant/status"):
            for payload in (b"", b"\xff\xfe", b"[1, 2]", b'{"client_id": 7}', b"null", b"x" * 100_000, b"online\x00"):
                publisher.publish(topic, payload, qos=1)
        rec = Recording(recording.t[:400], recording.raw[:400], recording.labels[:400], "part")
        replay(publisher, [rec], "kitchen", "batch", speed=0)
        deadline = time.monotonic() + 10
        while daemon.counts["labels"] < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.counts["labels"] == 5 and daemon.connected.is_set()
        assert daemon.counts["other_daemons_seen"] == 0 and not daemon.engine.rejects
    finally:
        daemon.stop()
