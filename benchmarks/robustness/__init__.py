"""The daemon under hostile input, faults and hostile clients, through real Mosquitto brokers.

    python -m benchmarks.robustness [--noise 100000] [--devices 10000] [--out docs/robustness.md]

One module per kind of scenario, sharing ``harness``; each scenario returns a dict of what it
tried and what happened, ``report`` makes the tables of ``docs/robustness.md`` from them, and
``__main__`` runs them all.  The tests run the same scenarios, smaller (``tests/test_robustness.py``).
"""
from .bad_models import bad_models
from .faults import broker_restart, daemon_sigkill
from .fuzz import fuzz
from .load import memory_per_device, overload
from .security import acl_checks, credential_leak, security

__all__ = ["acl_checks", "bad_models", "broker_restart", "credential_leak", "daemon_sigkill", "fuzz", "memory_per_device",
           "overload", "security"]
