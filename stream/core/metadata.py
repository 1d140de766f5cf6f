"""A model's metadata beyond its types: the codec of its arrays, and checks that each give the problems they find
(none: fine), so that ``ModelInfo.validate`` refuses a mismatched model in one message.

>>> prior_problems([0.5, 0.5, 0.0], ["WALKING", "SITTING", "LAYING"])   # a share of 0: a label training never had
[]
>>> prior_problems([0.5, -0.5], ["WALKING", "SITTING"])
['prior [0.5, -0.5] must give each of the 2 labels its share of training (a number, none below 0, some above 0)']
"""
from __future__ import annotations

import base64

import numpy as np


def encode_array(a: np.ndarray) -> dict:
    """An array for JSON metadata, exactly, as float32.

    >>> decode_array(encode_array(np.array([[1.5, -2.0]])))
    array([[ 1.5, -2. ]])
    """
    a = np.asarray(a, dtype="<f4")
    return {"shape": list(a.shape), "float32": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d: dict) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(d["float32"], validate=True), dtype="<f4")
    return a.reshape(d["shape"]).astype(np.float64)


def distance_problems(distance: dict, labels: list) -> list[str]:
    try:
        means, whitening = decode_array(distance["means"]), decode_array(distance["whitening"])
        fits = means.ndim == 2 and whitening.shape == (means.shape[1], means.shape[1]) and len(distance["labels"]) == len(means) \
            and len(distance["scales"]) == len(means) and all(float(v) > 0 for v in distance["scales"])
        if not fits or not set(distance["labels"]) <= set(labels) or not float(distance["threshold"]) >= 0.0:
            raise ValueError("shapes, labels or threshold do not fit")
        if not (np.isfinite(means).all() and np.isfinite(whitening).all()):
            raise ValueError("not finite")
    except (KeyError, TypeError, ValueError) as exc:
        return [f"distance must hold labels, means (k, d), whitening (d, d), scales (k) > 0 and a threshold >= 0 ({exc})"]
    return []


def upright_problems(upright, placements: list) -> list[str]:
    try:
        vectors = {p: np.asarray(v, dtype=np.float64) for p, v in upright.items()}
        if not set(vectors) <= set(placements):
            raise ValueError(f"placements {sorted(set(vectors) - set(placements))} are not the model's")
        if any(v.shape != (3,) or not np.isfinite(v).all() or abs(np.linalg.norm(v) - 1.0) > 0.01 for v in vectors.values()):
            raise ValueError("not unit vectors of three numbers")
    except (AttributeError, TypeError, ValueError) as exc:
        return [f"upright must give each of the model's placements a unit vector [x, y, z] ({exc})"]
    return []


def prior_problems(prior, labels: list) -> list[str]:
    """``prior``: each label's share of the training windows (the time filter divides it out); a share of 0 marks a label
    no training window had, which is never published."""
    try:
        shares = np.asarray(prior, dtype=np.float64)
        fits = isinstance(prior, list) and shares.shape == (len(labels),) and np.isfinite(shares).all() and (shares >= 0).all()
        if not (fits and shares.sum() > 0) or any(isinstance(v, bool) for v in prior):
            raise ValueError
    except (TypeError, ValueError):
        return [f"prior {prior!r} must give each of the {len(labels)} labels its share of training (a number, none below 0, some above 0)"]
    return []
