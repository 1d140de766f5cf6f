"""``serve --web PORT``: a live page of every device, and any phone's browser as a sensor.

The pages are a thin transport of their own: an MQTT client beside the daemon.  A phone page's readings
are published to ``<prefix>/<device>/imu`` exactly as an app would publish them, so they take the daemon's
path (its checks, its counted rejects, replicas, Home Assistant); the labels the pages show are the ones on
``<prefix>/+/activity``.  aiohttp serves the pages and their WebSockets on a thread of their own.

Security: a browser gives motion sensors only to a secure page, so on any address but this host's the
pages are HTTPS (a certificate given, or one made once and kept in ``web_state``).  Sending readings needs
the token (``web_token``, or one made once and kept), which the QR code's address carries; a wrong or
missing one is refused before any reading is read.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import ssl
import threading
import time
from collections import deque
from importlib import resources
from pathlib import Path

from ..config import Settings
from ...engine import check_device_id
from ..mqtt import make_client
from ..mqtt.connection import connect

log = logging.getLogger("harstream")
LOCAL = ("127.0.0.1", "localhost", "::1")
HISTORY_S = 600.0  # the timeline a new viewer gets: the last ten minutes of every device


def secure_needed(host: str) -> bool:
    """Plain HTTP only on this host's own address.

    >>> secure_needed("127.0.0.1"), secure_needed("0.0.0.0")
    (False, True)
    """
    return host not in LOCAL


def state_folder(settings: Settings) -> Path:
    folder = Path(settings.web_state).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def token_for(settings: Settings) -> str:
    """``web_token``, else the one made at first start and kept (readable by this user only)."""
    if settings.web_token:
        return settings.web_token
    path = state_folder(settings) / "web-token"
    if path.is_file() and len(path.read_text().strip()) >= 8:
        return path.read_text().strip()
    token = secrets.token_urlsafe(12)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def certificate_for(settings: Settings, host: str) -> tuple[Path, Path, bool]:
    """(certificate, key, made here): the given pair, else a self-signed one made once and kept."""
    if settings.web_cert:
        return Path(settings.web_cert), Path(settings.web_key), False
    folder = state_folder(settings)
    cert, key = folder / "web-cert.pem", folder / "web-key.pem"
    if not (cert.is_file() and key.is_file()):
        make_certificate(cert, key, host)
    return cert, key, True


def make_certificate(cert: Path, key: Path, host: str) -> None:
    """A self-signed certificate for this host (its name and addresses), valid ten years."""
    import datetime
    import ipaddress
    import socket

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise RuntimeError("HTTPS pages need the web extra (cryptography): pip install 'harstream[web]', or give web_cert and web_key") from None
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"harstream on {socket.gethostname()}")])
    names = [x509.DNSName(socket.gethostname()), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for address in {host, *local_addresses()} - {"0.0.0.0", "::", ""}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    now = datetime.datetime.now(datetime.timezone.utc)
    made = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(private, hashes.SHA256()))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key.chmod(0o600)
    cert.write_bytes(made.public_bytes(serialization.Encoding.PEM))


def local_addresses() -> list[str]:
    """This host's address on the network its default route uses (what a phone on the same network reaches)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
            return [s.getsockname()[0]]
    except OSError:
        return []


class WebFront:
    """The pages: ``start()`` serves them on a thread; ``url`` is the live page's address, ``phone_url`` the
    phone page's with the token (what the QR code holds)."""

    def __init__(self, settings: Settings, labels: list[str]):
        self.settings, self.labels = settings, list(labels)
        self.token = token_for(settings)
        self.secure = secure_needed(settings.web_host)
        self.history: dict[str, deque] = {}  # device -> recent labels
        self.stats: dict[str, dict] = {}  # client id -> its last <prefix>/stats
        self.viewers: set = set()
        self.phones: dict[str, set] = {}  # device -> its phone pages' sockets
        self.counts = {"phone_messages": 0, "phone_refused": 0, "phone_too_large": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.port = settings.web_port
        self.client = make_client(settings, f"harstream-web-{secrets.token_hex(3)}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    # -- addresses --------------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        host = self.settings.web_host
        if host in ("0.0.0.0", "::", ""):
            host = (local_addresses() or ["127.0.0.1"])[0]
        return f"{'https' if self.secure else 'http'}://{host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/" + (f"?token={self.token}" if self.settings.web_view_token else "")

    @property
    def phone_url(self) -> str:
        return f"{self.base}/phone?token={self.token}"

    # -- MQTT: labels and stats in, readings out -----------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, properties=None):
        p = self.settings.prefix
        client.subscribe([(f"{p}/+/activity", 1), (f"{p}/stats", 0)])

    def _on_message(self, client, userdata, msg):
        try:
            said = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(said, dict) or self._loop is None:
            return
        if msg.topic.endswith("/stats"):
            self._loop.call_soon_threadsafe(self._note_stats, said)
        else:
            said["received"] = time.time()
            self._loop.call_soon_threadsafe(self._note_label, msg.topic.split("/")[-2], said)

    def _note_stats(self, said: dict) -> None:
        self.stats[str(said.get("client_id"))] = said
        self._send_all(self.viewers, {"kind": "stats", "stats": said})

    def _note_label(self, device: str, label: dict) -> None:
        h = self.history.setdefault(device, deque())
        h.append(label)
        while h and label["received"] - h[0]["received"] > HISTORY_S:
            h.popleft()
        message = {"kind": "label", "device": device, "label": label}
        self._send_all(self.viewers | self.phones.get(device, set()), message)

    def _send_all(self, sockets, message: dict) -> None:
        text = json.dumps(message)
        for ws in list(sockets):
            if not ws.closed:
                asyncio.ensure_future(ws.send_str(text))

    # -- the web side -------------------------------------------------------------------------------------
    def _allowed(self, request, always: bool) -> bool:
        given = request.query.get("token", "")
        return (not always and not self.settings.web_view_token) or hmac.compare_digest(given.encode(), self.token.encode())

    def app(self):
        from aiohttp import web

        static = resources.files(__package__) / "static"

        def page(name):
            async def handler(request):
                if name == "live.html" and not self._allowed(request, always=False):
                    return web.Response(status=403, text="harstream: this page needs the token (?token=...): see the daemon's log")
                return web.Response(text=(static / name).read_text(encoding="utf-8"), content_type="text/html")
            return handler

        async def asset(request):
            name = request.match_info["name"]
            if name not in {"live.js", "phone.js", "style.css"}:
                raise web.HTTPNotFound()
            kind = "text/css" if name.endswith(".css") else "application/javascript"
            return web.Response(text=(static / name).read_text(encoding="utf-8"), content_type=kind)

        async def state(request):
            if not self._allowed(request, always=False):
                return web.json_response({"error": "this page needs the token"}, status=403)
            return web.json_response({"labels": self.labels, "prefix": self.settings.prefix, "phone_url": self.phone_url,
                                      "secure": self.secure, "made_certificate": self.secure and not self.settings.web_cert,
                                      "history": {d: list(h) for d, h in self.history.items()}, "stats": self.stats,
                                      "web": dict(self.counts)})

        async def qr(request):
            import segno

            if not self._allowed(request, always=False):
                return web.Response(status=403, text="needs the token")
            svg = segno.make(self.phone_url, error="m").svg_inline(scale=5, dark="#111", light="#fff")
            return web.Response(text=svg, content_type="image/svg+xml")

        async def live_socket(request):
            if not self._allowed(request, always=False):
                return web.Response(status=403, text="this page needs the token")
            ws = web.WebSocketResponse(heartbeat=20)
            await ws.prepare(request)
            self.viewers.add(ws)
            try:
                async for _ in ws:
                    pass  # the live page only listens
            finally:
                self.viewers.discard(ws)
            return ws

        async def phone_check(request):  # what the phone page asks before it opens its socket
            if not self._allowed(request, always=True):
                self.counts["phone_refused"] += 1
                return web.json_response({"error": "wrong or missing token"}, status=403)
            try:
                check_device_id(request.query.get("device", ""))
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response({"ok": True, "topic": f"{self.settings.prefix}/{request.query['device']}/imu"})

        async def phone_socket(request):
            if not self._allowed(request, always=True):  # before anything is read: nothing reaches a device
                self.counts["phone_refused"] += 1
                return web.Response(status=403, text="wrong or missing token: open the address the live page's QR code shows")
            try:
                device = check_device_id(request.query.get("device", ""))
            except ValueError as exc:
                return web.Response(status=400, text=f"device name: {exc}")
            ws = web.WebSocketResponse(heartbeat=20, max_msg_size=self.settings.max_payload)
            await ws.prepare(request)
            self.phones.setdefault(device, set()).add(ws)
            topic = f"{self.settings.prefix}/{device}/imu"
            try:
                async for msg in ws:
                    if msg.type == web.WSMsgType.TEXT:
                        self.counts["phone_messages"] += 1
                        # as an app would publish it: the daemon checks it, and counts a reject by its reason
                        self.client.publish(topic, msg.data.encode("utf-8", "replace"), qos=self.settings.qos)
                    elif msg.type == web.WSMsgType.ERROR:
                        self.counts["phone_too_large"] += 1
            finally:
                self.phones.get(device, set()).discard(ws)
            return ws

        app = web.Application(client_max_size=self.settings.max_payload)
        app.router.add_get("/", page("live.html"))
        app.router.add_get("/phone", page("phone.html"))
        app.router.add_get("/static/{name}", asset)
        app.router.add_get("/api/state", state)
        app.router.add_get("/qr.svg", qr)
        app.router.add_get("/ws/live", live_socket)
        app.router.add_get("/api/phone", phone_check)
        app.router.add_get("/ws/phone", phone_socket)
        return app

    def _ssl(self):
        if not self.secure:
            return None
        cert, key, _ = certificate_for(self.settings, self.settings.web_host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    async def _serve(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.web_host, self.port, ssl_context=self._ssl())
        await site.start()
        if not self.port:  # 0: a free port was taken
            self.port = runner.addresses[0][1]
        self._started.set()
        await self._stop.wait()
        for ws in list(self.viewers) + [w for s in self.phones.values() for w in s]:
            await ws.close()
        await runner.cleanup()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # said by start(), in the caller's thread
            self._error = exc
            self._started.set()

    def start(self, timeout: float = 15.0) -> "WebFront":
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise RuntimeError("the web pages need the web extra: pip install 'harstream[web]'") from None
        connect(self.client, self.settings)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="harstream-web", daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        if self._error is not None:
            self.client.loop_stop()
            raise RuntimeError(f"the web pages on {self.settings.web_host}:{self.settings.web_port}: {self._error}")
        log.info("live page: %s ; a phone as a sensor: %s%s", self.url, self.phone_url,
                 " (a certificate made here: the page says how to trust it)" if self.secure and not self.settings.web_cert else "")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self.client.disconnect()
        self.client.loop_stop()
