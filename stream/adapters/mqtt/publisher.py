"""What the daemon publishes: labels, its retained status, periodic stats, Home Assistant discovery."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import paho.mqtt.client as mqtt

from ...core import Label
from ..config import Settings

try:  # a label's JSON in a microsecond rather than ten; optional (the "fast" extra)
    from orjson import dumps
except ImportError:  # pragma: no cover - exercised by the tests with orjson hidden
    def dumps(obj) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


def slug(device: str) -> str:
    """A device id as Home Assistant ids and discovery topics allow ([a-z0-9_]), unique: ``anna.phone``
    and ``anna_phone`` would read alike, so a short hash of the id itself follows.

    >>> slug("anna.phone"), slug("anna_phone")
    ('anna_phone_494d12', 'anna_phone_12e402')
    """
    readable = re.sub(r"[^a-z0-9_]+", "_", device.lower()).strip("_")[:40] or "device"
    return f"{readable}_{hashlib.sha1(device.encode()).hexdigest()[:6]}"


class Publisher:
    """Topics under ``<prefix>/``: ``<device>/activity`` (QoS of the settings), ``status`` (retained,
    with the connection's last will ``offline``), ``stats``; and, with ``ha_discovery``, Home
    Assistant's discovery under ``<ha_prefix>/`` with each device's ``availability`` and
    ``attributes`` (retained)."""

    def __init__(self, client: mqtt.Client, settings: Settings, counts: Counter, labels: list[str] | None = None,
                 version: str = ""):
        self.client, self.settings, self.counts = client, settings, counts
        self.status_topic = f"{settings.prefix}/status"
        self.labels, self.version = labels or [], version
        self._attributes: dict[str, dict] = {}  # device -> what its attributes topic holds now

    def label(self, label: Label) -> None:
        info = self.client.publish(f"{self.settings.prefix}/{label.device}/activity", dumps(label.to_dict()), qos=self.settings.qos)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # broker away and max_pending_labels held already
            self.counts["dropped_labels"] += 1
        self.noted(label)

    def noted(self, label: Label) -> None:
        """What a label changes besides its own topic: the device's attributes, for Home Assistant."""
        if self.settings.ha_discovery:
            self.attributes(label.device, {"placement": label.placement, "model": label.model})

    def status(self, state: str) -> mqtt.MQTTMessageInfo:
        return self.client.publish(self.status_topic, state, qos=1, retain=True)

    def stats(self, stats: dict) -> None:
        self.client.publish(f"{self.settings.prefix}/stats", json.dumps(stats), qos=0)

    # -- Home Assistant ---------------------------------------------------------------------------
    # https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and .../integrations/sensor.mqtt/
    @property
    def bridge_id(self) -> str:
        return f"harstream_{slug(self.settings.prefix)}"

    def origin(self) -> dict:
        return {"name": "harstream", "sw_version": self.version}

    def announce_bridge(self) -> None:
        """The daemon itself, as a connectivity sensor: the device every phone's entity is ``via``."""
        p = self.settings.prefix
        config = {
            "name": "Daemon", "unique_id": f"{self.bridge_id}_status", "default_entity_id": f"binary_sensor.{self.bridge_id}_status",
            "device_class": "connectivity", "entity_category": "diagnostic",
            "state_topic": self.status_topic, "payload_on": "online", "payload_off": "offline",
            "device": {"identifiers": [self.bridge_id], "name": f"harstream ({p})", "manufacturer": "harstream",
                       "sw_version": self.version},
            "origin": self.origin(),
        }
        self._config(f"{self.settings.ha_prefix}/binary_sensor/{self.bridge_id}/status/config", config)

    def discovery(self, device: str) -> None:
        """Announce a device's activity sensor (and mark it available)."""
        p, s, key = self.settings.prefix, self.settings, slug(device)
        config = {
            "name": "Activity", "unique_id": f"harstream_{key}_activity", "default_entity_id": f"sensor.harstream_{key}_activity",
            "state_topic": f"{p}/{device}/activity", "value_template": "{{ value_json.activity }}",
            "device_class": "enum", "options": list(self.labels), "icon": "mdi:run",
            # attributes that change seldom, on their own topic: the label's seq and times would make
            # Home Assistant's recorder store a row per window
            "json_attributes_topic": f"{p}/{device}/attributes",
            "availability": [{"topic": self.status_topic}, {"topic": f"{p}/{device}/availability"}],
            "availability_mode": "all",
            "device": {"identifiers": [f"harstream_{key}"], "name": device, "via_device": self.bridge_id},
            "origin": self.origin(),
        }
        if s.ha_expire_after:
            config["expire_after"] = s.ha_expire_after  # a phone gone silent reads unavailable, not its last activity
        self._config(f"{s.ha_prefix}/sensor/harstream_{key}/activity/config", config)
        self.availability(device, "online")

    def availability(self, device: str, state: str) -> None:
        self.client.publish(f"{self.settings.prefix}/{device}/availability", state, qos=1, retain=True)

    def attributes(self, device: str, values: dict) -> None:
        if self._attributes.get(device) != values:
            self._attributes[device] = values
            self.client.publish(f"{self.settings.prefix}/{device}/attributes", json.dumps(values), qos=1, retain=True)

    def forget(self, device: str) -> None:
        """A device whose state was freed (silent for idle_timeout): unavailable until it is heard again."""
        self._attributes.pop(device, None)
        if self.settings.ha_discovery:
            self.availability(device, "offline")

    def _config(self, topic: str, config: dict) -> None:
        self.client.publish(topic, json.dumps(config), qos=1, retain=True)
