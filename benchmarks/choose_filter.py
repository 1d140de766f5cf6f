"""The time filter's settings, chosen on validation subjects only (HAPT 7 15 26, MotionSense 107 113), never on
the scored ones: how sticky an activity is from one window to the next, and how often a day holds "none of these";
with ``--turn``, how far gravity must turn in a window for a still posture to change and how likely the posture
before is to hold after such a turn (the placement inferred, and given); with ``--distance``, how many in-set
windows may be far from every activity (UNKNOWN by ``training/distance.py``), against the made-up families.

    python -m benchmarks.choose_filter [--model anyone] [--turn | --distance]
"""
from __future__ import annotations

import argparse

import numpy as np
from harstream.core import timefilter
from harstream.core.activities import UNKNOWN
from harstream.core.catalog import resolve_model
from harstream.core.model import Model
from harstream.core.recording import Recording
from harstream.datasets import VALIDATION_SUBJECTS, read_hapt, read_motionsense

from .generalisation import SHARED, changes, made_up, score, share, stream

MOTIONSENSE_VALIDATION = (107, 113)  # training/anyone.py's: carved from MotionSense's training subjects


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="anyone")
    parser.add_argument("--turn", action="store_true", help="choose the turn a posture change needs, and what holds after it")
    parser.add_argument("--distance", action="store_true", help="choose the share of in-set windows let be far (the model's distance)")
    args = parser.parse_args(argv)
    model = Model(resolve_model(args.model))
    labels = [a for a in model.info.labels if a != UNKNOWN]
    waist = [Recording.from_dataset(r) for r in read_hapt(SHARED / "hapt-rawdata.zip", subjects=set(VALIDATION_SUBJECTS))]
    trials = read_motionsense(SHARED / "motionsense-pocket.zip", subjects=set(MOTIONSENSE_VALIDATION))
    pocket = [Recording.from_dataset(r) for r in trials]
    made = [r for family in ("shake", "table", "vehicle") for r in made_up(family, count=6, seed=777)]
    if args.turn:
        return _turns(model, labels, waist, pocket, made)
    if args.distance:
        return _distance_rates(model, labels, waist, pocket, made)
    rows = []
    default = dict(timefilter.DAY)
    for unknown_share in (0.03, 0.1, 0.2):
        timefilter.DAY.update(default, UNKNOWN=unknown_share)
        for stay in (0.0, 0.5, 0.8, 0.9, 0.95):
            w, p = stream(model, waist, stay=stay), stream(model, pocket, stay=stay)
            sw, sp, sm = score(w, labels), score(p, labels), share(stream(model, made, stay=stay), labels)
            delays = np.array(changes(w, labels) + changes(p, labels))
            row = {"unknown_share": unknown_share, "stay": stay, "waist": sw["accuracy"], "pocket": sp["accuracy"],
                   "walking_as_stairs": (sw["walking_as_stairs"] + sp["walking_as_stairs"]) / 2,
                   "unknown_in_set": (sw["unknown"] + sp["unknown"]) / 2, "made_up_in_set": sm["as_one_of_the_six"],
                   "delay_p90": float(np.percentile(delays, 90)) if len(delays) else None}
            rows.append(row)
            print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    timefilter.DAY.update(default)
    return rows


def _turns(model, labels, waist, pocket, made) -> list[dict]:
    rows, default = [], timefilter.KEEP_AFTER_TURN
    for stay in (0.8, 0.9):
        for turn_deg in (None, 3.0, 5.0, 7.0, 10.0):
            for keep in ((default,) if turn_deg is None else (0.0, 0.1, 0.2, 0.4)):
                timefilter.KEEP_AFTER_TURN = keep
                row = {"stay": stay, "turn_deg": turn_deg, "keep_after_turn": None if turn_deg is None else keep}
                for where, recordings in (("waist", waist), ("pocket", pocket)):
                    for placement in ("auto", where):
                        s = score(stream(model, recordings, placement, stay, turn_deg=turn_deg), labels)
                        row[f"{where}{'' if placement == 'auto' else ', given'}"] = s["accuracy"]
                row["made_up_in_set"] = share(stream(model, made, stay=stay, turn_deg=turn_deg), labels)["as_one_of_the_six"]
                rows.append(row)
                print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    timefilter.KEEP_AFTER_TURN = default
    return rows


def _distance_rates(model, labels, waist, pocket, made) -> list[dict]:
    """The threshold that each share of the validation subjects' streamed in-set windows exceeds, and with it the
    made-up families' windows far and the streamed accuracy (the model's own statistics; only the threshold varies)."""
    from harstream.core.windows import DeviceStream
    from harstream.training.distance import features_of, streamed_validation, threshold

    windows, truth = streamed_validation(SHARED / "hapt-rawdata.zip", SHARED / "motionsense-pocket.zip")
    inset = model.info.distances(features_of(model, windows[np.array([t in labels for t in truth])]))
    families = {}
    for rec in made:
        cut = np.stack([w.data for w in DeviceStream().push(rec.t, rec.raw)])
        families.setdefault(rec.name.rstrip("0123456789"), []).append(model.info.distances(features_of(model, cut)))
    shipped, rows = model.info.distance, []
    for rate in (0.002, 0.005, 0.01, 0.02):
        limit = threshold(inset, rate)
        model.info.distance = {**shipped, "threshold": limit}
        row = {"rate": rate, "threshold": limit, "waist": score(stream(model, waist), labels)["accuracy"],
               "pocket": score(stream(model, pocket), labels)["accuracy"],
               **{f"{family} far": float((np.concatenate(d) > limit).mean()) for family, d in families.items()}}
        rows.append(row)
        print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    model.info.distance = shipped
    return rows


if __name__ == "__main__":
    main()
