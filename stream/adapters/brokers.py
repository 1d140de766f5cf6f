"""Start a throw-away MQTT broker on a free local port: Mosquitto if installed, else the built-in one."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .minibroker import MiniBroker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s")


class Mosquitto:
    """A Mosquitto process with its own configuration in a temporary folder.

    ``extra`` is appended to the configuration (listeners, TLS, password files, ACLs).
    ``persist`` keeps sessions and queued messages on disk (saved every second), so that
    a broker killed and started again on the same port still knows its persistent clients.
    """

    def __init__(self, port: int | None = None, extra: str = "", binary: str | None = None, persist: bool = False):
        self.binary = binary or mosquitto_binary()
        if not self.binary:
            raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.dir = Path(tempfile.mkdtemp(prefix="harstream-mosquitto-"))
        self.extra, self.persist = extra, persist
        self.proc = None

    def config(self) -> str:
        # Started as root, Mosquitto drops to the "mosquitto" user, which cannot read our private folder.
        run_as = "user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        return (f"per_listener_settings false\n{run_as}listener {self.port} 127.0.0.1\n"
                + (f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n" if self.persist else "persistence false\n")
                + f"log_dest file {self.dir / 'mosquitto.log'}\n"
                # A replay at full speed outruns any subscriber: queue for it instead of dropping (default 1000).
                "max_queued_messages 1000000\nset_tcp_nodelay true\n"
                + (self.extra if "allow_anonymous" in self.extra else "allow_anonymous true\n" + self.extra))

    def start(self) -> "Mosquitto":
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log()}") from None
        return self

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Builtin:
    def __init__(self):
        self._broker = MiniBroker()
        self.host, self.port = self._broker.host, self._broker.port

    def start(self) -> "Builtin":
        self._broker.start()
        return self

    def stop(self) -> None:
        self._broker.stop()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def start_broker(kind: str = "auto"):
    """A started broker with ``url`` and ``stop()``; kind auto, mosquitto or builtin."""
    if kind in ("auto", "mosquitto") and mosquitto_binary():
        return Mosquitto().start()
    if kind == "mosquitto":
        raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return Builtin().start()
