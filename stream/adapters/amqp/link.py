"""One connection to RabbitMQ on its own thread: every partition consumed, labels published.

pika's ``SelectConnection`` runs on this thread only; other threads reach it through
``call`` (``add_callback_threadsafe``).  What the link promises the replica:

* ``on_reading(partition, routing_key, body, redelivered)`` for each reading, in the order the
  partition holds them; a reading is acknowledged after that call returns (in batches).
* ``publish`` sends the acknowledgements of every reading handled so far first, on the same
  channel: a label never reaches the broker before the readings it was made of are settled, so
  a replica that dies cannot leave readings that a survivor would turn into the same label again.
* ``on_acquired(partition)`` when a partition's first reading or marker arrives (the broker made
  us its active consumer; ``probe`` finds out for quiet partitions); ``release(partition)`` cancels it and queues us again as standby, and
  ``on_released(partition)`` follows once the broker confirms that nothing more will come.
* ``on_lost()`` when the connection goes: every partition is gone with it.
"""
from __future__ import annotations

import logging
import ssl
import threading
import time
from urllib.parse import unquote, urlparse

import pika
from pika.exceptions import AMQPError

from ..config import Settings
from .topology import Topology

log = logging.getLogger("harstream")


def parameters(s: Settings, name: str) -> pika.ConnectionParameters:
    """pika's connection parameters from ``amqp://[user@]host[:port][/vhost]`` (or ``amqps://``), with the
    MQTT settings' user, password and TLS files: one RabbitMQ user serves both plugins."""
    url = urlparse(s.amqp)  # checked by Settings.validate
    tls = url.scheme == "amqps"
    options = None
    if tls:
        context = ssl.create_default_context(cafile=s.ca)
        if s.cert:
            context.load_cert_chain(s.cert, s.key)
        context.check_hostname = not s.insecure
        options = pika.SSLOptions(context, server_hostname=url.hostname)
    user = unquote(url.username) if url.username else (s.username or "guest")
    return pika.ConnectionParameters(
        host=url.hostname, port=url.port or (5671 if tls else 5672), virtual_host=unquote(url.path[1:]) if len(url.path) > 1 else "/",
        credentials=pika.PlainCredentials(user, s.password or "guest"), ssl_options=options,
        heartbeat=s.amqp_heartbeat, connection_attempts=1, blocked_connection_timeout=60,
        client_properties={"connection_name": name, "product": "harstream"})


class Link:
    #: Readings acknowledged in one go: every ACK_EVERY, or ACK_WAIT_S after the first not yet acknowledged.
    ACK_EVERY = 64
    ACK_WAIT_S = 0.005

    def __init__(self, params: pika.ConnectionParameters, topology: Topology, replica: str, prefetch: int,
                 on_reading, on_acquired, on_released, on_lost, on_ready, on_presence, qos: int = 1, prepare=None):
        self.params, self.topology, self.replica, self.prefetch = params, topology, replica, prefetch
        self.prepare = prepare  # called before every connection but the first: declares the topology again
        self.on_reading, self.on_acquired, self.on_released = on_reading, on_acquired, on_released
        self.on_lost, self.on_ready, self.on_presence = on_lost, on_ready, on_presence
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.active: set[int] = set()  # partitions the broker delivers to us
        self._releasing: set[int] = set()
        self._tags: dict[str, int] = {}  # consumer tag -> partition
        self._conn: pika.SelectConnection | None = None
        self._channel = None
        self._last_tag, self._unacked, self._ack_timer = 0, 0, None
        self._label_properties = pika.BasicProperties(delivery_mode=2 if qos else 1, content_type="application/json")
        self._thread: threading.Thread | None = None
        self._opened = False  # a channel was opened on the current connection
        self.error: str | None = None  # why the last connection attempt failed

    # -- life cycle (any thread) ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="harstream-amqp", daemon=True)
        self._thread.start()

    def on_thread(self) -> bool:
        """Whether the caller runs on the link's thread (where pika may be called directly)."""
        return threading.current_thread() is self._thread

    def held(self) -> list[int]:
        """The partitions we hold and are not letting go."""
        return [p for p in self.active if p not in self._releasing]

    def call(self, fn, *args) -> bool:
        """Run ``fn(*args)`` on the link's thread; False if there is no connection to run it on."""
        conn = self._conn
        if conn is None or not conn.is_open:
            return False
        try:
            conn.ioloop.add_callback_threadsafe(lambda: fn(*args))
            return True
        except (AttributeError, RuntimeError, AMQPError):  # closed meanwhile
            return False

    def pause(self, timeout: float = 5.0) -> None:
        """Cancel every consumer and wait until the broker confirms: no reading arrives after this."""
        self.call(self._cancel_all)
        deadline = time.monotonic() + timeout
        while (self._tags or self.active) and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, farewell: bytes | None = None, timeout: float = 5.0) -> None:
        """Acknowledge what was handled, say goodbye to the other replicas, close."""
        self.stopping.set()
        if not self.call(self._close, farewell) and self._conn is not None:
            try:  # still connecting: stop trying
                self._conn.ioloop.add_callback_threadsafe(self._conn.ioloop.stop)
            except (AttributeError, RuntimeError, AMQPError):
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the link's thread ----------------------------------------------------------------------
    def _run(self) -> None:
        delay, first = 1.0, True
        while not self.stopping.is_set():
            if not first and self.prepare is not None:
                try:  # a queue deleted, a broker reset: what we consume from must be there again
                    self.prepare()
                except Exception as exc:
                    self.error = str(exc) or type(exc).__name__
                    log.warning("RabbitMQ: cannot declare the partitions (%s); trying again", self.error)
                    delay = min(delay * 2, 10.0)
                    self.stopping.wait(delay)
                    continue
            first = False
            self._conn = pika.SelectConnection(self.params, on_open_callback=self._on_open,
                                               on_open_error_callback=self._on_open_error, on_close_callback=self._on_closed)
            self._conn.ioloop.start()  # until _on_closed or _on_open_error stops it
            if self.stopping.is_set():
                break
            delay = 1.0 if self.error is None else min(delay * 2, 10.0)
            self.stopping.wait(delay)

    def _on_open_error(self, conn, error) -> None:
        self.error = str(error) or type(error).__name__
        log.warning("RabbitMQ %s:%s: %s; trying again", self.params.host, self.params.port, self.error)
        conn.ioloop.stop()

    def _on_closed(self, conn, reason) -> None:
        was = self._opened  # (readings may have come before every consumer was confirmed)
        self._opened = False
        self.connected.clear()
        self._channel, self.active, self._releasing, self._tags = None, set(), set(), {}
        self._unacked, self._ack_timer = 0, None
        if was:
            self.on_lost()
            if not self.stopping.is_set():
                log.warning("lost the connection to RabbitMQ (%s); reconnecting", reason)
        conn.ioloop.stop()

    def _on_open(self, conn) -> None:
        self.error = None
        if self.stopping.is_set():
            conn.close()
            return
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        self._channel, self._opened = channel, True
        channel.add_on_close_callback(lambda ch, reason: self._conn.is_open and self._conn.close())
        channel.add_on_cancel_callback(self._on_broker_cancel)
        channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _: self._presence())

    def _presence(self) -> None:
        """Our own queue on the presence exchange (gone with the connection), then every partition."""
        t, ch = self.topology, self._channel
        q = t.presence_queue(self.replica)

        def bound(_):
            ch.basic_consume(q, lambda c, m, p, body: self.on_presence(body), auto_ack=True)
            self._consume_all()

        ch.queue_declare(q, exclusive=True, auto_delete=True,
                         callback=lambda _: ch.queue_bind(q, t.presence_exchange, callback=bound))

    def _consume_all(self) -> None:
        """Register on every partition, ours by rotation first: replicas started together each find
        some queues free, rather than all waiting behind the first."""
        n = self.topology.partitions
        first = sum(self.replica.encode()) % n
        waiting = set(range(n))

        def ok(partition):
            waiting.discard(partition)
            if not waiting:
                self.connected.set()
                log.info("consuming %d partitions of %s (active where no other replica is)", n, self.topology.exchange)
                self.on_ready()

        for i in range(n):
            self._consume((first + i) % n, ok)

    def _consume(self, partition: int, then=None) -> None:
        tag = self._channel.basic_consume(self.topology.queue(partition), self._on_message,
                                          callback=(lambda _: then(partition)) if then else None)
        self._tags[tag] = partition

    def _on_broker_cancel(self, frame) -> None:
        """The broker cancelled a consumer of ours: its queue was deleted.  Start again: reconnect, declare."""
        partition = self._tags.get(frame.method.consumer_tag)
        log.warning("RabbitMQ cancelled our consumer of %s (the queue deleted?); reconnecting to declare it again",
                    self.topology.queue(partition) if partition is not None else frame.method.consumer_tag)
        if self._conn is not None and self._conn.is_open:
            self._conn.close()

    def _on_message(self, channel, method, properties, body) -> None:
        partition = self._tags.get(method.consumer_tag)
        if partition is None:  # (a consumer cancelled by the broker, e.g. its queue deleted)
            return
        if partition not in self.active:
            self.active.add(partition)
            self.on_acquired(partition)
        try:
            if method.exchange:  # (a marker comes straight to the queue, by the default exchange)
                self.on_reading(partition, method.routing_key, body, method.redelivered)
        finally:
            self._last_tag = method.delivery_tag
            self._unacked += 1
            if self._unacked >= self.ACK_EVERY:
                self.ack()
            elif self._ack_timer is None:
                self._ack_timer = self._conn.ioloop.call_later(self.ACK_WAIT_S, self._ack_later)

    def _ack_later(self) -> None:
        self._ack_timer = None
        self.ack()

    def ack(self) -> None:
        """Acknowledge every reading handled so far (link thread)."""
        if self._unacked and self._channel is not None and self._channel.is_open:
            self._channel.basic_ack(self._last_tag, multiple=True)
        self._unacked = 0

    def publish(self, routing_key: str, body: bytes) -> bool:
        """A label to amq.topic (link thread), after the acknowledgements it depends on."""
        if self._channel is None or not self._channel.is_open:
            return False
        self.ack()
        self._channel.basic_publish("amq.topic", routing_key, body, self._label_properties)
        return True

    def probe(self, partitions=None) -> None:
        """A marker into each of ``partitions`` (default: every one we are not known to hold), straight to
        the queue.  The broker tells a consumer nothing when it becomes active, only sends it messages:
        whoever holds a quiet partition learns it from the marker."""
        if self._channel is not None and self._channel.is_open:
            for partition in (set(self._tags.values()) - self.active) if partitions is None else partitions:
                self._channel.basic_publish("", self.topology.queue(partition), b"")

    def announce(self, body: bytes) -> None:
        if self._channel is not None and self._channel.is_open:
            self._channel.basic_publish(self.topology.presence_exchange, "", body)

    def later(self, seconds: float, fn) -> None:
        if self._conn is not None and self._conn.is_open:
            self._conn.ioloop.call_later(seconds, fn)

    def release(self, partition: int) -> None:
        """Let a partition go to the next replica waiting for it, and wait for it again ourselves."""
        tag = next((t for t, p in self._tags.items() if p == partition), None)
        if tag is None or partition in self._releasing or self._channel is None:
            return
        self._releasing.add(partition)

        def cancelled(_):
            self._tags.pop(tag, None)
            self.active.discard(partition)
            self._releasing.discard(partition)
            self.on_released(partition)
            if not self.stopping.is_set():
                self._consume(partition)
                self.probe([partition])  # tells its next holder at once, even if it is quiet

        self.ack()
        self._channel.basic_cancel(tag, callback=cancelled)

    def check_alive(self, queue: str, then) -> None:
        """``then(False)`` if the exclusive queue is gone (its replica's connection with it), else ``then(True)``:
        the broker answers at once, where a replica's silence takes seconds to notice."""
        def opened(ch):
            ch.add_on_close_callback(lambda c, reason: then(getattr(reason, "reply_code", 0) != 404))
            ch.queue_declare(queue, passive=True, callback=lambda _: ch.close())

        if self._conn is not None and self._conn.is_open:
            self._conn.channel(on_open_callback=opened)

    def _cancel_all(self) -> None:
        if self._channel is None or not self._channel.is_open:
            return
        for tag in list(self._tags):
            partition = self._tags[tag]

            def cancelled(_, tag=tag, partition=partition):
                self._tags.pop(tag, None)
                if partition in self.active:
                    self.active.discard(partition)
                    self.on_released(partition)

            self._channel.basic_cancel(tag, callback=cancelled)

    def _close(self, farewell: bytes | None) -> None:
        self.ack()
        if farewell is not None:
            self.announce(farewell)
        if self._conn is not None and self._conn.is_open:
            self._conn.close()
