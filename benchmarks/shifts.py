"""The issue's shifts, and a few more: the scored recordings as another phone or person would give them (other sampling
rates, with and without the sensor's anti-aliasing, with jittered timestamps; cadence ±25%; per-axis gains, offsets,
gyroscope bias, noise; a slower and gentler walker, a brisker and firmer one; a limp; the wearer turning while walking;
the phone worn turned another way), and a few of them at once.  Used by ``benchmarks.generalisation`` (scored subjects)
and ``benchmarks.across_validation`` (others).
"""
from __future__ import annotations

import numpy as np
from harstream.core.activities import GAITS
from harstream.core.recording import Recording
from harstream.datasets.turning import with_turns

from .worn import MOUNTINGS, mounted


def _lowpass(raw: np.ndarray, cutoff_hz: float, rate: float = 50.0, taps: int = 31) -> np.ndarray:
    """A windowed-sinc low-pass (zero phase): the anti-aliasing filter a sensor applies before sampling."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / rate * n) * np.hamming(taps)
    h /= h.sum()
    padded = np.pad(raw, ((taps // 2, taps // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], h, mode="valid") for c in range(raw.shape[1])], axis=1)


def _at(rec: Recording, t_new: np.ndarray, source: np.ndarray | None = None) -> Recording:
    source = rec.raw if source is None else source
    raw = np.stack([np.interp(t_new, rec.t, source[:, c]) for c in range(6)], axis=1)
    nearest = np.clip(np.searchsorted(rec.t, t_new), 0, len(rec.t) - 1)
    return Recording(t_new, raw, rec.labels[nearest], rec.name)


def rate(rec: Recording, hz: float, anti_alias: bool = True, jitter: float = 0.0, rng=None) -> Recording:
    """As a sensor sampling at ``hz`` would give it (``jitter``: timestamps off by up to that share of a period)."""
    source = _lowpass(rec.raw, 0.45 * hz) if anti_alias and hz < 50 else rec.raw
    t_new = np.arange(rec.t[0], rec.t[-1], 1.0 / hz)
    if jitter:
        t_new = np.sort(t_new + (rng or np.random.default_rng(0)).uniform(-jitter, jitter, len(t_new)) / hz)
        t_new = np.unique(np.clip(t_new, rec.t[0], rec.t[-1]))
    return _at(rec, t_new, source)


def cadence(rec: Recording, factor: float) -> Recording:
    """Everything ``factor`` times faster (a quicker or slower gait), sampled at 50 Hz again."""
    sped = Recording(rec.t / factor, rec.raw, rec.labels, rec.name)
    return _at(sped, np.arange(sped.t[0], sped.t[-1], 1 / 50.0))


def calibration(rec: Recording, rng, gain=0.0, offset=0.0, bias=0.0, noise=0.0) -> Recording:
    """Per-axis gains (±``gain``), acceleration offsets (±``offset`` g), gyroscope bias (±``bias`` rad/s)
    and white noise (``noise`` g and rad/s), drawn once per recording as one phone's errors."""
    raw = rec.raw.copy()
    if gain:
        raw *= 1 + rng.choice([-gain, gain], 6) * rng.uniform(0.5, 1.0, 6)
    if offset:
        raw[:, :3] += rng.choice([-offset, offset], 3)
    if bias:
        raw[:, 3:] += rng.choice([-bias, bias], 3)
    if noise:
        raw += rng.normal(0, noise, raw.shape)
    return Recording(rec.t, raw, rec.labels, rec.name)


def gentle(rec: Recording, pace: float = 0.8, size: float = 0.7) -> Recording:
    """A slower, gentler walker: cadence 0.8 times, the body's acceleration and rotation at 0.7 of their size (or
    another ``pace`` and ``size``: 1.2 and 1.3, a brisker, firmer one)."""
    from harstream.core.preprocess import Preprocessor

    gravity = Preprocessor(50.0).process(rec.raw)[:, 9:12]
    raw = rec.raw.copy()
    raw[:, :3] = gravity + size * (rec.raw[:, :3] - gravity)
    raw[:, 3:] *= size
    return cadence(Recording(rec.t, raw, rec.labels, rec.name), pace)


def _strides(acc: np.ndarray, rate_hz: float = 50.0) -> np.ndarray:
    """Where each stride (two steps) of a stretch of gait begins: its period from the autocorrelation of the
    acceleration's size (0.8 to 1.6 s), and in each period its largest peak, the peaks at least 0.7 of it apart.
    By strides rather than steps, because a pocket phone feels its own leg's footfall far more than the other's."""
    size = np.linalg.norm(acc, axis=1)
    x = size - size.mean()
    lo, hi = int(0.8 * rate_hz), int(1.6 * rate_hz)
    if len(x) < 2 * hi:
        return np.zeros(0, dtype=int)
    ac = np.correlate(x, x, "full")[len(x) - 1:]
    period = lo + int(np.argmax(ac[lo:hi]))
    peaks = []
    for i in np.argsort(-x):  # the largest first, each keeping its neighbourhood
        if all(abs(i - j) >= 0.7 * period for j in peaks):
            peaks.append(i)
        if len(peaks) > len(x) / (0.7 * period):
            break
    return np.sort(np.array(peaks, dtype=int))


def uneven(rec: Recording, ratio: float = 1.25) -> Recording:
    """A limp: in every stretch of gait, the first step of each stride lasts ``ratio`` times the second (one leg's
    step longer than the other's), the stride as long as recorded; everything else as recorded.  Sampled at 50 Hz
    again."""
    slope = np.ones(len(rec.t))
    gait = np.isin(rec.labels, GAITS)
    edges = np.flatnonzero(np.diff(np.r_[0, gait.astype(int), 0]))
    long, short = 2 * ratio / (1 + ratio), 2 / (1 + ratio)
    for a, b in zip(edges[::2], edges[1::2]):
        starts = a + _strides(rec.raw[a:b, :3])
        for s, e in zip(starts[:-1], starts[1:]):
            slope[s:(s + e) // 2], slope[(s + e) // 2:e] = long, short
    t_new = rec.t[0] + np.r_[0.0, np.cumsum(np.diff(rec.t) * slope[:-1])]
    warped = Recording(t_new, rec.raw, rec.labels, rec.name)
    return _at(warped, np.arange(t_new[0], t_new[-1], 1 / 50.0))


def turning(rec: Recording, **turns) -> Recording:
    """The wearer turning about the vertical while moving, as ``harstream.datasets.turning`` says (one schedule of
    turns, the same for every recording)."""
    rate_hz = 1.0 / float(np.median(np.diff(rec.t)))
    raw = with_turns(rec.raw, np.isin(rec.labels, GAITS), np.random.default_rng(0), rate=rate_hz, **turns)
    return Recording(rec.t, raw, rec.labels, rec.name)


def shifts(rng_seed: int = 0) -> dict:
    rng = np.random.default_rng(rng_seed)
    out = {"as recorded": lambda r: r}
    for hz in (20, 25, 30):
        out[f"{hz} Hz, anti-aliased"] = lambda r, hz=hz: rate(r, hz, True)
        out[f"{hz} Hz, no anti-aliasing"] = lambda r, hz=hz: rate(r, hz, False)
    for hz in (60, 100, 200):
        out[f"{hz} Hz"] = lambda r, hz=hz: rate(r, hz)
    out["25 Hz, jittered timestamps (±30%)"] = lambda r: rate(r, 25, True, 0.3, rng)
    out["50 Hz, jittered timestamps (±30%)"] = lambda r: rate(r, 50, False, 0.3, rng)
    out["cadence ×0.75"] = lambda r: cadence(r, 0.75)
    out["cadence ×1.25"] = lambda r: cadence(r, 1.25)
    out["gain ±10% per axis"] = lambda r: calibration(r, rng, gain=0.1)
    out["offset 0.05 g per axis"] = lambda r: calibration(r, rng, offset=0.05)
    out["gyro bias 0.05 rad/s"] = lambda r: calibration(r, rng, bias=0.05)
    # lighter noise, nearer a phone's own (a few mg): drawn apart, so that the rows after draw what they always drew
    lighter = np.random.default_rng(rng_seed + 1)
    for level in (0.005, 0.01):
        out[f"noise {level:g} g, {level:g} rad/s"] = lambda r, level=level: calibration(r, lighter, noise=level)
    out["noise 0.02 g, 0.02 rad/s"] = lambda r: calibration(r, rng, noise=0.02)
    out["all of gain, offset, bias, noise"] = lambda r: calibration(r, rng, 0.1, 0.05, 0.05, 0.02)
    out["a slower, gentler walker"] = gentle
    out["a brisker, firmer walker (cadence ×1.2, motion ×1.3)"] = lambda r: gentle(r, 1.2, 1.3)
    out["uneven steps, each 1.25 times the next (a limp)"] = uneven
    out["a quarter turn after every 8 s walked"] = lambda r: turning(r, every_s=8.0, angle_deg=90.0, duration_s=1.0)
    out["a half turn after every 2.5 s walked (3 m walks)"] = lambda r: turning(r, every_s=2.5, angle_deg=180.0, duration_s=1.5)
    for name, R in MOUNTINGS.items():
        out[name] = lambda r, R=R: mounted(r, R)
    for name, parts in AT_ONCE.items():  # a stranger's phone is seldom one shift (docs/generalisation-choices.md, item 25)
        out[name] = lambda r, parts=parts: _composed(r, [out[p] for p in parts])
    return out


#: Shifts at once, after the issue's single ones (so that adding them drew nothing the single ones draw).
AT_ONCE = {
    "at once: 20 Hz (anti-aliased), cadence ×0.75": ["20 Hz, anti-aliased", "cadence ×0.75"],
    "at once: 20 Hz (no anti-aliasing), cadence ×0.75, half turns": ["20 Hz, no anti-aliasing", "cadence ×0.75",
                                                                     "a half turn after every 2.5 s walked (3 m walks)"],
    "at once: 20 Hz (anti-aliased), every calibration shift, a slower walker": ["20 Hz, anti-aliased", "all of gain, offset, bias, noise",
                                                                               "a slower, gentler walker"],
    "at once: a slower walker, half turns, upside down": ["a slower, gentler walker", "a half turn after every 2.5 s walked (3 m walks)",
                                                          "upside down (half a turn about the normal)"],
}


def _composed(rec: Recording, shifts_in_turn: list) -> Recording:
    for shift in shifts_in_turn:
        rec = shift(rec)
    return rec
