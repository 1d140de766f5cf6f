"""``harstream serve``: a daemon (or a replica) with its metrics and pages, until SIGINT or SIGTERM."""
from __future__ import annotations

import gc
import json
import logging

from ..config import Settings
from .connection import FatalError
from .daemon import Daemon

log = logging.getLogger("harstream")


def serve(settings: Settings, model, kind=Daemon) -> int:
    """Run a daemon (``kind``: this one, or adapters.amqp's Replica) until SIGINT or SIGTERM."""
    import signal

    daemon = kind(settings, model)
    if settings.metrics_port:
        from .. import metrics

        try:
            metrics.start(daemon, settings.metrics_port, settings.metrics_host)
        except (RuntimeError, OSError) as exc:
            raise FatalError(f"metrics on {settings.metrics_host}:{settings.metrics_port}: {exc}") from None
        log.info("Prometheus metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)

    def on_signal(signum, frame):
        daemon.engine.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    daemon.start()
    # Everything loaded so far (numpy, the interpreter, paho, the model) lives as long as the process:
    # out of the collector's sight, a full collection takes milliseconds rather than tens of them.
    gc.collect()
    gc.freeze()
    log.info("model %s (%s, %s); publishing to %s/<device>/activity", model.name, model.path, model.backend, settings.prefix)
    pages = None
    try:
        if settings.web_port:
            from ..web import WebFront

            try:
                pages = WebFront(settings, daemon.engine.labels).start()
            except RuntimeError as exc:
                raise FatalError(str(exc)) from None
        daemon.wait()
    finally:
        if pages is not None:
            pages.stop()
        daemon.stop()
        log.info("stopped: %s", json.dumps(daemon.stats()))
    return 0
