"""The RabbitMQ adapter: the daemon as one of several replicas, each device's readings pinned to one
of them by a consistent-hash exchange over quorum queues with a single active consumer (needs the
``rabbitmq`` extra: pika)."""
from .declare import TopologyError, declare, set_up
from .replica import Replica
from .topology import Topology

__all__ = ["Replica", "Topology", "TopologyError", "declare", "set_up"]
