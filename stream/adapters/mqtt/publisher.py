"""What the daemon publishes: labels, its retained status, periodic stats, Home Assistant discovery."""
from __future__ import annotations

import json
import re
from collections import Counter

import paho.mqtt.client as mqtt

from ...core import Label
from ..config import Settings


class Publisher:
    """Topics under ``<prefix>/``: ``<device>/activity`` (QoS of the settings), ``status`` (retained,
    with the connection's last will ``offline``), ``stats``; and ``homeassistant/...`` discovery."""

    def __init__(self, client: mqtt.Client, settings: Settings, counts: Counter):
        self.client, self.settings, self.counts = client, settings, counts
        self.status_topic = f"{settings.prefix}/status"

    def label(self, label: Label) -> None:
        info = self.client.publish(f"{self.settings.prefix}/{label.device}/activity", json.dumps(label.to_dict()), qos=self.settings.qos)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # broker away and max_pending_labels held already
            self.counts["dropped_labels"] += 1

    def status(self, state: str) -> mqtt.MQTTMessageInfo:
        return self.client.publish(self.status_topic, state, qos=1, retain=True)

    def stats(self, stats: dict) -> None:
        self.client.publish(f"{self.settings.prefix}/stats", json.dumps(stats), qos=0)

    def discovery(self, device: str) -> None:
        p = self.settings.prefix
        config = {
            "name": "Activity", "unique_id": f"harstream_{device}_activity", "object_id": f"harstream_{device}_activity",
            "state_topic": f"{p}/{device}/activity", "value_template": "{{ value_json.activity }}",
            "json_attributes_topic": f"{p}/{device}/activity", "availability_topic": self.status_topic,
            "icon": "mdi:run", "device": {"identifiers": [f"harstream_{device}"], "name": device, "via_device": "harstream"},
        }
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", device)
        self.client.publish(f"homeassistant/sensor/harstream_{safe}/activity/config", json.dumps(config), qos=1, retain=True)
