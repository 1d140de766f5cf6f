"""The daemon under hostile input, faults and hostile clients, through real Mosquitto brokers.

    python -m benchmarks.robustness [--noise 100000] [--devices 10000] [--out docs/robustness.md]

Each scenario returns a dict of what it tried and what happened; ``main`` runs them all and
writes the tables of ``docs/robustness.md``.  The tests run the same scenarios, smaller
(``tests/test_robustness.py``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from .bad_models import bad_models
from .faults import broker_restart, daemon_sigkill
from .fuzz import fuzz
from .harness import (
    ROOT,
)
from .load import memory_per_device, overload
from .report import report
from .security import security


def main(argv=None) -> int:
    import datetime
    import platform

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=int, default=100_000, help="hostile messages in the fuzz run")
    ap.add_argument("--devices", type=int, default=10_000, help="devices in the overload run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "robustness.md")
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "robustness.json")
    ap.add_argument("--report-only", action="store_true", help="rewrite --out from the results in --json, running nothing")
    args = ap.parse_args(argv)
    if args.report_only:
        results = json.loads(args.json.read_text())
        args.out.write_text(report(results, results.get("command", "python -m benchmarks.robustness")))
        return 0
    logging.basicConfig(level=logging.ERROR)
    steps = {
        "fuzz": lambda: fuzz(args.noise),
        "models": bad_models,
        "broker_restart": broker_restart,
        "broker_restart_bounded": lambda: broker_restart(max_pending_labels=5),
        "daemon_sigkill": daemon_sigkill,
        "overload": lambda: overload(args.devices),
        "memory": memory_per_device,
        "security": security,
    }
    results = {"when": datetime.date.today().isoformat(),
               "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"}
    for name, step in steps.items():
        started = time.monotonic()
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = step()
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    command = "python -m benchmarks.robustness" + "".join(f" --{k} {v}" for k, v in (("noise", args.noise), ("devices", args.devices))
                                                          if v != ap.get_default(k))
    results["command"] = command
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    text = report(results, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


sys.exit(main())
