"""Where a phone is worn, and how a device's placement is inferred from its own windows.

A placement-aware model answers twice per window: which placement the window
looks like (``waist`` or ``pocket``), and the activity given each placement (or
none).  Most windows tell the placement at once (a thigh swings far more than a
waist; a phone upright in a pocket lies along the thigh), but some cannot: a still
phone flat on a thigh (sitting) reads like a phone on the waist of someone lying
down.  So a device accumulates evidence from the windows that are sure and carries
it into the windows that are not.  A still phone is one look at one pose, however long
it stays: a run of still windows counts as one window, so a belt that walked is not
talked into a pocket by a long lie-down that looks like a pocket's standing, nor a
pocket of someone standing still, from the start, decided on a belt.

>>> belief = PlacementBelief()
>>> belief.update([0.02, 0.98]), belief.update([0.03, 0.97])   # one sure window is not enough; two are
(None, 'pocket')
>>> belief.update([0.5, 0.5])                                  # a still window that cannot tell keeps it
'pocket'
>>> [belief.update([0.02, 0.98]) for _ in range(3)][-1]         # walking on: surer still
'pocket'
>>> {belief.update([0.99, 0.01], still=True) for _ in range(100)}   # a long still stretch that looks like a belt: one look
{'pocket'}
>>> PlacementBelief(fixed="waist").update([0.01, 0.99])        # a placement set in the settings wins
'waist'
"""
from __future__ import annotations

import math

WAIST, POCKET = "waist", "pocket"
PLACEMENTS = (WAIST, POCKET)
AUTO = "auto"
CHOICES = (AUTO, *PLACEMENTS)

#: A window is still, for the placement, when its body acceleration's spread (the norm of its three axes' standard
#: deviations, in g) is under this and its gravity turned under the time filter's ``TURN_DEG``: a pose held, not a
#: gait (whose spread is ten times this) nor a posture change.  Item 22 of docs/generalisation-choices.md.
STILL_SPREAD_G = 0.02


class PlacementBelief:
    """Log-odds of ``pocket`` against ``waist``, summed over a device's informative windows.

    A window adds its evidence when it is at least ``informative`` nats sure (73%);
    each window counts for at most ``clip`` nats and the sum is capped at ``cap``, so
    a phone moved from a belt to a pocket is recognised after a few windows.  The
    placement is decided once the sum passes ``decide`` (two sure windows), and
    stays unknown (``None``) before.  A run of ``still`` windows moves the sum by at
    most ``clip`` from where it stood when the run began: its windows read the same
    pose again and again, which is not fresh evidence.
    """

    def __init__(self, fixed: str | None = None, decide: float = 4.0, informative: float = 1.0, clip: float = 3.0, cap: float = 12.0):
        if fixed not in (None, AUTO, *PLACEMENTS):
            raise ValueError(f"placement {fixed!r}: choose one of {', '.join(CHOICES)}")
        self.fixed = None if fixed == AUTO else fixed
        self.decide, self.informative, self.clip, self.cap = decide, informative, clip, cap
        self.log_odds = 0.0
        self.stretch: tuple[float, float] | None = None  # a run of still windows: the sum before it, its evidence so far

    @property
    def current(self) -> str | None:
        if self.fixed is not None:
            return self.fixed
        if self.log_odds >= self.decide:
            return POCKET
        if self.log_odds <= -self.decide:
            return WAIST
        return None

    def update(self, probabilities, still: bool = False) -> str | None:
        """Take one window's placement probabilities (waist, pocket), and whether the phone was still in it (see
        :data:`STILL_SPREAD_G`); return the placement to use for it."""
        waist, pocket = (max(float(p), 1e-9) for p in probabilities)
        evidence = math.log(pocket / waist)
        if abs(evidence) < self.informative:
            evidence = 0.0
        if still:
            before, seen = self.stretch if self.stretch is not None else (self.log_odds, 0.0)
            self.stretch = (before, seen + evidence)
            self.log_odds = self._capped(before + self._clipped(seen + evidence))
        else:
            self.stretch = None
            self.log_odds = self._capped(self.log_odds + self._clipped(evidence))
        return self.current

    def _clipped(self, evidence: float) -> float:
        return max(-self.clip, min(self.clip, evidence))

    def _capped(self, log_odds: float) -> float:
        return max(-self.cap, min(self.cap, log_odds))

    def state(self) -> dict:
        """What a device's belief carries to another process (``restore`` puts it back)."""
        return {"log_odds": self.log_odds, "stretch": list(self.stretch) if self.stretch is not None else None}

    def restore(self, state: dict) -> None:
        """Continue from ``state`` (another process's ``state()``); a malformed one is refused whole (ValueError)."""
        log_odds, stretch = state.get("log_odds", 0.0), state.get("stretch")
        try:
            log_odds = float(log_odds)
            stretch = None if stretch is None else tuple(float(v) for v in stretch)
        except (TypeError, ValueError):
            raise ValueError(f"a placement's belief is numbers, not {state!r}") from None
        if not math.isfinite(log_odds) or (stretch is not None and (len(stretch) != 2 or not all(map(math.isfinite, stretch)))):
            raise ValueError(f"a placement's belief is a finite log-odds and a still stretch of two, not {state!r}")
        self.log_odds, self.stretch = log_odds, stretch
