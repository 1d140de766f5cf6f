"""What a new user trips on (issue 20): the status that tells the truth, no tracebacks, bad files refused,
shipped models by name, the commands users reach for (models, watch, record), predict's own score."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, SHARED_ZIP
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording
from test_cli import ENV, harstream, one_line_error
from test_mqtt import retained

# -- har/status: online exactly while one instance of the prefix runs ---------------------------------


def status_now(broker) -> str:
    return retained(broker, "har/status", 1).get("har/status")


def until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def serve(broker, client_id):
    return subprocess.Popen([sys.executable, "-m", "harstream.cli", "serve", "--broker", broker.url, "--client-id", client_id,
                             "--model", "lstm", "--connect-timeout", "10"], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_daemon_that_stops_leaves_the_first_online(broker, model):
    first = Daemon(Settings(broker=broker.url, client_id="first").validate(), model)
    first.start()
    try:
        second = Daemon(Settings(broker=broker.url, client_id="second").validate(), model)
        second.start()
        second.stop()  # says "offline" as it goes: the first, still serving, answers "online"
        assert until(lambda: status_now(broker) == "online")
        time.sleep(1.0)
        assert status_now(broker) == "online"
    finally:
        first.stop()
    assert until(lambda: status_now(broker) == "offline")


def test_a_killed_daemon_beside_a_running_one_leaves_it_online(broker, model):
    first = Daemon(Settings(broker=broker.url, client_id="first").validate(), model)
    first.start()
    killed = serve(broker, "killed")
    try:
        assert until(lambda: status_now(broker) == "online", 30)
        time.sleep(2)
        killed.kill()  # its will says "offline" once the broker notices
        killed.wait(10)
        time.sleep(1)
        assert until(lambda: status_now(broker) == "online")
    finally:
        first.stop()
    assert until(lambda: status_now(broker) == "offline")


def test_three_daemons_stopped_at_once_leave_offline(broker):
    procs = [serve(broker, f"many-{k}") for k in range(3)]
    try:
        assert until(lambda: status_now(broker) == "online", 30)
        time.sleep(3)  # all three serving
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    time.sleep(1)
    assert status_now(broker) == "offline"


# -- no tracebacks --------------------------------------------------------------------------------------


def test_predict_into_a_closed_pipe_exits_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "harstream.cli", "predict", str(bundled_recording())], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(60)
    assert first.strip() and "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141


def test_demo_into_a_closed_pipe_exits_quietly():
    shell = subprocess.run(f"{sys.executable} -m harstream.cli demo --speed 0 --broker builtin | head -3", shell=True, cwd=ROOT,
                           env=ENV, capture_output=True, text=True, timeout=120)
    assert len(shell.stdout.splitlines()) == 3 and "Traceback" not in shell.stderr, shell.stderr


# -- bad files refused as predict refuses them ------------------------------------------------------------


def test_replay_refuses_a_header_only_csv_and_millisecond_timestamps(tmp_path, broker):
    header = tmp_path / "header.csv"
    header.write_text("t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n")
    assert "no samples" in one_line_error(harstream("replay", header, "--broker", broker.url, check=False))
    ms = tmp_path / "ms.csv"
    ms.write_text("t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n" + "".join(f"{k * 20},0,0,1,0,0,0\n" for k in range(3000)))
    for command in ("replay", "predict"):
        line = one_line_error(harstream(command, ms, "--broker", broker.url, check=False) if command == "replay"
                              else harstream(command, ms, check=False))
        assert "milliseconds" in line, line
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "an empty file" in one_line_error(harstream("predict", empty, check=False))


# -- models by name, anywhere ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hcnn", "hcnn.tflite", "models/hcnn.tflite"])
def test_a_shipped_model_by_name_outside_a_clone(tmp_path, name):
    out = subprocess.run([sys.executable, "-m", "harstream.cli", "predict", str(bundled_recording()), "--model", name, "--json"],
                         cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["model"] == "hcnn"


def test_an_unknown_model_name_lists_the_shipped_ones(tmp_path):
    line = one_line_error(harstream("predict", bundled_recording(), "--model", "nosuch", check=False))
    assert "hcnn" in line and "harstream models" in line


def test_models_lists_the_shipped_models_and_the_default():
    rows = json.loads(harstream("models", "--json").stdout)
    names = {r["name"] for r in rows}
    assert {"hcnn", "lstm"} <= names and sum(r["default"] for r in rows) == 1
    hcnn = next(r for r in rows if r["name"] == "hcnn")
    assert hcnn["labels"][:6] == ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
    assert hcnn["bytes"] > 1000 and 0.9 < hcnn["accuracy"]["test"] <= 1


def test_evaluate_defaults_to_the_shipped_model(hapt_dir):
    out = json.loads(harstream("evaluate", "--data", hapt_dir, "--json").stdout)
    assert out["model"].endswith(".tflite") and 0 <= out["accuracy"] <= 1


# -- small things --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_ZIP.exists(), reason="needs ../shared/data/hapt-rawdata.zip")
def test_predict_an_experiment_number_finds_the_default_dataset():
    lines = harstream("predict", "4", "--model", "lstm").stdout.splitlines()  # no --data: the default dataset, as evaluate
    assert len(lines) > 100 and lines[-1].startswith("streaming accuracy")


def test_demo_at_speed_zero_says_so():
    out = harstream("demo", "--speed", "0", "--broker", "builtin", timeout=180).stdout
    assert "x0" not in out.splitlines()[0] and "as fast as it goes" in out.splitlines()[0]


def test_replay_help_mentions_only_its_own_flags():
    text = harstream("replay", "--help").stdout
    assert "--persistent" not in text and "--device" in text and "(default replay)" in text


def test_metrics_listen_where_told(broker, model):
    pytest.importorskip("prometheus_client")
    import urllib.request

    from harstream.adapters import metrics

    d = Daemon(Settings(broker=broker.url, metrics_host="127.0.0.1").validate(), model)
    port = 20000 + os.getpid() % 20000
    metrics.start(d, port, d.settings.metrics_host)
    assert b"harstream_" in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()


def test_the_first_connection_warning_says_how_to_stop_waiting(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "harstream.cli", "serve", "--broker", "mqtt://127.0.0.1:1", "--model", "lstm"],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "trying again" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert "Ctrl-C stops waiting" in line and "--connect-timeout 0" in line, line


# -- predict scores itself ----------------------------------------------------------------------------------


def test_predict_ends_with_its_accuracy_when_the_recording_has_truth():
    text = harstream("predict", bundled_recording(), "--model", "hcnn").stdout.splitlines()
    assert text[-1].startswith("streaming accuracy") and "recall: walking" in text[-1]
    lines = harstream("predict", bundled_recording(), "--model", "hcnn", "--json").stdout.splitlines()
    summary = json.loads(lines[-1])["summary"]
    assert 0.9 < summary["accuracy"] <= 1 and set(summary["recall"]) >= {"WALKING", "SITTING", "LAYING"}
    assert all("summary" not in json.loads(line) for line in lines[:-1])


def test_plot_draws_the_labels_and_placement(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "t.png"
    harstream("predict", bundled_recording(), "--plot", png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib_fails_before_the_labels(tmp_path):
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    out = harstream("predict", bundled_recording(), "--plot", tmp_path / "t.png", check=False,
                    env={**ENV, "PYTHONPATH": str(fake)})
    assert "harstream[plot]" in one_line_error(out) and out.stdout == ""


# -- record, then predict -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["batch", "sensor-logger"])
def test_record_then_predict_gives_the_replays_labels(tmp_path, broker, fmt):
    out = tmp_path / "mine.csv"
    rec = subprocess.Popen([sys.executable, "-m", "harstream.cli", "record", str(out), "--broker", broker.url, "--device", "mine",
                            "--label", "WALKING", "--samples", "3000"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    source = tmp_path / "source.csv"
    with gzip.open(bundled_recording(), "rt") as f:
        source.write_text("".join(next(f) for _ in range(3001)))
    harstream("replay", source, "--broker", broker.url, "--device", "mine", "--speed", "0", "--format", fmt, "--quiet")
    _, err = rec.communicate(timeout=60)
    assert rec.returncode == 0 and "3000 samples" in err, err
    assert out.read_text().splitlines()[0] == "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,label"
    recorded = [json.loads(line) for line in harstream("predict", out, "--model", "lstm", "--json").stdout.splitlines()]
    original = [json.loads(line) for line in harstream("predict", source, "--model", "lstm", "--json").stdout.splitlines()]
    assert [r.get("activity") for r in recorded[:-1]] == [r.get("activity") for r in original[:-1]]
    assert {r["truth"] for r in recorded[:-1]} == {"WALKING"}


def test_record_refuses_an_unknown_label(tmp_path, broker):
    line = one_line_error(harstream("record", tmp_path / "x.csv", "--broker", broker.url, "--device", "d", "--label", "JUMPING", check=False))
    assert "RUNNING" in line


def test_watch_shows_each_label(broker, model, publisher):
    from harstream.adapters.replay import replay
    from harstream.core.recording import read_csv

    d = Daemon(Settings(broker=broker.url).validate(), model)
    d.start()
    try:
        watcher = subprocess.Popen([sys.executable, "-m", "harstream.cli", "watch", "--broker", broker.url, "--seconds", "12"],
                                   cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        rec = read_csv(bundled_recording())
        replay(publisher, [rec], "kitchen-phone", "batch", speed=0)
        out, err = watcher.communicate(timeout=60)
    finally:
        d.stop()
    rows = [line for line in out.splitlines() if line.startswith("kitchen-phone")]
    assert len(rows) == (len(rec) - 128) // 64 + 1, err
    assert rows[0].split()[1] in model.info.labels
