"""What every dataset reader shares: activity names, the subject split, window sets, the cache."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess

ACTIVITIES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
#: UCI HAR's test subjects; the other 21 of the 30 are for training.
TEST_SUBJECTS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
#: Training subjects held out for every selection (early choices, which repeat to export).
VALIDATION_SUBJECTS = (7, 15, 26)
SHARED_ZIP = Path("shared") / "data" / "hapt-rawdata.zip"


class DatasetError(Exception):
    """A dataset is missing or unreadable; the message says what was expected where."""


@dataclass
class WindowSet:
    """Labelled windows: X (n, window, channels) float32, y (n,) class index 0..5, subject (n,)."""

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    channels: tuple[str, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.y)

    def where(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.X[mask], self.y[mask], self.subject[mask], self.channels, self.source)

    def subjects(self, ids) -> "WindowSet":
        return self.where(np.isin(self.subject, list(ids)))

    def split(self) -> tuple["WindowSet", "WindowSet"]:
        """(train, test) by UCI HAR's subject split."""
        test = np.isin(self.subject, TEST_SUBJECTS)
        return self.where(~test), self.where(test)

    def select(self, channels) -> np.ndarray:
        """X restricted to the named channels, in that order."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise DatasetError(f"{self.source}: has no channel {', '.join(missing)} (it has {', '.join(self.channels)})")
        return self.X[:, :, [self.channels.index(c) for c in channels]]


def cache_dir() -> Path:
    return Path(os.environ.get("HARSTREAM_CACHE", Path.home() / ".cache" / "harstream"))


def default_data_path() -> Path:
    """The cache's copy of HAPT, else the shared copy beside the checkout or the working folder."""
    from .download import SOURCES

    candidates = [cache_dir() / SOURCES["hapt"].filename]
    here = Path(__file__).resolve().parents[3]  # the folder that holds the checkout
    candidates += [Path.cwd().parent / SHARED_ZIP, Path.cwd() / SHARED_ZIP, here / SHARED_ZIP]
    for path in candidates:
        if path.exists():
            return path
    raise DatasetError(
        "no dataset found; looked for " + ", ".join(str(p) for p in candidates)
        + ". Run `harstream download hapt` or pass --data PATH (a HAPT RawData zip or folder, or UCI HAR)"
    )


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{preprocess.VERSION}|windows-v1"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_windows(path: str | Path | None = None, *, use_cache: bool = True) -> WindowSet:
    """Every labelled window of a dataset: HAPT raw recordings (preprocessed here) or UCI HAR.

    HAPT windows are cached by file identity and preprocessing version.
    """
    from .hapt import read_hapt, segment_windows
    from .ucihar import is_ucihar, read_ucihar

    path = Path(path) if path is not None else default_data_path()
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder (expected the HAPT RawData zip or folder, or UCI HAR)")
    if is_ucihar(path):
        return read_ucihar(path)
    cached = cache_dir() / "windows" / f"{_fingerprint(path)}.npz" if path.is_file() and use_cache else None
    if cached is not None and cached.exists():
        with np.load(cached) as z:
            return WindowSet(z["X"], z["y"], z["subject"], tuple(z["channels"].tolist()), str(path))
    windows = segment_windows(read_hapt(path), source=str(path))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, X=windows.X, y=windows.y, subject=windows.subject, channels=np.array(windows.channels))
        tmp.replace(cached)
    return windows
