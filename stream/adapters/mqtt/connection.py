"""The MQTT connection: a paho client from the settings, connecting, and why a broker said no."""
from __future__ import annotations

import socket
import ssl
import threading

import paho.mqtt.client as mqtt

from ..config import Settings


class FatalError(Exception):
    """The daemon cannot run as configured (bad credentials, untrusted broker, ...)."""


class BrokerUnreachable(FatalError):
    """Nothing answers at the broker's address (yet): worth trying again, unlike a refusal."""


def make_client(s: Settings, client_id: str, clean_session: bool = True) -> mqtt.Client:
    """A paho client with the transport, TLS and credentials of the settings (not yet connected)."""
    host, port, transport, tls, path = s.endpoint()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         transport=transport, protocol=mqtt.MQTTv311)
    if transport == "websockets":
        client.ws_set_options(path=path)
    if tls:
        client.tls_set(ca_certs=s.ca, certfile=s.cert, keyfile=s.key, cert_reqs=ssl.CERT_REQUIRED)
        client.tls_insecure_set(s.insecure)
    if s.username:
        client.username_pw_set(s.username, s.password)
    client.on_socket_open = no_delay
    return client


def no_delay(client, userdata, sock) -> None:
    """Send small packets at once: with Nagle's algorithm, QoS 1 labels wait ~40 ms for the broker's delayed ACK."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):  # a websocket wrapper, or not TCP
        pass


def connect(client: mqtt.Client, s: Settings) -> None:
    """Open the connection (paho's network loop does the rest); an error the user must fix raises FatalError."""
    host, port, *_ = s.endpoint()
    try:
        client.connect(host, port, keepalive=s.keepalive)
    except ssl.SSLCertVerificationError as exc:
        if "Hostname mismatch" in str(exc.verify_message):
            raise FatalError(f"{s.broker}: the broker's certificate is for another name ({exc.verify_message}); "
                             "connect by the name it was issued for") from None
        raise FatalError(f"{s.broker}: the broker's certificate is not trusted ({exc.verify_message}); give its CA with 'ca'") from None
    except ssl.SSLError as exc:
        raise FatalError(f"{s.broker}: TLS failed ({exc.reason or exc})") from None
    except OSError as exc:
        raise BrokerUnreachable(f"{s.broker}: cannot connect ({exc.strerror or exc})") from None


def refusal(reason) -> str:
    text = f"the broker refused the connection: {reason}"
    if str(reason) in ("Bad user name or password", "Not authorized"):
        text += " (check username, and HARSTREAM_PASSWORD or password_file)"
    return text


def dropped_before_connack(last_error: str, reason) -> str:
    """Why a broker closed the connection before accepting it, usually a TLS alert about our certificate."""
    detail = last_error.replace("failed to receive on socket: ", "") or str(reason)
    if "certificate required" in detail or "handshake failure" in detail:
        return f"the broker wants a client certificate: give cert and key ({detail})"
    if "unknown ca" in detail or "bad certificate" in detail or "certificate unknown" in detail:
        return f"the broker does not trust our client certificate ({detail})"
    if "EOF occurred" in detail:
        return f"the broker closed the TLS connection at once: it wants a client certificate (cert and key), or does not trust ours ({detail})"
    return f"the broker closed the connection before accepting it ({detail})"


def connect_or_explain(client: mqtt.Client, s: Settings, timeout: float = 10.0) -> None:
    """Connect and start the network loop; a refusal (bad password, a TLS alert, ...) raises FatalError at once."""
    answer: dict = {}
    done = threading.Event()
    errors: list[str] = []

    def on_connect(c, u, flags, reason, properties=None):
        answer["reason"] = reason
        done.set()

    def on_disconnect(c, u, flags, reason, properties=None):
        if not done.is_set():
            answer["dropped"] = dropped_before_connack(errors[-1] if errors else "", reason)
            done.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    client.on_log = lambda c, u, level, message: errors.append(message) if level == mqtt.MQTT_LOG_ERR else None
    connect(client, s)
    client.loop_start()
    if not done.wait(timeout) or "dropped" in answer or answer["reason"].is_failure:
        client.loop_stop()
        why = answer.get("dropped") or (refusal(answer["reason"]) if "reason" in answer else f"no answer to CONNECT within {timeout:g} s")
        raise FatalError(f"{s.broker}: {why}")
    client.on_disconnect = client.on_log = None
