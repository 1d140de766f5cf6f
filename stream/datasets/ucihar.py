"""UCI HAR's own windows: ``<root>/{train,test}/Inertial Signals/*_{train,test}.txt``.

The seed tutorial's ``HARDataset/`` folder and the official zip ("UCI HAR Dataset/", possibly
inside an outer zip) both have this layout.  Windows are 128 samples; channels in UCI order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.preprocess import UCI_CHANNELS
from .archive import Archive, parse_table
from .common import DatasetError, WindowSet

MARKER = "train/Inertial Signals/total_acc_x_train.txt"
_SIGNALS = UCI_CHANNELS  # also the file names: total_acc_x_train.txt, ...


def read_ucihar(path: str | Path) -> WindowSet:
    """Train and test windows together (split them with ``WindowSet.split``)."""
    with Archive(path) as archive:
        marker = archive.find(MARKER)
        if marker is None:
            raise DatasetError(f"{path}: not UCI HAR (expected train/Inertial Signals/total_acc_x_train.txt)")
        root = marker[: -len(MARKER)]
        parts = []
        try:
            for split in ("train", "test"):
                signals = []
                for channel in _SIGNALS:
                    name = f"{root}{split}/Inertial Signals/{channel}_{split}.txt"
                    if name not in archive.names:
                        raise DatasetError(f"{path}: missing {name}")
                    rows = archive.read_text(name)
                    first = rows.split("\n", 1)[0].split()
                    signals.append(parse_table(rows, len(first), name))
                lengths = {s.shape for s in signals}
                if len(lengths) != 1:
                    raise DatasetError(f"{path}: the {split} signal files disagree in shape: {sorted(lengths)}")
                y = parse_table(archive.read_text(f"{root}{split}/y_{split}.txt"), 1, f"y_{split}.txt")[:, 0]
                subject = parse_table(archive.read_text(f"{root}{split}/subject_{split}.txt"), 1, f"subject_{split}.txt")[:, 0]
                if not len(y) == len(subject) == len(signals[0]):
                    raise DatasetError(f"{path}: {split} has {len(signals[0])} windows, {len(y)} labels and {len(subject)} subjects")
                if len(y) and not np.isin(y, np.arange(1, 7)).all():
                    raise DatasetError(f"{path}: y_{split}.txt holds labels outside 1..6")
                parts.append((np.stack(signals, axis=-1).astype(np.float32), y.astype(np.int64) - 1, subject.astype(np.int64)))
        except KeyError as exc:
            raise DatasetError(f"{path}: missing {exc.args[0]}") from None
        except ValueError as exc:
            raise DatasetError(f"{path}: corrupt UCI HAR data ({exc})") from None
    X, y, subject = (np.concatenate(v) for v in zip(*parts))
    return WindowSet(X, y, subject, UCI_CHANNELS, str(path))
