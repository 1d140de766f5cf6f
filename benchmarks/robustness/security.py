"""A locked-down broker: ways in that must work or be refused with one clear line, the ACL, no password leaks."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording
from harstream.core.model import Model
from harstream.core.recording import Recording, read_csv

from benchmarks import hostile
from benchmarks.clients import Collector, close, publisher

from .harness import (
    ROOT,
    chunks,
    load_model,
    part,
    wait_until,
)


def security() -> dict:
    """Passwords, TLS and the README's ACL against a real Mosquitto (``benchmarks.secure``).

    Each way in is tried with the daemon itself; a refusal must be one clear error after one
    connection (no retry storm).  Then the ACL: a device cannot publish readings or labels as
    another device, nor read another's labels.  Then ``harstream serve`` at DEBUG: the password
    must appear nowhere in its argv, its output or ``har/stats``.
    """
    import secrets

    from harstream.adapters.mqtt import FatalError

    from benchmarks.secure import secure_broker

    model = load_model()
    users = {name: f"{name}-{secrets.token_hex(12)}" for name in ("harstream", "monitor", "phone-a", "phone-b")}
    rec = read_csv(bundled_recording())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with secure_broker(tmp / "broker", users) as sb:
            pki = sb.pki

            def password_file(text: str) -> str:
                path = tmp / f"pw-{secrets.token_hex(4)}"
                path.write_text(text)
                return str(path)

            good = password_file(users["harstream"])
            attempts = []

            def attempt(case: str, expect: str, url: str, **settings):
                before = sb.connections()
                started = time.monotonic()
                try:
                    d = Daemon(Settings(broker=url, client_id=f"harstream-{len(attempts)}", **settings).validate(), model)
                    d.start(timeout=10)
                    d.stop()
                    outcome = "connected"
                except FatalError as exc:
                    outcome = str(exc).split(": ", 1)[1]
                seconds = time.monotonic() - started
                time.sleep(1.5)  # room for a retry storm to show in the broker's log
                attempts.append({"case": case, "expect": expect, "outcome": outcome, "seconds": round(seconds, 2),
                                 "connections": sb.connections() - before})

            plain, tls = f"mqtt://127.0.0.1:{sb.port}", f"mqtts://localhost:{sb.tls_port}"
            mtls, wrong_name = f"mqtts://localhost:{sb.mtls_port}", f"mqtts://localhost:{sb.wrong_name_port}"
            attempt("right user and password", "connected", plain, username="harstream", password_file=good)
            attempt("wrong password", "refused", plain, username="harstream", password_file=password_file("guess"))
            attempt("no credentials", "refused", plain)
            attempt("TLS, broker verified by our CA", "connected", tls, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS, broker's CA not given (system CAs)", "refused", tls, username="harstream", password_file=good)
            attempt("TLS, an impostor CA", "refused", tls, username="harstream", password_file=good, ca=str(pki.rogue_ca))
            attempt("TLS, certificate for another host", "refused", wrong_name, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS + client certificate", "connected", mtls, username="harstream", password_file=good, ca=str(pki.ca),
                    cert=str(pki.client_cert), key=str(pki.client_key))
            attempt("TLS, client certificate required, none given", "refused", mtls, username="harstream", password_file=good, ca=str(pki.ca))
            attempt("TLS, client certificate from an impostor CA", "refused", mtls, username="harstream", password_file=good,
                    ca=str(pki.ca), cert=str(pki.rogue_client_cert), key=str(pki.rogue_client_key))

            acl = acl_checks(sb, users, good, model, rec)
            leak = credential_leak(sb, users["harstream"], users["monitor"])
            broker_log = sb.broker.log()
    return {"attempts": attempts, "acl": acl, "leak": leak,
            "passwords_in_broker_log": any(p in broker_log for p in users.values())}


def acl_checks(sb, users: dict, daemon_password_file: str, model: Model, rec: Recording) -> dict:
    """phone-a tries to pass for phone-b; phone-b's own readings are the control that the paths work."""
    t0 = hostile.T0 + 4e8
    n = 128 + 64 * 2  # three windows
    settings = Settings(broker=f"mqtt://127.0.0.1:{sb.port}", client_id="harstream-acl", username="harstream",
                        password_file=daemon_password_file, stats_interval=60).validate()
    daemon = Daemon(settings, model)
    daemon.start()
    b_labels = Collector(sb.port, ["har/phone-b/activity"], "acl-phone-b-labels", username="phone-b", password=users["phone-b"])
    a_snoops = Collector(sb.port, ["har/phone-b/activity", "har/+/activity", "har/phone-b/imu"], "acl-phone-a-snoop",
                         username="phone-a", password=users["phone-a"])
    status = Collector(sb.port, ["har/status"], "acl-phone-b-status", username="phone-b", password=users["phone-b"])
    status.take(1, 5)  # the retained "online"
    a = publisher(sb.port, "acl-phone-a", "phone-a", users["phone-a"])
    fake = {"device": "phone-b", "seq": 0, "activity": "LAYING", "confidence": 1.0, "forged_by": "phone-a"}
    attempts = {
        "readings as phone-b": [a.publish("har/phone-b/imu", p, qos=1) for p in chunks(part(rec, 0, n), t0)],
        "labels for phone-b": [a.publish("har/phone-b/activity", json.dumps(fake), qos=1)],
        "the daemon's status": [a.publish("har/status", "offline", qos=1, retain=True)],
        "Home Assistant discovery": [a.publish("homeassistant/sensor/x/activity/config", "{}", qos=1, retain=True)],
    }
    for infos in attempts.values():
        for info in infos:
            info.wait_for_publish(5)
    for p in chunks(part(rec, 0, n), t0):
        a.publish("har/phone-a/imu", p, qos=1)
    b = publisher(sb.port, "acl-phone-b", "phone-b", users["phone-b"])
    for p in chunks(part(rec, 0, n), t0):
        b.publish("har/phone-b/imu", p, qos=1).wait_for_publish(5)
    b_got = b_labels.labels(3, 15)
    wait_until(lambda: daemon.counts["labels"] >= 6, 10)
    time.sleep(0.5)
    forged_seen = [d for d in b_got if d.get("forged_by")]
    snooped = a_snoops.take(100, 1.0)
    status_after = status.take(1, 1.0)
    result = {
        "phone-b got its own labels": len([d for d in b_got if not d.get("forged_by")]),
        "phone-b got labels forged by phone-a": len(forged_seen),
        "phone-a's readings as phone-b reached the daemon": daemon.counts["samples"] - 2 * n,
        "phone-a's own readings reached the daemon": "phone-a" in daemon.engine.recognizer.devices,
        "phone-a read phone-b's labels or readings": len([t for t, _, _ in snooped if "phone-b" in t]),
        "phone-a read its own labels": len([t for t, _, _ in snooped if t == "har/phone-a/activity"]),
        "status changed by phone-a": [p for _, p, _ in status_after],
        "publishes denied in the broker log": sb.broker.log().count("Denied PUBLISH from acl-phone-a"),
    }
    for c in (b_labels, a_snoops, status):
        c.close()
    for c in (a, b):
        close(c)
    daemon.stop()
    return result


def credential_leak(sb, password: str, monitor_password: str) -> dict:
    """``harstream serve`` at DEBUG, its password in HARSTREAM_PASSWORD: is it anywhere it should not be?"""
    env = {**os.environ, "HARSTREAM_PASSWORD": password, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harstream.cli", "serve", "--broker", f"mqtt://127.0.0.1:{sb.port}", "--username", "harstream",
               "--client-id", "harstream-leak", "--log-level", "DEBUG", "--stats-interval", "0.5"]
    stats = Collector(sb.port, ["har/stats"], "leak-stats", username="monitor", password=monitor_password)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    got = stats.take(1, 30)
    argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes() if Path(f"/proc/{proc.pid}/cmdline").exists() else b""
    pub = publisher(sb.port, "leak-device", "harstream", password)
    pub.publish("har/leak/imu", b"{garbage", qos=1).wait_for_publish(5)
    got += stats.take(2, 5)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    wrong = subprocess.run(command, cwd=ROOT, env={**env, "HARSTREAM_PASSWORD": password + "x"}, capture_output=True, text=True, timeout=60)
    close(pub)
    stats.close()
    secret = password.encode()
    return {
        "stats_messages": len(got), "in_stats": any(secret in p for _, p, _ in got), "in_argv": secret in argv,
        "in_output": secret in output, "output_lines": len(output.splitlines()), "sigterm_exit": proc.returncode,
        "wrong_password_exit": wrong.returncode, "wrong_password_error": wrong.stderr.strip().splitlines()[-1:],
        "wrong_password_in_output": (password + "x") in wrong.stderr + wrong.stdout,
    }


# -- report --------------------------------------------------------------------------------------
