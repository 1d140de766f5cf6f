"""A walk with turns in it, as people walk indoors: what a phone reads when its wearer turns while moving.

Both studies here walked straight (corridors and paths) and climbed stairwells, whose landings turn the
walker half round at every floor: a model can learn "turning, so stairs".  People turn all the time where
they walk at home or at work (a 3 m walk between two chairs turns half round every few seconds).  This adds
turns to the moving stretches of a recording, as a shift to score a model under
(``benchmarks.generalisation``) and as a variation to train it on (``training/anyone.py``), so that
turning tells nothing about stairs.

A turn rotates the whole body, and the phone with it, about the vertical: the gyroscope reads the turn's rate
about gravity (a raised cosine, its integral the turn's angle), and the accelerometer the walker's centripetal
acceleration (speed times turn rate) across the direction of travel, taken as the screen's normal's horizontal
part (a phone on a belt or in a front pocket faces forward or back).  How a walker's steps change while turning
is not modelled.

>>> import numpy as np
>>> raw = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (500, 1))          # 10 s lying flat, gravity along z
>>> moving = np.ones(500, dtype=bool)
>>> turned = with_turns(raw, moving, np.random.default_rng(0), every_s=4.0, angle_deg=90.0, duration_s=1.0)
>>> round(float(np.degrees(np.abs(turned[:, 5]).sum() / 50.0)))    # two quarter turns, all about gravity (z)
180
>>> bool(np.abs(turned[:, 3:5]).max() == 0.0)
True
>>> bool((with_turns(raw, ~moving, np.random.default_rng(0))[:, 3:] == 0).all())  # still: no turn
True
"""
from __future__ import annotations

import numpy as np

RATE = 50.0
G = 9.81  # m/s^2 per g


def _up(raw: np.ndarray, rate: float) -> np.ndarray:
    """Gravity's direction in the phone's frame per sample: the acceleration over the second around it (centred, where
    the daemon's gravity channel is a causal low-pass that lags: a simulation may look ahead)."""
    k = max(1, int(rate))
    kernel = np.ones(k) / k
    acc = np.stack([np.convolve(np.pad(raw[:, c], (k // 2, k - 1 - k // 2), mode="edge"), kernel, mode="valid")
                    for c in range(3)], axis=1)
    return acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-6)


def with_turns(raw: np.ndarray, moving: np.ndarray, rng: np.random.Generator, every_s: float | tuple = 4.0,
               angle_deg: float | tuple = 180.0, duration_s: float | tuple = 1.5, speed: float | tuple = 1.2,
               rate: float = RATE) -> np.ndarray:
    """``raw`` (n, 6: acceleration g, rotation rate rad/s, the phone's frame, ``rate`` Hz) with a turn about the
    vertical after every ``every_s`` seconds straight, kept where ``moving`` (n,) is true.  Each of ``every_s``,
    ``angle_deg``, ``duration_s`` and ``speed`` (m/s) is a number or a (low, high) range drawn from per turn; each
    turn goes left or right at random."""
    def draw(v):
        return float(rng.uniform(*v)) if isinstance(v, tuple) else float(v)

    n = len(raw)
    t = np.arange(n) / rate
    rate_about_up = np.zeros(n)
    centripetal = np.zeros(n)
    start = rng.uniform(0, draw(every_s))
    while start < t[-1]:
        duration, angle, v = draw(duration_s), np.deg2rad(draw(angle_deg)), draw(speed)
        inside = (t >= start) & (t < start + duration)
        omega = rng.choice([-1.0, 1.0]) * angle / duration * (1 - np.cos(2 * np.pi * (t[inside] - start) / duration))
        rate_about_up[inside] = omega
        centripetal[inside] = v * omega / G
        start += duration + draw(every_s)
    rate_about_up *= moving
    centripetal *= moving
    up = _up(raw, rate)
    forward = np.array([0.0, 0.0, 1.0]) - up[:, 2:3] * up  # the screen's normal, made horizontal
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-6)
    side = np.cross(up, forward)
    out = np.array(raw, dtype=np.float64, copy=True)
    out[:, 3:6] += rate_about_up[:, None] * up
    out[:, 0:3] += centripetal[:, None] * side
    return out
