"""The issue's targets as a mean over repeats: several models of one recipe (``python -m harstream.training.anyone
--keep-repeats`` writes each repeat as NAME-repeatK), each streamed as the daemon runs it over the scored recordings,
as recorded, and the mean ± standard deviation of every figure.

    python -m benchmarks.repeats MODEL.tflite MODEL.tflite ... [--hapt PATH] [--motionsense PATH] [--head-gaits]

Figures per model: HAPT's test subjects on the waist (placement inferred, and given), MotionSense's scored subjects
in the pocket, their jogging labelled RUNNING, in-set windows labelled UNKNOWN (waist, pocket), and each made-up
family labelled one of the six.  The same streaming and scoring as ``benchmarks.generalisation``; ``--head-gaits``
reads the models as if their metadata did not set ``gaits_from_features``, as that benchmark's flag does.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from harstream.core.activities import UNKNOWN
from harstream.core.model import Model
from harstream.datasets import synthetic

from .generalisation import SHARED, made_up, recordings, score, share, stream, without

def figures(model: Model, waist, pocket, jogging) -> dict:
    labels = [a for a in model.info.labels if a != UNKNOWN]
    w, p = score(stream(model, waist), labels), score(stream(model, pocket), labels)
    out = {"HAPT test, waist": w["accuracy"], "HAPT test, waist, placement given": score(stream(model, waist, "waist"), labels)["accuracy"],
           "MotionSense scored, pocket": p["accuracy"], "jogging as RUNNING": share(stream(model, jogging), labels)["running"],
           "in-set UNKNOWN, waist": w["unknown"], "in-set UNKNOWN, pocket": p["unknown"]}
    for family in synthetic.FAMILIES:
        out[f"made up: {family}, one of the six"] = share(stream(model, made_up(family)), labels)["as_one_of_the_six"]
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--hapt", type=Path, default=SHARED / "hapt-rawdata.zip")
    parser.add_argument("--motionsense", type=Path, default=SHARED / "motionsense-pocket.zip")
    parser.add_argument("--head-gaits", action="store_true", help="walking and stairs by the models' last layers, not their features")
    args = parser.parse_args(argv)
    waist, pocket, jogging = recordings(args.hapt, args.motionsense)
    rows = {path: figures(without(Model(path), gaits_from_features=args.head_gaits), waist, pocket, jogging) for path in args.models}
    names = list(next(iter(rows.values())))
    print("| figure | " + " | ".join(Path(p).stem for p in rows) + " | mean ± std |\n|---|" + "---|" * (len(rows) + 1))
    for name in names:
        values = np.array([r[name] for r in rows.values()]) * 100
        print(f"| {name} | " + " | ".join(f"{v:.1f}%" for v in values) + f" | {values.mean():.1f}% ± {values.std():.1f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
