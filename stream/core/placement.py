"""Where a phone is worn, and how a device's placement is inferred from its own windows.

A placement-aware model answers twice per window: which placement the window
looks like (``waist`` or ``pocket``), and the activity given each placement (or
none).  Most windows tell the placement at once (a thigh swings far more than a
waist; a phone upright in a pocket lies along the thigh), but some cannot: a still
phone flat on a thigh (sitting) reads like a phone on the waist of someone lying
down.  So a device accumulates evidence from the windows that are sure and carries
it into the windows that are not.

>>> belief = PlacementBelief()
>>> belief.update([0.02, 0.98]), belief.update([0.03, 0.97])   # one sure window is not enough; two are
(None, 'pocket')
>>> belief.update([0.5, 0.5])                                  # a still window that cannot tell keeps it
'pocket'
>>> PlacementBelief(fixed="waist").update([0.01, 0.99])        # a placement set in the settings wins
'waist'
"""
from __future__ import annotations

import math

WAIST, POCKET = "waist", "pocket"
PLACEMENTS = (WAIST, POCKET)
AUTO = "auto"
CHOICES = (AUTO, *PLACEMENTS)


class PlacementBelief:
    """Log-odds of ``pocket`` against ``waist``, summed over a device's informative windows.

    A window adds its evidence when it is at least ``informative`` nats sure (73%);
    each window counts for at most ``clip`` nats and the sum is capped at ``cap``, so
    a phone moved from a belt to a pocket is recognised after a few windows.  The
    placement is decided once the sum passes ``decide`` (two sure windows), and
    stays unknown (``None``) before.
    """

    def __init__(self, fixed: str | None = None, decide: float = 4.0, informative: float = 1.0, clip: float = 3.0, cap: float = 12.0):
        if fixed not in (None, AUTO, *PLACEMENTS):
            raise ValueError(f"placement {fixed!r}: choose one of {', '.join(CHOICES)}")
        self.fixed = None if fixed == AUTO else fixed
        self.decide, self.informative, self.clip, self.cap = decide, informative, clip, cap
        self.log_odds = 0.0

    @property
    def current(self) -> str | None:
        if self.fixed is not None:
            return self.fixed
        if self.log_odds >= self.decide:
            return POCKET
        if self.log_odds <= -self.decide:
            return WAIST
        return None

    def update(self, probabilities) -> str | None:
        """Take one window's placement probabilities (waist, pocket); return the placement to use for it."""
        waist, pocket = (max(float(p), 1e-9) for p in probabilities)
        evidence = math.log(pocket / waist)
        if abs(evidence) >= self.informative:
            evidence = max(-self.clip, min(self.clip, evidence))
            self.log_odds = max(-self.cap, min(self.cap, self.log_odds + evidence))
        return self.current
