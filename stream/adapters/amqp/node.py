"""A throw-away RabbitMQ node of our own, with the MQTT and consistent-hash plugins, on free ports.

For the tests and benchmarks, and for trying replicas on one machine.  It runs the package's own
``rabbitmq-server`` from its library folder (the wrappers on the PATH switch to the rabbitmq user
and its Erlang cookie), with every folder, port and the node name set, and its own epmd: a
RabbitMQ already running on this machine (on 5672, 1883, 4369) is neither used nor touched.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..brokers import free_port, wait_for_port

PLUGINS = ("rabbitmq_mqtt", "rabbitmq_consistent_hash_exchange")


def server_folder() -> Path | None:
    """The sbin folder of the installed RabbitMQ (Debian: /usr/lib/rabbitmq/lib/rabbitmq_server-X/sbin)."""
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    return Path(found[-1]).parent if found else None


class RabbitMQ:
    """``with RabbitMQ() as node:`` a started node; ``node.amqp_url``, ``node.mqtt_port``, ``node.ctl(...)``."""

    def __init__(self, start_timeout: float = 90.0):
        self.sbin = server_folder()
        if self.sbin is None or not shutil.which("epmd"):
            raise RuntimeError("rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)")
        self.host = "127.0.0.1"
        self.amqp_port, self.mqtt_port, self.dist_port, self.epmd_port = (free_port() for _ in range(4))
        self.node = f"harstream-{self.amqp_port}@localhost"
        self.dir = Path(tempfile.mkdtemp(prefix="harstream-rabbitmq-"))
        self.start_timeout = start_timeout
        self.proc = self.epmd = None

    @property
    def env(self) -> dict:
        d = self.dir
        return {**os.environ, "HOME": str(d), "ERL_EPMD_PORT": str(self.epmd_port), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_PORT": str(self.amqp_port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"), "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config")}

    def start(self) -> "RabbitMQ":
        d = self.dir
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {self.host}:{self.amqp_port}\n"
            f"mqtt.listeners.tcp.1 = {self.host}:{self.mqtt_port}\n"
            "mqtt.allow_anonymous = true\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\nlog.file.level = info\n")
        (d / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
        (d / "rabbitmq-env.conf").write_text("")
        self.epmd = subprocess.Popen(["epmd", "-port", str(self.epmd_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.epmd_port)
        self.proc = subprocess.Popen([str(self.sbin / "rabbitmq-server")], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_port(self.mqtt_port, self.start_timeout)  # the plugins start last
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"RabbitMQ did not start within {self.start_timeout:g} s: {self.log()[-2000:]}") from None
        return self

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """rabbitmqctl against this node."""
        out = subprocess.run([str(self.sbin / "rabbitmqctl"), "-n", self.node, *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    def log(self) -> str:
        logs = sorted((self.dir / "log").glob("*.log"))
        return logs[0].read_text(errors="replace") if logs else ""

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.host}:{self.amqp_port}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{self.host}:{self.mqtt_port}"

    def beam_pid(self) -> int | None:
        """The Erlang VM's process id (the server script runs it as a child)."""
        if self.proc is None:
            return None
        out = subprocess.run(["pgrep", "-s", str(self.proc.pid), "beam.smp"], capture_output=True, text=True)
        pids = out.stdout.split()
        return int(pids[0]) if pids else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.kill()
            self.epmd.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
