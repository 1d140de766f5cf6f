"""A device's activity over time: a hidden Markov model's forward pass over its windows.

A window is 2.56 s, an activity lasts minutes.  Each window's probabilities are taken as
evidence (the model's answer divided by how often it saw each label in training, so that a
label is not favoured for having been common there), and the belief carried from the window
before is moved by sticky transitions: from one window to the next a person keeps the
activity with probability ``stay``, and otherwise switches to any activity as often as a day
holds it (``DAY``: people walk and sit far more than they climb stairs).  It is causal: a
label is published when its window completes, never waiting for the next one.

>>> f = ActivityFilter(["WALKING", "WALKING_UPSTAIRS"], stay=0.9)
>>> [round(float(f.update([0.9, 0.1], t=0.0)[0]), 3)]     # the first window: the day's prior and the evidence
[0.978]
>>> round(float(f.update([0.3, 0.7], t=1.28)[0]), 3)      # one window that says stairs does not undo a walk
0.919
>>> round(float(f.update([0.3, 0.7], t=60.0)[0]), 3)      # after a gap the device starts afresh: the prior alone
0.682
"""
from __future__ import annotations

import numpy as np

#: How a day is spent, roughly, by someone carrying a phone (sums to one over the activities named;
#: others, RUNNING and UNKNOWN, take a small share).  Only the ratios matter to the filter.
DAY = {"WALKING": 0.20, "WALKING_UPSTAIRS": 0.04, "WALKING_DOWNSTAIRS": 0.04, "SITTING": 0.40, "STANDING": 0.16,
       "LAYING": 0.16, "RUNNING": 0.01, "UNKNOWN": 0.03}
#: The least share of training a label is taken to have had (see ``ActivityFilter.__init__``).
PRIOR_FLOOR = 0.01
#: A step between windows longer than this (or backwards) is a gap: the stream was reset, so is the belief.
GAP_S = 1.5


class ActivityFilter:
    """One device's belief over ``labels``; ``update`` takes a window's probabilities and returns the belief.

    ``stay`` is the chance of keeping the activity from one window to the next (1.28 s apart): 0 turns
    the filter off (each window alone, the training prior still divided out only if ``prior`` is given).
    """

    def __init__(self, labels, prior=None, stay: float = 0.9, day: dict | None = None):
        self.labels = list(labels)
        day = DAY if day is None else day
        self.day = np.array([day.get(label, 0.01) for label in self.labels], dtype=np.float64)
        self.day /= self.day.sum()
        self.prior = np.asarray(prior, dtype=np.float64) if prior is not None and len(prior) else np.ones(len(self.labels))
        # A label the model never saw in training (a model trained without jogging, say) has a share near 0:
        # dividing by it would make the model's near-zero answers for it overwhelming, so shares are floored.
        self.prior = np.maximum(self.prior / self.prior.sum(), PRIOR_FLOOR)
        self.stay = float(stay)
        self.belief: np.ndarray | None = None
        self._last_start: float | None = None

    def reset(self) -> None:
        self.belief, self._last_start = None, None

    def update(self, probabilities, t: float | None = None) -> np.ndarray:
        """The belief after a window whose first sample is at ``t`` (device seconds); None: in sequence."""
        if t is not None and self._last_start is not None and not 0.0 < t - self._last_start <= GAP_S:
            self.reset()
        if t is not None:
            self._last_start = t
        evidence = np.maximum(np.asarray(probabilities, dtype=np.float64), 1e-9) / self.prior
        if self.belief is None or self.stay <= 0.0:
            carried = self.day
        else:
            carried = self.stay * self.belief + (1.0 - self.stay) * self.day
        belief = carried * evidence
        self.belief = belief / belief.sum()
        return self.belief

    def state(self) -> dict:
        """What carries the belief to another process (a replica taking the device over)."""
        return {"belief": None if self.belief is None else self.belief.tolist(), "last_start": self._last_start}

    def restore(self, state: dict) -> None:
        """Take ``state()`` of another filter over the same labels (a ValueError for anything else)."""
        belief = state.get("belief")
        if belief is not None:
            belief = np.asarray(belief, dtype=np.float64)
            if belief.shape != (len(self.labels),) or not np.isfinite(belief).all() or belief.min() < 0 or belief.sum() <= 0:
                raise ValueError(f"a belief over {len(self.labels)} labels, not {state.get('belief')!r}")
            belief = belief / belief.sum()
        last = state.get("last_start")
        self.belief, self._last_start = belief, None if last is None else float(last)
