"""The engine, between the core and the transports: readings in, labels and device events out, stats,
eviction, and whether a window is classified at once or queued.  It knows no broker: the MQTT daemon,
the AMQP replica and the tests drive the same engine (``adapters`` hold the transports)."""
from .engine import Engine, Events
from .intake import MAX_DEVICE_ID, check_device_id

__all__ = ["MAX_DEVICE_ID", "Engine", "Events", "check_device_id"]
