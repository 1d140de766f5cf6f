"""The MQTT transport: the daemon (``daemon``), an engine with its session (``session``: connection, status,
Home Assistant's birth) and publisher."""
from ..config import ConfigError
from .connection import FatalError, connect_or_explain, make_client
from .daemon import Daemon
from .run import serve

__all__ = ["ConfigError", "Daemon", "FatalError", "connect_or_explain", "make_client", "serve"]
