"""The MQTT adapter: the daemon (``daemon``), composed of its connection, intake, worker and publisher."""
from ..config import ConfigError
from .connection import FatalError, connect_or_explain, make_client
from .daemon import Daemon, resident_mb
from .run import serve
from .intake import check_device_id

__all__ = ["ConfigError", "Daemon", "FatalError", "check_device_id", "connect_or_explain", "make_client", "resident_mb", "serve"]
