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
from array import array
from collections import Counter
from dataclasses import dataclass
from operator import sub

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
    completed: float = 0.0  # when its last sample arrived (time.perf_counter), if the caller noted it


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
            t = np.concatenate(([self.last_t], t))
            x = np.concatenate((self.last_x[None], x))
        ks = np.arange(self.k_next, k_end + 1)
        grid = self.t0 + ks / self.rate
        # i: the last sample at or before each grid point; never past the end, and before the first
        # only by the rounding tolerance above.  j = i + 1 but at the end.
        i = np.searchsorted(t, grid, side="right") - 1
        np.maximum(i, 0, out=i)
        j = np.minimum(i + 1, len(t) - 1)
        ti = t[i]
        span = t[j] - ti
        span[span <= 0.0] = np.inf  # i = j at the end: the weight is 0 and the sample passes as it is
        w = (grid - ti) / span
        # A sample that reaches its grid point within the tolerance gives its own value, whether or
        # not the next sample has arrived yet: so the values never depend on where a block ends.
        w[(ti - self.t0) * self.rate + 1e-3 >= ks] = 0.0  # (0 <= w <= 1 otherwise: t[i] <= grid < t[j])
        xi = x[i]
        values = xi + w[:, None] * (x[j] - xi)  # w is 0 on a sample: its values pass exactly
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
        self._pending = array("d")  # t and 6 raw values per sample, received but not yet processed
        self._last_t = None  # the last time received, pending or processed
        self._due_k = 0  # the grid point whose arrival completes the next window
        self.due = False  # pending samples complete a window, and the caller deferred processing them

    def _reset_window(self) -> None:
        self._rows = np.zeros((0, len(preprocess.CHANNELS)), dtype=self.dtype)
        self._times = np.zeros(0)
        self._filled = 0  # samples since the last reset

    def reset(self, reason: str) -> None:
        self.counts[reason] += 1
        self.resampler.reset()
        self.preprocessor.reset()
        self._reset_window()

    # The daemon's hot path.  Resampling, filtering and cutting cost about as much for a block
    # of 64 samples as for one, so samples that cannot complete a window wait, as 7 floats each,
    # and are processed in one block when one arrives that does; one that breaks the regular flow goes
    # through ``push`` at once.  The block takes push's path without the splitting it needs none of,
    # so windows, counts and state are push's, only later.
    def append_one(self, t: float, row, defer: bool = False) -> list[Window]:
        """One sample: ``t`` in seconds and 6 raw values; returns the windows it completes, like ``push``.
        With ``defer``, a window completed only sets ``due``: ``flush`` (or ``blocks.flush_many``) cuts it."""
        last = self._last_t
        if last is None or not 0.0 < t - last <= self.max_gap:  # first, duplicate, gap or backwards: push's rules
            return self.push([t], [row])
        pending = self._pending
        pending.append(t)
        pending.extend(row)
        return self._arrived(t, defer)

    def append(self, t, raw, defer: bool = False) -> list[Window]:
        """Samples in time order, as ``push`` takes them; returns the windows they complete, like ``push``
        (with ``defer``: see ``append_one``)."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(t), 6)
        if not len(t):
            return []
        last = self._last_t
        if last is None or not 0.0 < t[0] - last <= self.max_gap or (len(t) > 1 and not _regular(t, self.max_gap)):
            return self.push(t, raw)
        block = np.empty((len(t), 7))
        block[:, 0], block[:, 1:] = t, raw
        self._pending.frombytes(block.tobytes())
        return self._arrived(float(t[-1]), defer)

    def append_rows(self, flat: list, defer: bool = False, steps: tuple[float, float] | None = None) -> list[Window]:
        """Samples as one flat list of numbers, seven a sample (t, acc xyz, gyro xyz: the buffer's own layout),
        in time order; like ``append``, without numpy while the flow is regular.  ``steps``: the shortest and
        the longest step between them, if the caller measured them already."""
        last, gap = self._last_t, self.max_gap
        if steps is not None:
            regular = steps[0] > 0.0 and steps[1] <= gap
        else:
            t = flat[0::7]
            regular = all(0.0 < d <= gap for d in map(sub, t[1:], t[:-1]))
        if last is None or not 0.0 < flat[0] - last <= gap or not regular:
            rows = np.array(flat, dtype=np.float64).reshape(-1, 7)
            return self.append(rows[:, 0], rows[:, 1:], defer)
        self._pending.fromlist(flat)
        return self._arrived(float(flat[-7]), defer)

    def _arrived(self, last: float, defer: bool) -> list[Window]:
        """Samples up to time ``last`` are pending: cut the window they complete, if they complete one
        (or, with ``defer``, only say so in ``due``)."""
        self._last_t = last
        if (last - self.resampler.t0) * self.resampler.rate + 1e-3 < self._due_k:
            return []
        if defer:
            self.due = True
            return []
        return self.flush()

    def flush(self) -> list[Window]:
        """The pending samples as one block: in time order, each within ``max_gap`` of the one before
        (``append`` sent every other case to ``push``), so there is nothing to split."""
        if not len(self._pending):
            return []
        waiting = self.take_pending()
        windows = self._run(waiting[:, 0], waiting[:, 1:])
        self.counts["samples"] += len(waiting)
        self.settle()
        return windows

    def take_pending(self) -> np.ndarray:
        """The pending samples as rows of (t, 6 raw values), no longer pending."""
        waiting = np.frombuffer(self._pending, dtype=np.float64).reshape(-1, 7)
        self._pending = array("d")
        return waiting

    def pending(self) -> int:
        """Samples received and not yet processed (fewer than make a window)."""
        return len(self._pending) // 7

    def in_progress(self) -> int:
        """Samples held for the next window: what is lost if this stream stops here."""
        return len(self._rows) + self.pending()

    def push(self, t, raw) -> list[Window]:
        """Process samples now (after any pending ones); returns the windows completed."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(t), 6)
        if len(self._pending):
            waiting = np.frombuffer(self._pending, dtype=np.float64).reshape(-1, 7)
            t, raw = np.concatenate([waiting[:, 0], t]), np.concatenate([waiting[:, 1:], raw])
            self._pending = array("d")
        windows = self._push(t, raw)
        self.settle()
        return windows

    def put_back(self, waiting: np.ndarray) -> None:
        """Rows that ``take_pending`` took, pending again (in front of none: nothing arrived meanwhile)."""
        self._pending.frombytes(np.ascontiguousarray(waiting, dtype=np.float64).tobytes())

    def settle(self) -> None:
        """Everything received is processed: note the last time and when the next window falls due."""
        self.due = False
        self._last_t = self.resampler.last_t
        # The next window ends at sample number e (since the reset); it is complete once the
        # resampler emits grid point e - 1, i.e. once a sample arrives at or after that point.
        filled = self._filled
        e = self.window if filled < self.window else filled + self.step - (filled - self.window) % self.step
        self._due_k = self.resampler.k_next + (e - filled) - 1

    def _push(self, t: np.ndarray, raw: np.ndarray) -> list[Window]:
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
        return self.cut(grid, self.preprocessor.process(values))

    def cut(self, grid: np.ndarray, processed: np.ndarray) -> list[Window]:
        """Resampled, preprocessed rows (at ``grid`` times) onto the window: the windows they complete."""
        rows = np.concatenate([self._rows, processed.astype(self.dtype)])
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
        # Keep the rows from the next window's first sample on (at most window - 1 of them).
        filled = self._filled
        next_end = self.window if filled < self.window else filled + self.step - (filled - self.window) % self.step
        keep = self.window - (next_end - filled)
        self._rows, self._times = rows[len(rows) - keep:].copy(), times[len(times) - keep:].copy()
        return windows


def _regular(t: np.ndarray, max_gap: float) -> bool:
    """Every step forward in time and none longer than ``max_gap``."""
    dt = t[1:] - t[:-1]  # np.diff's checks cost more than the subtraction, at this size
    return bool(dt.min() > 0.0 and dt.max() <= max_gap)
