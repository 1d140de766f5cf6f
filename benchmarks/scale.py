"""Replicas behind RabbitMQ against one MQTT-mode daemon: how many devices each set-up carries here.

    python -m benchmarks.scale [--replicas 1 2 4] [--shape single|batch|both] [--repeats 2]

Every set-up runs as it would in production, in processes of its own: ``harstream serve`` on
Mosquitto (one process), or N ``harstream serve --amqp`` replicas on a RabbitMQ node of our own
with its MQTT plugin (``harstream.adapters.amqp.node``), 12 partitions, balanced before the
run.  The flood of ``benchmarks.throughput`` is written to the broker's MQTT port in one go (QoS 1), and
the figure is the time until every window is labelled and its label is delivered to an MQTT
subscriber: readings/s, and devices at 50 Hz.  Two runs per set-up:

* live: the flood arrives while the replicas consume (the broker takes it in and hands it out at once);
* backlog (replicas only): the replicas are stopped (SIGSTOP) while the flood is queued, then
  woken together: what they drain when the broker only hands out.

For each run, the CPU seconds of every process (the broker's Erlang VM, each replica, this
process, which writes the flood and counts the labels), so that one sees which core was full.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harstream.adapters.amqp.node import RabbitMQ
from harstream.adapters.brokers import Mosquitto
from harstream.core.catalog import default_model

from . import clients
from .fleet import ROOT, Fleet
from .throughput import ALIASES, RATE, SHAPES, blast, flood, windows_in

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return float("nan")


class Endpoint:  # what blast() needs of a broker
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port


def timed(endpoint: Endpoint, labels: clients.Collector, shape: str, pids: dict[str, int], before=None, after=None) -> dict:
    """Write the flood, wait for every label; seconds, readings/s, and CPU seconds per process."""
    messages = flood(shape, t0=time.time())
    devices, samples = SHAPES[shape][:2]
    expected = windows_in(shape)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    t0 = time.perf_counter()
    if before:
        before()
    blast(endpoint, messages, qos=1)  # as phones publish; QoS 0 readings can be lost in RabbitMQ when the publisher goes
    if after:
        after()
        t0 = time.perf_counter()
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    got = len(labels.take(expected, timeout=600, where=lambda t: t.endswith("/activity")))
    elapsed = time.perf_counter() - t0
    if got < expected:
        raise RuntimeError(f"{got} of {expected} labels")
    readings = devices * samples
    cpu = {name: round(cpu_seconds(pid) - cpu0[name], 2) for name, pid in pids.items()}
    workers = sum(v for name, v in cpu.items() if name == "daemon" or name.startswith("replica"))
    return {"seconds": round(elapsed, 2), "readings_per_s": round(readings / elapsed), "devices_at_50hz": round(readings / elapsed / RATE),
            "cpu_s": cpu, "readings_per_worker_cpu_s": round(readings / workers) if workers > 0 else None}


def units_flags(shape: str) -> list[str]:
    """CSV lines cannot say their units: the device's setting does (throughput.settings_for)."""
    return ["--acc-units", "m/s2"] if shape == "csv-m/s2" else []


def mqtt_daemon(shape: str, model: str, folder: Path) -> dict:
    with Mosquitto() as broker:
        log = open(folder / "mqtt-daemon.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "harstream", "serve", "--broker", broker.url, "--model", str(ROOT / model),
                                 *units_flags(shape)], stderr=log, cwd=ROOT)
        labels = clients.Collector(broker.port, ["har/+/activity"], "scale-labels")
        try:
            clients.Collector(broker.port, ["har/status"], "scale-status").take(1, 30)  # online: it is consuming
            pids = {"mosquitto": broker.proc.pid, "daemon": proc.pid, "flood+labels (this process)": os.getpid()}
            return {"live": timed(Endpoint(broker.host, broker.port), labels, shape, pids)}
        finally:
            labels.close()
            proc.terminate()
            proc.wait(30)


def replicas(node: RabbitMQ, n: int, shape: str, model: str, folder: Path) -> dict:
    fleet = Fleet(node, "har", model=model, folder=folder, env={"HARSTREAM_AMQP_HEARTBEAT": "0"}, extra=tuple(units_flags(shape)))
    labels = clients.Collector(node.mqtt_port, ["har/+/activity"], f"scale-labels-{n}")
    try:
        procs = fleet.start(n)
        share = [12 // n + (i < 12 % n) for i in range(n)]
        balanced = fleet.wait_spread(share, timeout=120)
        pids = {"rabbitmq": node.beam_pid(), **{f"replica {i + 1}": p.pid for i, p in enumerate(procs)},
                "flood+labels (this process)": os.getpid()}
        endpoint = Endpoint(node.host, node.mqtt_port)
        out = {"balanced_after_s": round(balanced, 1), "live": timed(endpoint, labels, shape, pids)}
        time.sleep(1.5)  # the replicas' next stats
        out["devices_per_replica"] = sorted(fleet.stats[fleet.by_pid[p.pid]]["devices"] for p in procs)

        def pause():
            for p in procs:
                os.kill(p.pid, signal.SIGSTOP)

        def wake_when_queued():
            wanted = len(flood(shape, 0.0))
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                rows = [line.split("\t") for line in node.ctl("list_queues", "name", "messages", "--quiet").splitlines()]
                if sum(int(r[1]) for r in rows if len(r) == 2 and ".p" in r[0] and r[1].isdigit()) >= wanted - 256 * 12:
                    break
                time.sleep(0.5)
            for p in procs:
                os.kill(p.pid, signal.SIGCONT)

        out["backlog"] = timed(endpoint, labels, shape, pids, before=pause, after=wake_when_queued)
        return out
    finally:
        labels.close()
        fleet.stop()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--shape", nargs="+", choices=[*SHAPES, *ALIASES], default=["both"],
                    help="message shapes (benchmarks.throughput's; default both: single and columns; all: every one)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--model", default=str(default_model().relative_to(ROOT)), help="relative to the checkout (default: the default model)")
    args = ap.parse_args(argv)
    folder = Path("/tmp") / f"harstream-scale-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    shapes = list(dict.fromkeys(s for given in args.shape for s in ALIASES.get(given, [given])))
    results: dict = {}
    print(f"cores: {os.cpu_count()}; logs in {folder}", flush=True)
    with RabbitMQ() as node:
        for shape in shapes:
            devices, samples, per = SHAPES[shape][:3]
            print(f"\n== {shape}: {devices} devices x {samples} samples, {per} per message ==", flush=True)
            for r in range(args.repeats):
                rows = [("mqtt daemon (1 process)", mqtt_daemon(shape, args.model, folder))]
                rows += [(f"{n} replica{'s' * (n > 1)} on RabbitMQ", replicas(node, n, shape, args.model, folder)) for n in args.replicas]
                for name, res in rows:
                    results.setdefault(shape, {}).setdefault(name, []).append(res)
                    if "devices_per_replica" in res:
                        print(f"{name:<28} partitions balanced {res['balanced_after_s']:.1f} s after start; devices per replica "
                              f"{res['devices_per_replica']}", flush=True)
                    for kind in ("live", "backlog"):
                        if kind in res:
                            x = res[kind]
                            cpu = ", ".join(f"{k} {v:.1f}" for k, v in x["cpu_s"].items())
                            print(f"{name:<28} {kind:<8} {x['readings_per_s']:>8,} readings/s = {x['devices_at_50hz']:>5,} devices"
                                  f"  ({x['seconds']:.1f} s; {x['readings_per_worker_cpu_s'] or 0:,} readings per daemon/replica CPU s; "
                                  f"CPU s: {cpu})", flush=True)
    print("\nreadings per CPU second of the replicas over the MQTT daemon's (live, median over repeats):")
    for shape, rows in results.items():
        def per_cpu(name):
            values = sorted(r["live"]["readings_per_worker_cpu_s"] or 0 for r in rows.get(name, []))
            return values[len(values) // 2] if values else 0
        base = per_cpu("mqtt daemon (1 process)")
        line = ", ".join(f"{name.split(' on ')[0]} {per_cpu(name) / base:.2f}" for name in rows if name.startswith(tuple("0123456789")) and base)
        print(f"  {shape:<14} {line}", flush=True)
    return results


if __name__ == "__main__":
    main()
