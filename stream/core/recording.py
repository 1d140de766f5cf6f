"""Recordings as CSV: ``t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z[,label]``, one row per sample.

``t`` in seconds, acceleration in g (gravity included), gyro in rad/s; ``label``
is an activity name or empty.  Values are written with ``repr`` so that a file
read back gives the same floats bit for bit.  ``.csv.gz`` is read and written too.
"""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .activities import HAPT_LABELS

COLUMNS = ("t", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")


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
        names = np.array(("",) + HAPT_LABELS, dtype=object)
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
            header = f.readline().strip().split(",")
            if tuple(header[:7]) != COLUMNS or len(header) > 8 or (len(header) == 8 and header[7] != "label"):
                raise RecordingError(f"{path}: header must be {','.join(COLUMNS)}[,label], got {','.join(header)}")
            values, labels = [], []
            for lineno, line in enumerate(f, start=2):
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


def window_truth(rec: Recording, start: float, end: float) -> str:
    """The most frequent label of the recording's samples within [start, end] ('' if unlabelled)."""
    lo, hi = np.searchsorted(rec.t, start, side="left"), np.searchsorted(rec.t, end, side="right")
    labels = rec.labels[lo:hi]
    if not len(labels):
        return ""
    values, counts = np.unique(labels.astype(str), return_counts=True)
    return str(values[np.argmax(counts)])
