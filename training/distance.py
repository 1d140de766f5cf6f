"""UNKNOWN for a window unlike anything the model learnt: how far its features lie from every activity's.

A classifier answers one of its labels for any window, however strange; its confidence is no guard, since
a window far from all it learnt can still fall deep on one side of a boundary.  The model's features (the
trunk's output, before the heads) of the windows it was trained on gather around each activity; a window
whose features lie far from all of them (Mahalanobis distance, one covariance shared by the activities,
Lee et al., NeurIPS 2018; each activity's distances in units of its own training windows' median) is UNKNOWN.  This module

* gives an exported model its features as a second output (the tensor is in the graph already: only the
  subgraph's outputs change, the weights stay bit for bit), and
* measures every activity's mean and the shared covariance on the training windows (the varied copies
  and the turns of training included, so that another phone's windows are not far for being another
  phone's), and the distance beyond which a window is far: the one that ``rate`` of the in-set windows the
  daemon cuts from the validation subjects' recordings exceed.  Both go into the model's metadata (``distance``), which the runtime reads,
  and the runtime tells walking from stairs by the same statistics (``gaits_from_features``, set here too).

    python -m harstream.training.distance models/anyone.tflite [--rate 0.002]
"""
from __future__ import annotations

import numpy as np
from harstream.core.activities import UNKNOWN
from harstream.core.model import Model, encode_array, holds_gaits, metadata_path

#: Where the trunk's features are, by the name of their tensor: ``features`` in models built since, the global
#: average pooling's output in ``anyone`` as first shipped.
FEATURE_TENSORS = ("features", "global_average_pooling")
#: The share of in-set validation windows (streamed) let be far: what UNKNOWN may cost the activities.  Chosen on
#: validation: 0.2% to 2% gave the made-up validation families the same share far (the table 49-50%).
RATE = 0.002
#: Shrinkage of the covariance towards its mean variance, so that directions the training windows barely
#: span do not make every new window far.
SHRINK = 0.01


def with_features(src, dst) -> None:
    """Write ``src``'s TFLite model to ``dst`` with its trunk's features as a second output."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    graph = model.subgraphs[0]
    if len(graph.outputs) != 1:
        raise ValueError(f"{src}: has {len(graph.outputs)} outputs already")
    names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in graph.tensors]
    found = [i for part in FEATURE_TENSORS for i, name in enumerate(names) if part in name and len(graph.tensors[i].shape) == 2]
    if not found:
        raise ValueError(f"{src}: no tensor named like {' or '.join(FEATURE_TENSORS)}")
    graph.outputs = np.append(graph.outputs, found[0]).astype(graph.outputs.dtype)
    for signature in model.signatureDefs or []:  # the signature lists outputs too; the runtime reads the subgraph's
        signature.outputs = signature.outputs[:1]
    flatbuffer_utils.write_model(model, str(dst))


def fit(features: np.ndarray, y: np.ndarray, labels: list[str]) -> dict:
    """Every in-set activity's mean and the whitening of their shared covariance, from training features
    (n, d) and their label indices into ``labels`` (UNKNOWN's made-up windows left out)."""
    inset = [k for k, label in enumerate(labels) if label != UNKNOWN and (y == k).any()]
    means = np.stack([features[y == k].mean(axis=0) for k in inset])
    keep = np.isin(y, inset)
    centred = features[keep] - means[np.searchsorted(inset, y[keep])]
    cov = centred.T @ centred / len(centred)
    cov += SHRINK * np.trace(cov) / len(cov) * np.eye(len(cov))
    whitening = np.linalg.cholesky(np.linalg.inv(cov))  # d^2 = |(f - mean) @ whitening|^2
    # Activities spread unlike one another (a run far more than a sitting): each one's distances are measured in
    # its own training windows' median distance from their mean, so that one threshold serves them all.
    z = centred @ whitening
    scales = np.array([np.median((z[y[keep] == k] ** 2).sum(axis=1)) for k in inset])
    return {"labels": [labels[k] for k in inset], "means": means, "whitening": whitening, "scales": scales}


def threshold(distances: np.ndarray, rate: float) -> float:
    """The distance that ``rate`` of in-set windows exceed.

    >>> threshold(np.arange(100.0), 0.05)
    94.05
    """
    return float(np.quantile(distances, 1.0 - rate))


def to_metadata(stats: dict, limit: float, rate: float) -> dict:
    return {"labels": stats["labels"], "means": encode_array(stats["means"]), "whitening": encode_array(stats["whitening"]),
            "scales": [round(float(v), 4) for v in stats["scales"]], "threshold": round(limit, 4), "in_set_rate": rate}


def features_of(model: Model, X: np.ndarray, batch: int = 1024) -> np.ndarray:
    return np.concatenate([model.predict_all(X[i:i + batch], features=True)[1] for i in range(0, len(X), batch)])


def streamed_validation(hapt_path, motionsense_path, without: str | None = None) -> tuple[np.ndarray, list[str]]:
    """The windows the daemon cuts from the validation subjects' recordings (HAPT 7 15 26 on the waist,
    MotionSense 107 113 in the pocket; not those of the dataset a model was trained ``without``), and each
    one's majority truth: what the threshold is set on, since streamed windows (mixed, with a turn in them)
    are what the daemon sees."""
    from harstream.core.recording import Recording, window_truth
    from harstream.core.windows import DeviceStream
    from harstream.datasets import read_hapt, read_motionsense
    from harstream.datasets.common import VALIDATION_SUBJECTS

    from .anyone import MOTIONSENSE_VALIDATION

    chosen = set(VALIDATION_SUBJECTS) | set(MOTIONSENSE_VALIDATION)
    recordings = (read_hapt(hapt_path) if without != "hapt" else []) + (read_motionsense(motionsense_path) if without != "motionsense" else [])
    recordings = [r for r in recordings if r.subject in chosen]
    X, truth = [], []
    for rec in map(Recording.from_dataset, recordings):
        for w in DeviceStream().push(rec.t, rec.raw):
            X.append(w.data)
            truth.append(window_truth(rec, w.start, w.end))
    return np.stack(X).astype(np.float32), truth


def trained_recipe(made_with: dict, where) -> tuple[dict, object]:
    """``augment``'s settings and the varied copies' cadence range a model was trained with (its metadata's ``extra``).
    A setting its metadata does not name was as before the setting existed, not today's default: a model from before
    item 30 of docs/generalisation-choices.md had no belt turned and cadences 0.8 to 1.25.

    >>> trained_recipe({"augmentation": {"waist_tilt": 12.0}}, "old.tflite")
    ({'waist_turns': 'none', 'waist_tilt': 12.0}, (0.8, 1.25))
    """
    import inspect

    from .anyone import WAIST_TURN_CHOICES, WAIST_TURNS_BEFORE, augment
    from .copies import STRETCH_BEFORE

    recipe = made_with.get("augmentation") or {}
    settings = set(inspect.signature(augment).parameters) - {"X", "placement", "rng", "gaits"}
    if not isinstance(recipe, dict) or not set(recipe) <= settings \
            or recipe.get("waist_turns", WAIST_TURNS_BEFORE) not in WAIST_TURN_CHOICES:
        raise ValueError(f"{where}: its metadata's augmentation is not training/anyone.py's: {recipe!r}")
    return {"waist_turns": WAIST_TURNS_BEFORE, **recipe}, made_with.get("stretch", STRETCH_BEFORE)


def add_distance(path, hapt_path, motionsense_path, rate: float = RATE, seed: int = 0, log=print, windows=None) -> dict:
    """Give the model at ``path`` its features as an output and ``distance`` in its metadata: the activities'
    statistics from the training recipe's windows (``training/anyone.py``: varied copies, turned as in
    training), the threshold from the validation subjects' streamed windows; walking and stairs are then told apart
    by those statistics (``gaits_from_features``).  ``windows``: the recipe's (fit,
    validation) window sets, if loaded already."""
    from pathlib import Path

    from .anyone import LABELS, augment, is_gait, load
    from .export import write_metadata

    path = Path(path)
    model = Model(path)
    if model.info.distance:
        raise ValueError(f"{path}: has a distance already")
    made_with = model.info.extra or {}  # how the recipe trained it: the same windows, turned the same ways, are reloaded
    recipe, stretch = trained_recipe(made_with, path)
    fit_set, val = windows or load(hapt_path, motionsense_path, model.info.accuracy.get("without"), seed,
                                   model.info.accuracy.get("held_out", ()), bool(made_with.get("turns")),
                                   bool(made_with.get("changes")), stretch)[:2]
    tmp = path.with_suffix(".tmp.tflite")
    with_features(path, tmp)
    metadata_path(tmp).write_text(model.info.to_json(), encoding="utf-8")
    try:
        lite = Model(tmp, features_expected=True)
        inset = (fit_set.y >= 0) & (fit_set.y != LABELS.index(UNKNOWN))  # -1: a posture change, no activity
        X = augment(fit_set.X[inset].copy(), fit_set.placement[inset], np.random.default_rng(seed), **recipe,
                    gaits=is_gait(fit_set.y[inset]))
        stats = fit(features_of(lite, X), fit_set.y[inset], list(LABELS))
        model.info.distance = to_metadata(stats, 0.0, rate)
        model.info.validate(str(path))
        windows, truth = streamed_validation(hapt_path, motionsense_path, model.info.accuracy.get("without"))
        keep = np.array([t in model.info.labels and t != UNKNOWN for t in truth])
        d = model.info.distances(features_of(lite, windows[keep]))
        limit = threshold(d, rate)
        model.info.distance = to_metadata(stats, limit, rate)
        model.info.gaits_from_features = holds_gaits(model.info.distance)  # docs/generalisation-choices.md, 14
        made_up = model.info.distances(features_of(lite, val.X[val.y == LABELS.index(UNKNOWN)]))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        metadata_path(tmp).unlink(missing_ok=True)
    write_metadata(model.info, path)
    report = {"threshold": round(limit, 4), "in_set_far": float((d > limit).mean()), "made_up_far": float((made_up > limit).mean()),
              "training_windows": int(inset.sum()), "validation_windows": int(keep.sum())}
    log(f"{path}: far beyond {limit:.2f} ({rate:.1%} of {keep.sum()} in-set validation windows, streamed); made-up validation "
        f"windows (shaking, a table, a vehicle) far: {report['made_up_far']:.1%}")
    return report


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--hapt", default="../shared/data/hapt-rawdata.zip")
    parser.add_argument("--motionsense", default="../shared/data/motionsense-pocket.zip")
    parser.add_argument("--rate", type=float, default=RATE, help="the share of in-set validation windows let be far")
    args = parser.parse_args()
    try:
        add_distance(args.model, args.hapt, args.motionsense, args.rate, log=lambda m: print(m, file=sys.stderr))
    except (ValueError, OSError) as error:  # a bad model or data file: one line, not a traceback
        sys.exit(f"harstream.training.distance: {error}")
