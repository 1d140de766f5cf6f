"""The pure core: timestamped samples in, labelled windows out.  No MQTT, no files.

Per device: a resampler onto the model's rate, the shared causal preprocessing,
and a window of ``window`` samples emitted every ``step``.  ``Recognizer`` keeps
many devices and classifies the windows they complete together in one batch.

>>> import numpy as np
>>> stream = DeviceStream(rate=50.0, window=128, step=64)
>>> t = np.arange(300) / 50.0
>>> raw = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (300, 1))
>>> [(w.seq, w.start, w.end) for w in stream.push(t, raw)]     # floor((300 - 128) / 64) + 1 = 3
[(0, 0.0, 2.54), (1, 1.28, 3.82), (2, 2.56, 5.1)]
"""
from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from . import preprocess
from .placement import AUTO, PlacementBelief

MAX_GAP_S = 1.0


@dataclass
class Window:
    """A completed window of one device: device time of its first and last sample, and its rows."""

    device: str
    seq: int
    start: float
    end: float
    data: np.ndarray  # (window, len(CHANNELS)) preprocessed, float32 as the model takes it


@dataclass
class Label:
    device: str
    seq: int
    start: float
    end: float
    activity: str
    confidence: float
    probabilities: dict
    model: str
    placement: str | None = None  # where the device is worn, as set or inferred so far (placement-aware models)

    def to_dict(self) -> dict:
        return {"device": self.device, "seq": self.seq, "start": self.start, "end": self.end, "activity": self.activity,
                "confidence": self.confidence, "probabilities": self.probabilities, "model": self.model,
                "placement": self.placement}


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


@dataclass
class Recognizer:
    """Many devices and one model: ``push`` samples, ``classify`` completed windows in a batch.

    ``smoothing`` > 1 averages each device's probabilities over its last k windows.
    With a placement-aware model each device carries a :class:`PlacementBelief`:
    ``placement_for(device)`` gives ``"auto"`` (inferred from its windows) or a fixed
    ``"waist"``/``"pocket"``.  A window's placement comes from the windows up to and
    including it, in order, so a device's labels do not depend on how its windows
    were batched.
    """

    model: object
    smoothing: int = 1
    max_gap: float = MAX_GAP_S
    devices: dict = field(default_factory=dict)
    placement_for: object = None  # device -> "auto" | "waist" | "pocket"; None: "auto" for every device

    def __post_init__(self):
        info = self.model.info
        self._columns = [preprocess.CHANNELS.index(c) for c in info.channels]
        self._history: dict[str, deque] = {}
        self._placement: dict[str, PlacementBelief] = {}

    def placement(self, device: str) -> PlacementBelief:
        belief = self._placement.get(device)
        if belief is None:
            fixed = self.placement_for(device) if self.placement_for else AUTO
            belief = self._placement[device] = PlacementBelief(fixed)
        return belief

    def stream(self, device: str) -> DeviceStream:
        s = self.devices.get(device)
        if s is None:
            info = self.model.info
            s = self.devices[device] = DeviceStream(info.sample_rate_hz, info.window, info.step, device, self.max_gap)
        return s

    def push(self, device: str, t, raw) -> list[Window]:
        return self.stream(device).push(t, raw)

    def forget(self, device: str) -> None:
        self.devices.pop(device, None)
        self._history.pop(device, None)
        self._placement.pop(device, None)

    def classify(self, windows: list[Window]) -> list[Label]:
        if not windows:
            return []
        X = np.stack([w.data[:, self._columns] for w in windows]).astype(np.float32)
        info = self.model.info
        labels = info.labels
        if info.placements:
            activity, placement = info.split(self.model.predict_all(X))
            where = [self.placement(w.device).update(p) for w, p in zip(windows, placement)]  # in order, per device
            rows = [1 + info.placements.index(p) if p in info.placements else 0 for p in where]
            probs = activity[np.arange(len(windows)), rows]
        else:
            probs, where = self.model.predict(X), [None] * len(windows)
        out = []
        for w, p, place in zip(windows, probs, where):
            if self.smoothing > 1:
                h = self._history.setdefault(w.device, deque(maxlen=self.smoothing))
                h.append(p)
                p = np.mean(h, axis=0)
            k = int(np.argmax(p))
            out.append(Label(w.device, w.seq, w.start, w.end, labels[k], float(p[k]),
                             {name: float(v) for name, v in zip(labels, p)}, self.model.name, place))
        return out

    def feed(self, device: str, t, raw) -> list[Label]:
        return self.classify(self.push(device, t, raw))


class WindowQueue:
    """Windows waiting for the model: bounded, and fair between devices.

    Each device keeps at most ``per_device`` windows (its oldest goes first), all
    devices together at most ``limit`` (the device next in turn loses its oldest).
    ``take`` serves devices in turn, so a device that floods gets its share, not the
    model.  Every window dropped is counted in ``dropped``.

    >>> q = WindowQueue(limit=4, per_device=2)
    >>> for device, seq in [("a", 0), ("a", 1), ("a", 2), ("b", 0)]:
    ...     q.put(device, f"{device}{seq}")
    >>> q.dropped, len(q), q.take(10)
    (1, 3, ['a1', 'b0', 'a2'])
    """

    def __init__(self, limit: int, per_device: int):
        self.limit, self.per_device = limit, per_device
        self._devices: dict[str, deque] = {}  # insertion order is the serving order
        self._size = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._size

    def put(self, device: str, item) -> None:
        waiting = self._devices.get(device)
        if waiting is not None and len(waiting) >= self.per_device:
            waiting.popleft()
            self._size -= 1
            self.dropped += 1
        elif self._size >= self.limit:
            self._drop_next()
            waiting = self._devices.get(device)  # the drop may have emptied this device's line and removed it
        if waiting is None:
            waiting = self._devices[device] = deque()
        waiting.append(item)
        self._size += 1

    def _drop_next(self) -> None:
        device = next(iter(self._devices))
        waiting = self._devices[device]
        waiting.popleft()
        if not waiting:
            del self._devices[device]
        self._size -= 1
        self.dropped += 1

    def take(self, n: int) -> list:
        """Up to n items, one device at a time in turn."""
        out = []
        while self._devices and len(out) < n:
            device = next(iter(self._devices))
            waiting = self._devices.pop(device)
            out.append(waiting.popleft())
            if waiting:
                self._devices[device] = waiting  # to the back of the line
        self._size -= len(out)
        return out
