"""Recordings as CSV: ``t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z[,label]``, one row per sample.

``t`` in seconds, acceleration in g (gravity included), gyro in rad/s; ``label``
is an activity name or empty.  Values are written with ``repr`` so that a file
read back gives the same floats bit for bit.  ``.csv.gz`` is read and written too.
"""
from __future__ import annotations

import gzip
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .activities import HAPT_LABELS, RUNNING

COLUMNS = ("t", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
#: The layout of the CSV messages devices publish (``t,ax,ay,az,gx,gy,gz``), read as well.
MQTT_COLUMNS = ("t", "ax", "ay", "az", "gx", "gy", "gz")


class RecordingError(Exception):
    pass


@dataclass
class Recording:
    """Samples of one device: t (n,) seconds, raw (n, 6) acc g + gyro rad/s, labels (n,) str ('' unlabelled)."""

    t: np.ndarray
    raw: np.ndarray
    labels: np.ndarray
    name: str = ""

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def from_dataset(cls, rec) -> "Recording":
        """From a dataset reader's recording (labels as HAPT activity ids)."""
        names = np.array(("",) + HAPT_LABELS + (RUNNING,), dtype=object)  # RUNNING's id follows HAPT's 12
        return cls(rec.t, rec.raw, names[rec.labels], rec.name)


def _open(path: Path, mode: str):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, mode.replace("t", "") + "b"), encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def write_csv(rec: Recording, path: str | Path) -> None:
    path = Path(path)
    with _open(path, "wt") as f:
        f.write(",".join(COLUMNS + ("label",)) + "\n")
        for t, row, label in zip(rec.t.tolist(), rec.raw.tolist(), rec.labels.tolist()):
            f.write(",".join(map(repr, [t, *row])) + f",{label}\n")


def read_csv(path: str | Path) -> Recording:
    path = Path(path)
    try:
        with _open(path, "rt") as f:
            first = f.readline()
            header = first.strip().split(",")
            values, labels = [], []
            start = 2
            if _numbers(header) and len(header) == 7:  # no header: CSV lines as a device publishes them
                header, start = list(MQTT_COLUMNS), 1
                f = itertools.chain([first], f)
            if not first.strip():
                raise RecordingError(f"{path}: an empty file (expected a header {','.join(COLUMNS)}[,label], or lines of 7 numbers)")
            if tuple(header[:7]) not in (COLUMNS, MQTT_COLUMNS) or len(header) > 8 or (len(header) == 8 and header[7] != "label"):
                raise RecordingError(f"{path}: header must be {','.join(COLUMNS)}[,label] or {','.join(MQTT_COLUMNS)}[,label] "
                                     f"(or none, for lines of 7 numbers), got {','.join(header)[:120]}")
            for lineno, line in enumerate(f, start=start):
                fields = line.rstrip("\r\n").split(",")
                if fields == [""]:
                    continue
                if len(fields) != len(header):
                    raise RecordingError(f"{path}:{lineno}: expected {len(header)} fields, got {len(fields)}")
                try:
                    values.append([float(v) for v in fields[:7]])
                except ValueError:
                    raise RecordingError(f"{path}:{lineno}: not a number in {line.strip()!r}") from None
                labels.append(fields[7] if len(fields) == 8 else "")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read it ({exc})") from None
    data = np.array(values, dtype=np.float64).reshape(-1, 7)
    if not np.isfinite(data).all():
        raise RecordingError(f"{path}: holds NaN or infinite values")
    return Recording(data[:, 0], data[:, 1:], np.array(labels, dtype=object), path.name.split(".")[0])


def _numbers(fields: list[str]) -> bool:
    try:
        [float(v) for v in fields]
    except ValueError:
        return False
    return bool(fields)


def check_recording(rec: Recording, rate: float = 50.0, window: int = 128) -> list[str]:
    """A recording checked as the daemon checks readings, with its reasons: raises RecordingError for
    what the daemon would reject or could never label; returns warnings for what it would reset on."""
    from .payloads import RAW_LIMITS, Reject, check_readings

    name = rec.name or "the recording"
    if not len(rec):
        raise RecordingError(f"{name}: no samples")
    try:
        check_readings(rec.t, rec.raw, RAW_LIMITS)
    except Reject as exc:
        raise RecordingError(f"{name}: the daemon would reject these readings: {exc}") from None
    dt = np.diff(rec.t)
    back = np.flatnonzero(dt < 0)
    if len(back):
        raise RecordingError(f"{name}: t runs backwards {len(back)} times (first after row {back[0] + 1}, "
                             f"{rec.t[back[0]]:.3f} s then {rec.t[back[0] + 1]:.3f} s); the daemon would restart "
                             "the device's window each time: sort the rows by t")
    span = rec.t[-1] - rec.t[0]
    if span * rate + 1 < window:
        raise RecordingError(f"{name}: {len(rec)} samples over {span:.2f} s; a label needs {window} samples at "
                             f"{rate:g} Hz ({window / rate:.2f} s)")
    step = float(np.median(dt)) if len(dt) else 0.0
    if step > 1.0:
        unit = " (t looks like milliseconds: divide it by 1000)" if 5 <= step <= 200 else ""
        raise RecordingError(f"{name}: samples are {step:g} s apart (median); the daemon takes t in seconds and restarts "
                             f"a device's window after a gap of over 1 s, so nothing would be labelled{unit}")
    cuts = np.flatnonzero(dt > 1.0)
    runs = np.diff(np.concatenate(([0], cuts + 1, [len(rec.t)])))
    spans = [rec.t[b - 1] - rec.t[a] for a, b in zip(np.concatenate(([0], cuts + 1)), np.concatenate((cuts + 1, [len(rec.t)]))) if b > a]
    if not any(span * rate + 1 >= window for span in spans):
        raise RecordingError(f"{name}: no stretch of {window / rate:.2f} s without a gap of over 1 s ({len(runs)} stretches): "
                             "nothing would be labelled")
    warnings = []
    gaps, repeats = int((dt > 1.0).sum()), int((dt == 0).sum())
    if gaps:
        warnings.append(f"{gaps} gaps of over 1 s: the window starts again after each, as in the daemon")
    if repeats:
        warnings.append(f"{repeats} repeated timestamps: dropped, as in the daemon")
    return warnings


def window_truth(rec: Recording, start: float, end: float) -> str:
    """The most frequent label of the recording's samples within [start, end] ('' if unlabelled)."""
    lo, hi = np.searchsorted(rec.t, start, side="left"), np.searchsorted(rec.t, end, side="right")
    labels = rec.labels[lo:hi]
    if not len(labels):
        return ""
    values, counts = np.unique(labels.astype(str), return_counts=True)
    return str(values[np.argmax(counts)])
