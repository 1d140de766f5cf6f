"""Datasets: UCI HAPT raw recordings (waist), MotionSense (trouser pocket), UCI HAR windows, the download cache.

This module is the registry: the one place that knows every reader.  To add a
dataset, write a reader beside the others (it imports only ``common`` and
``archive``) and add it to ``READERS``.  Numpy and the standard library only,
so that ``harstream evaluate`` runs where TensorFlow is not installed.

>>> sorted(READERS)
['hapt', 'motionsense', 'uci-har']
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import hapt, motionsense, ucihar
from .archive import Archive, NotAnArchive
from .common import (
    ACTIVITIES,
    SHARED_DATA,
    TEST_SUBJECTS,
    VALIDATION_SUBJECTS,
    DatasetError,
    Recording,
    WindowSet,
    cache_dir,
    segment_windows,
)
from .download import SOURCES
from .hapt import read_hapt
from .motionsense import read_motionsense

__all__ = [
    "ACTIVITIES", "TEST_SUBJECTS", "VALIDATION_SUBJECTS", "READERS", "DatasetError", "WindowSet", "Recording",
    "default_data_path", "detect", "load_windows", "scored_windows", "read_recordings", "read_hapt", "read_motionsense", "segment_windows",
]


@dataclass(frozen=True)
class Reader:
    """One dataset: how to recognise its files, and how to read them."""

    name: str
    marker: str  # a member path (suffix) that only this dataset's files hold
    recordings: Callable[..., list[Recording]] | None  # continuous recordings, or None (windows only)
    windows: Callable[..., WindowSet] | None = None  # for a dataset that is windows only
    validation_subjects: tuple[int, ...] = ()  # held out of training: for choices (HAPT) or scoring only (MotionSense)
    scored_subjects: tuple[int, ...] = ()  # what ``evaluate`` scores by default: subjects no choice was made on


READERS = {
    "hapt": Reader("hapt", hapt.MARKER, read_hapt, validation_subjects=VALIDATION_SUBJECTS, scored_subjects=TEST_SUBJECTS),
    "motionsense": Reader("motionsense", motionsense.MARKER, read_motionsense, validation_subjects=motionsense.VALIDATION_SUBJECTS,
                          scored_subjects=motionsense.VALIDATION_SUBJECTS),
    "uci-har": Reader("uci-har", ucihar.MARKER, None, windows=ucihar.read_ucihar, scored_subjects=TEST_SUBJECTS),
}


def detect(path: str | Path) -> Reader:
    """The reader whose files ``path`` (a zip or folder) holds, or a DatasetError that says what was expected."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder (expected the HAPT RawData, MotionSense or UCI HAR data, a zip or a folder)")
    try:
        with Archive(path) as archive:
            for reader in READERS.values():
                if any(n.startswith(reader.marker) or ("/" + reader.marker) in n for n in archive.names):
                    return reader
    except NotAnArchive:
        raise DatasetError(f"{path}: {_NOT_A_DATASET}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc})") from None
    raise DatasetError(f"{path}: {_NOT_A_DATASET}")


_NOT_A_DATASET = ("not a HAPT dataset, nor MotionSense or UCI HAR (expected a zip or folder holding RawData/labels.txt, "
                  "A_DeviceMotion_data/<trial>/sub_N.csv, or train/Inertial Signals/)")


def read_recordings(path: str | Path, subjects=None) -> list[Recording]:
    """Continuous recordings of a dataset (HAPT or MotionSense), labelled per sample."""
    reader = detect(path)
    if reader.recordings is None:
        raise DatasetError(f"{path}: {reader.name} holds only fixed windows, not continuous recordings (use HAPT RawData or MotionSense)")
    return reader.recordings(path, subjects=subjects)


def default_data_path() -> Path:
    """The cache's copy of HAPT, else the shared copy beside the checkout or the working folder."""
    candidates = [cache_dir() / SOURCES["hapt"].filename]
    here = Path(__file__).resolve().parents[3]  # the folder that holds the checkout
    shared = SHARED_DATA / "hapt-rawdata.zip"
    candidates += [Path.cwd().parent / shared, Path.cwd() / shared, here / shared]
    for path in candidates:
        if path.exists():
            return path
    raise DatasetError(
        "no dataset found; looked for " + ", ".join(str(p) for p in candidates)
        + ". Run `harstream download hapt` or pass --data PATH (a HAPT RawData zip or folder, MotionSense, or UCI HAR)"
    )


def _fingerprint(path: Path, reader: str) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{reader}|{segment_windows.__module__}|windows-v3"
    from ..core import preprocess

    return hashlib.sha256(f"{key}|{preprocess.VERSION}".encode()).hexdigest()[:16]


def load_windows(path: str | Path | None = None, *, use_cache: bool = True) -> WindowSet:
    """Every labelled window of a dataset: recordings (preprocessed here) or UCI HAR's own windows.

    Windows cut from recordings are cached by file identity and preprocessing version.
    """
    path = Path(path) if path is not None else default_data_path()
    reader = detect(path)
    if reader.windows is not None:
        return reader.windows(path)
    cached = cache_dir() / "windows" / f"{_fingerprint(path, reader.name)}.npz" if path.is_file() and use_cache else None
    if cached is not None and cached.exists():
        with np.load(cached) as z:
            return WindowSet(z["X"], z["y"], z["subject"], tuple(z["channels"].tolist()), str(path), z["placement"])
    windows = segment_windows(reader.recordings(path), source=str(path))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, X=windows.X, y=windows.y, subject=windows.subject, channels=np.array(windows.channels),
                 placement=windows.placement)
        tmp.replace(cached)
    return windows


def scored_windows(path: str | Path | None = None, subjects: str = "held-out") -> WindowSet:
    """The windows ``evaluate`` scores: ``held-out`` (HAPT's and UCI HAR's test subjects, MotionSense's
    validation subjects: none was used for a choice), or ``all`` (data that no model here has seen)."""
    path = Path(path) if path is not None else default_data_path()
    windows = load_windows(path)
    if subjects == "all":
        return windows
    scored = windows.subjects(detect(path).scored_subjects)
    if not len(scored):
        raise DatasetError(f"{windows.source}: has no windows of its held-out subjects {list(detect(path).scored_subjects)}; "
                           "pass --subjects all to score every window")
    return scored
