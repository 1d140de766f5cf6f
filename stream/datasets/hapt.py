"""UCI HAPT raw recordings: one continuous 50 Hz recording per experiment, labelled per sample."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .archive import parse_table
from .common import DatasetError, Recording, open_archive

MARKER = "RawData/labels.txt"
_ACC = re.compile(r"acc_exp(\d+)_user(\d+)\.txt$")


def read_hapt(path: str | Path, subjects=None, experiments=None) -> list[Recording]:
    """Recordings from a HAPT RawData folder or zip, in experiment order.

    ``subjects``/``experiments`` keep only those ids (the rest are not parsed).
    """
    with open_archive(path, "HAPT", MARKER) as archive:
        labels_name = archive.find(MARKER)
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
