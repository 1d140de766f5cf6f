"""A service's MQTT connection, for the daemon and for each replica: the retained ``<prefix>/status`` with
its last will, Home Assistant's birth message, another daemon on the prefix, and why a broker said no.

``<prefix>/status`` stands for the service, not for one process: it is ``online`` while any daemon or
replica of the prefix runs (see ``answer_status``).
"""
from __future__ import annotations

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt

from ..retry import until_up
from .connection import BrokerUnreachable, FatalError, connect, dropped_before_connack, make_client, refusal
from .publisher import Publisher

log = logging.getLogger("harstream")


class Session:
    """The connection of a service around ``engine``: subscribed to the service's own topics and to ``topics``
    (readings, for the daemon), whose messages go to ``on_message(topic, payload)`` on paho's thread.
    ``group`` names the replicas that share the work (their stats are not another daemon's)."""

    #: A connection the broker closes sooner than this after accepting it counts as short.
    SHORT_SESSION_S = 5.0

    def __init__(self, settings, engine, *, topics: list[tuple[str, int]], on_message, group: str | None = None):
        from ... import __version__

        self.settings, self.engine, self.group = settings, engine, group
        self.counts, self.stopping = engine.counts, engine.stopping
        self.extra_topics, self.on_message = topics, on_message
        self.connected = threading.Event()
        self.client_id = settings.own_client_id()
        self.client = self._make_client()
        self.publisher = Publisher(self.client, settings, self.counts, labels=engine.labels, version=__version__)
        self.status_topic = self.publisher.status_topic
        self.ha_status = f"{settings.ha_prefix}/status"
        self.stats_topic = f"{settings.prefix}/stats"
        self.fatal: str | None = None  # why the broker will not have us: raised by start() or the service's wait()
        self._status_lock = threading.Lock()
        self._online = None
        self._ever_connected = False
        self._connected_at = 0.0
        self._short_sessions = 0  # connections in a row the broker closed within seconds of accepting them
        self._take_over_said = -1e9
        self._other_said = -1e9
        self._last_error = ""

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = make_client(s, self.client_id, clean_session=not s.persistent)
        client.will_set(f"{s.prefix}/status", "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=2)  # backoff 1, 2, 2... s: back within 3 s of the broker's return
        client.max_queued_messages_set(s.max_pending_labels)  # labels kept while disconnected, bounded
        client.max_inflight_messages_set(100)  # labels awaiting the broker's PUBACK (paho's default is 20)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_log = self._on_log
        return client

    def topics(self) -> list[tuple[str, int]]:
        s = self.settings
        topics = [*self.extra_topics, (self.stats_topic, 0),  # stats: is another daemon on our prefix?
                  (self.status_topic, 1)]  # another instance's "offline" while we serve: say "online" again
        if s.ha_discovery:  # Home Assistant says "online" there when it starts: announce everything again then
            topics.append((self.ha_status, 1))
        return topics

    # -- paho's callbacks (its network thread) -------------------------------------------------------
    def _on_log(self, client, userdata, level, message):
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = message

    def _on_connect(self, client, userdata, flags, reason, properties=None):
        if reason.is_failure:  # retrying cannot help: stop rather than hammer the broker
            self.fatal = f"{self.settings.broker}: {refusal(reason)}"
            self.stopping.set()
            return
        if self._ever_connected and self.settings.persistent and not flags.session_present:
            self.counts["sessions_lost"] += 1
            log.warning("the broker lost our persistent session: readings sent while we were away are gone")
        self._ever_connected = True
        self._connected_at = time.monotonic()
        topics = self.topics()
        client.subscribe(topics)
        self._online = self.publisher.status("online")
        if self.settings.ha_discovery:
            self.announce()
        self.connected.set()
        log.info("connected to %s; listening on %s", self.settings.broker, ", ".join(t for t, _ in topics))

    def _on_disconnect(self, client, userdata, flags, reason, properties=None):
        self.connected.clear()
        if not self._ever_connected and not self.stopping.is_set():  # cut off before the first CONNACK: TLS said no
            self.fatal = f"{self.settings.broker}: {dropped_before_connack(self._last_error, reason)}"
            self.stopping.set()
            return
        if not self.stopping.is_set():
            self.counts["disconnects"] += 1
            log.warning("disconnected from the broker (%s); reconnecting", reason)
            self._note_session_length(time.monotonic() - self._connected_at)

    def _on_message(self, client, userdata, msg):
        if msg.topic == self.status_topic:
            self.answer_status(msg.payload)
        elif msg.topic == self.ha_status and self.settings.ha_discovery:
            if msg.payload == b"online":
                self.announce()
        elif msg.topic == self.stats_topic:
            self._other_daemon(msg.payload)
        else:
            self.on_message(msg.topic, msg.payload)

    def answer_status(self, payload: bytes) -> None:
        """Every instance has the last will ``offline`` and says ``offline`` when it stops; every instance still
        serving answers an ``offline`` it reads (another's will or clean stop) with ``online``.  Each
        instance's last word is ``offline``, and its answers come before it (the lock), so when the last
        instance is gone, ``offline`` is what stays retained."""
        with self._status_lock:
            if payload == b"offline" and not self.stopping.is_set() and self.connected.is_set():
                self._online = self.publisher.status("online")

    def _note_session_length(self, seconds: float) -> None:
        """MQTT 3.1.1 does not say why a broker closed a connection.  When it keeps closing ours within
        seconds of accepting it, another client is almost always connecting with our client id (the
        broker lets the newer one in): say so, once a minute, with what to change."""
        if seconds >= self.SHORT_SESSION_S:
            self._short_sessions = 0
            return
        self._short_sessions += 1
        if self._short_sessions >= 2 and time.monotonic() - self._take_over_said > 60:
            self._take_over_said = time.monotonic()
            self.counts["taken_over"] += 1
            log.error("the broker closed our connection %d times in a row within %g s of accepting it: another client is "
                      "probably connecting with our client id %r, and each takes the other's place. Give each daemon its own "
                      "client_id (leave it unset for a unique one). Two daemons on one prefix would both label every device: "
                      "give them different prefixes",
                      self._short_sessions, self.SHORT_SESSION_S, self.client_id)

    def _other_daemon(self, payload: bytes) -> None:
        """Stats from another client id on our prefix: a second daemon labels every device too.  Said once
        every 10 minutes, with what to change."""
        try:
            said = json.loads(payload)
            other = said.get("client_id")
        except (ValueError, AttributeError):
            return
        if self.group is not None and said.get("group") == self.group:  # a fellow replica (adapters.amqp)
            return
        if isinstance(other, str) and other and other != self.client_id and time.monotonic() - self._other_said > 600:
            self._other_said = time.monotonic()
            self.counts["other_daemons_seen"] += 1
            log.error("another harstream daemon (client id %r) serves the prefix %r on this broker: every device is "
                      "labelled twice, and each publishes %s/status. Stop one, or give each its own prefix",
                      other, self.settings.prefix, self.settings.prefix)

    # -- what the engine's events become ------------------------------------------------------------
    def announce(self) -> None:
        """Home Assistant discovery for the service and every device the engine holds."""
        self.publisher.announce_bridge()
        for device in self.engine.devices():
            self.publisher.discovery(device)

    def device_added(self, device: str) -> None:
        if self.settings.ha_discovery:
            self.publisher.discovery(device)

    def stats(self, stats: dict) -> None:
        if self.connected.is_set():
            self.publisher.stats({**stats, "client_id": self.client_id})

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout: float) -> None:
        """Start the engine, connect (retrying for ``connect_timeout`` while nothing answers) and wait until
        the broker has us and ``online`` is published.  Raises FatalError (BrokerUnreachable) when it cannot,
        with the engine stopped again."""
        try:
            self.engine.start()
            self._connect(timeout)
        except FatalError:
            self.stop(publish_offline=False)
            raise

    def _connect(self, timeout: float) -> None:
        s = self.settings
        until_up(lambda: connect(self.client, s), limit=s.connect_timeout, stopping=self.stopping,
                 retriable=(BrokerUnreachable,), why=str, fail=BrokerUnreachable)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self.connected.is_set() and time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(0.02)
        if self.fatal or not self.connected.is_set():
            raise FatalError(self.fatal or f"{s.broker}: no answer to CONNECT within {timeout:g} s")
        try:  # started means announced: whoever subscribes from now on finds "online" retained
            self._online.wait_for_publish(max(deadline - time.monotonic(), 0.1))
        except (RuntimeError, ValueError):
            pass  # disconnected meanwhile: it is sent again on reconnection

    def stop(self, publish_offline: bool = True) -> None:
        """No ``online`` answer from now on; the engine labels the windows in hand; then ``offline`` (unless
        told not to) and a clean disconnect."""
        with self._status_lock:
            self.stopping.set()
        self.engine.stop()
        if publish_offline and self.connected.is_set():
            info = self.publisher.status("offline")
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def wait(self) -> None:
        """Until the service is told to stop (a signal) or the broker will not have it (FatalError)."""
        while not self.stopping.wait(0.5):
            pass
        if self.fatal:
            raise FatalError(self.fatal)
