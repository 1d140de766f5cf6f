"""Direction checks on validation subjects only: models streamed over HAPT's validation subjects (7, 15, 26; a
phone on the waist) and, with ``--pocket``, MotionSense's validation subjects (107, 113; an iPhone in a front
pocket), the placement inferred or given; accuracy, each class's recall, where walking goes, where the device was read to
be while it walked and whether it was turned back to how the model's walkers wore theirs (item 26).  Made for
the across-dataset problem (models trained without HAPT), and used for any choice between two training recipes.

    python -m benchmarks.across_validation MODEL.tflite [MODEL.tflite ...] [--pocket] [--placement auto|given] [--mountings] [--day] [--no-upright] [--head-gaits] [--still-each] [--subjects N ...] [--shifts NAME ... | all]

``--mountings`` also streams every recording worn turned each way of ``worn.MOUNTINGS``; ``--day`` streams
each subject's recordings one after another through one device (``worn.as_days``), not each alone, and
scores the day's later recordings alone too (the device has walked before them); ``--no-upright`` reads the models
as if their metadata named no ``upright`` (a device worn turned is never turned back); ``--head-gaits`` tells walking
from stairs by the models' last layers, as if their metadata did not set ``gaits_from_features``; ``--still-each`` lets every
still window count as placement evidence, as before item 22 of docs/generalisation-choices.md (a run of them counts once); ``--subjects`` streams
other HAPT subjects than the validation ones (those a model trained with ``--hold-out`` never saw), never scored ones;
``--shifts`` also streams them under shifts of ``benchmarks.generalisation`` (by name, or ``all``).
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from harstream.core import Recognizer
from harstream.core.model import Model
from harstream.core.recording import Recording, window_truth
from harstream.datasets import read_hapt, read_motionsense
from harstream.datasets.common import TEST_SUBJECTS, VALIDATION_SUBJECTS
from harstream.training.anyone import MOTIONSENSE_VALIDATION

from .generalisation import without
from .shifts import shifts
from .worn import MOUNTINGS, as_days, mounted


def score(model: Model, recordings: list[Recording], placement: str, skip: list[int] | None = None,
          still_once: bool = True) -> tuple[Counter, Counter, Counter, Counter]:
    """(truth, label) counts of every window inside one activity (transitions left out), windows per truth, (truth,
    placement published) counts, and recordings by whether their device ended turned back to the model's walkers' way
    (``harstream.core.upright``: True or False); ``skip``: how many of each recording's first windows to leave out of
    the counts (streamed all the same); ``still_once``: as ``Recognizer``'s."""
    pairs, placed, turned = Counter(), Counter(), Counter()
    for k, rec in enumerate(recordings):
        recognizer = Recognizer(model, placement_for=lambda device: placement, still_once=still_once)
        labels = recognizer.feed("x", rec.t, rec.raw)
        turned[recognizer.upright("x").turn() is not None] += 1
        for label in labels[skip[k] if skip else 0:]:
            truth = window_truth(rec, label.start, label.end)
            if truth and "_TO_" not in truth:
                pairs[(truth, label.activity)] += 1
                placed[(truth, label.placement)] += 1
    of = Counter()
    for (truth, _), n in pairs.items():
        of[truth] += n
    return pairs, of, placed, turned


def report(name: str, pairs: Counter, of: Counter, placed: Counter | None = None, turned: Counter | None = None) -> str:
    right = sum(n for (truth, label), n in pairs.items() if truth == label)
    stairs = sum(n for (truth, label), n in pairs.items() if truth == "WALKING" and label.startswith("WALKING_"))
    where = ""
    if placed and turned is not None and of["WALKING"]:  # where the device was read to be while it walked, and whether it was turned back
        worn = sorted({p for (truth, p) in placed if truth == "WALKING" and p})
        where = ("; walking placed " + ", ".join(f"{p} {placed[('WALKING', p)] / of['WALKING']:.1%}" for p in worn) +
                 f"; turned back {turned[True]} of {turned[True] + turned[False]}")
    return (f"{name}: accuracy {right / sum(of.values()):.1%}, walking {pairs[('WALKING', 'WALKING')] / of['WALKING']:.1%}, "
            f"walking read as stairs {stairs / of['WALKING']:.1%}{where}; recall " +
            ", ".join(f"{c} {pairs[(c, c)] / of[c]:.1%}" for c in sorted(of)) +
            "\n   mistakes: " + ", ".join(f"{t} as {p} {n}" for (t, p), n in pairs.most_common() if t != p))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--hapt", type=Path, default=Path("../shared/data/hapt-rawdata.zip"))
    parser.add_argument("--motionsense", type=Path, default=Path("../shared/data/motionsense-pocket.zip"))
    parser.add_argument("--pocket", action="store_true", help="also stream MotionSense's validation subjects")
    parser.add_argument("--mountings", action="store_true", help="also stream the recordings worn turned other ways")
    parser.add_argument("--day", action="store_true", help="each subject's recordings through one device, in the order recorded")
    parser.add_argument("--no-upright", action="store_true", help="never turn a device back to how the model's walkers wore theirs")
    parser.add_argument("--head-gaits", action="store_true", help="walking and stairs by the model's last layers, not its features")
    parser.add_argument("--still-each", action="store_true", help="every still window is placement evidence (before item 22)")
    parser.add_argument("--subjects", type=int, nargs="+", default=list(VALIDATION_SUBJECTS), metavar="SUBJECT",
                        help="the HAPT subjects streamed: the validation subjects, or a model's held-out fold (never a scored one)")
    parser.add_argument("--placement", choices=["auto", "given"], default="auto", help="inferred per device, or the truth given")
    parser.add_argument("--shifts", nargs="+", default=[], metavar="SHIFT",
                        help="also stream the recordings under these shifts of benchmarks.generalisation ('all': every one)")
    args = parser.parse_args(argv)
    if set(args.subjects) & set(TEST_SUBJECTS):
        parser.error(f"subjects {sorted(set(args.subjects) & set(TEST_SUBJECTS))} are HAPT's scored subjects: no choice is made on them")
    every_shift = shifts()
    unknown = sorted(set(args.shifts) - set(every_shift) - {"all"})
    if unknown:
        parser.error(f"no shift {unknown[0]!r}; the shifts: {', '.join(every_shift)}")
    if args.day and args.shifts:  # a day's recordings are a minute apart: a shift that resamples would fill the gap
        parser.error("--shifts streams each recording alone: run it without --day")
    chosen = {name: f for name, f in every_shift.items() if name != "as recorded" and ("all" in args.shifts or name in args.shifts)}
    def recordings(read):
        """The recordings, or with ``--day`` each subject's as one, and how many windows its first recording gives."""
        if not args.day:
            return [Recording.from_dataset(r) for r in read], None
        days = as_days(read)
        return [day for day, _ in days], [first for _, first in days]

    sets = [("waist", *recordings(read_hapt(args.hapt, subjects=set(args.subjects))))]
    if args.pocket:
        sets.append(("pocket", *recordings(read_motionsense(args.motionsense, subjects=set(MOTIONSENSE_VALIDATION)))))
    turns = {"as recorded": np.eye(3), **(MOUNTINGS if args.mountings else {})}
    once = not args.still_each
    for path in args.models:
        model = without(Model(path), args.no_upright, args.head_gaits)
        for where, recs, first in sets:
            place = where if args.placement == "given" else "auto"
            for turn, R in turns.items():
                turned = [mounted(r, R) for r in recs]
                print(report(f"{path} ({where}, {turn}, placement {args.placement}{', the day' if first else ''})",
                             *score(model, turned, place, still_once=once)), flush=True)
                if first:
                    print(report(f"{path} ({where}, {turn}, placement {args.placement}, the day's later recordings)",
                                 *score(model, turned, place, first, once)), flush=True)
            for name, shift in chosen.items():
                print(report(f"{path} ({where}, {name}, placement {args.placement})", *score(model, [shift(r) for r in recs], place, still_once=once)),
                      flush=True)


if __name__ == "__main__":
    main()
