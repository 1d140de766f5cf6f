"""A small in-process MQTT 3.1.1 broker, for ``harstream demo`` where Mosquitto is not installed.

Enough for one machine's demo and tests: QoS 0 and 1 (QoS 2 is granted as 1),
``+``/``#`` wildcards, retained messages, last wills, keep-alive pings.  No
authentication, no persistence: use Mosquitto for anything real.
"""
from __future__ import annotations

import socket
import socketserver
import struct
import threading


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard match.

    >>> topic_matches("har/+/imu", "har/phone/imu"), topic_matches("har/#", "har"), topic_matches("+/x", "$SYS/x")
    (True, True, False)
    """
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


def _read_exact(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _packet(kind: int, body: bytes) -> bytes:
    length, encoded = len(body), b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return bytes([kind]) + encoded + body


def _string(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("!H", data, at)
    return data[at + 2:at + 2 + n].decode("utf-8"), at + 2 + n


class _Session:
    def __init__(self, broker: "MiniBroker", sock):
        self.broker, self.sock = broker, sock
        self.subs: dict[str, int] = {}
        self.will = None
        self.lock = threading.Lock()
        self.next_id = 0

    def send(self, data: bytes) -> None:
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass

    def deliver(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        header = 0x30 | (qos << 1) | (1 if retain else 0)
        body = struct.pack("!H", len(topic.encode())) + topic.encode()
        if qos:
            self.next_id = self.next_id % 65535 + 1
            body += struct.pack("!H", self.next_id)
        self.send(_packet(header, body + payload))

    def serve(self) -> None:
        clean = False
        try:
            while True:
                first = _read_exact(self.sock, 1)[0]
                length, shift = 0, 0
                while True:
                    byte = _read_exact(self.sock, 1)[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = _read_exact(self.sock, length) if length else b""
                kind = first >> 4
                if kind == 1:  # CONNECT
                    _, at = _string(body, 0)
                    flags = body[at + 1]
                    at += 4
                    _, at = _string(body, at)  # client id
                    if flags & 0x04:
                        topic, at = _string(body, at)
                        (n,) = struct.unpack_from("!H", body, at)
                        self.will = (topic, body[at + 2:at + 2 + n], (flags >> 3) & 3, bool(flags & 0x20))
                    self.send(b"\x20\x02\x00\x00")
                elif kind == 3:  # PUBLISH
                    qos = (first >> 1) & 3
                    topic, at = _string(body, 0)
                    if qos:
                        packet_id = body[at:at + 2]
                        at += 2
                        self.send(b"\x40\x02" + packet_id)
                    self.broker.publish(topic, body[at:], min(qos, 1), bool(first & 1))
                elif kind == 8:  # SUBSCRIBE
                    packet_id, at, granted = body[:2], 2, b""
                    new = []
                    while at < len(body):
                        pattern, at = _string(body, at)
                        qos = min(body[at], 1)
                        at += 1
                        self.subs[pattern] = qos
                        granted += bytes([qos])
                        new.append(pattern)
                    self.send(_packet(0x90, packet_id + granted))
                    for topic, (payload, qos) in list(self.broker.retained.items()):
                        for pattern in new:
                            if topic_matches(pattern, topic):
                                self.deliver(topic, payload, min(qos, self.subs[pattern]), retain=True)
                                break
                elif kind == 10:  # UNSUBSCRIBE
                    at = 2
                    while at < len(body):
                        pattern, at = _string(body, at)
                        self.subs.pop(pattern, None)
                    self.send(_packet(0xB0, body[:2]))
                elif kind == 12:  # PINGREQ
                    self.send(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    clean = True
                    return
                # PUBACK (4) from subscribers needs nothing: no redelivery here.
        except (ConnectionError, OSError, IndexError, struct.error, UnicodeDecodeError):
            pass
        finally:
            self.broker.leave(self)
            if not clean and self.will:
                self.broker.publish(*self.will)
            try:
                self.sock.close()
            except OSError:
                pass


class MiniBroker:
    """``with MiniBroker() as b: ... b.port``: a broker on 127.0.0.1 in background threads."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        broker = self
        self.sessions: set[_Session] = set()
        self.retained: dict[str, tuple[bytes, int]] = {}
        self.lock = threading.Lock()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                session = _Session(broker, self.request)
                with broker.lock:
                    broker.sessions.add(session)
                session.serve()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        if retain:
            with self.lock:
                if payload:
                    self.retained[topic] = (payload, qos)
                else:
                    self.retained.pop(topic, None)
        with self.lock:
            sessions = list(self.sessions)
        for session in sessions:
            granted = [q for pattern, q in list(session.subs.items()) if topic_matches(pattern, topic)]
            if granted:
                session.deliver(topic, payload, min(qos, max(granted)))

    def leave(self, session: _Session) -> None:
        with self.lock:
            self.sessions.discard(session)

    def start(self) -> "MiniBroker":
        threading.Thread(target=self.server.serve_forever, name="minibroker", daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            sessions = list(self.sessions)
        for session in sessions:
            try:
                session.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "MiniBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
