"""Declaring the topology (``topology``) on RabbitMQ: idempotent, and loud about a mismatch."""
from __future__ import annotations

import pika
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker

from .link import parameters
from .topology import QUEUE_ARGUMENTS, Topology, permissions_command


class TopologyError(Exception):
    """The broker cannot hold the topology, or holds one that does not match ours."""


def declare(params: pika.ConnectionParameters, topology: Topology, bindings: list[str]) -> list[str]:
    """Declare exchanges, partition queues and bindings (again: declaring what exists changes nothing);
    return what was declared, one line each.  Raises TopologyError, or AMQPConnectionError."""
    conn = pika.BlockingConnection(params)
    done = []
    try:
        ch = conn.channel()
        t = topology
        try:
            ch.exchange_declare(t.exchange, "x-consistent-hash", durable=True)
        except ChannelClosedByBroker as exc:
            raise TopologyError(f"exchange {t.exchange}: {exc.reply_text}; is the rabbitmq_consistent_hash_exchange "
                                "plugin enabled? (rabbitmq-plugins enable rabbitmq_mqtt rabbitmq_consistent_hash_exchange)") from None
        ch.exchange_declare(t.presence_exchange, "fanout", durable=True)
        done += [f"exchange {t.exchange} (x-consistent-hash)", f"exchange {t.presence_exchange} (fanout)"]
        for key in bindings:
            ch.exchange_bind(t.exchange, "amq.topic", key)
            done.append(f"binding amq.topic -> {t.exchange} for {key}")
        for p in range(t.partitions):
            q = t.queue(p)
            try:
                ch.queue_declare(q, durable=True, arguments=QUEUE_ARGUMENTS)
            except ChannelClosedByBroker as exc:
                raise TopologyError(f"queue {q}: {exc.reply_text}; it exists with other arguments than a quorum queue "
                                    "with single active consumer: delete it, or use another prefix") from None
            ch.queue_bind(q, t.exchange, "1")  # weight 1: every partition an equal share of the hash ring
        done.append(f"{t.partitions} quorum queues {t.queue(0)} .. {t.queue(t.partitions - 1)}, single active consumer")
        try:  # a partition beyond ours, left by a run with more: the hash would send devices there, unread
            ch.queue_declare(t.queue(t.partitions), passive=True)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        else:
            raise TopologyError(f"queue {t.queue(t.partitions)} exists: the broker holds more partitions than {t.partitions}, "
                                "and readings hashed to them would wait unread. Use the same --partitions on every replica, "
                                "or delete the extra queues (rabbitmqctl delete_queue ...)")
    finally:
        if conn.is_open:
            conn.close()
    return done


def set_up(settings) -> list[str]:
    """``harstream rabbitmq-setup``: declare the topology of these settings; the lines to print.  Raises
    TopologyError, with the reason in one line, also when the broker cannot be reached."""
    topology = Topology(settings.prefix, settings.partitions)
    params = parameters(settings, "harstream-setup")
    try:
        done = declare(params, topology, topology.bindings(settings.sensor_logger_topic))
    except TopologyError:
        raise
    except Exception as exc:  # pika's connection errors, a name that does not resolve
        raise TopologyError(f"RabbitMQ {settings.amqp}: cannot declare ({why_not(exc)})") from None
    return [f"declared {line}" for line in done] + [
        f"a replica's user needs: {permissions_command(params.credentials.username, params.virtual_host)}"]


def why_not(exc: Exception) -> str:
    """What pika's connection error wraps (an error in an error), in a few words.

    >>> why_not(Exception(Exception(ConnectionRefusedError(111, "Connection refused"))))
    'Connection refused'
    """
    inner = exc
    for _ in range(5):
        if isinstance(inner, OSError) and inner.strerror:
            return inner.strerror
        wrapped = getattr(inner, "exception", None) or (inner.args[0] if inner.args else None)  # (pika keeps it in .exception)
        if not isinstance(wrapped, Exception):
            break
        inner = wrapped
    return str(inner) or type(inner).__name__


__all__ = ["AMQPConnectionError", "TopologyError", "declare", "set_up", "why_not"]
