"""``anyone``: the default model, for phones and people it never met.

What it changes against ``anywhere`` (which learnt the devices and gaits of two studies):

* **Inputs that do not depend on how the phone sits.**  Inside the model, every sample's body
  acceleration and rotation rate are split along and across gravity (four numbers that no turn of
  the phone changes, rotation's sign dropped: the other pocket mirrors it), beside gravity's
  direction in the phone's frame (the only clue to posture).  The daemon's input contract (the 12
  preprocessed channels) is unchanged.
* **Recordings made as other phones and other people would make them.**  Every training
  recording is copied ``COPIES`` times: time-stretched (cadence ``STRETCH``: 0.7 to 1.3 times), sometimes
  recorded at 20 to 30 Hz (with or without the sensor's anti-aliasing) and brought back to 50 Hz
  as the daemon's resampler does, with sensor noise; half of them turn where they move, as people
  do between rooms (``harstream.datasets.turning``: the studies' walkers hardly turned but on
  their stairs' landings).  Every epoch, every window is turned as a phone sits on a body and given
  per-axis gains (±10%), offsets (±0.05 g) and gyroscope bias (±0.05 rad/s); a belt's gait windows are also
  turned about the screen's normal (``WAIST_TURNS``: no study here wore a belt upright).
* **Every window a stream gives**, not only those inside one activity: the windows across a change of
  activity, labelled as the streamed score reads them, and a belt's posture changes, which teach only
  where the phone is worn (``harstream.datasets.common.change_windows``).
* **RUNNING**, learnt from MotionSense's jogging (pocket only: no study here has running on a waist).
* **UNKNOWN**, learnt from made-up out-of-set motion (``harstream.datasets.synthetic``: shaking,
  a phone on a table, in a vehicle), and at run time also when no label is likely enough
  (``unknown_threshold`` in the metadata, chosen on validation windows) or the window's features lie
  far from every activity's (``distance``: ``training/distance.py``).

Choices are made on validation subjects only: HAPT's 7, 15, 26 and MotionSense's 107 and 113
(carved from its training subjects; its scored subjects 102, 105, 111, 116 stay untouched).
"""
from __future__ import annotations

import numpy as np
from harstream.core.activities import ACTIVITIES, GAITS, TRAINABLE, UNKNOWN
from harstream.datasets import read_hapt, read_motionsense
from harstream.datasets.common import TEST_SUBJECTS, VALIDATION_SUBJECTS, WindowSet, change_windows, segment_windows
from harstream.datasets import synthetic
from harstream.core.preprocess import CHANNELS, Preprocessor
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as MOTIONSENSE_SCORED

from .copies import COPIES, STRETCH, varied

LABELS = TRAINABLE + (UNKNOWN,)
#: MotionSense training subjects kept for choices (fixed before any run of this model).
MOTIONSENSE_VALIDATION = (107, 113)
#: How far a waist window is tilted at most (a pocket's: 30 degrees).  Sitting and standing differ on a belt by a
#: pelvic tilt of 15 to 25 degrees: 30 degrees took waist STANDING recall to 52% on the validation subjects.
WAIST_TILT_DEG = 12.0
WIDTH = 48  # archs.build_anyone's first layers' filters (the last two have twice as many)
#: How a waist's phone may be turned besides its tilt (``archs.orientation_matrices``), and the default: a belt's gait
#: windows turned about the screen's normal, its postures as HAPT gave them (docs/generalisation-choices.md items 27 to
#: 30: no training window had a belt worn upright).  Here, not in archs, so that reading a model's recipe needs no
#: TensorFlow.
WAIST_TURN_CHOICES = ("none", "quarter", "all", "gaits")
WAIST_TURNS, WAIST_TURNS_BEFORE = "gaits", "none"  # before: a model whose metadata names no waist turns
#: Made-up out-of-set windows per real training window.
NEGATIVE_SHARE = 0.12


def negatives(count: int, rng: np.random.Generator, families=synthetic.TRAINING_FAMILIES) -> np.ndarray:
    """``count`` preprocessed out-of-set windows (n, 128, 12), the families in turn."""
    out = []
    while sum(len(x) for x in out) < count:
        for family in families:
            rows = synthetic.make(family, rng, seconds=12.0)
            features = Preprocessor(50.0).process(rows).astype(np.float32)
            starts = np.arange(0, len(features) - 128 + 1, 64)
            out.append(features[starts[:, None] + np.arange(128)])
    return np.concatenate(out)[:count]


# ---- windows turned and mis-calibrated as phones are ------------------------------------------------

def augment(X: np.ndarray, placement: np.ndarray, rng: np.random.Generator, intensity: tuple[float, float] | None = None,
            spin: bool = False, waist_tilt: float = WAIST_TILT_DEG, waist_turns: str = WAIST_TURNS,
            gaits: np.ndarray | None = None) -> np.ndarray:
    """Every window turned as a phone sits on its body (``archs.augment_placements``), then read by a
    sensor with per-axis gains, offsets and gyroscope bias.  Preprocessing is linear (but for a
    3-sample median), so these act on the preprocessed channels as on the raw ones: a gain scales an
    axis of total, body and gravity alike; an offset shifts total and gravity (it is constant).
    ``intensity`` (lo, hi): the body's motion (body acceleration and rotation) also scaled by one factor
    per window, log-uniform in [lo, hi], as a phone worn where the body moves more or less would read it
    (a belt moves less than a thigh).  ``spin``: every window also turned about the screen's normal (the
    phone's z axis) by any angle, as a phone held upright, sideways or upside down in its pocket or clip
    would be; gravity's component along the normal (the posture cue) is unchanged."""
    from .archs import augment_placements

    if spin:
        angle = rng.uniform(0, 2 * np.pi, (len(X), 1)).astype(np.float32)
        c, s_ = np.cos(angle), np.sin(angle)
        for k0 in (0, 3, 6, 9):
            x, y = X[:, :, k0].copy(), X[:, :, k0 + 1].copy()
            X[:, :, k0], X[:, :, k0 + 1] = c * x - s_ * y, s_ * x + c * y
    if intensity is not None:
        k = np.exp(rng.uniform(*np.log(intensity), (len(X), 1, 1))).astype(np.float32)
        X[:, :, 3:6] *= k
        X[:, :, 6:9] *= k
        X[:, :, 0:3] = X[:, :, 3:6] + X[:, :, 9:12]  # total = body + gravity
    place = np.where(placement < 0, 1, placement)
    waist = place == 0
    if waist_turns == "gaits":  # only a belt's gait windows turned about the normal (docs/generalisation-choices.md item 27)
        if gaits is None or len(gaits) != len(X):
            raise ValueError("waist turns 'gaits' needs which windows are gaits")
        for part, turns in ((waist & gaits, "quarter"), (waist & ~gaits, "none")):
            X[part] = augment_placements(X[part], place[part], rng, max_deg=waist_tilt, scale=0.0, waist_turns=turns)
    else:
        X[waist] = augment_placements(X[waist], place[waist], rng, max_deg=waist_tilt, scale=0.0, waist_turns=waist_turns)
    X[~waist] = augment_placements(X[~waist], place[~waist], rng, max_deg=30.0, scale=0.0)
    n = len(X)
    gain = rng.uniform(0.9, 1.1, (n, 1, 3)).astype(np.float32)
    offset = rng.uniform(-0.05, 0.05, (n, 1, 3)).astype(np.float32)
    X[:, :, 0:3] = X[:, :, 0:3] * gain + offset
    X[:, :, 3:6] *= gain
    X[:, :, 9:12] = X[:, :, 9:12] * gain + offset
    X[:, :, 6:9] = X[:, :, 6:9] * rng.uniform(0.9, 1.1, (n, 1, 3)).astype(np.float32) \
        + rng.uniform(-0.05, 0.05, (n, 1, 3)).astype(np.float32)
    return X


# ---- data -------------------------------------------------------------------------------------------

def load(hapt_path, motionsense_path, without: str | None = None, seed: int = 0, hold_out=(), turns: bool = False,
         with_changes: bool = False, stretch=STRETCH):
    """(fit, validation, scored) window sets.  ``fit`` holds ``COPIES`` varied copies of every training
    recording besides the original; ``without`` ("hapt" or "motionsense") leaves a dataset out of
    training (the across-dataset protocol); ``hold_out``, HAPT training subjects (a fold of cross-validation,
    streamed afterwards by ``benchmarks.across_validation --subjects``); ``with_changes``: ``fit`` also holds the windows
    across changes of activity (``change_windows``: without them a belt lying down was read as a pocket,
    docs/generalisation-choices.md item 21).  Placement -1 marks made-up out-of-set windows."""
    rng = np.random.default_rng(seed)
    hapt = read_hapt(hapt_path)  # both always: the scored subjects of each are scored whatever trained
    motion = read_motionsense(motionsense_path)
    held = set(TEST_SUBJECTS) | set(MOTIONSENSE_SCORED)
    validation = set(VALIDATION_SUBJECTS) | set(MOTIONSENSE_VALIDATION)
    trainable = [r for r in hapt + motion if r.subject not in held | validation
                 and not (without == "hapt" and r.dataset == "hapt") and not (without == "motionsense" and r.dataset == "motionsense")
                 and not (r.dataset == "hapt" and r.subject in set(hold_out))]
    fit_recordings = trainable + [varied(r, rng, turns, stretch) for r in trainable for _ in range(COPIES)]
    fit = segment_windows(fit_recordings, source="fit")
    val = segment_windows([r for r in hapt + motion if r.subject in validation], source="validation")
    scored = segment_windows([r for r in hapt + motion if r.subject in held], source="scored")
    extra = negatives(int(len(fit) * NEGATIVE_SHARE), rng)
    fit = WindowSet.concat([fit, WindowSet(extra, np.full(len(extra), LABELS.index(UNKNOWN)), np.zeros(len(extra), int),
                                           CHANNELS, "negatives", np.full(len(extra), -1))]
                           + ([change_windows(fit_recordings)] if with_changes else []))
    val_negatives = negatives(max(200, len(val) // 10), np.random.default_rng(seed + 1000))
    val = WindowSet.concat([val, WindowSet(val_negatives, np.full(len(val_negatives), LABELS.index(UNKNOWN)),
                                           np.zeros(len(val_negatives), int), CHANNELS, "negatives", np.full(len(val_negatives), -1))])
    return fit, val, scored


def is_gait(y: np.ndarray) -> np.ndarray:
    """Which of ``y`` (indices into ``LABELS``; -1 none) are gaits: walking, stairs, running."""
    return np.isin(y, [LABELS.index(g) for g in GAITS])


def targets(y: np.ndarray, placement: np.ndarray, placements: int = 2) -> np.ndarray:
    """activity one-hot (all zero for ``y`` -1: no activity learnt, ``change_windows``) | placement one-hot (uniform for
    made-up windows, which have no body)."""
    act = np.eye(len(LABELS), dtype=np.float32)[np.maximum(y, 0)] * (y >= 0)[:, None]
    place = np.full((len(y), placements), 1.0 / placements, dtype=np.float32)
    known = placement >= 0
    place[known] = np.eye(placements, dtype=np.float32)[placement[known]]
    return np.hstack([act, place])


__all__ = ["LABELS", "ACTIVITIES", "load", "augment", "targets", "negatives", "is_gait"]


# ---- training ---------------------------------------------------------------------------------------

def choose_threshold(probs: np.ndarray, y: np.ndarray, rate: float = 0.02) -> float:
    """The confidence below which a window is UNKNOWN: the highest at which at most ``rate`` of the
    in-set validation windows (not made-up ones) are UNKNOWN, counting those the model itself calls UNKNOWN.

    >>> p = np.array([[0.9, 0.1], [0.6, 0.4], [0.55, 0.45], [0.95, 0.05]])
    >>> round(choose_threshold(p, np.array([0, 0, 0, 0]), rate=0.25), 3)
    0.55
    """
    unknown = LABELS.index(UNKNOWN) if probs.shape[1] == len(LABELS) else None
    inset = np.ones(len(y), bool) if unknown is None else y != unknown
    p = probs[inset]
    already = (p.argmax(1) == unknown) if unknown is not None else np.zeros(len(p), bool)
    top = np.sort(p[~already].max(1))
    allowed = int(np.floor(rate * len(p))) - int(already.sum())
    if allowed <= 0 or not len(top):
        return 0.0
    return float(top[min(allowed, len(top)) - 1])


def train_anyone(hapt_path, motionsense_path, repeats: int = 3, epochs: int = 20, out=None, seed: int = 0,
                 without: str | None = None, name: str | None = None, log=print, intensity=None, spin: bool = False,
                 waist_tilt: float = WAIST_TILT_DEG, ensemble: bool = False, waist_turns: str = WAIST_TURNS,
                 width: int = WIDTH, keep_repeats: bool = False, hold_out=(), turns: bool = True, with_changes: bool = True,
                 each_placement: bool = False, stretch=STRETCH, waist_stretch=None) -> dict:
    """Train ``repeats`` models and export the one best on validation, or with ``ensemble`` all of them as one
    model that averages their outputs (every output a softmax, so the average is one too); with ``keep_repeats``,
    every repeat also as ``NAME-repeatK``; ``hold_out``: HAPT training subjects left out too (``load``)."""
    import time
    from pathlib import Path

    import keras
    from harstream.core.model import Model, ModelInfo
    from harstream.core.metrics import scores

    from .archs import GravityFrame, build_anyone, placement_loss
    from .distance import add_distance
    from .upright import add_upright, waist_upright
    from .export import parity, to_tflite, write_metadata, write_model
    from .report import write_report

    out = Path(out or "models")
    name = name or ("anyone" if without is None else f"anyone-without-{without}")
    hold_out = sorted(int(s) for s in hold_out)
    # one range, or the waist's copies their own (docs/generalisation-choices.md item 26); recorded as trained with
    stretch = list(stretch) if waist_stretch is None else {"waist": list(waist_stretch), "pocket": list(stretch)}
    fit, val, scored = load(hapt_path, motionsense_path, without, seed, hold_out, turns, with_changes, stretch)
    log(f"[{name}] {len(fit)} training windows ({COPIES} varied copies and made-up out-of-set ones), "
        f"{len(val)} validation, {len(scored)} scored; {repeats} repeats of {epochs} epochs")
    classes, placements = len(LABELS), ("waist", "pocket")
    T_fit = targets(fit.y, fit.placement)
    inset_val = val.y != LABELS.index(UNKNOWN)
    val_place = np.where(val.placement < 0, 1, val.placement)

    class Arch:  # what export needs of an architecture
        recurrent, channels = False, CHANNELS

    recipe = {"intensity": intensity, "spin": spin, "waist_tilt": waist_tilt, "waist_turns": waist_turns}  # augment's, recorded for the distance
    fit_gaits = is_gait(fit.y)  # which windows a belt's gait turns may turn (``augment``)
    runs, best, members = [], None, []
    for k in range(repeats):
        t0 = time.time()
        keras.utils.set_random_seed(seed + k)
        rng = np.random.default_rng(seed + k)
        model = build_anyone(128, len(CHANNELS), classes, width=width)
        pick = rng.choice(len(fit), min(20000, len(fit)), replace=False)
        sample = augment(fit.X[pick].copy(), np.zeros(len(pick), int), rng, **recipe, gaits=fit_gaits[pick])  # the inputs' scale, as trained on
        model.get_layer("normalize").adapt(np.asarray(GravityFrame()(sample)))
        steps = epochs * int(np.ceil(len(fit) / 128))
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                      loss=placement_loss(classes, len(placements), 0.1, each_placement=each_placement))
        for epoch in range(epochs):
            e0 = time.time()
            history = model.fit(augment(fit.X.copy(), fit.placement, rng, **recipe, gaits=fit_gaits), T_fit, batch_size=128, epochs=1, verbose=0)
            log(f"[{name}] repeat {k + 1}/{repeats} epoch {epoch + 1}/{epochs} loss {history.history['loss'][-1]:.4f} ({time.time() - e0:.0f} s)")
        info = ModelInfo(name=name, labels=list(LABELS), channels=list(CHANNELS), arch="anyone", placements=list(placements))
        v = info.activity(model.predict(val.X, verbose=0), val_place)
        val_acc = float((v.argmax(1) == val.y)[inset_val].mean())
        val_unknown_recall = float((v.argmax(1) == val.y)[~inset_val].mean())
        run = {"repeat": k + 1, "seed": seed + k, "validation_accuracy": val_acc, "validation_unknown_recall": val_unknown_recall,
               "fit_seconds": round(time.time() - t0, 1)}
        s = info.activity(model.predict(scored.X, verbose=0), scored.placement)
        for what, mask in _scored_parts(scored).items():
            run[what] = float((s.argmax(1) == scored.y)[mask].mean())
        runs.append(run)
        log(f"[{name}] repeat {k + 1}: " + ", ".join(f"{a} {b * 100:.2f}%" if isinstance(b, float) and b <= 1 else f"{a} {b}" for a, b in run.items()))
        if best is None or val_acc > best[0]:
            best = (val_acc, k, model)
        members.append(model)

    _, best_k, model = best
    if ensemble:
        inp = keras.Input((128, len(CHANNELS)))
        wrapped = [keras.Model(m.inputs, m.outputs[0], name=f"member_{i}") for i, m in enumerate(members)]
        model = keras.Model(inp, keras.layers.Average(name="mean")([m(inp) for m in wrapped]), name=name)
        v = info.activity(model.predict(val.X, verbose=0), val_place)
        best = (float((v.argmax(1) == val.y)[inset_val].mean()), best_k, model)
        each = ", ".join(f"{r['validation_accuracy'] * 100:.2f}%" for r in runs)
        log(f"[{name}] the mean of {len(members)} repeats: validation_accuracy {best[0] * 100:.2f}% (each repeat: {each})")
    summary = {}
    for what in _scored_parts(scored):
        accs = np.array([r[what] for r in runs])
        summary[what] = {"mean": float(accs.mean()), "std": float(accs.std())}

    counts = np.bincount(fit.y[fit.y >= 0], minlength=classes).astype(float)  # made-up windows too: UNKNOWN's share
    prior = [round(float(c), 5) for c in counts / counts.sum()]

    upright = waist_upright(hapt_path, hold_out) if without != "hapt" else {}  # read once, for every file exported

    def export(model, name: str, repeat, validation: float) -> dict:
        """The Keras ``model`` as ``out/NAME.tflite`` with its metadata and distance; what the report says of it."""
        info = ModelInfo(name=name, labels=list(LABELS), channels=list(CHANNELS), arch="anyone", placements=list(placements))
        tflite = to_tflite(model, Arch, 128, classes, quantize="int8-weights")
        path = write_model(tflite, info, out)
        lite = Model(path)
        val_probs = info.activity(lite.predict_all(val.X), val_place)
        info.unknown_threshold = round(choose_threshold(val_probs, val.y), 4)
        info.prior = prior
        check = parity(path, scored.X[:2000], model.predict(scored.X[:2000], verbose=0))
        check.pop("tflite_probs")
        probs = info.activity(lite.predict_all(scored.X), scored.placement)
        parts = {what: float((probs.argmax(1) == scored.y)[mask].mean()) for what, mask in _scored_parts(scored).items()}
        info.accuracy = {"validation": round(validation, 4), **{k2: round(v2, 4) for k2, v2 in parts.items()},
                         "mean_of_repeats": {k2: round(v2["mean"], 4) for k2, v2 in summary.items()},
                         "data": "hapt-rawdata.zip + motionsense-pocket.zip", "without": without,
                         **({"held_out": hold_out} if hold_out else {})}
        info.extra = {"repeat": repeat, "parity_max_abs_prob_diff": check["max_abs_prob_diff"], "bytes": len(tflite),
                      "augmentation": recipe, **({"turns": True} if turns else {}), **({"changes": True} if with_changes else {}),
                      **({"made_up_each_placement": True} if each_placement else {}), "stretch": stretch}
        write_metadata(info, path)
        exported = {"path": str(path), "bytes": len(tflite), **scores(scored.y, probs.argmax(1), LABELS), "parity": check,
                    "unknown_threshold": info.unknown_threshold, "parts": parts}
        exported["distance"] = add_distance(path, hapt_path, motionsense_path, seed=seed, log=log, windows=(fit, val))
        exported["upright"] = add_upright(path, hapt_path, log=log, upright=upright)
        return exported

    if keep_repeats:  # every repeat as its own file too, to measure them all as the daemon runs them
        for k, member in enumerate(members):
            export(member, f"{name}-repeat{k + 1}", k + 1, runs[k]["validation_accuracy"])
    exported = export(model, name, "mean of all" if ensemble else best_k + 1, best[0])
    parts, path = exported.pop("parts"), exported["path"]
    report = {"name": name, "arch": "anyone", "epochs": epochs, "repeats": runs, "summary": summary, "selected_repeat": None if ensemble else best_k + 1,
              "selection": "the mean of every repeat's outputs" if ensemble else
              "highest in-set accuracy on validation subjects (HAPT 7 15 26, MotionSense 107 113), placement given",
              "unknown_threshold": exported["unknown_threshold"], "exported": exported, "without": without}
    report["distance"], report["upright"] = exported.pop("distance"), exported.pop("upright")
    write_report(report, out / f"{name}.report.json")
    log(f"[{name}] exported {'the mean of every repeat' if ensemble else f'repeat {best_k + 1}'} to {path} ({exported['bytes']} bytes); threshold {exported['unknown_threshold']}; " +
        ", ".join(f"{a} {b * 100:.2f}%" for a, b in parts.items()))
    return report


def _scored_parts(scored: WindowSet) -> dict:
    running = TRAINABLE.index("RUNNING")
    return {"hapt_test": (scored.placement == 0) & (scored.y < len(ACTIVITIES)),
            "motionsense_scored": (scored.placement == 1) & (scored.y < len(ACTIVITIES)),
            "running": scored.y == running}


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="train the anyone model (see the module's docstring)")
    parser.add_argument("--hapt", default="../shared/data/hapt-rawdata.zip")
    parser.add_argument("--motionsense", default="../shared/data/motionsense-pocket.zip")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--without", choices=["hapt", "motionsense"], default=None)
    parser.add_argument("--out", default="models")
    parser.add_argument("--name", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--intensity", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                        help="also scale each window's body motion by a factor in [LO, HI] (an experiment; off by default)")
    parser.add_argument("--spin", action="store_true", help="also turn every window about the screen's normal (an experiment)")
    parser.add_argument("--waist-tilt", type=float, default=WAIST_TILT_DEG, help="how far a waist window is tilted at most, degrees")
    parser.add_argument("--waist-turns", choices=WAIST_TURN_CHOICES, default=WAIST_TURNS,
                        help="also turn a waist's phone about its screen's normal (quarter; its gait windows only: gaits), and screen in or out (all)")
    parser.add_argument("--width", type=int, default=WIDTH, help="the trunk's width (filters of its first layers)")
    parser.add_argument("--hold-out", type=int, nargs="+", default=[], metavar="SUBJECT",
                        help="HAPT training subjects also left out (a fold of cross-validation)")
    parser.add_argument("--keep-repeats", action="store_true", help="also export every repeat, as NAME-repeatK")
    parser.add_argument("--ensemble", action="store_true", help="export the mean of every repeat's outputs, not the best repeat")
    parser.add_argument("--no-changes", dest="changes", action="store_false",
                        help="no window across a change of activity (the recipe before docs/generalisation-choices.md item 21)")
    parser.add_argument("--no-turns", dest="turns", action="store_false",
                        help="no varied copy turns where it moves (the recipe before docs/generalisation-choices.md item 20)")
    parser.add_argument("--each-placement", action="store_true",
                        help="made-up windows learnt as UNKNOWN given each placement, not by their mixture (docs/generalisation-choices.md item 24: not kept)")
    parser.add_argument("--stretch", type=float, nargs=2, default=STRETCH, metavar=("LO", "HI"), help="the varied copies' cadence range")
    parser.add_argument("--waist-stretch", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                        help="the waist's copies' own cadence range (the pocket's stays --stretch)")
    args = parser.parse_args()
    train_anyone(args.hapt, args.motionsense, args.repeats, args.epochs, args.out, args.seed, args.without, args.name,
                 log=lambda m: print(m, file=sys.stderr, flush=True), intensity=args.intensity, spin=args.spin,
                 waist_tilt=args.waist_tilt, ensemble=args.ensemble, waist_turns=args.waist_turns,
                 width=args.width, keep_repeats=args.keep_repeats, hold_out=args.hold_out, turns=args.turns,
                 with_changes=args.changes, each_placement=args.each_placement, stretch=tuple(args.stretch),
                 waist_stretch=args.waist_stretch)
