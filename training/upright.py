"""How the model's walkers wore their phones: ``upright`` in a model's metadata.

The daemon turns the windows of a device worn turned about its screen's normal (a belt phone upright in a
holster, upside down) back into the frame the model learnt, once the device has walked
(``harstream/core/upright.py``).  That frame is gravity's direction in the phone's frame while the training
subjects walked: measured here on the windows the daemon cuts from their recordings (HAPT's belts; the
subjects scored and those held out for choices left out).  Only the waist gets one: a pocket turns with
every time the phone is put in, and the model learnt pockets worn every way round.  A model with ``upright``
also has a still wearer, upright as when the device walked, keep the phone where it was (in any placement).

    python -m harstream.training.upright models/anyone.tflite
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from harstream.core.model import Model, ModelError
from harstream.core.recording import Recording, window_truth
from harstream.core.windows import DeviceStream
from harstream.datasets import DatasetError, read_hapt
from harstream.datasets.common import TEST_SUBJECTS, VALIDATION_SUBJECTS


def walking_gravity(recordings) -> list[float]:
    """The mean direction (unit, in the phone's frame) of gravity over the recordings' walking windows, each
    window's own direction counted once.

    >>> t = np.arange(400) / 50.0
    >>> raw = np.tile([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], (400, 1))    # gravity along y throughout
    >>> walking_gravity([Recording(t, raw, np.full(400, "WALKING", dtype=object))])
    [0.0, 1.0, 0.0]
    """
    directions = []
    for rec in recordings:
        for w in DeviceStream().push(rec.t, rec.raw):
            if window_truth(rec, w.start, w.end) == "WALKING":
                g = w.data[:, 9:12].mean(axis=0)
                directions.append(g / np.linalg.norm(g))
    if not directions:
        raise ValueError("no walking windows")
    mean = np.mean(directions, axis=0)
    return [round(float(v), 5) + 0.0 for v in mean / np.linalg.norm(mean)]


def waist_upright(hapt_path, hold_out=()) -> dict:
    """``upright`` for a model that learnt HAPT's belts: the walking gravity of HAPT's training subjects (the
    subjects scored and those held out for choices left out, and ``hold_out``, a model's cross-validation fold)."""
    held_out = set(TEST_SUBJECTS) | set(VALIDATION_SUBJECTS) | set(hold_out)
    return {"waist": walking_gravity(Recording.from_dataset(r) for r in read_hapt(hapt_path) if r.subject not in held_out)}


def add_upright(path, hapt_path, log=print, upright: dict | None = None) -> dict:
    """Write ``upright`` (``waist_upright``, or ``upright`` if given: measured once for many files) into the metadata
    of the model at ``path``; a model that never saw a waist is left as it is."""
    from .export import write_metadata

    path = Path(path)
    model = Model(path)
    if "waist" not in model.info.placements or model.info.accuracy.get("without") == "hapt":
        log(f"{path}: learnt no waist; no upright written")
        return {}
    model.info.upright = upright or waist_upright(hapt_path, model.info.accuracy.get("held_out", ()))
    model.info.validate(str(path))
    write_metadata(model.info, path)
    log(f"{path}: upright on the waist {model.info.upright['waist']} (HAPT's training recordings)")
    return model.info.upright


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--hapt", default="../shared/data/hapt-rawdata.zip")
    args = parser.parse_args()
    try:
        add_upright(args.model, args.hapt, log=lambda m: print(m, file=sys.stderr))
    except (ValueError, OSError, ModelError, DatasetError) as error:  # a bad model or data file: one line, not a traceback
        sys.exit(f"harstream.training.upright: {error}")
