"""Can a phone at rest on a table be told from a person holding still?  How much a window moves, per class.

    python -m benchmarks.stillness [--hapt PATH] [--motionsense PATH] [--white | --upright | --flat | --drift]

For every whole 128-sample window of SITTING, STANDING and LAYING (HAPT on the
waist, MotionSense in the pocket; the scored subjects are left out), and for the made-up out-of-set
families of ``harstream.datasets.synthetic``: the spread of the acceleration (the norm of the three
axes' standard deviations, in mg) and of the rotation rate (mrad/s).  A rule "stiller than any person
recorded, so nobody carries it" needs a gap between the two; the table shows whether there is one.

With ``--white``, the other clue a phone at rest gives: its readings are only the sensor's noise, which is
white, where a body's least motion (breathing, pulse, sway) lies below a few hertz.  Per window, the share of
the acceleration's and of the rotation's power above 8 Hz (white noise: about 0.68 with the Hann window used),
on the raw readings and on the daemon's preprocessed body channels (after its 3-sample median and 20 Hz
low-pass), and how many windows pass a threshold on both at once.

With ``--upright``, a reference the device could give itself: how far each still window's gravity lies from the
gravity while the same person walked with the same phone (a belt's standing is near it, sitting and lying not,
whichever way the phone is worn), and each posture's share of windows by that angle.

With ``--flat``, what a rule "a still phone lying level is put down, not worn" would rest on (tried and withdrawn:
docs/generalisation-choices.md, item 16): how far each window's gravity (the daemon's preprocessed channel) lies from
the screen's normal, for every activity of the subjects no score is taken on and for the made-up table, and how many
windows the rule (still, within 5 degrees of level) would take.

With ``--drift``, the context a single window lacks (item 31): over every span of consecutive whole windows inside one
still posture (about 16 s, 31 s, 62 s and 2 minutes), how far the window that strays most lies from the span's mean
gravity (the daemon's preprocessed channel), against a phone resting on a table for minutes (made-up draws of 160 s).
A body holding still still sways, breathes and shifts; a phone on a table does not turn at all.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harstream.core.activities import ACTIVITIES, RUNNING
from harstream.core.preprocess import Preprocessor, gravity_turn
from harstream.core.recording import Recording
from harstream.core.timefilter import TURN_DEG
from harstream.datasets import TEST_SUBJECTS, read_hapt, read_motionsense
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SCORED

from .generalisation import SHARED, made_up

STATIC = ("SITTING", "STANDING", "LAYING")
FLAT_DEG = 5.0  # the rule tried in item 16: a still window within this of level


def spread(raw: np.ndarray) -> tuple[float, float]:
    """(acceleration mg, rotation mrad/s) of one window."""
    return float(np.linalg.norm(raw[:, :3].std(0))) * 1000, float(np.linalg.norm(raw[:, 3:].std(0))) * 1000


def high_share(x: np.ndarray, above_hz: float = 8.0, rate: float = 50.0) -> float:
    """The share of the power of a window's three axes (n, 3), its mean removed, above ``above_hz``."""
    X = np.abs(np.fft.rfft((x - x.mean(0)) * np.hanning(len(x))[:, None], axis=0)) ** 2
    power, f = X.sum(1)[1:], np.fft.rfftfreq(len(x), 1 / rate)[1:]
    return float(power[f >= above_hz].sum() / max(power.sum(), 1e-30))


def whiteness(raw: np.ndarray, processed: np.ndarray) -> tuple[float, float, float, float]:
    """(raw acceleration, raw rotation, preprocessed body acceleration, preprocessed rotation): power above 8 Hz."""
    return (high_share(raw[:, :3]), high_share(raw[:, 3:]), high_share(processed[:, 3:6]), high_share(processed[:, 6:9]))


def whole_windows(recordings, keep=STATIC, measure=None, preprocessed: bool = False) -> dict[str, list[tuple]]:
    """Per class, ``measure(raw, preprocessed)`` of every whole window inside it (default: its spread); the
    preprocessed rows (the daemon's channels) only if ``preprocessed``, else None."""
    measure = measure or (lambda raw, _: spread(raw))
    out: dict[str, list] = {}
    for rec in recordings:
        processed = Preprocessor(50.0).process(rec.raw) if preprocessed else None
        for label, w in inside_windows(rec, keep):
            out.setdefault(label, []).append(measure(rec.raw[w], None if processed is None else processed[w]))
    return out


def inside_windows(rec: Recording, keep):
    """(label, slice) of every whole 128-sample window (step 64) of ``rec`` inside one activity of ``keep``."""
    for k in range(len(rec.raw) // 64 - 1):
        labels = rec.labels[k * 64:k * 64 + 128]
        if labels[0] in keep and (labels == labels[0]).all():
            yield labels[0], slice(k * 64, k * 64 + 128)


def _degrees(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))))


def upright_report(sets: dict) -> None:
    """How far each still window's gravity lies from the device's own upright: gravity's mean direction (phone
    frame) while the same person walked with the same phone (HAPT: the same recording; MotionSense, whose trials
    are recordings of one activity each: the subject's walking trials)."""
    print("| windows of | n | degrees from the walking gravity: 5th / 50th / 95th percentile |\n|---|---|---|")
    tables = []
    for name, records in sets.items():
        recs = [(r.subject if r.dataset == "motionsense" else r.name, Recording.from_dataset(r)) for r in records]
        recs = [(key, rec, Preprocessor(50.0).process(rec.raw)) for key, rec in recs]  # each preprocessed once
        walking: dict = {}
        for key, rec, processed in recs:
            walking.setdefault(key, []).append(processed[rec.labels == "WALKING", 9:12])
        reference = {key: np.concatenate(parts).mean(axis=0) for key, parts in walking.items() if sum(map(len, parts))}
        angles: dict = {}
        for key, rec, processed in recs:
            for label, w in (inside_windows(rec, STATIC) if key in reference else ()):
                angles.setdefault(label, []).append(_degrees(processed[w, 9:12].mean(axis=0), reference[key]))
        for label, v in sorted(angles.items()):
            print(f"| {name}: {label} | {len(v)} | " + " / ".join(f"{x:.1f}" for x in np.percentile(v, [5, 50, 95])) + " |", flush=True)
        tables.append((name, angles))
    for name, angles in tables:  # how far standing and sitting lie from walking (item 18 of docs/generalisation-choices.md)
        edges = [0, 3, 6, 9, 12, 15, 18, 21, 30, 60, 180]
        share = {label: np.histogram(angles[label], edges)[0] / len(angles[label]) for label in ("STANDING", "SITTING")}
        print(f"\n{name}: the share of each posture's windows by degrees from the walking gravity\n\n"
              "| degrees | STANDING | SITTING | standing : sitting |\n|---|---|---|---|")
        for k in range(len(edges) - 1):
            stand, sit = share["STANDING"][k], share["SITTING"][k]
            ratio = f"{stand / sit:.2f}" if sit else "—"
            print(f"| {edges[k]}–{edges[k + 1]} | {stand:.1%} | {sit:.1%} | {ratio} |")


def _measured(sets: dict, made: dict, measure, keep=STATIC) -> list[tuple[str, np.ndarray]]:
    """(name, ``measure`` of every whole window, preprocessed channels given) per class of ``keep`` in each of ``sets``
    (the subjects no score is taken on), then per made-up family of ``made`` (its recordings)."""
    rows = [(f"{name}: {label}", np.array(v)) for name, records in sets.items()
            for label, v in sorted(whole_windows(map(Recording.from_dataset, records), keep=keep, measure=measure,
                                                 preprocessed=True).items())]
    return rows + [(f"made up: {family}", np.array(whole_windows(recs, keep=("",), measure=measure, preprocessed=True)[""]))
                   for family, recs in made.items()]


def tilt_from_flat(processed: np.ndarray) -> float:
    """Degrees between a preprocessed window's mean gravity and the screen's normal, either face up: 0 lying level."""
    tilt = _degrees(processed[:, 9:12].mean(axis=0), np.array([0.0, 0.0, 1.0]))
    return min(tilt, 180.0 - tilt)


def flat_report(sets: dict, made: dict) -> None:
    """Per activity, how far a window's gravity lies from level (degrees), and the share the rule would take."""
    def measure(_, processed):
        return tilt_from_flat(processed), float(gravity_turn(processed[None])[0])
    rows = _measured(sets, made, measure, keep=(*ACTIVITIES, RUNNING))
    print(f"| windows of | n | degrees from level: least / 1st / 5th / 50th percentile | within {FLAT_DEG:g} degrees "
          f"and still (turned under {TURN_DEG:g}): the rule would take |\n|---|---|---|---|")
    for name, a in rows:
        taken = ((a[:, 0] < FLAT_DEG) & (a[:, 1] < TURN_DEG)).mean()
        print(f"| {name} | {len(a)} | {a[:, 0].min():.1f} / " + " / ".join(f"{x:.1f}" for x in np.percentile(a[:, 0], [1, 5, 50]))
              + f" | {taken:.2%} |", flush=True)


DRIFT_SPANS = (12, 24, 48, 96)  # windows: about 16 s, 31 s, 62 s and 2 minutes


def drifts(gravity: np.ndarray, span: int) -> np.ndarray:
    """For every ``span`` consecutive windows' mean gravity (n, 3): degrees from their mean to the one furthest from it."""
    if len(gravity) < span:
        return np.zeros(0)
    unit = gravity / np.linalg.norm(gravity, axis=1, keepdims=True)
    out = []
    for k in range(len(unit) - span + 1):
        part = unit[k:k + span]
        mean = part.mean(axis=0) / np.linalg.norm(part.mean(axis=0))
        out.append(np.degrees(np.arccos(np.clip(part @ mean, -1.0, 1.0))).max())
    return np.array(out)


def window_gravity(processed: np.ndarray) -> np.ndarray:
    """The mean preprocessed gravity of every whole window (step 64) of a recording."""
    return np.array([processed[k * 64:k * 64 + 128, 9:12].mean(axis=0) for k in range(len(processed) // 64 - 1)])


def still_runs(rec: Recording, processed: np.ndarray, keep=STATIC):
    """(label, the mean gravity of each window) per run of consecutive whole windows inside one activity of ``keep``."""
    gravity, run, last = window_gravity(processed), [], None
    for label, w in inside_windows(rec, keep):
        k = w.start // 64
        if last is not None and (label, k) != (last[0], last[1] + 1):
            yield last[0], gravity[run]
            run = []
        run.append(k)
        last = (label, k)
    if run:
        yield last[0], gravity[run]


def drift_report(sets: dict, tables: list[Recording]) -> None:
    """Per still posture of the subjects no score is taken on, and for a phone on a table: each span's drift."""
    runs: dict = {}  # (set, posture) -> each run's windows' gravity, every recording preprocessed once
    for name, records in sets.items():
        for rec in map(Recording.from_dataset, records):
            for label, gravity in still_runs(rec, Preprocessor(50.0).process(rec.raw)):
                runs.setdefault((name, label), []).append(gravity)
    table = [window_gravity(Preprocessor(50.0).process(r.raw)) for r in tables]
    print("| windows of | span | spans | degrees: least / 1st / 5th / 50th percentile (the table: 50th / 95th / 99th / "
          "most) |\n|---|---|---|---|")
    for span in DRIFT_SPANS:
        for (name, label), gravities in sorted(runs.items()):
            v = np.concatenate([drifts(g, span) for g in gravities])
            if len(v):
                print(f"| {name}: {label} | {span * 1.28:.0f} s | {len(v)} | "
                      + " / ".join(f"{x:.3f}" for x in np.percentile(v, [0, 1, 5, 50])) + " |", flush=True)
        v = np.concatenate([drifts(g, span) for g in table])
        print(f"| made up: table | {span * 1.28:.0f} s | {len(v)} | " + " / ".join(f"{x:.3f}" for x in np.percentile(v, [50, 95, 99, 100]))
              + " |", flush=True)


def white_report(sets: dict, made: dict) -> None:
    rows = _measured(sets, made, whiteness)
    print("| windows of | n | raw: acceleration / rotation above 8 Hz, 99th percentile (1st for made up) | "
          "preprocessed: same | raw: both above 0.55 / 0.58 / 0.6 |\n|---|---|---|---|---|")
    for name, a in rows:
        q = 1 if name.startswith("made up") else 99
        both = " / ".join(f"{((a[:, 0] > h) & (a[:, 1] > h)).mean():.2%}" for h in (0.55, 0.58, 0.6))
        print(f"| {name} | {len(a)} | {np.percentile(a[:, 0], q):.2f} / {np.percentile(a[:, 1], q):.2f} | "
              f"{np.percentile(a[:, 2], q):.2f} / {np.percentile(a[:, 3], q):.2f} | {both} |", flush=True)


def main(argv=None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    parser.add_argument("--white", action="store_true", help="how white each window's readings are, raw and preprocessed")
    parser.add_argument("--upright", action="store_true", help="how far each still window lies from the walking gravity")
    parser.add_argument("--flat", action="store_true", help="how far each window's gravity lies from level")
    parser.add_argument("--drift", action="store_true", help="how far a still posture's gravity strays over spans of windows")
    args = parser.parse_args(argv)
    sets = {"HAPT, subjects other than the test ones, waist": [r for r in read_hapt(args.hapt) if r.subject not in TEST_SUBJECTS],
            "MotionSense, subjects other than the scored ones, pocket": [r for r in read_motionsense(args.motionsense) if r.subject not in POCKET_SCORED]}
    if args.white:
        white_report(sets, {"table": made_up("table", count=6, seed=777)})
        return []
    if args.flat:
        flat_report(sets, {"table": made_up("table", count=20, seed=777)})
        return []
    if args.drift:
        drift_report(sets, made_up("table", count=20, seconds=160.0, seed=777))
        return []
    if args.upright:
        upright_report(sets)
        return []
    rows = []
    for name, records in sets.items():
        for label, values in sorted(whole_windows(map(Recording.from_dataset, records)).items()):
            rows.append((f"{name}: {label}", np.array(values)))
    for family in ("table", "vehicle", "bag"):
        values = [spread(r.raw[k * 64:k * 64 + 128]) for r in made_up(family) for k in range(len(r.raw) // 64 - 1)]
        rows.append((f"made up: {family}", np.array(values)))
    print("| windows of | n | acceleration spread, mg: 1st / 5th / 50th / 95th percentile | rotation, mrad/s: same |\n|---|---|---|---|")
    for name, a in rows:
        acc, rot = (" / ".join(f"{v:.1f}" for v in np.percentile(a[:, c], [1, 5, 50, 95])) for c in (0, 1))
        print(f"| {name} | {len(a)} | {acc} | {rot} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
