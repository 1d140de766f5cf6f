"""``harstream serve``: the engine with MQTT around it.

Readings arrive on ``<prefix>/<device>/imu`` (and Sensor Logger's topic) and go to the engine
(``harstream.engine``) on paho's network thread; labels go to ``<prefix>/<device>/activity``;
``<prefix>/status`` is retained ``online`` while any instance of the prefix runs, ``<prefix>/stats``
is published every ``stats_interval`` seconds, and Home Assistant hears of every device (``session``,
``publisher``).
"""
from __future__ import annotations

from ...engine import Engine, Events
from .session import Session


class Daemon(Events):
    """An engine and one MQTT session: the session's readings in, the engine's labels and events out."""

    def __init__(self, settings, model):
        self.settings, self.model = settings, model
        self.engine = Engine(settings, model, events=self)
        topics = [(f"{settings.prefix}/+/imu", settings.qos)]
        if settings.sensor_logger_topic:
            topics.append((settings.sensor_logger_topic, settings.qos))
        self.session = Session(settings, self.engine, topics=topics, on_message=self.engine.receive)
        # what callers reach for, held by the parts (the same objects, never replaced)
        self.counts, self.stopping = self.engine.counts, self.engine.stopping
        self.publisher, self.client, self.client_id, self.connected = (
            self.session.publisher, self.session.client, self.session.client_id, self.session.connected)

    def stats(self) -> dict:
        return {**self.engine.stats(), "client_id": self.client_id}

    # -- the engine's events -------------------------------------------------------------------------
    def label(self, label) -> None:
        self.publisher.label(label)

    def device_added(self, device: str) -> None:
        self.session.device_added(device)

    def device_gone(self, device: str) -> None:
        self.publisher.forget(device)

    def report(self, stats: dict) -> None:
        self.session.stats(stats)

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        self.session.start(timeout)

    def stop(self, publish_offline: bool = True) -> None:
        """Finish the windows in hand, publish ``offline``, disconnect cleanly."""
        self.session.stop(publish_offline)

    def wait(self) -> None:
        self.session.wait()

    def metric_values(self) -> list:
        """Figures of this transport's own for ``/metrics`` (adapters.metrics): none beyond the engine's."""
        return []
