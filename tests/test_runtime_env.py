"""What a Raspberry Pi gets: harstream with tflite-runtime and numpy<2, no TensorFlow.

Builds a fresh virtual environment (from the package registry, so it needs it),
replays a recording through a real Mosquitto there, and checks the labels.
"""
import json
import os
import subprocess
import sys
import venv

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="tflite-runtime has wheels up to Python 3.11 only")

SCRIPT = r"""
import importlib.util, json, queue, sys
import numpy, paho.mqtt.client as mqtt
assert importlib.util.find_spec("tensorflow") is None, "TensorFlow must not be installed"
assert numpy.__version__.startswith("1."), numpy.__version__
from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.core import Recognizer
from harstream.adapters.mqtt import Daemon
from harstream.core.model import Model
from harstream.core.recording import Recording, read_csv
from harstream.adapters.replay import bundled_recording, replay
from harstream.cli import default_model
assert "site-packages" in str(default_model()), default_model()  # the wheel carries its models
model = Model(default_model())
assert model.name == sys.argv[1] and model.backend == "tflite-runtime", (model.name, model.backend)
rec = read_csv(bundled_recording())
rec = Recording(rec.t[:1500], rec.raw[:1500], rec.labels[:1500])
with Mosquitto() as broker:
    daemon = Daemon(Settings(broker=broker.url, client_id="pi"), model)
    daemon.start()
    got = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pi-listener")
    listener.on_message = lambda c, u, m: got.put(json.loads(m.payload))
    listener.connect(broker.host, broker.port); listener.loop_start(); listener.subscribe("har/pi/activity", 1)
    import time; time.sleep(0.5)
    phone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pi-phone")
    phone.connect(broker.host, broker.port); phone.loop_start()
    replay(phone, [rec], "pi", "batch", speed=0)
    labels = [got.get(timeout=30) for _ in range((1500 - 128) // 64 + 1)]
    daemon.stop()
expected = Recognizer(model).feed("pi", rec.t, rec.raw)
assert [l["activity"] for l in labels] == [e.activity for e in expected]
print("PI-OK", len(labels), model.backend, numpy.__version__)
"""


def fresh_venv(env_dir, requirement: str):
    """A new virtual environment with ``requirement`` installed from the package registry (skips the
    test when the registry cannot be reached); its python, and an environment free of ours."""
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
                         capture_output=True, text=True, timeout=900)
    if pip.returncode and ("Could not find a version" in pip.stderr or "NewConnectionError" in pip.stderr):
        pytest.skip(f"the package registry is unreachable: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr
    return python, {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.mark.slow
def test_runtime_only_environment_with_tflite_runtime(tmp_path):
    from harstream.cli import default_model

    default_name = default_model().stem  # what a Pi runs without --model
    env_dir = tmp_path / "pi"
    python, env = fresh_venv(env_dir, f"{ROOT}[tflite]")
    run = subprocess.run([python, "-c", SCRIPT, default_name], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PI-OK" in run.stdout and "tflite-runtime" in run.stdout
    # outside the checkout, with no flags: the installed command finds its model and its recording
    harstream = env_dir / "bin" / "harstream"
    predict = subprocess.run([harstream, "predict", str(bundled_recording_of(python, env))], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path, env=env)
    assert predict.returncode == 0 and len(predict.stdout.splitlines()) > 100, predict.stderr
    version = subprocess.run([python, "-c", "import harstream; print(harstream.__version__)"], capture_output=True, text=True, env=env)
    assert version.stdout.strip() != "0+unknown"


def bundled_recording_of(python, env) -> str:
    code = "from harstream.adapters.replay import bundled_recording; print(bundled_recording())"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()


@pytest.mark.slow
def test_a_built_wheel_installed_elsewhere_runs_demo_and_serve_with_no_flags(tmp_path, broker, listen):
    """Issue 13's check: the wheel carries its models and recording; [litert], no TensorFlow, another folder."""
    import signal
    import time

    wheel_dir = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    [wheel] = wheel_dir.glob("harstream-*.whl")
    env_dir = tmp_path / "venv"
    python, env = fresh_venv(env_dir, f"{wheel}[litert]")
    harstream = env_dir / "bin" / "harstream"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    no_tf = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('tensorflow') is None)"],
                           capture_output=True, text=True, env=env)
    assert no_tf.stdout.strip() == "True"
    for args in (["train", "--help"], ["train", "--arch", "hcnn"]):  # what to install, not "unrecognized arguments"
        said = subprocess.run([harstream, *args], capture_output=True, text=True, cwd=elsewhere, env=env)
        assert said.returncode == 2 and "harstream[train]" in said.stderr, said.stderr
    recording = bundled_recording_of(python, env)
    hcnn = subprocess.run([harstream, "predict", recording, "--model", "hcnn", "--json"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert hcnn.returncode == 0 and json.loads(hcnn.stdout.splitlines()[0])["model"] == "hcnn", hcnn.stderr
    plot = subprocess.run([harstream, "predict", recording, "--plot", "t.png"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert plot.returncode == 2 and "harstream[plot]" in plot.stderr and not plot.stdout  # no matplotlib in this venv

    demo = subprocess.run([harstream, "demo", "--speed", "100"], capture_output=True, text=True, timeout=300, cwd=elsewhere, env=env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]

    labels = listen("har/pi/activity")
    serve = subprocess.Popen([harstream, "serve", "--broker", broker.url, "--connect-timeout", "10"], cwd=elsewhere, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        recording = bundled_recording_of(python, env)
        replay = subprocess.run([harstream, "replay", recording, "--broker", broker.url, "--device", "pi", "--speed", "0",
                                 "--format", "batch", "--quiet"], capture_output=True, text=True, timeout=120, cwd=elsewhere, env=env)
        assert replay.returncode == 0, replay.stderr
        got = labels.labels(100, timeout=60)
        assert len(got) == 100 and {g["model"] for g in got} == {"anyone"}
    finally:
        serve.send_signal(signal.SIGINT)
        out, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err[-2000:]
    assert "XNNPACK" not in err and "first label" in err
