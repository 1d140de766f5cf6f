"""Connecting while the other side is not up yet (a boot, a restart): one retry-with-backoff loop for
every transport."""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("harstream")


def until_up(attempt, *, limit: float, stopping: threading.Event, retriable: tuple[type[BaseException], ...], why,
             fail: type[Exception]):
    """``attempt()`` until it returns; while it raises one of ``retriable``, try again after 1, 2, 4, ... 10 s
    for ``limit`` seconds in all (0: once), then raise ``fail`` with ``why(exc)`` and how long was tried.
    Other exceptions pass through.  ``stopping`` (Ctrl-C, SIGTERM) ends the wait at once.

    >>> tries = []
    >>> def flaky():
    ...     tries.append(1)
    ...     if len(tries) < 2:
    ...         raise OSError("refused")
    ...     return "up"
    >>> until_up(flaky, limit=5, stopping=threading.Event(), retriable=(OSError,), why=str, fail=RuntimeError), len(tries)
    ('up', 2)
    >>> def down():
    ...     raise OSError("nobody answers at 127.0.0.1:1")
    >>> until_up(down, limit=0, stopping=threading.Event(), retriable=(OSError,), why=str, fail=RuntimeError)
    Traceback (most recent call last):
    ...
    RuntimeError: nobody answers at 127.0.0.1:1
    """
    deadline, delay, first = time.monotonic() + limit, 1.0, True
    while True:
        try:
            return attempt()
        except retriable as exc:
            said = why(exc)
            if time.monotonic() + delay > deadline or stopping.is_set():
                raise fail(said + (f"; gave up after {limit:g} s (connect_timeout)" if limit else "")) from None
            log.warning("%s; trying again in %g s (for up to %g s in all: connect_timeout)%s", said, delay, limit,
                        "; Ctrl-C stops waiting, --connect-timeout 0 fails at once" if first else "")
            first = False
            stopping.wait(delay)
            delay = min(delay * 2, 10.0)
