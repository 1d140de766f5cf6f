"""Many devices' due blocks in one pass: the daemon's way through a busy second.

Resampling and filtering one device's hop of ~64 samples takes some 40 numpy calls, each of
which costs more than its arithmetic at that size.  ``flush_many`` takes every device whose
pending samples complete a window (``DeviceStream.due``) and does the element-wise work for all
of them in single calls: the resampler's interpolation over every grid point of every device,
the median over every row, and each filter as one matrix product over all devices whose block
has the same length, side by side as columns.  The values are those of each stream's own
``flush``: the interpolation is the same arithmetic element for element, and the filters agree
to the rounding of a matrix product (1e-15 relative).

>>> import numpy as np
>>> from harstream.core.windows import DeviceStream
>>> streams = [DeviceStream(device=name) for name in ("a", "b")]
>>> t = 1.7e9 + np.arange(200) / 50.0
>>> for s in streams:
...     _ = s.push(t[:1], [[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
...     _ = s.append(t[1:200], np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (199, 1)), defer=True)
>>> [s.due for s in streams]
[True, True]
>>> [(w.device, w.seq) for w in flush_many(streams)]
[('a', 0), ('a', 1), ('b', 0), ('b', 1)]
"""
from __future__ import annotations

import math

import numpy as np

from .preprocess import BLOCK, Preprocessor
from .windows import DeviceStream, Window


def flush_many(streams: list[DeviceStream]) -> list[Window]:
    """Process the pending samples of every stream given; the windows they complete, stream by stream."""
    batch = [s for s in streams if s.pending()]
    out: list[Window] = []
    if not batch:
        for s in streams:
            s.due = False
        return out
    rate = batch[0].resampler.rate
    # A stream that differs from the rest (another rate, a first block, a block longer than the
    # filters' matrices) goes its own way.
    alone = [s for s in batch if s.resampler.last_t is None or s.resampler.rate != rate or not s.preprocessor.started]
    together = [s for s in batch if s not in alone]
    blocks, k_next, counts, t0s = [], [], [], []
    for s in together:
        r = s.resampler
        waiting = s.take_pending()
        k_end = math.floor((waiting[-1, 0] - r.t0) * r.rate + 1e-3)  # as Resampler.push
        if k_end - r.k_next + 1 > BLOCK or k_end < r.k_next:
            s.put_back(waiting)  # its own flush takes it
            alone.append(s)
            continue
        blocks.append(waiting)
        k_next.append(r.k_next)
        counts.append(k_end - r.k_next + 1)
        t0s.append(r.t0)
    together = [s for s in together if s not in alone]
    for s in alone:
        out += s.flush()
    if not together:
        return out
    # -- resample: the previous sample in front of each block, then every grid point at once ----
    lengths = np.array([len(b) + 1 for b in blocks])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    previous = np.array([[s.resampler.last_t, *s.resampler.last_x] for s in together])
    rows = np.insert(np.concatenate(blocks), starts - np.arange(len(blocks)), previous, axis=0)
    counts = np.array(counts)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    k_all = np.arange(counts.sum()) + np.repeat(np.array(k_next) - first, counts)
    t0 = np.repeat(np.array(t0s), counts)
    grid = t0 + k_all / rate
    t = rows[:, 0]
    i = np.concatenate([np.searchsorted(t[a:a + n], g, side="right") - 1
                        for a, n, g in zip(starts, lengths, np.split(grid, np.cumsum(counts)[:-1]))])
    np.maximum(i, 0, out=i)
    offset = np.repeat(starts, counts)
    i += offset
    j = np.minimum(i + 1, offset + np.repeat(lengths, counts) - 1)
    ti = t[i]
    span = t[j] - ti
    span[span <= 0.0] = np.inf
    w = (grid - ti) / span
    w[(ti - t0) * rate + 1e-3 >= k_all] = 0.0
    xi = rows[i, 1:]
    values = xi + w[:, None] * (rows[j, 1:] - xi)
    for s, b, k0, n in zip(together, blocks, k_next, counts.tolist()):
        r = s.resampler
        r.k_next = k0 + n
        r.last_t, r.last_x = float(b[-1, 0]), b[-1, 1:].copy()
    # -- preprocess: the median over every row, then each filter per block length, devices as columns --
    grid_parts = np.split(grid, np.cumsum(counts)[:-1])
    processed = Preprocessor.process_many([s.preprocessor for s in together], np.split(values, np.cumsum(counts)[:-1]))
    for s, b, g, p in zip(together, blocks, grid_parts, processed):
        out += s.cut(g, p)
        s.counts["samples"] += len(b)
        s.settle()
    return out
