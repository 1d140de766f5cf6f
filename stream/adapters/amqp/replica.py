"""``harstream serve --amqp``: the daemon as one of several replicas behind RabbitMQ.

Readings come from the partition queues (``topology``) through the ``link``; everything else is
the MQTT daemon's: the intake, the worker, the publisher for status, stats and Home Assistant
discovery (over RabbitMQ's MQTT plugin, which keeps them retained and sends our last will).
Labels go back to ``amq.topic`` on the channel that acknowledged their readings, so MQTT
subscribers see them on ``<prefix>/<device>/activity`` as from one daemon.

``<prefix>/status`` stands for the service, as for MQTT daemons (``Daemon.answer_status``).
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict, deque

from ..mqtt.daemon import Daemon
from ..mqtt.publisher import _dumps
from .balance import Roster, to_release
from .declare import TopologyError, declare, why_not
from .link import Link, parameters
from .topology import Topology, routing_key, topic

log = logging.getLogger("harstream")
# pika says every channel opened at INFO and every failed connection attempt, with a traceback, at ERROR:
# the link and the replica say what matters, once, in one line.
logging.getLogger("pika").setLevel(logging.CRITICAL)


class Replica(Daemon):
    #: Seconds between announcements to the other replicas (one silent for three is gone).
    BEAT_S = 1.0
    #: Seconds between markers into the partitions not known to be held, besides when a replica goes
    #: (see ``Link.probe``): every replica sends one per such partition, so not every beat.
    PROBE_EVERY_S = 30.0

    def __init__(self, settings, model):
        super().__init__(settings, model)
        self.topology = Topology(settings.prefix, settings.partitions)
        self.group = self.topology.exchange
        self.roster = Roster(self.client_id, self.BEAT_S)
        self.replica_counts = Counter()
        self._devices_of: dict[int, set[str]] = defaultdict(set)  # partition -> devices heard on it
        self._partition_of: dict[str, int] = {}
        self._soon: set[str] = set()  # link-thread jobs already scheduled
        self._peers: set[str] = set()
        self._probed = 0.0
        self._outbox: deque[tuple[str, bytes]] = deque()  # labels on their way to the link's thread
        self._carried: dict[str, tuple[dict, float]] = {}  # device -> (state from its last replica, when it came)
        self.params = parameters(settings, self.client_id)
        self.intake.on_evicted = self._on_evicted
        self.link = Link(self.params, self.topology, self.client_id, settings.amqp_prefetch,
                         on_reading=self._on_reading, on_acquired=self._on_acquired, on_released=self._on_released,
                         on_lost=self._on_lost, on_ready=self._on_ready, on_presence=self._on_presence, qos=settings.qos,
                         prepare=lambda: declare(self.params, self.topology, self.topology.bindings(settings.sensor_logger_topic)))

    # -- MQTT: only the service's own topics; readings come from RabbitMQ --------------------------
    def _topics(self):
        s = self.settings
        topics = [(f"{s.prefix}/status", 1), (f"{s.prefix}/stats", 0),
                  (f"{s.prefix}/+/carried", 1)]  # a device's placement belief and time filter, from the replica it left
        if s.ha_discovery:
            topics.append((self._ha_status, 1))
        return topics

    # -- readings (link thread) ------------------------------------------------------------------
    def _on_reading(self, partition: int, key: str, body: bytes, redelivered: bool) -> None:
        if redelivered:  # left unacknowledged by a replica that died or let the partition go
            self.replica_counts["redelivered"] += 1
        received = self.intake.on_message(topic(key), body)
        if received:
            device, windows = received
            if self._partition_of.get(device) != partition:
                self._partition_of[device] = partition
                self._devices_of[partition].add(device)
            if windows:
                self.worker.put(windows)

    def _send_label(self, label) -> None:
        """Labels leave in the order they were made, from whichever thread made them: through one outbox,
        emptied on the link's thread (a label made there must not overtake one waiting to be sent)."""
        self._outbox.append((routing_key(f"{self.settings.prefix}/{label.device}/activity"), _dumps(label.to_dict())))
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
                self.counts["dropped_labels"] += 1

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
        dropped = self.intake.hand_over(devices, self.worker.enqueue, carry=self._send_carried)
        self.replica_counts["released"] += 1
        self.replica_counts["devices_handed_over"] += len(devices)
        self.replica_counts["samples_dropped"] += dropped
        log.info("partition %d let go: %d devices move on, %d samples of windows in progress dropped",
                 partition, len(devices), dropped)
        self._soon_do("announce", 0.02, self._announce)

    # -- what a device's labels carry from window to window, handed to its next replica -------------------
    CARRIED_FOR_S = 60.0  # a carried state not claimed by then (the device went quiet) is forgotten

    def _send_carried(self, device: str, state: dict) -> None:
        """A device leaves (under the intake's lock): its next replica continues its placement belief and time
        filter instead of starting afresh (which changed about 2% of labels after a move)."""
        state["filter"]["last_start"] = None  # the windows lost in the move are no gap in the person's activity
        self.client.publish(f"{self.settings.prefix}/{device}/carried", json.dumps(state), qos=1)

    def _on_message(self, client, userdata, msg):
        if msg.topic.endswith("/carried") and msg.topic.startswith(f"{self.settings.prefix}/"):
            try:
                state = json.loads(msg.payload)
                device = msg.topic[len(self.settings.prefix) + 1:-len("/carried")]
                float(state.get("placement", 0.0))
            except (ValueError, TypeError, AttributeError):
                return
            self.link.call(self._take_carried, device, state)
            return
        super()._on_message(client, userdata, msg)

    def _take_carried(self, device: str, state: dict) -> None:
        """(link thread) Restore now if the device is already ours, else when it arrives."""
        now = time.monotonic()
        for old in [d for d, (_, at) in self._carried.items() if now - at > self.CARRIED_FOR_S]:
            del self._carried[old]
        with self.intake.lock:
            if device in self.recognizer.devices:
                self._restore(device, state)
            else:
                self._carried[device] = (state, now)

    def _restore(self, device: str, state: dict) -> None:
        try:
            self.recognizer.restore(device, state)
            self.replica_counts["devices_carried_over"] += 1
        except (TypeError, ValueError, AttributeError):  # not what a replica sent: ignored
            pass

    def _on_new_device(self, device: str) -> None:
        super()._on_new_device(device)
        carried = self._carried.pop(device, None)
        if carried is not None:
            self._restore(device, carried[0])

    def _on_evicted(self, device: str) -> None:
        """A device silent for idle_timeout (housekeeping thread): unavailable, and out of our maps."""
        self.publisher.forget(device)
        self.link.call(self._unmap, device)

    def _unmap(self, device: str) -> None:
        partition = self._partition_of.pop(device, None)
        if partition is not None:
            self._devices_of[partition].discard(device)

    def _on_lost(self) -> None:
        """The connection is gone, and every partition with it: forget all devices, and every window not yet
        labelled (their readings may go to another replica, which must not label them twice)."""
        devices = set(self._partition_of)
        self._devices_of.clear()
        self._partition_of.clear()
        self._soon.clear()
        self.replica_counts["samples_dropped"] += self.intake.hand_over(devices, lambda windows: None)
        self.replica_counts["devices_handed_over"] += len(devices)
        self.replica_counts["windows_dropped"] += self.worker.drop_all()  # a batch in hand finds no connection

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
    def stats(self) -> dict:
        stats = super().stats()
        stats["group"] = self.group
        stats["replica"] = {"partitions": sorted(self.link.active), "peers": sorted(self.roster.peers(time.monotonic())),
                            **{k: self.replica_counts[k] for k in ("acquired", "released", "redelivered", "devices_handed_over", "devices_carried_over",
                                                                   "samples_dropped", "windows_dropped")}}
        return stats

    def start(self, timeout: float = 10.0) -> None:
        from ..mqtt.connection import FatalError

        self._declare_when_up()
        super().start(timeout)
        self.link.start()
        deadline = time.monotonic() + timeout
        while not self.link.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.link.connected.is_set():
            self.stop(publish_offline=False)
            raise FatalError(f"RabbitMQ {self.settings.amqp}: not consuming after {timeout:g} s ({self.link.error})")

    def _declare_when_up(self) -> None:
        """Declare the topology; while RabbitMQ is not up yet (a boot), retry for ``connect_timeout`` seconds."""
        from pika.exceptions import AMQPConnectionError, ProbableAuthenticationError

        from ..mqtt.connection import FatalError

        s, delay = self.settings, 1.0
        deadline = time.monotonic() + s.connect_timeout
        while True:
            try:
                for line in declare(self.params, self.topology, self.topology.bindings(s.sensor_logger_topic)):
                    log.debug("declared %s", line)
                return
            except TopologyError as exc:
                raise FatalError(str(exc)) from None
            except ProbableAuthenticationError:
                raise FatalError(f"RabbitMQ {s.amqp}: user name or password refused") from None
            except (AMQPConnectionError, OSError) as exc:
                why = f"RabbitMQ {s.amqp}: cannot connect ({why_not(exc)})"
                if time.monotonic() + delay > deadline or self.stopping.is_set():
                    raise FatalError(why + (f"; gave up after {s.connect_timeout:g} s (connect_timeout)" if s.connect_timeout else "")) from None
                log.warning("%s; trying again in %g s", why, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    def stop(self, publish_offline: bool = True) -> None:
        """Stop taking readings, label what is complete, let the partitions go to the other replicas."""
        self.link.pause()
        super().stop(publish_offline=publish_offline)  # the others answer "offline" with "online" while they serve
        self.link.stop(self._presence(leaving=True))
