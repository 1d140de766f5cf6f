"""Daemon settings: a TOML file, then ``HARSTREAM_*`` environment variables, then flags.

The password is read from ``HARSTREAM_PASSWORD`` or from ``password_file``, never
from the command line, and never logged or published.

Example ``harstream.toml``::

    broker = "mqtts://broker.local:8883"
    username = "harstream"
    password_file = "/etc/harstream/password"
    ca = "/etc/harstream/ca.pem"
    model = "/opt/harstream/models/tcn.tflite"

    [devices.iphone-anna]          # per-device input settings
    frame = "ios"
    acc_units = "m/s2"
    placement = "pocket"           # or "waist"; default "auto": inferred from the device's windows
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..core.payloads import Units
from ..core.placement import CHOICES as PLACEMENT_CHOICES


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    broker: str = "mqtt://localhost:1883"
    # None: harstream-<host>-<6 hex digits>, new at every start, so that two daemons never knock each other
    # off the broker.  A persistent session lives under a fixed id: then it must be given.
    client_id: str | None = None
    prefix: str = "har"
    qos: int = 1
    username: str | None = None
    password_file: str | None = None
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False  # TLS without verifying the server's name (never the default)
    keepalive: int = 30
    persistent: bool = False  # a persistent session: QoS 1 readings wait at the broker while we are away
    model: str | None = None
    smoothing: int = 1
    # The time filter: the chance that a device keeps its activity from one window to the next (1.28 s);
    # 0: off, every window labelled alone.
    time_filter: float = 0.9
    acc_units: str = "g"
    gyro_units: str = "rad/s"
    sensor_logger_topic: str = "sensor-logger"
    sensor_logger_acc_units: str = "m/s2"
    frame: str = "android"
    placement: str = "auto"  # where devices are worn: auto (inferred per device), waist or pocket
    max_payload: int = 256 * 1024
    max_queue: int = 10_000  # windows waiting for the model; the oldest is dropped beyond it
    max_queue_per_device: int = 256  # so that one flooding device cannot crowd out the others
    max_pending_labels: int = 10_000  # labels held while the broker is away; the newest is dropped beyond it
    max_devices: int = 20_000  # devices with state; a new one beyond it is rejected (about 9 kB each)
    max_batch: int = 256  # windows classified in one call
    idle_timeout: float = 600.0  # seconds before a silent device's state is freed
    stats_interval: float = 10.0
    ha_discovery: bool = False  # publish Home Assistant discovery for each device seen
    ha_prefix: str = "homeassistant"  # Home Assistant's discovery prefix (its MQTT integration's setting)
    ha_expire_after: int = 60  # seconds without a label before Home Assistant shows a device's activity as unavailable
    connect_timeout: float = 300.0  # at start, keep trying an unreachable broker this long (0: fail at once)
    metrics_port: int = 0  # Prometheus metrics on http://METRICS_HOST:PORT/metrics (0: off; needs the metrics extra)
    metrics_host: str = "0.0.0.0"  # the address the metrics listen on: 0.0.0.0 every interface, 127.0.0.1 this host only
    log_level: str = "INFO"
    # Replicas behind RabbitMQ (adapters.amqp): readings from its partition queues, not MQTT subscriptions.
    amqp: str | None = None  # amqp://HOST[:PORT][/VHOST]: on; the broker setting then defaults to MQTT on the same host
    partitions: int = 12  # partition queues; the same on every replica (12 spreads evenly over 2, 3, 4 or 6)
    amqp_prefetch: int = 256  # readings in flight per partition
    amqp_heartbeat: int = 5  # seconds; a replica hung for twice this long loses its partitions to the others
    devices: dict = field(default_factory=dict)  # device id -> {acc_units, gyro_units, frame}

    # -- derived ------------------------------------------------------------------------------
    @property
    def password(self) -> str | None:
        if os.environ.get("HARSTREAM_PASSWORD"):
            return os.environ["HARSTREAM_PASSWORD"]
        if self.password_file:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"password_file {self.password_file}: {exc.strerror}") from None
        return None

    def endpoint(self) -> tuple[str, int, str, bool, str]:
        """(host, port, transport, tls, websocket path) from the broker URL."""
        url = urlparse(self.broker if "://" in self.broker else f"mqtt://{self.broker}")
        schemes = {"mqtt": (1883, "tcp", False), "tcp": (1883, "tcp", False), "mqtts": (8883, "tcp", True),
                   "ssl": (8883, "tcp", True), "ws": (80, "websockets", False), "wss": (443, "websockets", True)}
        if url.scheme not in schemes or not url.hostname:
            raise ConfigError(f"broker {self.broker!r}: use mqtt://HOST[:PORT], mqtts://, ws:// or wss://")
        if url.username or url.password:
            raise ConfigError("put the user name in 'username' and the password in HARSTREAM_PASSWORD or password_file, not in the broker URL")
        port, transport, tls = schemes[url.scheme]
        return url.hostname, url.port or port, transport, tls or bool(self.ca), url.path or "/mqtt"

    def units_for(self, device: str, sensor_logger: bool = False) -> Units:
        own = self.devices.get(device, {})
        default_acc = self.sensor_logger_acc_units if sensor_logger else self.acc_units
        return Units(own.get("acc_units", default_acc), own.get("gyro_units", self.gyro_units))

    def frame_for(self, device: str) -> str:
        return self.devices.get(device, {}).get("frame", self.frame)

    def placement_for(self, device: str) -> str:
        return self.devices.get(device, {}).get("placement", self.placement)

    def own_client_id(self) -> str:
        """The client id to connect with: the one given, else a new unique one."""
        if self.client_id:
            return self.client_id
        return f"harstream-{socket.gethostname()}"[:56] + f"-{secrets.token_hex(3)}"

    def validate(self) -> "Settings":
        self.endpoint()
        if self.persistent and not self.client_id:
            raise ConfigError("a persistent session is kept under a fixed client id: set client_id (e.g. harstream-"
                              f"{socket.gethostname()}), one per daemon")
        if self.client_id is not None and not 0 < len(self.client_id) <= 64:
            raise ConfigError(f"client_id {self.client_id!r}: 1 to 64 characters")
        if not self.ha_prefix or any(c in self.ha_prefix for c in "+#") or self.ha_prefix.endswith("/"):
            raise ConfigError(f"ha_prefix {self.ha_prefix!r}: a topic prefix without wildcards or a trailing /")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port {self.metrics_port}: 1 to 65535, or 0 for none")
        if self.connect_timeout < 0 or self.ha_expire_after < 0:
            raise ConfigError("connect_timeout and ha_expire_after must not be negative")
        if self.qos not in (0, 1, 2):
            raise ConfigError(f"qos {self.qos}: use 0, 1 or 2")
        if not self.prefix or any(c in self.prefix for c in "+#") or self.prefix.endswith("/"):
            raise ConfigError(f"prefix {self.prefix!r}: a topic prefix without wildcards or a trailing /")
        if min(self.smoothing, self.max_queue, self.max_queue_per_device, self.max_batch, self.max_pending_labels, self.max_devices) < 1:
            raise ConfigError("smoothing, max_queue, max_queue_per_device, max_batch, max_pending_labels and max_devices must be at least 1")
        if not 0.0 <= self.time_filter < 1.0:
            raise ConfigError(f"time_filter {self.time_filter}: from 0 (off) up to, not including, 1")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"log_level {self.log_level!r}: use debug, info, warning, error or critical")
        if self.amqp is not None:
            if not 1 <= self.partitions <= 100:
                raise ConfigError(f"partitions {self.partitions}: 1 to 100")
            if self.amqp_prefetch < 1 or self.amqp_heartbeat < 0:
                raise ConfigError("amqp_prefetch must be at least 1, amqp_heartbeat at least 0")
            url = urlparse(self.amqp)
            if url.scheme not in ("amqp", "amqps") or not url.hostname:
                raise ConfigError(f"amqp {self.amqp!r}: use amqp://HOST[:PORT][/VHOST] or amqps://")
            if url.password:
                raise ConfigError("put the password in HARSTREAM_PASSWORD or password_file, not in the amqp URL")
        if self.max_payload < 64:
            raise ConfigError("max_payload must be at least 64 bytes")
        for name in ("ca", "cert", "key"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                raise ConfigError(f"{name} {value}: no such file")
        if bool(self.cert) != bool(self.key):
            raise ConfigError("a client certificate needs both cert and key")
        try:
            self.units_for("")
            self.units_for("", sensor_logger=True)
            for device in self.devices:
                self.units_for(device)
                if self.frame_for(device) not in ("android", "ios"):
                    raise ValueError(f"device {device}: frame must be android or ios")
            if self.frame not in ("android", "ios"):
                raise ValueError(f"frame {self.frame!r}: use android or ios")
            for device in ["", *self.devices]:
                if self.placement_for(device) not in PLACEMENT_CHOICES:
                    where = f"device {device}: " if device else ""
                    raise ValueError(f"{where}placement {self.placement_for(device)!r}: use {', '.join(PLACEMENT_CHOICES)}")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return self


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value, source: str):
    kind = type(getattr(Settings(), name))
    if name in ("username", "password_file", "ca", "cert", "key", "model", "client_id", "amqp"):
        kind = str
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes", "on")
        if kind is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} = {value!r} is not a valid {kind.__name__}") from None


def load(path: str | Path | None = None, env=os.environ, flags: dict | None = None) -> Settings:
    values: dict = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for section in ("mqtt", "daemon", "input", "model"):  # sections are only for the reader's eye
            if isinstance(data.get(section), dict) and section not in _FIELDS:
                data.update(data.pop(section))
        if "password" in data:
            raise ConfigError(f"{path}: put the password in a password_file or HARSTREAM_PASSWORD, not in the settings file")
        for name, value in data.items():
            if name not in _FIELDS:
                raise ConfigError(f"{path}: unknown setting {name!r}")
            values[name] = _coerce(name, value, str(path))
    for name in _FIELDS:
        key = f"HARSTREAM_{name.upper()}"
        if key in env and name != "devices":
            values[name] = _coerce(name, env[key], key)
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    if values.get("amqp") and "broker" not in values:  # the MQTT plugin of the same RabbitMQ: status, discovery
        url = urlparse(values["amqp"])
        if url.hostname:
            values["broker"] = f"{'mqtts' if url.scheme == 'amqps' else 'mqtt'}://{url.hostname}:{8883 if url.scheme == 'amqps' else 1883}"
    return Settings(**values).validate()
