"""What every dataset reader shares: activity names, recordings, window sets, the cut into windows.

Nothing here knows a concrete dataset: the readers import this module, and the
registry (``datasets/__init__.py``) imports the readers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import preprocess
from .archive import Archive, NotAnArchive
from ..core.activities import ACTIVITIES, RUNNING_ID, TRAINABLE, class_of  # noqa: F401  (TRAINABLE re-exported)
from ..core.placement import PLACEMENTS, POCKET, WAIST  # noqa: F401  (re-exported for the readers)

#: UCI HAR's test subjects; the other 21 of the 30 are for training.
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
#: Training subjects held out for every selection (early choices, which repeat to export).
VALIDATION_SUBJECTS = (7, 15, 26)
SHARED_DATA = Path("shared") / "data"
SHARED_ZIP = SHARED_DATA / "hapt-rawdata.zip"
RATE = 50.0
WINDOW, STEP = 128, 64


class DatasetError(Exception):
    """A dataset is missing or unreadable; the message says what was expected where."""


@dataclass
class WindowSet:
    """Labelled windows: X (n, window, channels) float32, y (n,) class index into ``TRAINABLE`` (0..5 the
    six activities, 6 RUNNING), subject (n,),
    placement (n,) index into ``PLACEMENTS`` (where the phone was worn)."""

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    channels: tuple[str, ...]
    source: str = ""
    placement: np.ndarray | None = None

    def __post_init__(self):
        if self.placement is None:  # UCI HAR and HAPT: the waist
            self.placement = np.zeros(len(self.y), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.y)

    def where(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.X[mask], self.y[mask], self.subject[mask], self.channels, self.source, self.placement[mask])

    @classmethod
    def concat(cls, sets: list["WindowSet"]) -> "WindowSet":
        channels = sets[0].channels
        if any(s.channels != channels for s in sets):
            raise DatasetError("cannot join datasets with different channels: " + "; ".join(f"{s.source}: {s.channels}" for s in sets))
        return cls(*(np.concatenate([getattr(s, f) for s in sets]) for f in ("X", "y", "subject")), channels,
                   " + ".join(s.source for s in sets), np.concatenate([s.placement for s in sets]))

    def classes(self, count: int) -> "WindowSet":
        """Only the windows of the first ``count`` classes (six for a model without RUNNING)."""
        return self.where(self.y < count)

    def for_labels(self, labels) -> "WindowSet":
        """Only the windows whose activity is one of a model's ``labels``, ``y`` its index there."""
        names = np.array(TRAINABLE)[self.y]
        keep = np.isin(names, list(labels))
        kept = self.where(keep)
        kept.y = np.array([list(labels).index(n) for n in names[keep]], dtype=self.y.dtype)
        return kept

    def subjects(self, ids) -> "WindowSet":
        return self.where(np.isin(self.subject, list(ids)))

    def split(self) -> tuple["WindowSet", "WindowSet"]:
        """(train, test) by UCI HAR's subject split (no MotionSense subject is a test subject:
        its held-out people are the ones this project never sees)."""
        test = np.isin(self.subject, TEST_SUBJECTS)
        return self.where(~test), self.where(test)

    def select(self, channels) -> np.ndarray:
        """X restricted to the named channels, in that order."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise DatasetError(f"{self.source}: has no channel {', '.join(missing)} (it has {', '.join(self.channels)})")
        return self.X[:, :, [self.channels.index(c) for c in channels]]


def open_archive(path: str | Path, dataset: str, layout: str) -> Archive:
    """The dataset's zip or folder, or a DatasetError naming the ``dataset`` and the ``layout`` it should hold."""
    try:
        return Archive(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file or folder (expected a {dataset} zip or folder)") from None
    except NotAnArchive:
        raise DatasetError(f"{path}: not a {dataset} dataset (expected a zip or folder holding {layout})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc})") from None


def cache_dir() -> Path:
    return Path(os.environ.get("HARSTREAM_CACHE", Path.home() / ".cache" / "harstream"))


@dataclass
class Recording:
    """One continuous recording: acc (n, 3) total acceleration in g (Android's signs), gyro (n, 3)
    in rad/s, a label per sample, and where the phone was worn.

    ``labels`` holds HAPT activity ids (1..6 the six activities, 7..12 transitions), 0 where unlabelled.
    """

    experiment: int
    subject: int
    acc: np.ndarray
    gyro: np.ndarray
    labels: np.ndarray
    rate: float = RATE
    placement: str = WAIST
    dataset: str = "hapt"
    title: str = ""  # the dataset's own name for it, when it has one

    def __len__(self) -> int:
        return len(self.acc)

    @property
    def t(self) -> np.ndarray:
        """Seconds from the first sample (sample k at k / rate)."""
        return np.arange(len(self)) / self.rate

    @property
    def raw(self) -> np.ndarray:
        return np.hstack([self.acc, self.gyro])

    @property
    def name(self) -> str:
        return self.title or f"exp{self.experiment:02d}_user{self.subject:02d}"

    def segments(self) -> list[tuple[int, int, int]]:
        """(activity, start, end) for each run of one label, end exclusive; unlabelled runs left out."""
        change = np.flatnonzero(np.diff(self.labels)) + 1
        bounds = np.concatenate([[0], change, [len(self.labels)]])
        return [(int(self.labels[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if self.labels[a]]


def segment_windows(recordings: list[Recording], window: int = WINDOW, step: int = STEP, source: str = "") -> WindowSet:
    """UCI HAR's windows: each recording preprocessed whole (causally), then every labelled
    segment of an activity (the six, and RUNNING: ``class_of``) cut into ``window`` samples every ``step``."""
    xs, ys, subjects, placements = [], [], [], []
    for rec in recordings:
        features = preprocess.Preprocessor(rec.rate).process(rec.raw).astype(np.float32)
        for activity, start, end in rec.segments():
            k = class_of(activity)
            if k is None:
                continue
            starts = np.arange(start, end - window + 1, step)
            if len(starts):
                xs.append(features[starts[:, None] + np.arange(window)])
                ys.append(np.full(len(starts), k))
                subjects.append(np.full(len(starts), rec.subject))
                placements.append(np.full(len(starts), PLACEMENTS.index(rec.placement)))
    if not xs:
        raise DatasetError(f"{source or 'recordings'}: no labelled segment is long enough for a {window}-sample window")
    return WindowSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(subjects), preprocess.CHANNELS, source,
                     np.concatenate(placements))


def change_windows(recordings: list[Recording], window: int = WINDOW, step: int = STEP, source: str = "changes") -> WindowSet:
    """The windows a stream gives that ``segment_windows`` leaves out: every window of the daemon's grid (``step``
    samples apart from a recording's start) not inside one labelled activity, across a change of activity or a
    posture change (HAPT's transitions).  One whose most frequent label is an activity is labelled with it, as the
    streamed score reads it (``core.recording.window_truth``); one that is mostly a posture change has ``y`` -1: only
    where the phone was worn can be learnt from it (without them a belt lying down was read as a pocket,
    docs/generalisation-choices.md item 21).  Windows mostly of unlabelled time are left out: HAPT's wearers mostly
    stood about in it, and so many still belt windows taught a model that a still phone is on a belt.

    >>> rec = Recording(1, 1, np.zeros((400, 3)), np.zeros((400, 3)), np.repeat([4, 8, 5], [200, 40, 160]), 50.0, WAIST, "hapt", "")
    >>> w = change_windows([rec])
    >>> w.y.tolist(), w.placement.tolist()      # the windows at 128 and 192 straddle it: mostly SITTING, mostly STANDING
    ([3, 4], [0, 0])
    """
    classes = np.array([-1 if class_of(i) is None else class_of(i) for i in range(RUNNING_ID + 1)])  # per label id
    xs, ys, subjects, placements = [], [], [], []
    for rec in recordings:
        starts = np.arange(0, len(rec.labels) - window + 1, step)
        ids = rec.labels[starts[:, None] + np.arange(window)]
        most = np.array([np.bincount(row).argmax() for row in ids], dtype=np.int64)  # as the streamed score reads a window
        inside = (ids == ids[:, :1]).all(axis=1) & (classes[ids[:, 0]] >= 0)
        across = ~inside & (most != 0)  # windows mostly of unlabelled time left out
        keep = starts[across]
        if len(keep):
            features = preprocess.Preprocessor(rec.rate).process(rec.raw).astype(np.float32)
            xs.append(features[keep[:, None] + np.arange(window)])
            ys.append(classes[most[across]])
            subjects.append(np.full(len(keep), rec.subject))
            placements.append(np.full(len(keep), PLACEMENTS.index(rec.placement)))
    if not xs:
        return WindowSet(np.zeros((0, window, len(preprocess.CHANNELS)), np.float32), np.zeros(0, int), np.zeros(0, int),
                         preprocess.CHANNELS, source, np.zeros(0, int))
    return WindowSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(subjects), preprocess.CHANNELS, source,
                     np.concatenate(placements))
