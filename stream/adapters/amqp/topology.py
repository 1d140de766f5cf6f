"""Where readings go on RabbitMQ, and the names of everything declared there.

Phones publish MQTT to RabbitMQ's MQTT plugin, which puts ``har/<device>/imu`` into the
``amq.topic`` exchange with the routing key ``har.<device>.imu`` (the plugin swaps ``/`` and
``.``).  An exchange-to-exchange binding passes those readings on to a consistent-hash exchange,
which hashes the routing key, so all readings of one device go to the same one of N partition
queues, in order.  Each partition is a quorum queue with a single active consumer: every replica
consumes every partition, and the broker lets one of them receive (``replica``).

    amq.topic --har.*.imu--> harstream.har.partitions (x-consistent-hash)
                               |--1--> harstream.har.p00  (quorum, single active consumer)
                               |--1--> ...
                               `--1--> harstream.har.p11
    harstream.har.replicas (fanout) --> harstream.har.replica.<id> (exclusive): who is alive, holding what
"""
from __future__ import annotations

from dataclasses import dataclass

#: MQTT topic <-> AMQP routing key, as RabbitMQ's MQTT plugin maps them: "/" and "." change places.
_SWAP = str.maketrans("/.", "./")


def routing_key(topic: str) -> str:
    """The routing key RabbitMQ's MQTT plugin gives an MQTT topic.

    >>> routing_key("har/anna.phone/imu")
    'har.anna/phone.imu'
    """
    return topic.translate(_SWAP)


def topic(key: str) -> str:
    """The MQTT topic of a routing key (the inverse of ``routing_key``).

    >>> topic("har.anna/phone.imu")
    'har/anna.phone/imu'
    """
    return key.translate(_SWAP)


@dataclass(frozen=True)
class Topology:
    """The names for one prefix and number of partitions.

    >>> t = Topology("har", 12)
    >>> t.exchange, t.queue(0), t.queue(11), t.readings_key
    ('harstream.har.partitions', 'harstream.har.p00', 'harstream.har.p11', 'har.*.imu')
    """

    prefix: str = "har"
    partitions: int = 12

    @property
    def base(self) -> str:
        return "harstream." + routing_key(self.prefix)

    @property
    def exchange(self) -> str:
        return f"{self.base}.partitions"

    @property
    def presence_exchange(self) -> str:
        return f"{self.base}.replicas"

    def presence_queue(self, replica: str) -> str:
        return f"{self.base}.replica.{replica}"

    def queue(self, partition: int) -> str:
        return f"{self.base}.p{partition:02d}"

    def partition_of(self, queue: str) -> int:
        return int(queue.rsplit(".p", 1)[1])

    @property
    def readings_key(self) -> str:
        return f"{routing_key(self.prefix)}.*.imu"

    def bindings(self, sensor_logger_topic: str | None) -> list[str]:
        """Routing keys passed from amq.topic to the partitions.  Sensor Logger names its device in the
        message, not the topic: all of its devices hash alike, and share one partition."""
        return [self.readings_key] + ([routing_key(sensor_logger_topic)] if sensor_logger_topic else [])


#: Every partition queue: replicated by Raft over the cluster's nodes, one consumer receiving at a time.
QUEUE_ARGUMENTS = {"x-queue-type": "quorum", "x-single-active-consumer": True}

MAX_PARTITIONS = 100

#: What a replica's RabbitMQ user needs (configure, write, read), for any prefix: its own exchanges and
#: queues; amq.topic (readings bound from it, labels published to it); the default exchange (markers);
#: the MQTT plugin's subscription queues (status and discovery go over MQTT with the same user).
PERMISSIONS = (r"^(harstream\..*|mqtt-subscription-.*)$",
               r"^(harstream\..*|amq\.topic|amq\.default|mqtt-subscription-.*)$",
               r"^(harstream\..*|amq\.topic|mqtt-subscription-.*)$")


def permissions_command(user: str, vhost: str = "/") -> str:
    r"""The rabbitmqctl line that gives ``user`` what a replica needs.

    >>> print(permissions_command("harstream"))  # doctest: +NORMALIZE_WHITESPACE
    rabbitmqctl set_permissions -p / harstream '^(harstream\..*|mqtt-subscription-.*)$'
    '^(harstream\..*|amq\.topic|amq\.default|mqtt-subscription-.*)$' '^(harstream\..*|amq\.topic|mqtt-subscription-.*)$'
    """
    return f"rabbitmqctl set_permissions -p {vhost} {user} " + " ".join(f"'{r}'" for r in PERMISSIONS)
