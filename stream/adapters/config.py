"""Daemon settings, described once: each field of :class:`Settings` carries its help, default, bounds and
choices, and from that one description come the TOML reader, the ``HARSTREAM_<NAME>`` environment
variables, the ``serve`` flags and their help, ``serve --check``, and the README's settings table
(``python -m harstream.adapters.config`` prints it; a test keeps the README equal to it).

A TOML file, then the environment, then flags: later ones win.  The password is read from
``HARSTREAM_PASSWORD`` or from ``password_file``, never from the command line, and never logged or
published.  An unknown setting is an error wherever it is written, ``[devices.NAME]`` tables included.

>>> Settings(qos=3).validate()
Traceback (most recent call last):
...
harstream.adapters.config.ConfigError: qos 3: one of 0, 1, 2
>>> load_toml('[devices.anna]\\nplacment = "pocket"', "harstream.toml")
Traceback (most recent call last):
...
harstream.adapters.config.ConfigError: harstream.toml: [devices.anna]: unknown setting 'placment' (a device takes acc_units, gyro_units, frame, placement)
"""
from __future__ import annotations

import json
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


def setting(default, help: str, *, choices=None, low=None, high=None, kind=None, device: bool = False, flag: bool = True):
    """A field of :class:`Settings` with what users are told of it: ``help``, ``choices`` or bounds
    ``low``..``high``, ``kind`` (the type when the default is None), ``device`` (also settable per device
    in ``[devices.NAME]``), ``flag`` (a ``serve`` flag; False for settings only a file can hold)."""
    meta = {"help": help, "choices": choices, "low": low, "high": high, "kind": kind or type(default), "device": device, "flag": flag}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Settings:
    broker: str = setting("mqtt://localhost:1883", "the MQTT broker: mqtt://HOST[:PORT], mqtts://, ws:// or wss://")
    client_id: str | None = setting(None, "the MQTT client id; unset: harstream-<host>-<6 hex digits>, new at every start "
                                          "(a persistent session needs a fixed one)", kind=str)
    prefix: str = setting("har", "topic prefix: <prefix>/<device>/imu in, <prefix>/<device>/activity out")
    qos: int = setting(1, "MQTT QoS of readings and labels", choices=(0, 1, 2))
    username: str | None = setting(None, "MQTT user name (the password: HARSTREAM_PASSWORD or password_file)", kind=str)
    password_file: str | None = setting(None, "a file holding the MQTT password", kind=str)
    ca: str | None = setting(None, "CA certificate to verify the broker with (TLS)", kind=str)
    cert: str | None = setting(None, "client certificate (TLS; with key)", kind=str)
    key: str | None = setting(None, "client key (TLS; with cert)", kind=str)
    insecure: bool = setting(False, "TLS without checking the broker's host name (never the default)")
    keepalive: int = setting(30, "seconds between MQTT keep-alives", low=1, high=3600)
    persistent: bool = setting(False, "a persistent session: the broker keeps QoS 1 readings while the daemon is away (needs client_id)")
    model: str | None = setting(None, "a model file or a shipped model's name (`harstream models`); unset: the default model", kind=str)
    smoothing: int = setting(1, "average each device's probabilities over its last k windows (1: off)", low=1, high=100)
    time_filter: float = setting(0.9, "the time filter: the chance a device keeps its activity from one window to the next (0: off)",
                                 low=0.0, high=0.999)
    acc_units: str = setting("g", "acceleration units of readings that do not say", choices=("g", "m/s2"), device=True)
    gyro_units: str = setting("rad/s", "angular velocity units of readings that do not say", choices=("rad/s", "deg/s"), device=True)
    sensor_logger_topic: str = setting("sensor-logger", "the topic Sensor Logger publishes to (the device id is inside its messages)")
    sensor_logger_acc_units: str = setting("m/s2", "Sensor Logger's acceleration units", choices=("g", "m/s2"))
    frame: str = setting("android", "Sensor Logger's frame: ios for an iPhone without the app's Standardise setting",
                         choices=("android", "ios"), device=True)
    placement: str = setting("auto", "where phones are worn: auto (inferred per device), waist or pocket", choices=PLACEMENT_CHOICES,
                             device=True)
    max_payload: int = setting(256 * 1024, "bytes; a larger message is rejected unread", low=64)
    max_queue: int = setting(10_000, "windows waiting for the model; the oldest is dropped beyond it", low=1)
    max_queue_per_device: int = setting(256, "windows one device may have waiting, so that it cannot crowd out the others", low=1)
    max_pending_labels: int = setting(10_000, "labels held while the broker is away; the newest is dropped beyond it", low=1)
    max_devices: int = setting(20_000, "devices with state (about 9 kB each); a new one beyond it is rejected", low=1)
    max_batch: int = setting(256, "windows classified in one call", low=1)
    idle_timeout: float = setting(600.0, "seconds of silence before a device's state is freed", low=1.0)
    stats_interval: float = setting(10.0, "seconds between <prefix>/stats and housekeeping", low=0.05)
    ha_discovery: bool = setting(False, "announce each device to Home Assistant (MQTT discovery)")
    ha_prefix: str = setting("homeassistant", "Home Assistant's discovery prefix (its MQTT integration's setting)")
    ha_expire_after: int = setting(60, "seconds without a label before Home Assistant shows a device's activity unavailable (0: never)",
                                   low=0)
    connect_timeout: float = setting(300.0, "at start, keep trying a broker that is not up yet this long, in seconds (0: fail at once)",
                                     low=0.0)
    metrics_port: int = setting(0, "serve Prometheus metrics on this port (0: off; the metrics extra)", low=0, high=65535)
    metrics_host: str = setting("0.0.0.0", "the address the metrics listen on: 0.0.0.0 every interface, 127.0.0.1 this host only")
    log_level: str = setting("INFO", "debug, info, warning, error or critical")
    amqp: str | None = setting(None, "replicas behind RabbitMQ: readings from its partition queues at amqp://HOST[:PORT][/VHOST] "
                                     "(the rabbitmq extra; broker then defaults to MQTT on the same host)", kind=str)
    partitions: int = setting(12, "partition queues, the same on every replica (12 spreads evenly over 2, 3, 4 or 6)", low=1, high=100)
    amqp_prefetch: int = setting(256, "readings in flight per partition", low=1)
    amqp_heartbeat: int = setting(5, "seconds; a replica hung for two or three of them loses its partitions to the others", low=0)
    web_port: int = setting(0, "serve the live page and the phone page on this port (0: off; the web extra)", low=0, high=65535)
    web_host: str = setting("127.0.0.1", "the address the pages listen on; another than 127.0.0.1 serves HTTPS only")
    web_cert: str | None = setting(None, "the pages' TLS certificate (unset: one made once and kept in web_state)", kind=str)
    web_key: str | None = setting(None, "the key of web_cert", kind=str)
    web_token: str | None = setting(None, "the token a phone page must show to send readings (unset: made once, kept in web_state)",
                                    kind=str)
    web_view_token: bool = setting(False, "the live page needs the token too (default: anyone who reaches it may look)")
    web_state: str = setting("~/.local/state/harstream", "where the pages' made certificate and token are kept")
    devices: dict = setting({}, "per-device settings: [devices.NAME] tables of acc_units, gyro_units, frame, placement", flag=False)

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
        """Every setting against its description (choices, bounds), then what ties settings together."""
        for f in fields(self):
            check_value(f.name, getattr(self, f.name))
        for device, own in self.devices.items():
            if not isinstance(own, dict):
                raise ConfigError(f"devices.{device}: a table of {', '.join(DEVICE_SETTINGS)}")
            for name, value in own.items():
                if name not in DEVICE_SETTINGS:
                    raise ConfigError(f"[devices.{device}]: unknown setting {name!r} (a device takes {', '.join(DEVICE_SETTINGS)})")
                check_value(name, value, f"device {device}: ")
        self.endpoint()
        if self.persistent and not self.client_id:
            raise ConfigError("a persistent session is kept under a fixed client id: set client_id (e.g. harstream-"
                              f"{socket.gethostname()}), one per daemon")
        if self.client_id is not None and not 0 < len(self.client_id) <= 64:
            raise ConfigError(f"client_id {self.client_id!r}: 1 to 64 characters")
        for name in ("prefix", "ha_prefix"):
            value = getattr(self, name)
            if not value or any(c in value for c in "+#") or value.endswith("/"):
                raise ConfigError(f"{name} {value!r}: a topic prefix without wildcards or a trailing /")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"log_level {self.log_level!r}: use debug, info, warning, error or critical")
        if self.amqp is not None:
            url = urlparse(self.amqp)
            if url.scheme not in ("amqp", "amqps") or not url.hostname:
                raise ConfigError(f"amqp {self.amqp!r}: use amqp://HOST[:PORT][/VHOST] or amqps://")
            if url.password:
                raise ConfigError("put the password in HARSTREAM_PASSWORD or password_file, not in the amqp URL")
        for name in ("ca", "cert", "key"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                raise ConfigError(f"{name} {value}: no such file")
        if bool(self.cert) != bool(self.key):
            raise ConfigError("a client certificate needs both cert and key")
        if bool(self.web_cert) != bool(self.web_key):
            raise ConfigError("the pages' certificate needs both web_cert and web_key")
        for name in ("web_cert", "web_key"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                raise ConfigError(f"{name} {value}: no such file")
        if self.web_token is not None and len(self.web_token) < 8:
            raise ConfigError("web_token: at least 8 characters (unset, one is made)")
        return self


#: What a ``[devices.NAME]`` table may set, from the fields marked ``device``.
DEVICE_SETTINGS = tuple(f.name for f in fields(Settings) if f.metadata.get("device"))


def check_value(name: str, value, where: str = "") -> None:
    """One value against its field's choices and bounds (a ConfigError that says which)."""
    meta = next(f.metadata for f in fields(Settings) if f.name == name)
    if value is None:
        return
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ConfigError(f"{where}{name} {value!r}: one of {', '.join(map(str, meta['choices']))}")
    if meta["low"] is not None and value < meta["low"] or meta["high"] is not None and value > meta["high"]:
        bounds = (f"from {meta['low']} to {meta['high']}" if meta["low"] is not None and meta["high"] is not None
                  else f"at least {meta['low']}" if meta["low"] is not None else f"at most {meta['high']}")
        raise ConfigError(f"{where}{name} {value!r}: {bounds}")


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value, source: str):
    kind = _FIELDS[name].metadata["kind"]
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes", "on")
        if kind is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} = {value!r} is not a valid {kind.__name__}") from None


def load_toml(text: str, where: str) -> dict:
    """A settings file's values, coerced and checked against the schema: unknown names anywhere are errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    for section in ("mqtt", "daemon", "input", "model"):  # sections are only for the reader's eye
        if isinstance(data.get(section), dict) and section not in _FIELDS:
            data.update(data.pop(section))
    if "password" in data:
        raise ConfigError(f"{where}: put the password in a password_file or HARSTREAM_PASSWORD, not in the settings file")
    values = {}
    for name, value in data.items():
        if name not in _FIELDS:
            raise ConfigError(f"{where}: unknown setting {name!r}")
        values[name] = _coerce(name, value, where)
    for device, own in values.get("devices", {}).items():
        if not isinstance(own, dict):
            raise ConfigError(f"{where}: devices.{device} must be a table ([devices.{device}])")
        for name in own:
            if name not in DEVICE_SETTINGS:
                raise ConfigError(f"{where}: [devices.{device}]: unknown setting {name!r} (a device takes {', '.join(DEVICE_SETTINGS)})")
        values["devices"][device] = {name: _coerce(name, v, f"{where}: [devices.{device}]") for name, v in own.items()}
    return values


def load(path: str | Path | None = None, env=os.environ, flags: dict | None = None) -> Settings:
    values: dict = {}
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from None
        values.update(load_toml(text, str(path)))
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


# -- the schema's other readers: flags, the effective settings, the README's table ------------------------

def flag_names(names=None) -> list[str]:
    """The settings that are ``serve`` flags (all that are marked so, or those of ``names`` that are)."""
    return [f.name for f in fields(Settings) if f.metadata["flag"] and (names is None or f.name in names)]


def add_flags(parser, names) -> None:
    """One flag per setting, its help and real default from the schema (flags default to None: the file and
    the environment may have set the value)."""
    for name in names:
        f = _FIELDS[name]
        meta, flag = f.metadata, "--" + name.replace("_", "-")
        default = "" if f.default is None else f" (default {f.default})"
        if meta["kind"] is bool:
            parser.add_argument(flag, action="store_true", default=None, help=meta["help"] + default)
        else:
            metavar = None if meta["choices"] is not None else {int: "N", float: "X"}.get(meta["kind"], "TEXT")
            parser.add_argument(flag, type=meta["kind"], choices=meta["choices"], default=None, metavar=metavar, help=meta["help"] + default)


def effective(settings: Settings) -> str:
    """The settings in force as TOML (what ``serve --check`` prints): every value, the password never."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(v)

    lines = []
    for f in fields(settings):
        v = getattr(settings, f.name)
        if f.name == "devices":
            continue
        lines.append(f"{f.name} = {value(v)}" if v is not None else f"# {f.name} (unset)")
    for device, own in settings.devices.items():
        lines += ["", f"[devices.{json.dumps(device) if not device.replace('-', '').replace('_', '').isalnum() else device}]"]
        lines += [f"{k} = {value(v)}" for k, v in own.items()]
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| setting | flag / environment | default | what |", "|---|---|---|---|"]
    for f in fields(Settings):
        meta = f.metadata
        default = "—" if f.default is None or f.name == "devices" else f"`{json.dumps(f.default) if isinstance(f.default, str) else f.default}`"
        where = (f"`--{f.name.replace('_', '-')}` " if meta["flag"] else "") + (f"`HARSTREAM_{f.name.upper()}`" if f.name != "devices" else "file only")
        choices = f" ({', '.join(map(str, meta['choices']))})" if meta["choices"] else ""
        what = (meta["help"] + choices).replace("<", "&lt;").replace(">", "&gt;")  # <prefix> is no HTML tag
        rows.append(f"| `{f.name}` | {where} | {default} | {what} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m harstream.adapters.config: the README's table
    print(markdown_table(), end="")
