"""``harstream serve --amqp``: the engine as one of several replicas behind RabbitMQ.

Readings come from the partition queues (``topology``) through the ``link`` into the engine
(``harstream.engine``); status, stats and Home Assistant discovery go over an MQTT session
(``adapters.mqtt.session``: RabbitMQ's MQTT plugin keeps them retained and sends our last will).
Labels go back to ``amq.topic`` on the channel that acknowledged their readings, so MQTT
subscribers see them on ``<prefix>/<device>/activity`` as from one daemon.

``<prefix>/status`` stands for the service, as for MQTT daemons (``Session.answer_status``).
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict, deque

from ...engine import Engine, Events
from ..mqtt.connection import FatalError
from ..mqtt.publisher import dumps
from ..mqtt.session import Session
from ..retry import until_up
from .balance import Roster, to_release
from .declare import TopologyError, declare, why_not
from .link import Link, parameters
from .topology import Topology, routing_key, topic

log = logging.getLogger("harstream")
# pika says every channel opened at INFO and every failed connection attempt, with a traceback, at ERROR:
# the link and the replica say what matters, once, in one line.
logging.getLogger("pika").setLevel(logging.CRITICAL)


class Replica(Events):
    """An engine, an MQTT session for the service's own topics, and a link to RabbitMQ's partitions."""

    #: Seconds between announcements to the other replicas (one silent for three is gone).
    BEAT_S = 1.0
    #: Seconds between markers into the partitions not known to be held, besides when a replica goes
    #: (see ``Link.probe``): every replica sends one per such partition, so not every beat.
    PROBE_EVERY_S = 30.0

    def __init__(self, settings, model):
        self.settings, self.model = settings, model
        self.topology = Topology(settings.prefix, settings.partitions)
        self.group = self.topology.exchange
        self.engine = Engine(settings, model, events=self)
        # MQTT: only the service's own topics, and the state of devices arriving from another replica
        self.session = Session(settings, self.engine, topics=[(f"{settings.prefix}/+/carried", 1)],
                               on_message=self._on_carried, group=self.group)
        self.publisher, self.client_id, self.connected = self.session.publisher, self.session.client_id, self.session.connected
        self.roster = Roster(self.client_id, self.BEAT_S)
        self.replica_counts = Counter()
        self._devices_of: dict[int, set[str]] = defaultdict(set)  # partition -> devices heard on it
        self._partition_of: dict[str, int] = {}
        self._soon: set[str] = set()  # link-thread jobs already scheduled
        self._peers: set[str] = set()
        self._probed = 0.0
        self._outbox: deque[tuple[str, bytes]] = deque()  # labels on their way to the link's thread
        self.params = parameters(settings, self.client_id)
        self.link = Link(self.params, self.topology, self.client_id, settings.amqp_prefetch,
                         on_reading=self._on_reading, on_acquired=self._on_acquired, on_released=self._on_released,
                         on_lost=self._on_lost, on_ready=self._on_ready, on_presence=self._on_presence, qos=settings.qos,
                         prepare=lambda: declare(self.params, self.topology, self.topology.bindings(settings.sensor_logger_topic)))

    # -- readings (link thread) ------------------------------------------------------------------
    def _on_reading(self, partition: int, key: str, body: bytes, redelivered: bool) -> None:
        if redelivered:  # left unacknowledged by a replica that died or let the partition go
            self.replica_counts["redelivered"] += 1
        device = self.engine.receive(topic(key), body)
        if device is not None and self._partition_of.get(device) != partition:
            self._partition_of[device] = partition
            self._devices_of[partition].add(device)

    # -- the engine's events -----------------------------------------------------------------------
    def label(self, label) -> None:
        """Labels leave in the order they were made, from whichever thread made them: through one outbox,
        emptied on the link's thread (a label made there must not overtake one waiting to be sent)."""
        self._outbox.append((routing_key(f"{self.settings.prefix}/{label.device}/activity"), dumps(label.to_dict())))
        if self.link.on_thread():
            self._send()
        elif not self.link.call(self._send):
            self._send(drop=True)
        self.publisher.noted(label)

    def _send(self, drop: bool = False) -> None:
        while self._outbox:
            try:
                key, body = self._outbox.popleft()
            except IndexError:  # emptied by another thread meanwhile
                return
            if drop or not self.link.publish(key, body):
                self.engine.counts["dropped_labels"] += 1

    def device_added(self, device: str) -> None:
        self.session.device_added(device)

    def device_gone(self, device: str) -> None:
        """A device silent for idle_timeout (housekeeping thread): unavailable, and out of our maps."""
        self.publisher.forget(device)
        self.link.call(self._unmap, device)

    def _unmap(self, device: str) -> None:
        partition = self._partition_of.pop(device, None)
        if partition is not None:
            self._devices_of[partition].discard(device)

    def report(self, stats: dict) -> None:
        self.session.stats({**stats, "group": self.group, "replica": self._replica_stats()})

    # -- partitions coming and going (link thread) ----------------------------------------------
    def _on_acquired(self, partition: int) -> None:
        self.replica_counts["acquired"] += 1
        log.info("partition %d is ours now (%d held)", partition, len(self.link.active))
        self._soon_do("announce", 0.02, self._announce)
        self._soon_do("check", 0.01, self._check_peers)  # came to us unasked: has its holder died?
        self._soon_do("balance", 0.05, self._balance)

    def _check_peers(self) -> None:
        self._soon.discard("check")
        for peer in self.roster.peers(time.monotonic()):
            self.link.check_alive(self.topology.presence_queue(peer), lambda alive, peer=peer: alive or self._gone(peer))

    def _on_released(self, partition: int) -> None:
        devices = self._devices_of.pop(partition, set())
        for device in devices:
            self._partition_of.pop(device, None)
        dropped = self.engine.hand_over(devices, carry=self._send_carried)
        self.replica_counts["released"] += 1
        self.replica_counts["devices_handed_over"] += len(devices)
        self.replica_counts["samples_dropped"] += dropped
        log.info("partition %d let go: %d devices move on, %d samples of windows in progress dropped",
                 partition, len(devices), dropped)
        self._soon_do("announce", 0.02, self._announce)

    # -- what a device's labels carry from window to window, handed to its next replica -------------------
    def _send_carried(self, device: str, state: dict) -> None:
        """A device leaves (under the engine's lock): its next replica continues its placement belief and time
        filter instead of starting afresh (which changed about 2% of labels after a move)."""
        state["filter"]["last_start"] = None  # the windows lost in the move are no gap in the person's activity
        self.session.client.publish(f"{self.settings.prefix}/{device}/carried", json.dumps(state), qos=1)

    def _on_carried(self, mqtt_topic: str, payload: bytes) -> None:
        """(paho's thread) A device's state from the replica it left: the engine continues it."""
        prefix = f"{self.settings.prefix}/"
        if not (mqtt_topic.startswith(prefix) and mqtt_topic.endswith("/carried")):
            return
        try:
            state = json.loads(payload)
            float(state.get("placement", 0.0))
        except (ValueError, TypeError, AttributeError):
            return
        self.engine.restore(mqtt_topic[len(prefix):-len("/carried")], state)

    def _on_lost(self) -> None:
        """The connection is gone, and every partition with it: forget all devices, and every window not yet
        labelled (their readings may go to another replica, which must not label them twice)."""
        devices = set(self._partition_of)
        self._devices_of.clear()
        self._partition_of.clear()
        self._soon.clear()
        samples, windows = self.engine.drop_all(devices)  # a batch in hand finds no connection
        self.replica_counts["samples_dropped"] += samples
        self.replica_counts["windows_dropped"] += windows
        self.replica_counts["devices_handed_over"] += len(devices)

    def _on_ready(self) -> None:
        self._probe()
        self._announce()
        self.link.later(self.BEAT_S, self._beat)

    # -- the other replicas ---------------------------------------------------------------------
    def _presence(self, leaving: bool = False) -> bytes:
        return json.dumps({"replica": self.client_id, "held": len(self.link.active), "leaving": leaving}).encode()

    def _on_presence(self, body: bytes) -> None:
        try:
            said = json.loads(body)
            replica, held = said["replica"], int(said["held"])
        except (ValueError, KeyError, TypeError):
            return
        if said.get("leaving"):
            self.roster.gone(replica)
            self._soon_do("probe", 0.5, self._probe_soon)  # after its cancels: who holds its quiet partitions now?
        else:
            self.roster.heard(replica, held, time.monotonic())

    def _gone(self, peer: str) -> None:
        log.info("replica %s is gone", peer)
        self.roster.gone(peer)
        self._soon_do("probe", 0.05, self._probe_soon)

    def _probe_soon(self) -> None:
        self._soon.discard("probe")
        self._probe()

    def _announce(self) -> None:
        self._soon.discard("announce")
        self.link.announce(self._presence())

    def _beat(self) -> None:
        peers = set(self.roster.peers(time.monotonic()))
        if self._peers - peers or time.monotonic() - self._probed >= self.PROBE_EVERY_S:
            self._probe()  # a replica gone: its quiet partitions have new holders, who must learn it
        self._peers = peers
        self._announce()
        self._balance()
        self.link.later(self.BEAT_S, self._beat)

    def _probe(self) -> None:
        self._probed = time.monotonic()
        self.link.probe()

    def _balance(self) -> None:
        self._soon.discard("balance")
        held = self.link.held()
        n = to_release(len(held), self.roster, self.topology.partitions, time.monotonic())
        # the partitions with the fewest devices: the least lost
        for partition in sorted(held, key=lambda p: (len(self._devices_of.get(p, ())), p))[:n]:
            self.link.release(partition)

    def _soon_do(self, name: str, seconds: float, fn) -> None:
        if name not in self._soon:
            self._soon.add(name)
            self.link.later(seconds, fn)

    # -- life cycle -------------------------------------------------------------------------------
    def _replica_stats(self) -> dict:
        counts = {**self.replica_counts, "devices_carried_over": self.engine.counts["devices_carried_over"]}
        return {"partitions": sorted(self.link.active), "peers": sorted(self.roster.peers(time.monotonic())),
                **{k: counts.get(k, 0) for k in ("acquired", "released", "redelivered", "devices_handed_over",
                                                 "devices_carried_over", "samples_dropped", "windows_dropped")}}

    def stats(self) -> dict:
        return {**self.engine.stats(), "client_id": self.client_id, "group": self.group, "replica": self._replica_stats()}

    def metric_values(self) -> list[tuple[str, str, str, float]]:
        """(kind, name, help, value) of this replica's own figures, for ``/metrics`` (adapters.metrics)."""
        values = [("counter", f"harstream_replica_{key}", what, self.replica_counts[key]) for key, what in [
            ("acquired", "Partitions this replica became the active consumer of"),
            ("released", "Partitions this replica let go (or lost with its connection)"),
            ("redelivered", "Readings another replica had taken and not acknowledged"),
            ("devices_handed_over", "Devices whose state this replica dropped as they moved on"),
            ("samples_dropped", "Samples of windows in progress dropped as devices moved on")]]
        return values + [("gauge", "harstream_replica_partitions", "Partitions this replica holds", len(self.link.active))]

    def start(self, timeout: float = 10.0) -> None:
        s = self.settings
        until_up(self._declare, limit=s.connect_timeout, stopping=self.engine.stopping, retriable=(OSError, *amqp_unreachable()),
                 why=lambda exc: f"RabbitMQ {s.amqp}: cannot connect ({why_not(exc)})", fail=FatalError)
        self.session.start(timeout)  # the engine with it
        self.link.start()
        deadline = time.monotonic() + timeout
        while not self.link.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.link.connected.is_set():
            self.stop(publish_offline=False)
            raise FatalError(f"RabbitMQ {s.amqp}: not consuming after {timeout:g} s ({self.link.error})")

    def _declare(self) -> None:
        """The topology, declared; what retrying cannot mend raises FatalError."""
        from pika.exceptions import ProbableAuthenticationError

        try:
            for line in declare(self.params, self.topology, self.topology.bindings(self.settings.sensor_logger_topic)):
                log.debug("declared %s", line)
        except TopologyError as exc:
            raise FatalError(str(exc)) from None
        except ProbableAuthenticationError:
            raise FatalError(f"RabbitMQ {self.settings.amqp}: user name or password refused") from None

    def stop(self, publish_offline: bool = True) -> None:
        """Stop taking readings, label what is complete, let the partitions go to the other replicas."""
        self.link.pause()
        self.session.stop(publish_offline)  # the others answer our "offline" with "online" while they serve
        self.link.stop(self._presence(leaving=True))

    def wait(self) -> None:
        self.session.wait()


def amqp_unreachable() -> tuple[type[Exception], ...]:
    from pika.exceptions import AMQPConnectionError

    return (AMQPConnectionError,)
