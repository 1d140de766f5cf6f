"""A device's activity over time: a hidden Markov model's forward pass over its windows.

A window is 2.56 s, an activity lasts minutes.  Each window's probabilities are taken as
evidence (the model's answer divided by how often it saw each label in training, so that a
label is not favoured for having been common there), and the belief carried from the window
before is moved by sticky transitions: from one window to the next a person keeps the
activity with probability ``stay``, and otherwise switches to any activity as often as a day
holds it (``DAY``: people walk and sit far more than they climb stairs).  It is causal: a
label is published when its window completes, never waiting for the next one.

A still posture changes only when the body turns, and the phone with it.  So when the filter is told
how far gravity turned in the window (``turned``, degrees in the phone's frame): under ``TURN_DEG``
the belief cannot move from one still posture to another (sitting stays sitting however unsure one
window is), and while it turns further, the still posture held before the turn began is kept with
only ``KEEP_AFTER_TURN`` (a person who sat and then turned stood up or lay down).  Moving to or from
a gait is as before.

>>> f = ActivityFilter(["WALKING", "WALKING_UPSTAIRS"], stay=0.9)
>>> [round(float(f.update([0.9, 0.1], t=0.0)[0]), 3)]     # the first window: the day's prior and the evidence
[0.978]
>>> round(float(f.update([0.3, 0.7], t=1.28)[0]), 3)      # one window that says stairs does not undo a walk
0.919
>>> round(float(f.update([0.3, 0.7], t=60.0)[0]), 3)      # after a gap the device starts afresh: the prior alone
0.682
>>> f = ActivityFilter(["SITTING", "STANDING"], stay=0.9)
>>> [round(float(f.update(p, turned=1.0)[1]), 3) for p in ([0.9, 0.1], [0.4, 0.6], [0.4, 0.6])]   # still: evidence alone moves it
[0.043, 0.062, 0.091]
>>> [round(float(f.update([0.4, 0.6], turned=30.0)[1]), 3) for _ in range(2)]  # turning: sitting, held before, is unlikely to hold
[0.933, 0.95]
"""
from __future__ import annotations

import numpy as np

#: How a day is spent, roughly, by someone carrying a phone (sums to one over the activities named;
#: others, RUNNING and UNKNOWN, take a small share).  Only the ratios matter to the filter.
DAY = {"WALKING": 0.20, "WALKING_UPSTAIRS": 0.04, "WALKING_DOWNSTAIRS": 0.04, "SITTING": 0.40, "STANDING": 0.16,
       "LAYING": 0.16, "RUNNING": 0.01, "UNKNOWN": 0.03}
#: Still postures: from one to another only by turning (see the module's docstring).
POSTURES = ("SITTING", "STANDING", "LAYING")
#: Gravity's turn within a window (degrees) from which a posture may have changed.  HAPT's training subjects on
#: the waist: still postures' windows turn by 0.4-0.6 degrees (median), 3.6-9 (90th percentile); transitions
#: 33 (median); chosen on validation subjects with ``python -m benchmarks.choose_filter --turn``.
TURN_DEG = 5.0
#: While the phone turns that far, the chance that the still posture held before the turn still holds.
KEEP_AFTER_TURN = 0.1
#: The least share of training a label is taken to have had (see ``ActivityFilter.__init__``).
PRIOR_FLOOR = 0.01
#: A step between windows longer than this (or backwards) is a gap: the stream was reset, so is the belief.
GAP_S = 1.5


class ActivityFilter:
    """One device's belief over ``labels``; ``update`` takes a window's probabilities and returns the belief.

    ``stay`` is the chance of keeping the activity from one window to the next (1.28 s apart): 0 turns
    the filter off (each window alone, the training prior still divided out only if ``prior`` is given).
    """

    def __init__(self, labels, prior=None, stay: float = 0.9, day: dict | None = None, turn_deg: float | None = TURN_DEG,
                 keep_after_turn: float | None = None):
        self.labels = list(labels)
        day = DAY if day is None else day
        self.day = np.array([day.get(label, 0.01) for label in self.labels], dtype=np.float64)
        self.day /= self.day.sum()
        self.prior = np.asarray(prior, dtype=np.float64) if prior is not None and len(prior) else np.ones(len(self.labels))
        # A label no training window had (a model trained without jogging has RUNNING among its outputs) was never
        # learnt: the model's answer for it is noise, so it is never the belief's.  A rare label's share is floored:
        # dividing by a share near 0 would make the model's near-zero answers for it overwhelming.
        self._learnt = self.prior > 0
        self.prior = np.maximum(self.prior / self.prior.sum(), PRIOR_FLOOR)
        self.stay = float(stay)
        self.turn_deg = turn_deg  # None: a still posture as sticky as any activity, whatever ``turned`` says
        keep = KEEP_AFTER_TURN if keep_after_turn is None else keep_after_turn
        self._sticky, self._steady, self._leaving = _transitions(self.labels, self.day, self.stay, keep)
        self.belief: np.ndarray | None = None
        self._last_start: float | None = None
        self._held: int | None = None  # the still posture believed before the phone began to turn

    def reset(self) -> None:
        self.belief, self._last_start, self._held = None, None, None

    def update(self, probabilities, t: float | None = None, turned: float | None = None) -> np.ndarray:
        """The belief after a window whose first sample is at ``t`` (device seconds; None: in sequence) and in
        which gravity turned by ``turned`` degrees (None: not known, every activity as sticky as another).
        ``probabilities`` None: the window tells nothing (it is unlike anything the model learnt)."""
        if t is not None and self._last_start is not None and not 0.0 < t - self._last_start <= GAP_S:
            self.reset()
        if t is not None:
            self._last_start = t
        if probabilities is None:
            evidence = self._learnt.astype(np.float64)
        else:
            evidence = np.where(self._learnt, np.maximum(np.asarray(probabilities, dtype=np.float64), 1e-9) / self.prior, 0.0)
        if self.belief is None or self.stay <= 0.0:
            carried = self.day
        elif turned is None or self.turn_deg is None:
            carried = self.belief @ self._sticky
        elif turned < self.turn_deg:
            carried = self.belief @ self._steady
        else:
            carried = self.belief @ self._leaving.get(self._held, self._sticky)
        belief = carried * evidence
        if belief.sum() <= 0:  # only labels never learnt were reachable (a belief restored from elsewhere): start afresh
            belief = self.day * evidence
        self.belief = belief / belief.sum()
        if turned is None or self.turn_deg is None or turned < self.turn_deg:
            top = int(np.argmax(self.belief))
            self._held = top if top in self._leaving else None
        return self.belief

    def state(self) -> dict:
        """What carries the belief to another process (a replica taking the device over)."""
        return {"belief": None if self.belief is None else self.belief.tolist(), "last_start": self._last_start,
                "held": None if self._held is None else self.labels[self._held]}

    def restore(self, state: dict) -> None:
        """Take ``state()`` of another filter over the same labels (a ValueError for anything else)."""
        belief = state.get("belief")
        if belief is not None:
            belief = np.asarray(belief, dtype=np.float64)
            if belief.shape != (len(self.labels),) or not np.isfinite(belief).all() or belief.min() < 0 or belief.sum() <= 0:
                raise ValueError(f"a belief over {len(self.labels)} labels, not {state.get('belief')!r}")
            belief = belief / belief.sum()
        held = state.get("held")  # absent from a replica that predates it: nothing held
        if held is not None and held not in self.labels:
            raise ValueError(f"a held posture among {self.labels}, not {held!r}")
        last = state.get("last_start")
        self.belief, self._last_start = belief, None if last is None else float(last)
        self._held = None if held is None else self.labels.index(held)


def _transitions(labels: list[str], day: np.ndarray, stay: float, keep: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """From-to matrices (rows: the activity before): sticky (every activity kept with ``stay``, left as a day holds
    them); steady (no still posture to another); and, for each still posture held before a turn, leaving it (the
    sticky matrix but that posture kept with ``keep``, left for another activity as a day holds them)."""
    n = len(labels)
    sticky = stay * np.eye(n) + (1.0 - stay) * day[None, :]
    steady, leaving = sticky.copy(), {}
    posture = np.array([label in POSTURES for label in labels])
    for i in np.flatnonzero(posture):
        others = posture & (np.arange(n) != i)
        steady[i, i] += steady[i, others].sum()
        steady[i, others] = 0.0
        elsewhere = day.copy()
        elsewhere[i] = 0.0
        leaving[int(i)] = sticky.copy()
        leaving[int(i)][i] = keep * np.eye(n)[i] + (1.0 - keep) * elsewhere / max(elsewhere.sum(), 1e-12)
    return sticky, steady, leaving
