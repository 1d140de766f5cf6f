"""Recordings as other phones and people would make them: the ``anyone`` recipe's varied copies
(``training/anyone.py``): time-stretched, sometimes at 20 to 30 Hz, turning where they move, with sensor noise."""
from __future__ import annotations

import numpy as np
from harstream.core.activities import RUNNING_ID
from harstream.datasets.common import Recording
from harstream.datasets.turning import with_turns

COPIES = 3
#: The varied copies' cadence range: 0.7 to 1.3 since docs/generalisation-choices.md item 30, with a belt's gait windows
#: turned (``WAIST_TURNS``; alone, item 25, it read a belt worn upright worse; for the waist alone, ``--waist-stretch``,
#: not kept: item 26).  A model whose metadata names no stretch was trained with ``STRETCH_BEFORE``.
STRETCH, STRETCH_BEFORE = (0.7, 1.3), (0.8, 1.25)
LOW_RATES = (20.0, 30.0)
#: The share of varied copies whose moving stretches turn about the vertical, and how (ranges drawn from per turn: the
#: time walked straight between turns, the angle, how long a turn takes, the walker's speed).  The studies hardly turned but
#: on their stairs' landings, so a model learnt "turning, so stairs" (docs/generalisation-choices.md, item 20).
TURN_SHARE = 0.5
TURNS = {"every_s": (2.0, 12.0), "angle_deg": (30.0, 180.0), "duration_s": (0.8, 2.0), "speed": (0.6, 1.5)}
MOVING_IDS = (1, 2, 3, RUNNING_ID)  # walking, stairs up and down, running: a turn is taken on the move


def resample(raw: np.ndarray, labels: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The recording played ``factor`` times faster (a quicker cadence), still at 50 Hz samples."""
    n = int(len(raw) / factor)
    at = np.arange(n) * factor
    i = np.minimum(at.astype(int), len(raw) - 2)
    w = (at - i)[:, None]
    out = raw[i] * (1 - w) + raw[i + 1] * w
    return out, labels[np.minimum(np.round(at).astype(int), len(labels) - 1)]


def low_rate(raw: np.ndarray, rate: float, anti_alias: bool, rng: np.random.Generator) -> np.ndarray:
    """As a sensor sampling at ``rate`` Hz (jittered timestamps) would give it, linearly interpolated
    back onto 50 Hz as the daemon's resampler does."""
    step = 50.0 / rate
    src = raw
    if anti_alias:  # the sensor's own low-pass: a moving average over one of its sampling periods
        k = max(1, int(round(step)))
        kernel = np.ones(k) / k
        src = np.stack([np.convolve(raw[:, c], kernel, mode="same") for c in range(raw.shape[1])], axis=1)
    at = np.arange(0, len(raw) - 1, step)
    at = np.clip(at + rng.uniform(-0.2, 0.2, len(at)) * step, 0, len(raw) - 1.001)
    at.sort()
    i = at.astype(int)
    w = (at - i)[:, None]
    samples = src[i] * (1 - w) + src[i + 1] * w
    grid = np.arange(len(raw))
    return np.stack([np.interp(grid, at, samples[:, c]) for c in range(raw.shape[1])], axis=1)


def stretch_of(stretch, placement: str) -> tuple[float, float]:
    """The cadence range at ``placement``: ``stretch`` is one (lo, hi), or one per placement (``--waist-stretch``).
    >>> stretch_of((0.8, 1.25), "waist"), stretch_of({"waist": [0.7, 1.3], "pocket": [0.8, 1.25]}, "waist")
    ((0.8, 1.25), (0.7, 1.3))"""
    lo, hi = stretch[placement] if isinstance(stretch, dict) else stretch
    return float(lo), float(hi)


def varied(rec: Recording, rng: np.random.Generator, turns: bool = False, stretch=STRETCH) -> Recording:
    """One copy of ``rec`` as another person and phone might have recorded it; with ``turns``, ``TURN_SHARE`` of the
    copies also turn where they move (``harstream.datasets.turning``), so that turning tells no gait from another;
    ``stretch``: the cadence range, one or per placement (``stretch_of``)."""
    factor = float(np.exp(rng.uniform(*np.log(stretch_of(stretch, rec.placement)))))
    raw, labels = resample(rec.raw, rec.labels, factor)
    if turns and rng.random() < TURN_SHARE:
        raw = with_turns(raw, np.isin(labels, MOVING_IDS), rng, **TURNS)
    if rng.random() < 0.5:
        raw = low_rate(raw, rng.uniform(*LOW_RATES), rng.random() < 0.5, rng)
    raw = raw + np.hstack([rng.normal(0, rng.uniform(0, 0.01), (len(raw), 3)), rng.normal(0, rng.uniform(0, 0.01), (len(raw), 3))])
    return Recording(rec.experiment, rec.subject, raw[:, :3], raw[:, 3:], labels, rec.rate, rec.placement, rec.dataset, rec.title)
