"""Accuracy wherever the phone is carried: per dataset and class, across placements, across
orientations, and streamed with the placement inferred per device.

    python -m benchmarks.placement [--hapt ZIP] [--motionsense ZIP] [--out docs/placement.md]

Scores only subjects no choice was made on: HAPT's test subjects (UCI HAR's split) and
MotionSense's validation subjects (2, 5, 11, 16).  Models: ``models/anywhere`` (the default until
December 2026, trained on both; today's default, ``anyone``, is measured by ``benchmarks.generalisation``), ``models/anywhere-waist-only`` and ``models/anywhere-pocket-only`` (the same
network and recipe on one placement's data), and ``models/hcnn`` (the previous default).
Writes the tables to ``docs/placement.md`` and prints them.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from harstream.core import Recognizer
from harstream.core.activities import ACTIVITIES
from harstream.core.model import Model
from harstream.core.placement import PLACEMENTS
from harstream.core.preprocess import turn
from harstream.core.recording import Recording, window_truth
from harstream.core.scoring import StreamScore
from harstream.datasets import read_recordings, scored_windows
from harstream.datasets.common import TEST_SUBJECTS, WindowSet
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SUBJECTS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MODELS = ROOT / "models"
LAYING = ACTIVITIES.index("LAYING")

# The ways a phone turns.  The four pocket orientations are the 180° turns about the phone's axes
# (screen in or out, top up or down); a mirror about x is the other trouser pocket; iOS's signs
# negate acceleration only (a point mirror: ``turn`` leaves rotation rates alone for it).
FLIPS = {
    "as recorded": np.eye(3),
    "turned 180° about x (screen in/out, upside down)": np.diag([1.0, -1.0, -1.0]),
    "turned 180° about y (screen in/out)": np.diag([-1.0, 1.0, -1.0]),
    "turned 180° about z (upside down)": np.diag([-1.0, -1.0, 1.0]),
    "mirrored (the other pocket)": np.diag([-1.0, 1.0, 1.0]),
    "acceleration negated (iOS signs)": -np.eye(3),
}


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """n rotations uniform over SO(3), from unit quaternions."""
    q = rng.normal(size=(n, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], 1)


def predict(model: Model, X: np.ndarray, placement=None) -> np.ndarray:
    return model.predict(X, placement=placement if model.info.placements else None).argmax(1)


def per_class(y, pred) -> dict:
    return {ACTIVITIES[k]: float((pred[y == k] == k).mean()) for k in range(len(ACTIVITIES)) if (y == k).any()}


def known(model: Model, windows: WindowSet):
    """The dataset's own placement, as an index into the model's placements (-1 where it has none)."""
    return np.array([model.info.placements.index(PLACEMENTS[p]) if PLACEMENTS[p] in model.info.placements else -1
                     for p in windows.placement])


def datasets_table(model: Model, sets: dict) -> dict:
    out = {}
    for name, ws in sets.items():
        X = ws.select(model.info.channels)
        given, unknown = predict(model, X, known(model, ws)), predict(model, X)
        out[name] = {"windows": len(ws), "given": float((given == ws.y).mean()), "unknown": float((unknown == ws.y).mean()),
                     "per_class_given": per_class(ws.y, given), "per_class_unknown": per_class(ws.y, unknown),
                     "confusion_given": np.bincount(ws.y * 6 + given, minlength=36).reshape(6, 6).tolist()}
    return out


def cross_table(models: dict, sets: dict) -> dict:
    """Each model on each dataset's five shared classes (no LAYING: MotionSense has none)."""
    out = {}
    for mname, model in models.items():
        row = {}
        for dname, ws in sets.items():
            shared = ws.where(ws.y != LAYING)
            row[dname] = float((predict(model, shared.select(model.info.channels)) == shared.y).mean())
        out[mname] = row
    return out


def orientation_table(model: Model, sets: dict, seed: int = 0) -> dict:
    out = {}
    rng = np.random.default_rng(seed)
    for dname, ws in sets.items():
        X = ws.select(model.info.channels)
        place = known(model, ws)
        row = {name: float((predict(model, turn(X, M), place) == ws.y).mean()) for name, M in FLIPS.items()}
        row["random rotation per window"] = float((predict(model, turn(X, random_rotations(len(X), rng)), place) == ws.y).mean())
        out[dname] = row
    return out


def stream(model: Model, recordings: list[Recording], placement: str, devices_per_recording: bool = True) -> dict:
    """Every recording through the daemon's core (each its own device), labels scored against their windows' truth."""
    score = StreamScore()
    used = {"waist": 0, "pocket": 0, None: 0}  # the placement each scored label was made with
    for rec in recordings:
        recognizer = Recognizer(model, placement_for=lambda device: placement)
        for label in recognizer.feed(rec.name, rec.t, rec.raw):
            if score.add(label.activity, window_truth(rec, label.start, label.end)) != "apart":
                used[label.placement] += 1
    summary = score.summary()
    summary["placement_used"] = {k: v / max(summary["scored"], 1) for k, v in used.items()}
    return summary


def jogging(model: Model, path: Path) -> dict:
    """What the model says on the jogging trials of the scored subjects (jogging is not one of its labels)."""
    from harstream.datasets.motionsense import parse_trial
    from harstream.datasets.archive import Archive
    from harstream.core.preprocess import Preprocessor

    counts = np.zeros(len(ACTIVITIES), dtype=int)
    with Archive(path) as archive:
        for name in archive.names:
            if "/jog_" in name and any(name.endswith(f"/sub_{s - 100}.csv") for s in POCKET_SUBJECTS):
                acc, gyro = parse_trial(archive.read_text(name), name)
                rows = Preprocessor().process(np.hstack([acc, gyro])).astype(np.float32)
                starts = np.arange(0, len(rows) - 127, 64)
                X = rows[starts[:, None] + np.arange(128)]
                counts += np.bincount(predict(model, X, np.ones(len(X), int)), minlength=len(ACTIVITIES))
    return {ACTIVITIES[k]: int(c) for k, c in enumerate(counts)}


def pct(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def report(r: dict, command: str) -> str:
    lines = [f"# Wherever the phone is carried\n\nMade by `{command}` ({r['seconds']:.0f} s on a 2-core x86-64 machine). "
             "Scored on subjects no choice was made on: HAPT's test subjects (waist) and MotionSense's validation "
             "subjects 2, 5, 11, 16 (front trouser pocket). This page is about `anywhere`, the default until December "
             "2026, and its one-placement siblings, streamed through today's runtime; the default since, `anyone`, is "
             "measured in [generalisation.md](generalisation.md).\n"]
    add = lines.append
    add("## `anywhere`, per dataset and class\n")
    add("| | windows | placement given | placement unknown | " + " | ".join(a.lower() for a in ACTIVITIES) + " |")
    add("|---|---|---|---|" + "---|" * len(ACTIVITIES))
    for name, d in r["datasets"].items():
        cells = [pct(d["per_class_given"].get(a)) for a in ACTIVITIES]
        add(f"| {name} | {d['windows']:,} | **{pct(d['given'])}** | {pct(d['unknown'])} | " + " | ".join(cells) + " |")
    add("\nPer-class figures are recall with the placement given. Confusion with the placement unknown, per class:\n")
    for name, d in r["datasets"].items():
        add(f"- {name}: " + ", ".join(f"{a.lower()} {pct(v)}" for a, v in d["per_class_unknown"].items()))
    add("\n## What each placement teaches (five shared classes, placement unknown)\n")
    names = list(next(iter(r["cross"].values())))
    add("| model | trained on | " + " | ".join(names) + " |")
    add("|---|---|" + "---|" * len(names))
    for m, row in r["cross"].items():
        add(f"| {m} | {r['trained_on'].get(m, '')} | " + " | ".join(pct(row[n]) for n in names) + " |")
    add("\n## Orientation (placement given)\n")
    add("| the phone | " + " | ".join(r["orientation"]) + " |")
    add("|---|" + "---|" * len(r["orientation"]))
    for way in next(iter(r["orientation"].values())):
        add(f"| {way} | " + " | ".join(pct(row[way]) for row in r["orientation"].values()) + " |")
    add("\n## Streamed through the daemon's core, placement inferred per device\n")
    add("| recordings | placement | streaming accuracy | labels scored | labelled as worn on the waist / in a pocket / not yet known |")
    add("|---|---|---|---|---|")
    for (name, placement), s in r["stream"].items():
        e = s["placement_used"]
        add(f"| {name} | {placement} | {pct(s['accuracy'])} | {s['scored']:,} | {pct(e['waist'])} / {pct(e['pocket'])} / {pct(e[None])} |")
    add("\n## Jogging (not one of the six labels) in the scored subjects' jogging trials\n")
    total = sum(r["jogging"].values()) or 1
    add(", ".join(f"{a.lower()} {c / total * 100:.1f}%" for a, c in r["jogging"].items() if c))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    ap.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "placement.md")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure as JSON")
    args = ap.parse_args(argv)
    t0 = time.time()
    default = Model(MODELS / "anywhere.tflite")
    models = {"hcnn (previous default)": Model(MODELS / "hcnn.tflite")}
    for name in ("anywhere-waist-only", "anywhere-pocket-only"):
        if (MODELS / f"{name}.tflite").exists():
            models[name] = Model(MODELS / f"{name}.tflite")
    models["anywhere (default until 2026-12)"] = default
    trained_on = {"hcnn (previous default)": "HAPT (waist)", "anywhere-waist-only": "HAPT (waist)",
                  "anywhere-pocket-only": "MotionSense (pocket)", "anywhere (default until 2026-12)": "both"}
    sets = {"HAPT test subjects (waist)": scored_windows(args.hapt), "MotionSense validation subjects (pocket)": scored_windows(args.motionsense).classes(6)}
    hapt_recs = [Recording.from_dataset(rec) for rec in read_recordings(args.hapt, subjects=set(TEST_SUBJECTS))]
    pocket_recs = [Recording.from_dataset(rec) for rec in read_recordings(args.motionsense, subjects=set(POCKET_SUBJECTS))
                   if not rec.title.startswith("jog")]  # jogging is not one of these models' labels: scored apart, below
    r = {
        "datasets": datasets_table(default, sets),
        "cross": cross_table(models, sets),
        "trained_on": trained_on,
        "orientation": orientation_table(default, sets),
        "stream": {("HAPT test recordings (waist)", "auto"): stream(default, hapt_recs, "auto"),
                   ("HAPT test recordings (waist)", "waist"): stream(default, hapt_recs, "waist"),
                   ("MotionSense validation trials, each alone (pocket)", "auto"): stream(default, pocket_recs, "auto"),
                   ("MotionSense validation trials, each alone (pocket)", "pocket"): stream(default, pocket_recs, "pocket")},
        "jogging": jogging(default, args.motionsense),
    }
    r["seconds"] = time.time() - t0
    text = report(r, "python -m benchmarks.placement")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in r.items() if k != "stream"} | {"stream": {f"{a} | {b}": v for (a, b), v in r["stream"].items()}}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
