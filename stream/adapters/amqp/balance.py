"""How many partitions a replica should let go, from what every replica says it holds.

RabbitMQ (3.10) gives a single-active-consumer queue to the consumer that registered first, and,
when that one leaves or cancels, to the next in line; it never moves a queue on its own.  So the
replicas balance themselves: each announces how many partitions it holds (``Roster``), and one
holding more than its share cancels some and registers again at the end of the line.  The queue
goes to the next replica waiting, which keeps it if it is below its share or passes it on.

A replica lets go only when another can take: a stale view (a replica that just died, still
listed) must not send queues round between the living.

>>> roster = Roster("a", beat_s=1.0)
>>> roster.heard("b", 0, now=0.0); roster.heard("c", 0, now=0.0)
>>> to_release(12, roster, 12, now=0.5)    # a holds all 12; b and c just joined: a keeps 4
8
>>> roster.heard("b", 4, now=0.6); roster.heard("c", 4, now=0.6)
>>> to_release(4, roster, 12, now=0.7)
0
"""
from __future__ import annotations

import math


class Roster:
    """The replicas heard from within ``3 * beat_s`` (this one included), and what each holds."""

    def __init__(self, me: str, beat_s: float = 1.0):
        self.me, self.beat_s = me, beat_s
        self._peers: dict[str, tuple[int, float]] = {}  # replica -> (partitions held, when heard)

    def heard(self, replica: str, held: int, now: float) -> None:
        if replica != self.me:
            self._peers[replica] = (held, now)

    def gone(self, replica: str) -> None:
        self._peers.pop(replica, None)

    def peers(self, now: float) -> dict[str, int]:
        """Peers alive now, and what each holds; the silent ones are forgotten."""
        limit = now - 3 * self.beat_s
        self._peers = {r: v for r, v in self._peers.items() if v[1] >= limit}
        return {r: held for r, (held, _) in self._peers.items()}


def shares(partitions: int, replicas: int) -> tuple[int, int]:
    """(fewest, most) partitions a replica holds when they are spread evenly.

    >>> shares(12, 5)
    (2, 3)
    """
    return partitions // replicas, math.ceil(partitions / replicas)


def to_release(held: int, roster: Roster, partitions: int, now: float) -> int:
    """How many of the ``held`` partitions to let go now.

    * Above the most share: the excess, as far as the others have room below theirs.
    * At the most share while a peer sits below the fewest (5 replicas of 12 partitions:
      3 3 3 3 0): one, from as many of the fullest replicas (by name) as there are missing.

    >>> r = Roster("b")
    >>> r.heard("a", 4, now=0.0); r.heard("c", 6, now=0.0)   # a died a moment ago, still listed
    >>> to_release(6, r, 12, now=0.1)                        # no one has room: keep them all
    0
    >>> r = Roster("e")
    >>> for name in "abcd": r.heard(name, 3, now=0.0)
    >>> to_release(0, r, 12, now=0.1)
    0
    >>> r = Roster("a")
    >>> for name, held in zip("bcde", (3, 3, 3, 0)): r.heard(name, held, now=0.0)
    >>> [to_release(3, r, 12, now=0.1)]                       # a is one of the two fullest by name
    [1]
    """
    peers = roster.peers(now)
    fewest, most = shares(partitions, len(peers) + 1)
    room = sum(max(0, most - n) for n in peers.values())
    if held > most:
        return min(held - most, room)
    missing = sum(max(0, fewest - n) for n in peers.values())
    if held == most and held > fewest and missing:
        fullest = sorted([(held, roster.me), *((n, r) for r, n in peers.items())], key=lambda x: (-x[0], x[1]))
        return int(roster.me in [r for n, r in fullest[:missing] if n > fewest])
    return 0
