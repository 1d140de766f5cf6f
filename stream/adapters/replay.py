"""``harstream replay``: publish recordings as a device would, at real time or faster.

Timestamps are sent as ``start + (t - t[0])``, epoch seconds from when the replay
began, so the daemon's grid lands on the recording's own samples.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from importlib import resources
from pathlib import Path

import numpy as np

from .. import data as bundled_data
from ..core import preprocess
from ..core.payloads import G
from ..core.recording import Recording, RecordingError, read_csv
from ..core.sensorlogger import seconds_to_ns

FORMATS = ("json", "batch", "csv", "sensor-logger")
DEFAULT_BATCH = {"json": 1, "batch": 25, "csv": 1, "sensor-logger": 25}


def load_recording(spec: str | Path, data: Path | None = None) -> Recording:
    """A CSV recording; one HAPT experiment: an ``acc_expEE_userUU.txt`` file (its gyro file beside it); or,
    with ``data``, a recording of that dataset by HAPT experiment number or by name (``wlk_7/sub_5`` in MotionSense)."""
    from ..datasets import DatasetError, detect, read_hapt, read_recordings
    from ..datasets.archive import parse_table

    path = Path(spec)
    if data is None and str(spec).isdigit() and not path.exists():  # a HAPT experiment number: the default dataset
        from ..datasets import default_data_path

        try:
            data = default_data_path()
        except DatasetError as exc:
            raise RecordingError(f"{spec}: an experiment number needs a dataset: {exc}") from None
    if path.name.startswith(("acc_exp", "gyro_exp")) and path.suffix == ".txt":
        acc_path = path.with_name(path.name.replace("gyro_exp", "acc_exp"))
        gyro_path = path.with_name(acc_path.name.replace("acc_exp", "gyro_exp"))
        try:
            acc = parse_table(acc_path.read_text(), 3, acc_path.name)
            gyro = parse_table(gyro_path.read_text(), 3, gyro_path.name)
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{path}: cannot read the HAPT pair ({exc})") from None
        if len(acc) != len(gyro):
            raise RecordingError(f"{acc_path.name} has {len(acc)} rows, {gyro_path.name} {len(gyro)}")
        n = len(acc)
        return Recording(np.arange(n) / 50.0, np.hstack([acc, gyro]), np.full(n, "", dtype=object), acc_path.stem[4:])
    if data is not None:
        try:
            if str(spec).isdigit() and detect(data).name == "hapt":
                return Recording.from_dataset(read_hapt(data, experiments={int(spec)})[0])
            found = [r for r in read_recordings(data) if r.name == str(spec)]
        except DatasetError as exc:
            raise RecordingError(str(exc)) from None
        if not found:
            raise RecordingError(f"{data}: no recording named {str(spec)!r} (HAPT: an experiment number; MotionSense: like wlk_7/sub_5)")
        return Recording.from_dataset(found[0])
    return read_csv(path)


def bundled_recording() -> Path:
    """The test-subject recording shipped with the package (HAPT experiment 4, subject 2)."""
    return Path(str(resources.files(bundled_data) / "exp04_user02.csv.gz"))


def encode(fmt: str, device: str, t: np.ndarray, raw: np.ndarray, message_id: int = 0, session: str = "") -> bytes:
    """The samples (t epoch seconds, raw acc g + gyro rad/s) as one message of the given format."""
    if fmt == "json" and len(t) == 1:
        return json.dumps({"t": float(t[0]), "acc": raw[0, :3].tolist(), "gyro": raw[0, 3:].tolist()}).encode()
    if fmt in ("json", "batch"):
        return json.dumps({"t": t.tolist(), "acc": raw[:, :3].tolist(), "gyro": raw[:, 3:].tolist()}).encode()
    if fmt == "csv":
        return "\n".join(",".join(map(repr, [ti, *row])) for ti, row in zip(t.tolist(), raw.tolist())).encode()
    if fmt == "sensor-logger":
        # The app sends acceleration without gravity plus gravity, in m/s², time in ns.
        gravity = _gravity(raw)
        items = []
        for ti, acc, grav, gyro in zip(t.tolist(), (raw[:, :3] - gravity) * G, gravity * G, raw[:, 3:]):
            ns = seconds_to_ns(ti)
            items += [{"name": "accelerometer", "time": ns, "x": acc[0], "y": acc[1], "z": acc[2]},
                      {"name": "gravity", "time": ns, "x": grav[0], "y": grav[1], "z": grav[2]},
                      {"name": "gyroscope", "time": ns, "x": gyro[0], "y": gyro[1], "z": gyro[2]}]
        return json.dumps({"messageId": message_id, "sessionId": session, "deviceId": device, "payload": items}).encode()
    raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")


def _gravity(raw: np.ndarray) -> np.ndarray:
    # Any split of total acceleration works, since the daemon adds the parts back; a low-pass is what a phone sends.
    return preprocess.Preprocessor().process(raw)[:, 9:12]


def topic_for(fmt: str, prefix: str, device: str, sensor_logger_topic: str = "sensor-logger") -> str:
    return sensor_logger_topic if fmt == "sensor-logger" else f"{prefix}/{device}/imu"


class Progress:
    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.last, self.t0 = total, enabled, 0.0, time.monotonic()

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.2):
            return
        self.last = now
        frac = done / max(self.total, 1)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] {frac * 100:5.1f}% {done}/{self.total} samples, {now - self.t0:6.1f} s"
                         + ("\n" if final else ""))
        sys.stderr.flush()


def replay(client, recordings: list[Recording], device: str, fmt: str = "json", speed: float = 1.0,
           batch: int | None = None, prefix: str = "har", qos: int = 1, progress: bool = False,
           sensor_logger_topic: str = "sensor-logger", start: float | None = None) -> int:
    """Publish the recordings one after the other through a connected paho client; returns messages sent.

    ``speed`` 1 is real time, 10 ten times faster, 0 as fast as the broker takes it.
    """
    batch = batch or DEFAULT_BATCH[fmt]
    start = time.time() if start is None else start
    topic = topic_for(fmt, prefix, device, sensor_logger_topic)
    session = str(uuid.uuid4())
    total = sum(len(r) for r in recordings)
    bar = Progress(total, progress)
    wall0, sent, done, offset, last = time.monotonic(), 0, 0, start, None
    for rec in recordings:
        t = offset + (rec.t - rec.t[0])
        for lo in range(0, len(rec), batch):
            hi = min(lo + batch, len(rec))
            if speed > 0:  # send when the batch's last sample would have been read
                delay = wall0 + (t[hi - 1] - start) / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            last = client.publish(topic, encode(fmt, device, t[lo:hi], rec.raw[lo:hi], sent, session), qos=qos)
            sent += 1
            done += hi - lo
            bar(done)
        offset = t[-1] + 1.0 / 50.0  # the next recording follows on without a gap
    if last is not None and qos > 0:
        last.wait_for_publish(timeout=60)
    bar(done, final=True)
    return sent
