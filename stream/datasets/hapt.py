"""UCI HAPT raw recordings: one continuous 50 Hz recording per experiment, labelled per sample."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess
from .archive import Archive, NotAnArchive, parse_table
from .common import ACTIVITIES, DatasetError, WindowSet

RATE = 50.0
WINDOW, STEP = 128, 64
_ACC = re.compile(r"acc_exp(\d+)_user(\d+)\.txt$")


@dataclass
class Recording:
    """One experiment: acc (n, 3) total acceleration in g, gyro (n, 3) in rad/s, a label per sample.

    ``labels`` holds HAPT activity ids (1..6 the six activities, 7..12 transitions), 0 where unlabelled.
    """

    experiment: int
    subject: int
    acc: np.ndarray
    gyro: np.ndarray
    labels: np.ndarray
    rate: float = RATE

    def __len__(self) -> int:
        return len(self.acc)

    @property
    def t(self) -> np.ndarray:
        """Seconds from the first sample (sample k at k / rate)."""
        return np.arange(len(self)) / self.rate

    @property
    def raw(self) -> np.ndarray:
        return np.hstack([self.acc, self.gyro])

    def segments(self) -> list[tuple[int, int, int]]:
        """(activity, start, end) for each run of one label, end exclusive; unlabelled runs left out."""
        change = np.flatnonzero(np.diff(self.labels)) + 1
        bounds = np.concatenate([[0], change, [len(self.labels)]])
        return [(int(self.labels[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if self.labels[a]]


def read_hapt(path: str | Path, subjects=None, experiments=None) -> list[Recording]:
    """Recordings from a HAPT RawData folder or zip, in experiment order.

    ``subjects``/``experiments`` keep only those ids (the rest are not parsed).
    """
    try:
        archive = Archive(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file or folder (expected a HAPT RawData zip or folder)") from None
    except NotAnArchive:
        raise DatasetError(f"{path}: not a HAPT dataset (expected a zip or folder holding RawData/labels.txt)") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc})") from None
    with archive:
        labels_name = archive.find("RawData/labels.txt")
        if labels_name is None:
            raise DatasetError(f"{path}: not a HAPT dataset (expected RawData/labels.txt and RawData/acc_expEE_userUU.txt files)")
        root = labels_name[: -len("labels.txt")]
        try:
            table = parse_table(archive.read_text(labels_name), 5, labels_name).astype(np.int64)
            recordings = []
            for name in sorted(n for n in archive.names if n.startswith(root) and _ACC.search(n)):
                exp, user = (int(v) for v in _ACC.search(name).groups())
                if (subjects is not None and user not in subjects) or (experiments is not None and exp not in experiments):
                    continue
                gyro_name = name.replace("acc_exp", "gyro_exp")
                if gyro_name not in archive.names:
                    raise DatasetError(f"{path}: {name} has no matching {gyro_name}")
                acc = parse_table(archive.read_text(name), 3, name)
                gyro = parse_table(archive.read_text(gyro_name), 3, gyro_name)
                if len(acc) != len(gyro):
                    raise DatasetError(f"{path}: {name} has {len(acc)} rows but {gyro_name} has {len(gyro)}")
                labels = np.zeros(len(acc), dtype=np.int64)
                for _, _, activity, start, end in table[(table[:, 0] == exp) & (table[:, 1] == user)]:
                    if not 0 <= start <= end < len(acc):
                        raise DatasetError(f"{path}: labels.txt row for exp {exp} user {user} spans {start}..{end}, outside its {len(acc)} rows")
                    labels[start:end + 1] = activity
                recordings.append(Recording(exp, user, acc, gyro, labels))
        except (ValueError, UnicodeDecodeError, KeyError) as exc:
            raise DatasetError(f"{path}: corrupt HAPT data ({exc})") from None
        except OSError as exc:  # a damaged zip member
            raise DatasetError(f"{path}: corrupt archive ({exc})") from None
    if not recordings:
        raise DatasetError(f"{path}: no RawData/acc_expEE_userUU.txt recordings matched")
    return sorted(recordings, key=lambda r: r.experiment)


def segment_windows(recordings: list[Recording], window: int = WINDOW, step: int = STEP, source: str = "") -> WindowSet:
    """UCI HAR's windows: each recording preprocessed whole (causally), then every labelled
    segment of activities 1..6 cut into ``window`` samples every ``step``."""
    xs, ys, subjects = [], [], []
    for rec in recordings:
        features = preprocess.Preprocessor(rec.rate).process(rec.raw).astype(np.float32)
        for activity, start, end in rec.segments():
            if activity > len(ACTIVITIES):
                continue
            starts = np.arange(start, end - window + 1, step)
            if len(starts):
                xs.append(features[starts[:, None] + np.arange(window)])
                ys.append(np.full(len(starts), activity - 1))
                subjects.append(np.full(len(starts), rec.subject))
    if not xs:
        raise DatasetError(f"{source or 'recordings'}: no labelled segment is long enough for a {window}-sample window")
    return WindowSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(subjects), preprocess.CHANNELS, source)
