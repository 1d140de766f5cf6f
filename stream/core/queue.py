"""Windows waiting for the model: bounded, and fair between devices."""
from __future__ import annotations

from collections import deque


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
