"""A sceptic's evaluation: how the labels hold for phones, people and activities the model never met.

Everything is streamed through the daemon's core (``Recognizer``: resampling onto 50 Hz, the shared
preprocessing, the placement inferred per device, the time filter), one device per recording, and
each label is scored against the majority truth of its window.  Scored recordings: HAPT's test
subjects (waist) and MotionSense's scored subjects 2, 5, 11, 16 (pocket); no choice was made on them.

* **Across datasets**: models trained without one dataset (``anyone-without-hapt``, ...) scored on it.
* **Shifts**: the scored recordings as another phone or person would give them: other sampling rates
  (with and without the sensor's anti-aliasing, with jittered timestamps), cadence ±25%, per-axis
  gains, offsets, gyroscope bias, noise, a slower and gentler walker, the wearer turning while walking (indoors,
  and 3 m walks that turn half round), the phone worn turned another way; and a few of them at once (``AT_ONCE``).
* **Out of set**: MotionSense's jogging (RUNNING for a model that has it), and made-up motion
  (``harstream.datasets.synthetic``; the ``bag`` and ``jump`` families are never trained on).
* **Time**: streaming accuracy with the time filter and without, and how many windows a change of
  activity takes to show.
* **All day**: each scored subject's recordings through one device, worn each way: what a device learns
  from its own walking (``harstream.core.upright``) shows after its first walk.

    python -m benchmarks.generalisation [--models anyone anywhere] [--out docs/generalisation.md] [--no-upright] [--head-gaits]

``--no-upright`` and ``--head-gaits`` read every model as if its metadata named no ``upright`` or did not set
``gaits_from_features`` (walking and stairs then told apart by the model's last layers): the model as it was.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from harstream.cli import resolve_model
from harstream.core import Recognizer
from harstream.core.activities import ACTIVITIES, RUNNING, UNKNOWN
from harstream.core.model import Model
from harstream.core.recording import Recording, window_truth
from harstream.datasets import TEST_SUBJECTS, read_hapt, read_motionsense, synthetic
from harstream.datasets.motionsense import VALIDATION_SUBJECTS as POCKET_SCORED

from .shifts import shifts
from .worn import MOUNTINGS, as_days, mounted

SHARED = Path("../shared/data")
STAIRS = ("WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS")


def without(model: Model, upright: bool = False, gaits_from_features: bool = False) -> Model:
    """The model read as if its metadata did not name ``upright`` (a device worn turned is never turned back) or set
    ``gaits_from_features`` (walking and stairs by its last layers): the benchmarks' ``--no-upright`` and ``--head-gaits``."""
    if upright:
        model.info.upright = {}
    if gaits_from_features:
        model.info.gaits_from_features = False
    return model


# ---- streaming and scoring --------------------------------------------------------------------------

def stream(model: Model, recordings: list[Recording], placement: str = "auto", stay: float | None = None,
           **settings) -> list[list[tuple[str, str]]]:
    """Per recording, (label, truth) per window, streamed through a fresh device (``settings``: the Recognizer's)."""
    kwargs = settings if stay is None else {**settings, "stay": stay}
    recognizer = Recognizer(model, placement_for=lambda device: placement, **kwargs)
    out = []
    for k, rec in enumerate(recordings):
        labels = recognizer.feed(f"d{k}", rec.t, rec.raw)
        out.append([(label.activity, window_truth(rec, label.start, label.end)) for label in labels])
        recognizer.forget(f"d{k}")
    return out


def score(pairs: list[list[tuple[str, str]]], labels) -> dict:
    flat = [(p, t) for rec in pairs for p, t in rec if t in labels]
    if not flat:
        return {"windows": 0}
    pred, truth = np.array([p for p, _ in flat]), np.array([t for _, t in flat])
    recall = {a: float((pred[truth == a] == a).mean()) for a in labels if (truth == a).any()}
    walking = truth == "WALKING"
    return {"windows": len(flat), "accuracy": float((pred == truth).mean()), "recall": recall,
            "walking_as_stairs": float(np.isin(pred[walking], STAIRS).mean()) if walking.any() else None,
            "unknown": float((pred == UNKNOWN).mean())}


def changes(pairs: list[list[tuple[str, str]]], labels) -> list[int]:
    """For each change of true activity (A to another B, transitions between skipped), how many windows of B
    pass before the label says B (the window where B's truth starts counts 0; never: the run's length)."""
    delays = []
    for rec in pairs:
        previous, k = None, 0
        while k < len(rec):
            truth = rec[k][1]
            if truth in labels and previous is not None and truth != previous:
                run = k
                while run < len(rec) and rec[run][1] == truth:
                    run += 1
                hit = next((i - k for i in range(k, run) if rec[i][0] == truth), run - k)
                delays.append(hit)
                previous, k = truth, run
                continue
            if truth in labels:
                previous = truth
            k += 1
    return delays


def share(pairs, labels) -> dict:
    got = [p for rec in pairs for p, _ in rec]
    n = len(got) or 1
    return {"windows": len(got), "as_one_of_the_six": sum(p in ACTIVITIES for p in got) / n,
            "running": sum(p == RUNNING for p in got) / n, "unknown": sum(p == UNKNOWN for p in got) / n,
            "counts": {a: got.count(a) for a in sorted(set(got))}}


BELT_GAITS = ("belt walking", "belt running")  # synthetic.belt_gait's two


def made_up(family: str, count: int = 20, seconds: float = 40.0, seed: int = 12345) -> list[Recording]:
    """``count`` draws of a made-up family of ``synthetic.FAMILIES``, or of one of ``BELT_GAITS``."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        if family in BELT_GAITS:
            raw = synthetic.belt_gait(rng, int(seconds * synthetic.RATE), running=family == "belt running")
        else:
            raw = synthetic.make(family, rng, seconds)
        t = np.arange(len(raw)) / 50.0
        out.append(Recording(t, raw, np.array([""] * len(raw), dtype=object), f"{family}{k}"))
    return out


# ---- the report -------------------------------------------------------------------------------------

def worn_all_day(model: Model, days: list[tuple[Recording, int]]) -> dict:
    """Per mounting, the accuracy over each day of ``as_days``, and over its later recordings alone."""
    labels = [a for a in model.info.labels if a != UNKNOWN]
    out = {}
    for name, R in {"as recorded": np.eye(3), **MOUNTINGS}.items():
        whole = stream(model, [mounted(day, R) for day, _ in days])
        later = [pairs[first:] for pairs, (_, first) in zip(whole, days)]
        out[name] = {"day": score(whole, labels)["accuracy"], "later": score(later, labels)["accuracy"]}
    return out


def evaluate(model: Model, waist: list[Recording], pocket: list[Recording], jogging: list[Recording], quick: bool = False,
             all_day: dict | None = None) -> dict:
    labels = [a for a in model.info.labels if a != UNKNOWN]
    result = {"model": model.name, "labels": list(model.info.labels), "shifts": {}}
    for name, shift in shifts().items():
        if quick and name not in ("as recorded", "20 Hz, no anti-aliasing", "cadence ×1.25"):
            continue
        result["shifts"][name] = {"waist": score(stream(model, [shift(r) for r in waist]), labels),
                                  "pocket": score(stream(model, [shift(r) for r in pocket]), labels)}
    result["filter"] = {}
    for stay_name, stay in (("on", None), ("off", 0.0)):
        w, p = stream(model, waist, stay=stay), stream(model, pocket, stay=stay)
        result["filter"][stay_name] = {"waist": score(w, labels), "pocket": score(p, labels),
                                       "waist, placement given": score(stream(model, waist, "waist", stay), labels),
                                       "change_delays": changes(w, labels) + changes(p, labels)}
    result["jogging"] = share(stream(model, jogging), labels)
    result["made_up"] = {family: share(stream(model, made_up(family)), labels) for family in synthetic.FAMILIES}
    result["belt_gaits"] = {f"{gait}, placement {where}": share(stream(model, made_up(gait), where), labels)
                            for gait in BELT_GAITS for where in ("auto", "waist")}
    if all_day:
        result["all_day"] = {where: worn_all_day(model, subjects) for where, subjects in all_day.items()}
    return result


def _pct(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def markdown(results: list[dict], seconds: float) -> str:
    lines = ["# Generalisation: phones, people and activities the model never met", "",
             "Written by `python -m benchmarks.generalisation`. Every figure is a streamed label (the daemon's core: resampling,",
             "preprocessing, placement inferred per device, time filter on unless said) scored against the majority truth of its",
             "window, on recordings no choice was made on: HAPT's test subjects 2 4 9 10 12 13 18 20 24 (a phone on the waist) and",
             "MotionSense's scored subjects 2 5 11 16 (an iPhone in a front trouser pocket).", ""]
    names = [r["model"] for r in results]
    lines += ["## Shifts: the scored recordings as another phone or person would give them", "",
              "Walking's recall / the share of walking read as stairs / accuracy over every activity, waist and pocket.", "",
              "| shift | " + " | ".join(f"{n}: waist | {n}: pocket" for n in names) + " |",
              "|---|" + "---|---|" * len(names)]
    for shift in results[0]["shifts"]:
        cells = []
        for r in results:
            for where in ("waist", "pocket"):
                s = r["shifts"].get(shift, {}).get(where, {})
                cells.append(f"{_pct(s.get('recall', {}).get('WALKING'))} / {_pct(s.get('walking_as_stairs'))} / {_pct(s.get('accuracy'))}")
        lines.append(f"| {shift} | " + " | ".join(cells) + " |")
    lines += ["", "Per class (recall, streamed, the recordings as recorded):", ""]
    every = sorted({a for r in results for a in r["labels"] if a != UNKNOWN}, key=lambda a: r["labels"].index(a) if a in r["labels"] else 99)
    lines += ["| model | placement | " + " | ".join(a.lower() for a in every) + " | UNKNOWN on in-set windows |", "|---|---|" + "---|" * (len(every) + 1)]
    for r in results:
        for where in ("waist", "pocket"):
            s = r["shifts"]["as recorded"][where]
            lines.append(f"| {r['model']} | {where} | " + " | ".join(_pct(s["recall"].get(a)) for a in every) + f" | {_pct(s['unknown'])} |")
    lines += ["", "## Time: the filter over each device's windows", "",
              "| model | filter | waist (placement inferred) | waist (placement given) | pocket | windows until a change shows: median / 90th percentile / never |",
              "|---|---|---|---|---|---|"]
    for r in results:
        for on in ("on", "off"):
            f = r["filter"][on]
            d = np.array(f["change_delays"])
            delay = f"{np.median(d):.0f} / {np.percentile(d, 90):.0f} / {int((d > 20).sum())} of {len(d)}" if len(d) else "—"
            lines.append(f"| {r['model']} | {on} | {_pct(f['waist']['accuracy'])} | {_pct(f['waist, placement given']['accuracy'])} | "
                         f"{_pct(f['pocket']['accuracy'])} | {delay} |")
    lines += ["", "## Out of set", "",
              "| model | what | windows | labelled one of the six | RUNNING | UNKNOWN |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['model']} | MotionSense jogging, scored subjects | {r['jogging']['windows']} | {_pct(r['jogging']['as_one_of_the_six'])} | "
                     f"{_pct(r['jogging']['running'])} | {_pct(r['jogging']['unknown'])} |")
        for family, s in r["made_up"].items():
            seen = "never trained on" if family in synthetic.HELD_OUT_FAMILIES else "family trained on, other draws"
            lines.append(f"| {r['model']} | made up: {family} ({seen}) | {s['windows']} | {_pct(s['as_one_of_the_six'])} | "
                         f"{_pct(s['running'])} | {_pct(s['unknown'])} |")
    lines += ["", "## A made-up belt, walking and running", "",
              "No recording here has running on a belt. `harstream.datasets.synthetic.belt_gait` makes up a belt's walking and",
              "running from the pelvis's motion (20 draws of 40 s each, a fresh device each). Its walking is the check: only a",
              "model that reads the made-up walking as WALKING reads this made-up belt as a belt, and only for such a model do the",
              "running rows say anything of a belt's running (docs/generalisation-choices.md, item 33). The share of windows",
              "given each label:", "",
              "| model | made up | windows | WALKING | stairs | RUNNING | UNKNOWN | another |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for what, s in r["belt_gaits"].items():
            c, n = s["counts"], s["windows"] or 1
            stairs = sum(c.get(a, 0) for a in STAIRS)
            other = n - c.get("WALKING", 0) - stairs - c.get(RUNNING, 0) - c.get(UNKNOWN, 0)
            lines.append(f"| {r['model']} | {what} | {s['windows']} | {_pct(c.get('WALKING', 0) / n)} | {_pct(stairs / n)} | "
                         f"{_pct(c.get(RUNNING, 0) / n)} | {_pct(c.get(UNKNOWN, 0) / n)} | {_pct(other / n)} |")
    if all("all_day" in r for r in results):
        lines += ["", "## Worn another way, all day", "",
                  "Each scored subject's recordings through one device, a minute apart, in the order recorded (HAPT's two; MotionSense's",
                  "trials but jogging), worn each way of the shifts above: accuracy over the day / over its later recordings alone (the",
                  "device walked in the first; HAPT's still postures come before its walking). A model with `upright` in its metadata",
                  "reads a device that walked turned back if worn turned 30 to 135 degrees about the screen's normal, and a still",
                  "window lying as the device did while walking as an upright wearer, the phone where it was (harstream/core/upright.py).", "",
                  "| worn | " + " | ".join(f"{n}: waist | {n}: pocket" for n in names) + " |",
                  "|---|" + "---|---|" * len(names)]
        for worn in results[0]["all_day"]["waist"]:
            cells = [f"{_pct(r['all_day'][where][worn]['day'])} / {_pct(r['all_day'][where][worn]['later'])}"
                     for r in results for where in ("waist", "pocket")]
            lines.append(f"| {worn} | " + " | ".join(cells) + " |")
    lines += ["", f"Run in {seconds:.0f} s.", ""]
    return "\n".join(lines)


def scored(hapt: Path, motionsense: Path) -> tuple[list, list]:
    """The scored subjects' recordings as the readers give them: HAPT's test subjects', MotionSense's scored trials."""
    return read_hapt(hapt, subjects=set(TEST_SUBJECTS)), read_motionsense(motionsense, subjects=set(POCKET_SCORED))


def days(read: tuple[list, list]) -> dict[str, list[tuple[Recording, int]]]:
    """Per placement, the scored subjects' days (``as_days``): HAPT's two recordings on the waist, MotionSense's trials
    in the pocket (jogging left out, as from the pocket's other rows)."""
    hapt, trials = read
    return {"waist": as_days(hapt), "pocket": as_days(r for r in trials if not r.title.startswith("jog"))}


def recordings(hapt: Path, motionsense: Path, read: tuple[list, list] | None = None):
    hapt_records, trials = read or scored(hapt, motionsense)
    waist = [Recording.from_dataset(r) for r in hapt_records]
    pocket = [Recording.from_dataset(r) for r in trials if not r.title.startswith("jog")]
    jogging = [Recording.from_dataset(r) for r in trials if r.title.startswith("jog")]
    return waist, pocket, jogging


ACROSS = {"anyone-without-hapt": ("HAPT", "waist"), "anyone-without-motionsense": ("MotionSense", "pocket"),
          "anywhere-pocket-only": ("HAPT", "waist"), "anywhere-waist-only": ("MotionSense", "pocket")}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["anyone", "anywhere"], help="names of shipped models, or paths")
    parser.add_argument("--across", nargs="*", default=list(ACROSS), help="models trained without a dataset, scored on it")
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    parser.add_argument("--out", type=Path, default=Path("docs/generalisation.md"))
    parser.add_argument("--quick", action="store_true", help="three shifts only")
    parser.add_argument("--no-upright", action="store_true", help="read the models as if their metadata named no upright")
    parser.add_argument("--head-gaits", action="store_true", help="walking and stairs by the models' last layers, not their features")
    args = parser.parse_args(argv)
    t0 = time.time()
    read = scored(args.hapt, args.motionsense)
    waist, pocket, jogging = recordings(args.hapt, args.motionsense, read)
    all_day = None if args.quick else days(read)
    results = []
    def loaded(name: str) -> Model:
        return without(Model(resolve_model(name)), args.no_upright, args.head_gaits)

    for name in args.models:
        model = loaded(name)
        print(f"{model.name} ...", flush=True)
        results.append(evaluate(model, waist, pocket, jogging, args.quick, all_day))
    for name in args.across:
        try:
            model = loaded(name)
        except Exception as exc:  # a model not trained here: said, not fatal
            print(f"{name}: skipped ({exc})")
            continue
        dataset, where = ACROSS[name]
        labels = [a for a in model.info.labels if a != UNKNOWN]
        scored_there = score(stream(model, waist if where == "waist" else pocket), labels)
        results.append({"model": model.name, "labels": list(model.info.labels), "shifts": {"as recorded": {
            where: scored_there, ("pocket" if where == "waist" else "waist"): {"recall": {}, "unknown": None}}},
            "across": {"without": dataset, "on": f"{dataset} scored subjects ({where})", "score": scored_there}})
    text = markdown([r for r in results if "across" not in r], time.time() - t0)
    across = [r for r in results if "across" in r]
    if across:
        text = text.rstrip("\n") + "\n" + markdown_across(across)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    print(text)
    return {"results": results}


def markdown_across(results: list[dict]) -> str:
    lines = ["", "## Across datasets: trained without one dataset, scored on it", "",
             "| model | trained without | scored on | accuracy | walking | walking read as stairs | per class |", "|---|---|---|---|---|---|---|"]
    for r in results:
        a = r["across"]
        lines.append(f"| {r['model']} | {a['without']} | {a['on']} | {_pct(a['score'].get('accuracy'))} | {_pct(a['score']['recall'].get('WALKING'))} | "
                     f"{_pct(a['score'].get('walking_as_stairs'))} | " + ", ".join(f"{k.lower()} {_pct(v)}" for k, v in a["score"]["recall"].items()) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
