"""How a phone is worn, learnt from the device's own walking.

While a device walks, its wearer is upright, and gravity in the phone's frame says how the phone sits
on the body.  Two things follow.

**A belt phone turned.**  A phone on a belt may sit sideways (as in the recordings a model learnt
from), upright in a holster, or upside down: a turn about its screen's normal.  Walking tells nothing
of posture, so a model reads a gait the same whichever way the phone sits, but a still posture is read
from gravity's direction in the phone's frame, and there the turn matters: a standing person's
gravity along an upright phone's long axis is where the model saw it on the belts of people lying
down.  The turn about the screen's normal that brings the device's walking gravity to the training's
(``ModelInfo.upright``) is the mounting, and turning the device's windows by it gives the model the
frame it knows.

**Where the phone is, while it stays still.**  A phone does not change places while it is still, so once
a device's steps have said where the phone is, its still windows do not move it; one whose gravity lies
as it did while the device walked (an upright wearer) confirms it.  A phone upright in the pocket of
someone standing still is not, as it looks on its own, one on the belt of someone lying down.

>>> reference = {"waist": [1.0, 0.0, 0.0]}          # the model's walkers: gravity along the phone's x
>>> device = Upright(reference)
>>> for _ in range(3):
...     device.learn("waist", [0.0, 1.0, 0.0])         # this phone walks with gravity along its y: upright
>>> device.turn() is None                              # three windows are too few to trust
True
>>> device.learn("waist", [0.0, 1.0, 0.0])
>>> M = device.turn()                                  # every window of the device is read turned by it
>>> np.round(M @ [0.0, 1.0, 0.0], 6) + 0.0            # its walking gravity brought to the model's
array([1., 0., 0.])
>>> device.where_walked(), device.stands([0.1, 1.0, 0.0]), device.stands([0.0, 0.0, 1.0])  # upright, or lying
('waist', True, False)
>>> for _ in range(16):
...     device.learn("pocket", [0.0, 0.0, 1.0])        # now it walks in a pocket, which has no reference:
>>> np.array_equal(device.turn(), M), device.where_walked()   # the turn stays the belt's
(True, 'pocket')
"""
from __future__ import annotations

import math

import numpy as np

#: Gait windows a device must have walked before its mounting is trusted (about 5 s of walking).
LEAST_WINDOWS = 4
#: The mean forgets older windows after about this many, so that a phone clipped on again another way is
#: followed after a minute of walking.
MEMORY = 32
#: A turn smaller than this is how people wear the same mounting (a belt's slope, a body's build), which the
#: model learnt: left alone, so that a phone worn as in training is read exactly as before.
LEAST_TURN_DEG = 30.0
#: A bigger turn is half a turn, near enough: a phone upside down or one whose screen faces the body, which
#: turn gravity alike while walking but posture differently; left alone rather than guessed.
MOST_TURN_DEG = 135.0
#: The walking gravity's share in the screen's plane for a turn about the normal to mean anything: a phone
#: whose screen faces up or down as its wearer walks is not on a belt.
IN_PLANE = 0.7
#: The walking windows that say where the phone is and which way is up: the last few, wherever the phone was.
RECENT = 8
#: A still window within this of the device's walking gravity is an upright wearer (standing: HAPT's belts 13 degrees
#: at the 95th percentile, MotionSense's pockets 12 at the median; lying 85 or more, a seated thigh 42 or more at the 5th).
UPRIGHT_DEG = 25.0
#: ... and only if those windows agreed where the phone was.
SURE_WHERE = 0.8
COS_UPRIGHT = math.cos(math.radians(UPRIGHT_DEG))


def about_normal(angle: float) -> np.ndarray:
    """The turn by ``angle`` radians about the screen's normal (the phone's z axis)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class Upright:
    """One device's gravity while it walks: per placement, for the turn that brings it to the model's
    (``learn_turn``, ``turn``); and over its last few walking windows, with where the phone was, for where it
    is while still and which way is up (``learn_upright``, ``where_walked``, ``stands``).

    ``reference``: the model's walking gravity per placement (unit vectors in the phone's frame); walking in
    another placement teaches the turn nothing.  The turn is that of the placement the device last walked in.
    """

    def __init__(self, reference: dict, least_windows: int = LEAST_WINDOWS, memory: int = MEMORY,
                 least_turn_deg: float = LEAST_TURN_DEG, most_turn_deg: float = MOST_TURN_DEG):
        self.reference = {p: tuple(float(x) for x in v) for p, v in (reference or {}).items()}
        self.least_windows, self.memory = least_windows, memory
        self.least_turn, self.most_turn = math.radians(least_turn_deg), math.radians(most_turn_deg)
        # Three-vectors as Python floats: a window's worth of bookkeeping costs a microsecond, not numpy's ten.
        self.walked: dict[str, list] = {}  # placement -> [x, y, z, windows counted]: its mean gravity direction
        self.last: str | None = None       # the placement the device last walked in
        self._turn: np.ndarray | None = None  # turn()'s answer, worked out again only when the device walks
        self.recent = [0.0, 0.0, 0.0, 0]   # gravity over the device's last few walking windows ...
        self.where: dict[str, float] = {}  # ... and the share of them read in each placement

    def learn(self, placement: str | None, gravity) -> None:
        """Take the mean gravity of one window in which the device walked, with the placement it looked like: both
        for the turn (``learn_turn``) and for which way is up (``learn_upright``)."""
        self.learn_turn(placement, gravity)
        self.learn_upright(placement, gravity)

    def learn_turn(self, placement: str | None, gravity) -> None:
        """Take a walking window's mean gravity for the device's mounting in ``placement`` (as the window looks
        before any turn)."""
        g = _unit(gravity)
        if placement not in self.reference or g is None:
            return
        walked = self.walked.setdefault(placement, [0.0, 0.0, 0.0, 0])
        _fold(walked, g, self.memory)  # a running mean, then one that forgets
        self.last = placement
        self._turn = self._work_out()

    def learn_upright(self, placement: str | None, gravity) -> None:
        """Take a walking window's mean gravity, and where the phone was as its labels read it (``where_walked``,
        ``stands``)."""
        g = _unit(gravity)
        if g is None:
            return
        n = _fold(self.recent, g, RECENT)
        if placement is not None:
            self.where.setdefault(placement, 0.0)
        for p, share in self.where.items():
            self.where[p] = share + ((p == placement) - share) / n

    def turn(self) -> np.ndarray | None:
        """The orthogonal (3, 3) that brings the device's windows to the model's frame, or None when they are to
        be read as they are: no reference, too little walking, not a belt-like mounting, a turn within how people
        wear the model's own, or half a turn (upside down, or the screen against the body, which walking alone
        cannot tell apart)."""
        return self._turn

    def _work_out(self) -> np.ndarray | None:
        walked = self.walked.get(self.last)
        if walked is None or walked[3] < self.least_windows:
            return None
        (x, y, z, _), ref = walked, self.reference[self.last]
        if math.hypot(x, y) < IN_PLANE * math.sqrt(x * x + y * y + z * z) or math.hypot(ref[0], ref[1]) < IN_PLANE:
            return None
        angle = math.remainder(math.atan2(ref[1], ref[0]) - math.atan2(y, x), math.tau)
        if not self.least_turn <= abs(angle) <= self.most_turn:
            return None
        return about_normal(angle)

    def where_walked(self) -> str | None:
        """Where the phone was while the device last walked, if its last few walking windows agreed (at least
        ``SURE_WHERE`` of them read in one placement); else None."""
        placement = max(self.where, key=self.where.get, default=None)
        if self.recent[3] < self.least_windows or placement is None or self.where[placement] < SURE_WHERE:
            return None
        return placement

    def stands(self, gravity) -> bool:
        """Whether a window's mean gravity lies as the device's did while it last walked (within ``UPRIGHT_DEG``):
        its wearer is upright and the phone where it was."""
        x, y, z, n = self.recent
        g = _unit(gravity)
        norm = math.sqrt(x * x + y * y + z * z)
        if n < self.least_windows or g is None or norm == 0.0:
            return False
        return (g[0] * x + g[1] * y + g[2] * z) / norm >= COS_UPRIGHT

    def state(self) -> dict:
        """What another process needs to carry the device on (``restore`` puts it back)."""
        return {"last": self.last, "walked": {p: list(v) for p, v in self.walked.items()},
                "recent": list(self.recent), "recent_where": dict(self.where)}

    def restore(self, state) -> None:
        """Put back a ``state``; whatever in it is not a placement's [x, y, z, windows] (nor the recent walking's,
        with a share of its windows per placement) is left out."""
        self.walked, self.last, self.recent, self.where = {}, None, [0.0, 0.0, 0.0, 0], {}
        state = state if isinstance(state, dict) else {}
        walked = state.get("walked")
        for placement, v in (walked.items() if isinstance(walked, dict) else ()):
            read = _mean_and_count(v)
            if placement in self.reference and read is not None:
                self.walked[placement] = [*read[:3], min(read[3], self.memory)]
        if state.get("last") in self.walked:
            self.last = state["last"]
        recent, where = _mean_and_count(state.get("recent")), state.get("recent_where")
        if recent is not None and isinstance(where, dict):
            try:
                shares = {str(p): float(v) for p, v in where.items()}
            except (TypeError, ValueError):
                shares = {}
            if shares and all(0.0 <= v <= 1.0 for v in shares.values()):
                self.recent, self.where = [*recent[:3], min(recent[3], RECENT)], shares
        self._turn = self._work_out()


def _fold(mean: list, g: tuple, most: int) -> int:
    """Fold the unit vector ``g`` into ``mean`` ([x, y, z, n], in place): a running mean over up to ``most``."""
    n = mean[3] = min(mean[3] + 1, most)
    for i in range(3):
        mean[i] += (g[i] - mean[i]) / n
    return n


def _unit(v) -> tuple[float, float, float] | None:
    x, y, z = float(v[0]), float(v[1]), float(v[2])
    norm = math.sqrt(x * x + y * y + z * z)
    return (x / norm, y / norm, z / norm) if norm > 0.0 and math.isfinite(norm) else None


def _mean_and_count(v) -> tuple[float, float, float, int] | None:
    """(x, y, z, windows) from a carried state's [x, y, z, windows], or None if it is not one."""
    try:
        if len(v) != 4:
            return None
        x, y, z, n = float(v[0]), float(v[1]), float(v[2]), int(v[3])
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        return None
    return (x, y, z, n) if all(map(math.isfinite, (x, y, z))) and n > 0 else None
