"""The one preprocessing implementation, shared by training and the daemon.

UCI HAR's recipe made causal, so that it runs sample by sample: a median filter
over 3 samples, a 3rd-order 20 Hz Butterworth low-pass against noise, and a
0.3 Hz Butterworth low-pass that splits total acceleration into gravity and
body acceleration.  Every filter is a state-space system applied in blocks;
a block of one sample and a block of a whole recording go through the same
code, so offline windows and streamed windows agree to rounding.

>>> import numpy as np
>>> prep = Preprocessor(rate=50.0)
>>> raw = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (100, 1))   # lying still, 1 g on z
>>> out = prep.process(raw)
>>> out.shape
(100, 12)
>>> [round(float(v), 6) for v in out[-1, [2, 5, 11]]]       # total z, body z, gravity z
[1.0, 0.0, 1.0]
"""
from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache

import numpy as np

#: Bumped whenever the output of :class:`Preprocessor` changes; models record it.
VERSION = "harstream-prep-1"

#: Input columns: total acceleration in g, angular velocity in rad/s.
RAW_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")

#: Output columns.  The first nine are UCI HAR's order; gravity is extra.
CHANNELS = (
    "total_acc_x", "total_acc_y", "total_acc_z",
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "gravity_x", "gravity_y", "gravity_z",
)
UCI_CHANNELS = CHANNELS[:9]

NOISE_CUTOFF_HZ = 20.0
GRAVITY_CUTOFF_HZ = 0.3
FILTER_ORDER = 3
MEDIAN_SIZE = 3
BLOCK = 256  # samples per vectorised block; any value gives the same result


def butter_sections(order: int, cutoff: float, rate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Digital Butterworth low-pass as cascaded sections [(b, a), ...], each with unit DC gain.

    The product of the sections is what ``scipy.signal.butter`` designs.

    >>> [(b.round(6).tolist(), a.round(6).tolist()) for b, a in butter_sections(1, 12.5, 50.0)]
    [([0.5, 0.5], [1.0, -0.0])]
    """
    if not 0 < cutoff < rate / 2:
        raise ValueError(f"cutoff {cutoff} Hz must lie between 0 and the Nyquist frequency {rate / 2} Hz")
    fs2 = 2.0 * rate
    warped = fs2 * np.tan(np.pi * cutoff / rate)  # pre-warp so the cutoff lands where asked
    m = np.arange(-order + 1, order, 2)
    poles = warped * -np.exp(1j * np.pi * m / (2 * order))
    z_poles = (fs2 + poles) / (fs2 - poles)  # bilinear transform; every zero goes to z = -1
    sections = []
    for p in z_poles[z_poles.imag > 1e-12]:  # one section per conjugate pair
        sections.append((np.array([1.0, 2.0, 1.0]), np.array([1.0, -2 * p.real, abs(p) ** 2])))
    for p in z_poles[np.abs(z_poles.imag) <= 1e-12]:
        sections.append((np.array([1.0, 1.0]), np.array([1.0, -p.real])))
    return [(b * a.sum() / b.sum(), a + 0.0) for b, a in sections]


class _StateSpace:
    """A linear filter x -> y as (A, B, C, D), with block matrices for up to BLOCK samples.

    Built from cascaded sections in transposed direct form II, whose states stay
    near the signal's size: a companion-form realisation of the 0.3 Hz filter has
    states around 1e4 and loses five digits.
    """

    def __init__(self, sections: list[tuple[np.ndarray, np.ndarray]]):
        A, B, C, D = np.zeros((0, 0)), np.zeros(0), np.zeros(0), 1.0
        for b, a in sections:
            k = len(a) - 1
            a_s = np.zeros((k, k))
            a_s[:, 0] = -a[1:]
            a_s[:-1, 1:] = np.eye(k - 1)
            b_s = b[1:] - a[1:] * b[0]
            c_s = np.eye(k)[0]
            n = len(B)  # chain: this section's input is the output so far
            A = np.block([[A, np.zeros((n, k))], [np.outer(b_s, C), a_s]])
            B = np.concatenate([B, b_s * D])
            C = np.concatenate([b[0] * C, c_s])
            D = b[0] * D
        n = len(B)
        powers = [np.eye(n)]
        for _ in range(BLOCK):
            powers.append(A @ powers[-1])
        powers = np.array(powers)  # A^0 .. A^BLOCK
        h = np.concatenate([[D], [C @ powers[k] @ B for k in range(BLOCK - 1)]])
        idx = np.arange(BLOCK)
        lag = idx[:, None] - idx[None, :]
        self.toeplitz = np.where(lag >= 0, h[np.clip(lag, 0, None)], 0.0)  # y from x
        self.observe = np.einsum("j,kjl->kl", C, powers[:BLOCK])  # y from state: C A^k
        self.carry = np.einsum("kij,j->ik", powers[BLOCK - 1::-1], B)  # state from x: A^(L-1-k) B
        self.powers = powers
        self.steady = np.linalg.solve(np.eye(n) - A, B)  # state for a constant input of 1
        self._step: OrderedDict[int, np.ndarray] = OrderedDict()  # L -> [y; new state] from [state; x]

    def step(self, L: int) -> np.ndarray:
        """One matrix for a block of L samples: ``[y; new state] = step(L) @ [state; x]``.  One product
        instead of four: a daemon filters a hop (~64 samples) at a time, where each numpy call's
        overhead costs more than its arithmetic.  The last few block lengths are kept."""
        m = self._step.get(L)
        if m is None:
            m = np.block([[self.observe[:L], self.toeplitz[:L, :L]], [self.powers[L], self.carry[:, BLOCK - L:]]])
            self._step[L] = m
            if len(self._step) > 8:
                self._step.popitem(last=False)
        else:
            self._step.move_to_end(L)
        return m

    def run(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter one block x (L, ch) from state (n, ch); returns y and the new state."""
        L = len(x)
        z = self.step(L) @ np.concatenate((state, x))
        return z[:L], z[L:].copy()  # a copy: the state outlives the block, and a view would keep all of z


@lru_cache(maxsize=8)
def _filters(rate: float) -> tuple[_StateSpace, _StateSpace]:
    noise = _StateSpace(butter_sections(FILTER_ORDER, min(NOISE_CUTOFF_HZ, 0.45 * rate), rate))
    gravity = _StateSpace(butter_sections(FILTER_ORDER, GRAVITY_CUTOFF_HZ, rate))
    return noise, gravity


def _median3(ext: np.ndarray) -> np.ndarray:
    """The median of each 3 consecutive rows of ``ext`` (the 2 rows before a block, then the block)."""
    a, b, c = ext[:-2], ext[1:-1], ext[2:]
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


class Preprocessor:
    """Causal UCI HAR preprocessing with state, for one device or one recording.

    ``process`` takes raw rows (acc xyz in g, gyro xyz in rad/s) and returns the
    12 :data:`CHANNELS`.  Feeding a recording in pieces of any size gives the same
    rows as feeding it whole.  The filters start in their steady state for the
    first sample, so there is no start-up transient from gravity.
    """

    def __init__(self, rate: float = 50.0):
        self.rate = float(rate)
        self._noise, self._gravity = _filters(self.rate)
        self.reset()

    def reset(self) -> None:
        self._history = None  # last MEDIAN_SIZE - 1 raw rows
        self._noise_state = None
        self._gravity_state = None

    @property
    def started(self) -> bool:
        """Whether a sample has been through (the filters hold a state): ``process_many`` takes only those."""
        return self._history is not None

    @staticmethod
    def process_many(preps: list["Preprocessor"], parts: list[np.ndarray]) -> list[np.ndarray]:
        """``process`` for each (started) preprocessor and its block of at most BLOCK rows, in one pass: the
        median over every row at once, and each filter as one matrix product over all blocks of the same
        length, side by side as columns.  The values agree with each one's own ``process`` to the rounding of
        a matrix product (1e-15 relative)."""
        h = MEDIAN_SIZE - 1
        ext = np.concatenate([np.concatenate((p._history, x)) for p, x in zip(preps, parts)])
        med_all = _median3(ext)  # (rows that straddle two blocks are computed and never used)
        sizes = np.array([len(x) for x in parts])
        starts = np.concatenate(([0], np.cumsum(sizes + h)[:-1]))
        out: list = [None] * len(preps)
        for k, p in enumerate(preps):
            p._history = ext[starts[k] + sizes[k]:starts[k] + sizes[k] + h].copy()
        by_length: dict[int, list[int]] = {}
        for k, n in enumerate(sizes):
            by_length.setdefault(int(n), []).append(k)
        noise, gravity = preps[0]._noise, preps[0]._gravity
        for L, members in by_length.items():
            g = len(members)
            x = np.concatenate([med_all[starts[k]:starts[k] + L] for k in members], axis=1)  # (L, 6g)
            state = np.concatenate([preps[k]._noise_state for k in members], axis=1)
            z = noise.step(L) @ np.concatenate((state, x))
            smooth = z[:L].reshape(L, g, 6)
            acc = smooth[:, :, :3]
            gstate = np.concatenate([preps[k]._gravity_state for k in members], axis=1)
            zg = gravity.step(L) @ np.concatenate((gstate, acc.reshape(L, 3 * g)))
            grav = zg[:L].reshape(L, g, 3)
            rows = np.concatenate((acc, acc - grav, smooth[:, :, 3:], grav), axis=2)  # (L, g, 12)
            for col, k in enumerate(members):
                preps[k]._noise_state = z[L:, 6 * col:6 * col + 6].copy()
                preps[k]._gravity_state = zg[L:, 3 * col:3 * col + 3].copy()
                out[k] = rows[:, col, :]
        return out

    def _start(self, first: np.ndarray) -> None:
        self._history = np.repeat(first[None, :], MEDIAN_SIZE - 1, axis=0)
        self._noise_state = np.outer(self._noise.steady, first)
        self._gravity_state = np.outer(self._gravity.steady, first[:3])

    def process(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != 6:
            raise ValueError(f"expected rows of 6 values (acc xyz, gyro xyz), got shape {raw.shape}")
        if len(raw) == 0:
            return np.empty((0, len(CHANNELS)))
        if self._history is None:
            self._start(raw[0])
        out = []
        for lo in range(0, len(raw), BLOCK):
            block = raw[lo:lo + BLOCK]
            ext = np.concatenate((self._history, block))
            med = _median3(ext)
            self._history = ext[-(MEDIAN_SIZE - 1):].copy()  # not a view: it would pin the block
            smooth, self._noise_state = self._noise.run(med, self._noise_state)
            acc = smooth[:, :3]
            gravity, self._gravity_state = self._gravity.run(acc, self._gravity_state)
            out.append(np.concatenate((acc, acc - gravity, smooth[:, 3:], gravity), axis=1))
        return out[0] if len(out) == 1 else np.concatenate(out)


def turn(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Windows of :data:`CHANNELS` as the phone would read them turned by the orthogonal ``M``
    (one (3, 3) for all, or one per window): every acceleration triple becomes ``M @ v``; angular
    velocity, an axial vector, becomes ``det(M) M @ v``, so a mirror (det -1) reads as a mirrored
    movement would.  Preprocessing is linear but for a 3-sample median, so turning preprocessed
    windows is turning the phone, to within that median.

    >>> X = np.zeros((1, 2, 12)); X[0, :, 9:12] = [0.0, 0.0, 1.0]; X[0, :, 6:9] = [0.5, 0.0, 0.0]
    >>> negate = -np.eye(3)                       # iOS's acceleration signs: a point mirror
    >>> Y = turn(X, negate)
    >>> Y[0, 0, 9:12] + 0.0, Y[0, 0, 6:9] + 0.0     # gravity flips, rotation rates do not
    (array([ 0.,  0., -1.]), array([0.5, 0. , 0. ]))
    """
    X = np.asarray(X)
    M = np.asarray(M, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    M = np.broadcast_to(M, (len(X), 3, 3))
    det = np.sign(np.linalg.det(M)).astype(M.dtype)[:, None, None]
    out = np.empty_like(X)
    for i, name in zip(range(0, len(CHANNELS), 3), ("total_acc", "body_acc", "body_gyro", "gravity")):
        v = np.matmul(X[:, :, i:i + 3], M.transpose(0, 2, 1))  # each row v becomes M @ v
        out[:, :, i:i + 3] = v * det if name == "body_gyro" else v
    return out


def gravity_turn(X: np.ndarray, edge: int = 16) -> np.ndarray:
    """Degrees that gravity turned in the phone's frame across the newer half of each window of :data:`CHANNELS`
    (n, window, 12): the angle between its mean direction over the ``edge`` samples that end the older half and over
    the last ``edge``.  With windows overlapping by half, that half is what is new since the window before, so a turn
    is counted in as many windows as it lasts.  A person changes posture only by turning the body, which turns the
    phone: a still posture's windows turn by under a degree (median), a sit-to-stand by about thirty.

    >>> X = np.zeros((2, 128, 12)); X[:, :, 11] = 1.0               # gravity along z throughout
    >>> X[1, 96:, 9:12] = [0.0, np.sin(0.5), np.cos(0.5)]            # the second window tilts by 0.5 rad in its newer half
    >>> np.round(gravity_turn(X), 1)
    array([ 0. , 28.6])
    """
    half = X.shape[1] // 2
    a, b = X[:, half - edge:half, 9:12].sum(axis=1), X[:, -edge:, 9:12].sum(axis=1)  # sums: only directions count
    cos = (a * b).sum(axis=1) / np.sqrt(np.maximum((a * a).sum(axis=1) * (b * b).sum(axis=1), 1e-24))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
