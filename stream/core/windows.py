"""One device's stream: timestamped samples in, preprocessed windows out.

A resampler onto the model's rate, the shared causal preprocessing, and a
window of ``window`` samples emitted every ``step``.

>>> import numpy as np
>>> stream = DeviceStream(rate=50.0, window=128, step=64)
>>> t = np.arange(300) / 50.0
>>> raw = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (300, 1))
>>> [(w.seq, w.start, w.end) for w in stream.push(t, raw)]     # floor((300 - 128) / 64) + 1 = 3
[(0, 0.0, 2.54), (1, 1.28, 3.82), (2, 2.56, 5.1)]
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import preprocess

MAX_GAP_S = 1.0


@dataclass
class Window:
    """A completed window of one device: device time of its first and last sample, and its rows."""

    device: str
    seq: int
    start: float
    end: float
    data: np.ndarray  # (window, len(CHANNELS)) preprocessed, float32 as the model takes it


class Resampler:
    """Irregular timestamps onto a grid at ``rate`` Hz by linear interpolation.

    The grid starts at the first sample's time; sample k of the grid is at
    ``t0 + k / rate``, so a stream sampled exactly on the grid passes unchanged.
    """

    def __init__(self, rate: float):
        self.rate = rate
        self.reset()

    def reset(self) -> None:
        self.t0 = None
        self.k_next = 0
        self.last_t = None
        self.last_x = None

    def push(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """t strictly increasing and after the last sample; returns (grid times, values)."""
        if self.t0 is None:
            self.t0 = float(t[0])
        # Epoch seconds resolve only ~2.4e-7 s: a tolerance of 1e-3 of a period keeps that
        # rounding from losing a grid point (the point then takes the sample's value).
        k_end = math.floor((t[-1] - self.t0) * self.rate + 1e-3)
        if k_end < self.k_next:  # between two grid points: nothing to emit yet
            self.last_t, self.last_x = float(t[-1]), x[-1].copy()
            return t[:0], x[:0]
        if self.last_t is not None:
            t = np.concatenate([[self.last_t], t])
            x = np.concatenate([self.last_x[None], x])
        ks = np.arange(self.k_next, k_end + 1)
        grid = self.t0 + ks / self.rate
        i = np.searchsorted(t, grid, side="right") - 1
        np.clip(i, 0, len(t) - 1, out=i)
        j = np.minimum(i + 1, len(t) - 1)
        span = t[j] - t[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (grid - t[i]) / span
        w[~(span > 0)] = 0.0
        np.minimum(np.maximum(w, 0.0, out=w), 1.0, out=w)
        values = x[i] + w[:, None] * (x[j] - x[i])  # w is 0 on a sample: its values pass exactly
        self.k_next = k_end + 1
        self.last_t, self.last_x = float(t[-1]), x[-1].copy()
        return grid, values


class DeviceStream:
    """One device: resample, preprocess, cut windows.  ``push`` returns the windows completed.

    A gap longer than ``max_gap`` seconds, or time going backwards, resets the
    resampler, filters and window (counted in ``counts``); a repeated timestamp
    is dropped.  Filters run in float64; the rows kept for the window are stored
    as ``dtype`` (float32, as the model takes them, halves a device's memory).
    """

    def __init__(self, rate: float = 50.0, window: int = 128, step: int = 64, device: str = "", max_gap: float = MAX_GAP_S,
                 dtype=np.float32):
        self.device, self.window, self.step, self.max_gap, self.dtype = device, window, step, max_gap, dtype
        self.resampler = Resampler(rate)
        self.preprocessor = preprocess.Preprocessor(rate)
        self.counts = Counter()
        self.seq = 0
        self._reset_window()

    def _reset_window(self) -> None:
        self._rows = np.zeros((0, len(preprocess.CHANNELS)), dtype=self.dtype)
        self._times = np.zeros(0)
        self._filled = 0  # samples since the last reset

    def reset(self, reason: str) -> None:
        self.counts[reason] += 1
        self.resampler.reset()
        self.preprocessor.reset()
        self._reset_window()

    def push(self, t, raw) -> list[Window]:
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(t), 6)
        out: list[Window] = []
        start = 0
        prev = self.resampler.last_t
        # Split the batch where time repeats, jumps or runs backwards; the runs between are clean.
        dt = np.empty_like(t)
        if len(t):
            dt[0] = t[0] - prev if prev is not None else 1.0 / self.resampler.rate
            np.subtract(t[1:], t[:-1], out=dt[1:])
        for i in np.flatnonzero((dt <= 0) | (dt > self.max_gap)):
            out += self._run(t[start:i], raw[start:i])
            if dt[i] == 0:
                self.counts["duplicate"] += 1
                start = i + 1
                continue
            self.reset("gap" if dt[i] > 0 else "backwards")
            start = i
        out += self._run(t[start:], raw[start:])
        self.counts["samples"] += len(t)
        return out

    def _run(self, t: np.ndarray, raw: np.ndarray) -> list[Window]:
        if not len(t):
            return []
        grid, values = self.resampler.push(t, raw)
        if not len(grid):
            return []
        rows = np.concatenate([self._rows, self.preprocessor.process(values).astype(self.dtype)])
        times = np.concatenate([self._times, grid])
        first = self._filled - len(self._rows)  # sample number of rows[0] since the reset
        self._filled += len(grid)
        # Windows end at sample numbers e with e >= window and (e - window) % step == 0.
        lo = max(self.window, first + self.window)
        e0 = lo + (-(lo - self.window)) % self.step
        windows = []
        for e in range(e0, self._filled + 1, self.step):
            a = e - self.window - first
            # a copy: a view would pin all of ``rows`` for as long as the window waits in a queue
            windows.append(Window(self.device, self.seq, float(times[a]), float(times[a + self.window - 1]), rows[a:a + self.window].copy()))
            self.seq += 1
        keep = self.window - 1
        self._rows, self._times = rows[-keep:].copy(), times[-keep:].copy()
        return windows
