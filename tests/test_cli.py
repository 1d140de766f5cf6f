"""The ``harstream`` command as users run it, in subprocesses."""
import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def harstream(*args, check=True, timeout=120, **kw):
    proc = subprocess.run([sys.executable, "-m", "harstream.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=kw.pop("env", ENV), **kw)
    if check and proc.returncode:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def one_line_error(proc):
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("INFO:")]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("harstream: error:"), proc.stderr
    return lines[0]


def test_evaluate_json(hapt_dir, model_path):
    out = json.loads(harstream("evaluate", "--model", model_path, "--data", hapt_dir, "--json").stdout)
    assert 0 <= out["accuracy"] <= 1 and out["n_windows"] > 100 and set(out["per_class"]) == set(json.loads(
        model_path.with_suffix(".json").read_text())["labels"])


def test_evaluate_table(hapt_dir, model_path):
    out = harstream("evaluate", "--model", model_path, "--data", hapt_dir).stdout
    assert "precision" in out and "confusion" in out


@pytest.mark.parametrize("data,needle", [("missing.zip", "no such file"), ("pyproject.toml", "not a HAPT dataset")])
def test_evaluate_bad_data_is_one_clear_line(model_path, data, needle):
    assert needle in one_line_error(harstream("evaluate", "--model", model_path, "--data", data, check=False))


def test_evaluate_bad_model_is_one_clear_line(hapt_dir):
    assert "no such model" in one_line_error(harstream("evaluate", "--model", "nope.tflite", "--data", hapt_dir, check=False))


def test_predict_prints_one_label_per_window(model_path, recording):
    lines = harstream("predict", "stream/data/exp04_user02.csv.gz", "--model", model_path, "--json").stdout.splitlines()
    assert len(lines) == (len(recording) - 128) // 64 + 1 + 1  # and a summary: the recording has its truth
    first = json.loads(lines[0])
    assert first["seq"] == 0 and first["activity"] in first["probabilities"] and "truth" in first


def test_predict_a_hapt_experiment_pair(hapt_dir, model_path):
    plain = harstream("predict", hapt_dir / "RawData" / "acc_exp04_user02.txt", "--model", model_path).stdout.splitlines()
    csv = harstream("predict", "stream/data/exp04_user02.csv.gz", "--model", model_path).stdout.splitlines()
    assert not plain[-1].startswith("streaming accuracy") and csv[-1].startswith("streaming accuracy")  # only the CSV has truth
    assert [line.split()[2] for line in plain] == [line.split()[2] for line in csv[:-1]]


def test_export_csv_round_trips(hapt_dir, tmp_path, model_path):
    out = harstream("export-csv", "--data", hapt_dir, "--experiment", 4, "--out", tmp_path).stdout.split()
    assert out == [str(tmp_path / "exp04_user02.csv")]
    a = harstream("predict", out[0], "--model", model_path).stdout
    b = harstream("predict", "stream/data/exp04_user02.csv.gz", "--model", model_path).stdout
    assert a == b


def test_demo_with_the_builtin_broker(model_path):
    proc = harstream("demo", "--model", model_path, "--broker", "builtin", "--speed", 200, timeout=180)
    assert "the built-in broker" in proc.stdout and "streaming accuracy" in proc.stdout
    assert proc.stdout.count("\n") > 250


def test_serve_and_replay_commands_shut_down_cleanly(broker, model_path, listen, tmp_path):
    status = listen("har/status", "har/cli/activity")
    password_file = tmp_path / "unused-password"
    password_file.write_text("s3cret-value\n")
    serve = subprocess.Popen([sys.executable, "-m", "harstream.cli", "serve", "--broker", broker.url, "--model", str(model_path),
                              "--stats-interval", "0.5"], cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    try:
        assert [p for _, p, _ in status.take(1, 20)] == [b"online"]
        harstream("replay", "stream/data/exp04_user02.csv.gz", "--broker", broker.url, "--device", "cli", "--speed", 0,
                  "--format", "batch", "--quiet")
        labels = status.labels((16565 - 128) // 64 + 1, timeout=60)
        assert len(labels) == 257
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert [p for _, p, _ in status.take(1, 5)] == [b"offline"]
    assert "stopped:" in err


def test_serve_refuses_a_password_on_the_command_line(model_path):
    proc = harstream("serve", "--broker", "mqtt://127.0.0.1:1", "--password", "x", check=False)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr


def test_serve_with_no_broker_is_one_clear_line(model_path):
    from harstream.adapters.brokers import free_port

    line = one_line_error(harstream("serve", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--model", model_path,
                                    "--connect-timeout", "0", check=False))
    assert "cannot connect" in line


def test_settings_file_then_environment_then_flags(tmp_path, model_path):
    from harstream.adapters import config

    path = tmp_path / "harstream.toml"
    path.write_text('broker = "mqtt://file:1883"\nprefix = "file"\n[mqtt]\nqos = 0\n[devices.iphone]\nframe = "ios"\n')
    s = config.load(path, env={"HARSTREAM_PREFIX": "env", "HARSTREAM_SMOOTHING": "3"}, flags={"smoothing": 5})
    assert (s.broker, s.prefix, s.qos, s.smoothing, s.frame_for("iphone"), s.frame_for("other")) == (
        "mqtt://file:1883", "env", 0, 5, "ios", "android")
    path.write_text('password = "x"\n')
    with pytest.raises(config.ConfigError, match="password_file"):
        config.load(path)
    with pytest.raises(config.ConfigError, match="not a valid int"):
        config.load(None, env={"HARSTREAM_QOS": "high"})
    with pytest.raises(config.ConfigError, match="HARSTREAM_PASSWORD"):
        config.load(None, flags={"broker": "mqtt://user:pw@host"})

    for name in ("max_devices", "max_pending_labels", "max_queue_per_device", "max_queue"):
        with pytest.raises(config.ConfigError, match=name):
            config.load(None, env={f"HARSTREAM_{name.upper()}": "0"})
    with pytest.raises(config.ConfigError, match="max_payload"):
        config.load(None, env={"HARSTREAM_MAX_PAYLOAD": "10"})
    assert config.load(None, env={"HARSTREAM_MAX_DEVICES": "5"}).max_devices == 5


def test_train_without_tensorflow_says_which_extra(tmp_path):
    blocker = tmp_path / "tensorflow.py"
    blocker.write_text("raise ImportError('No module named tensorflow', name='tensorflow')\n")
    keras = tmp_path / "keras.py"
    keras.write_text("raise ImportError('No module named keras', name='keras')\n")
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    line = one_line_error(harstream("train", "--arch", "lstm", check=False, env=env))
    assert "pip install 'harstream[train]'" in line


def test_version_and_a_bad_log_level():
    assert harstream("--version").stdout.startswith("harstream ")
    assert "log_level 'verbose'" in one_line_error(harstream("serve", "--log-level", "verbose", check=False))


def write_rows(path, t, az=1.0, header="t,ax,ay,az,gx,gy,gz"):
    rows = "".join(f"{x!r},0.0,0.0,{az!r},0.0,0.0,0.0\n" for x in t)
    path.write_text((header + "\n" if header else "") + rows)
    return path


@pytest.mark.parametrize("name,times,az,needle", [
    ("empty", [], 1.0, "no samples"),
    ("short", [i / 50 for i in range(100)], 1.0, "a label needs 128 samples"),
    ("milliseconds", [1.7e12 + 20.0 * i for i in range(300)], 1.0, "bad_time"),
    ("unsorted", [i / 50 for i in range(300)][::-1], 1.0, "t runs backwards"),
    ("huge", [i / 50 for i in range(300)], 500.0, "out_of_range"),
])
def test_predict_refuses_what_the_daemon_refuses_with_its_reason(tmp_path, model_path, name, times, az, needle):
    proc = harstream("predict", write_rows(tmp_path / f"{name}.csv", times, az), "--model", model_path, check=False)
    assert needle in one_line_error(proc) and not proc.stdout


@pytest.mark.parametrize("header", ["t,ax,ay,az,gx,gy,gz", "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z", ""])
def test_predict_reads_the_mqtt_csv_layout_with_or_without_a_header(tmp_path, model_path, header):
    proc = harstream("predict", write_rows(tmp_path / "still.csv", [i / 50 for i in range(300)], header=header), "--model", model_path)
    assert len(proc.stdout.splitlines()) == (300 - 128) // 64 + 1
    assert "XNNPACK" not in proc.stderr  # the runtime's INFO line is kept for --log-level debug, not printed on every command


def test_predict_warns_of_gaps_and_draws_a_timeline(tmp_path, model_path, recording):
    from harstream.core.recording import Recording, write_csv

    n = 1000
    t = recording.t[:n].copy()
    t[500:] += 3.0  # a gap the daemon would restart the window after
    path = tmp_path / "gap.csv"
    write_csv(Recording(t, recording.raw[:n], recording.labels[:n], "gap"), path)
    proc = harstream("predict", path, "--model", model_path, "--plot", tmp_path / "gap.png")
    assert "1 gaps of over 1 s" in proc.stderr
    assert len(proc.stdout.splitlines()) == 2 * ((500 - 128) // 64 + 1) + 1  # and the summary: the recording has truth
    assert (tmp_path / "gap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_serve_check_prints_the_settings_in_force_and_refuses_typos(tmp_path):
    path = tmp_path / "harstream.toml"
    path.write_text('prefix = "home"\n[devices.anna]\nplacement = "pocket"\nframe = "ios"\n')
    out = harstream("serve", "--check", "--config", path, "--qos", "0", "--model", "hcnn")
    assert 'prefix = "home"' in out.stdout and "qos = 0" in out.stdout and "[devices.anna]" in out.stdout
    assert 'placement = "pocket"' in out.stdout and "model hcnn" in out.stderr
    path.write_text('[devices.anna]\nplacment = "pocket"\n')  # a typo inside a device's table: an error, as at the top
    assert "unknown setting 'placment'" in one_line_error(harstream("serve", "--check", "--config", path, check=False))
    path.write_text('[devices.anna]\nplacement = "belt"\n')
    assert "device anna: placement 'belt'" in one_line_error(harstream("serve", "--check", "--config", path, check=False))
    assert "time_filter 1.5" in one_line_error(harstream("serve", "--check", "--time-filter", "1.5", check=False))


def test_every_setting_is_a_serve_flag_with_its_help():
    from harstream.adapters import config

    text = harstream("serve", "--help").stdout
    for name in config.flag_names():
        assert f"--{name.replace('_', '-')}" in text, name
    assert "devices" not in config.flag_names() and set(config.DEVICE_SETTINGS) == {"acc_units", "gyro_units", "frame", "placement"}
