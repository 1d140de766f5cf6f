"""Direction check for the across-dataset problem, on validation subjects only: models trained without HAPT,
streamed over HAPT's validation subjects (7, 15, 26; the placement inferred), walking's recall and where it goes.

    python -m benchmarks.across_validation MODEL.tflite [MODEL.tflite ...] [--hapt PATH]
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from harstream.core import Recognizer
from harstream.core.model import Model
from harstream.core.recording import Recording, window_truth
from harstream.datasets import read_hapt
from harstream.datasets.common import VALIDATION_SUBJECTS


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--hapt", type=Path, default=Path("../shared/data/hapt-rawdata.zip"))
    args = parser.parse_args(argv)
    recs = [Recording.from_dataset(r) for r in read_hapt(args.hapt, subjects=set(VALIDATION_SUBJECTS))]
    for path in args.models:
        model = Model(path)
        pairs = Counter()  # (truth, label) of every window inside one activity (transitions left out)
        for rec in recs:
            for label in Recognizer(model).feed("x", rec.t, rec.raw):
                truth = window_truth(rec, label.start, label.end)
                if truth and "_TO_" not in truth:
                    pairs[(truth, label.activity)] += 1
        of = Counter()
        for (truth, _), n in pairs.items():
            of[truth] += n
        right = sum(n for (truth, label), n in pairs.items() if truth == label)
        stairs = sum(n for (truth, label), n in pairs.items() if truth == "WALKING" and label.startswith("WALKING_"))
        print(f"{path}: accuracy {right / sum(of.values()):.1%}, walking {pairs[('WALKING', 'WALKING')] / of['WALKING']:.1%}, "
              f"walking read as stairs {stairs / of['WALKING']:.1%}; recall " +
              ", ".join(f"{c} {pairs[(c, c)] / of[c]:.1%}" for c in sorted(of)))
        print("   walking windows labelled:", dict(sorted((label, n) for (truth, label), n in pairs.items() if truth == "WALKING")))


if __name__ == "__main__":
    main()
