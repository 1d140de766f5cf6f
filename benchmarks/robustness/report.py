"""The tables of docs/robustness.md from the scenarios' results."""
from __future__ import annotations


def _yes(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def report(r: dict, command: str) -> str:
    f, out = r["fuzz"], []
    add = out.append
    add("# Robustness: every fault and bad input tried, and what happened\n")
    add(f"Produced by `{command}` ({r['when']}, {r['machine']}); the tests run the same scenarios, smaller "
        "(`tests/test_robustness.py`). Every broker here is a real Mosquitto started for the purpose.\n")
    add("## Bad input\n")
    add(f"{f['noise']:,} hostile messages mixed into a clean device's replay ({f['clean_messages']} messages of 25 samples, "
        f"the bundled recording), all QoS 1 through Mosquitto, {f['sent']:,} in {f['seconds']} s:\n")
    add(f"* the daemon stayed up and connected: {_yes(f['alive'])}; it handled every message: {_yes(f['handled_all'])}")
    add(f"* every reject counted in `har/stats` under the reason its case must earn: {_yes(f['rejects_match'])} "
        f"({sum(f['rejects_counted'].values()):,} rejects)")
    add(f"* the clean device's labels are exactly those of its recording alone (same windows, activities, probabilities "
        f"within 1e-6): {_yes(f['clean_labels_identical'])} ({f['clean_labels']} of {f['clean_labels_expected']})")
    add(f"* warning lines logged for all of it: {f['log_lines']} (at most one per reason per 10 s, saying how many were held back)")
    add("* misbehaving time on noisy devices reset their streams, counted in `har/stats` `resets`: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(f["resets"].items())) + "\n")
    add("| case | sent | must earn |")
    add("|---|---|---|")
    for c in f["cases"]:
        add(f"| {c['what']} | {c['sent']:,} | {c['expect'] if c['expect'] != 'parse' else 'whatever the parser says (mutations)'} |")
    add("\n| reject reason | expected | counted in `har/stats` |")
    add("|---|---|---|")
    for reason in sorted(set(f["rejects_expected"]) | set(f["rejects_counted"])):
        add(f"| `{reason}` | {f['rejects_expected'].get(reason, 0):,} | {f['rejects_counted'].get(reason, 0):,} |")
    add("\nA control character in a topic never reaches the daemon: Mosquitto disconnects the publisher. "
        "Device ids with one are tested through the Sensor Logger topic, whose ids travel in the payload.\n")
    add("## Model files\n")
    add("`harstream serve --model M` before it connects to anything:\n")
    add("| model | exit | stderr (the whole of it) |")
    add("|---|---|---|")
    for m in r["models"]:
        more = "" if m["lines"] == 1 else f" ({m['lines']} lines)"
        add(f"| {m['case']} | {m['exit']} | `{m['error']}`{more} |")
    add("\n## Faults\n")
    b, bd, k, o, mem = r["broker_restart"], r["broker_restart_bounded"], r["daemon_sigkill"], r["overload"], r["memory"]
    add("| fault | what happened |")
    add("|---|---|")
    add(f"| Mosquitto SIGKILLed mid-stream, back after {b['broker_down_s']} s (persistent sessions, daemon with `persistent = true`) | "
        f"reconnected {b['reconnect_s']} s after the broker's return (limit 5); {b['labels_made_while_down']} labels made while "
        f"disconnected delivered afterwards; readings the device sent before the daemon was back were kept by the broker and "
        f"processed ({b['readings_processed']:,} of {b['samples']:,}); all {b['labels_expected']} labels identical to an "
        f"uninterrupted run: {_yes(b['received_identical'] and b['labels_received'] == b['labels_expected'])} "
        f"({b['duplicates']} delivered twice, as QoS 1 allows) |")
    add(f"| the same, `max_pending_labels = {bd['max_pending_labels']}` | {bd['labels_made_while_down']} labels made while "
        f"disconnected; {bd['dropped_labels']} beyond the bound dropped and counted (`dropped_labels`); the other "
        f"{bd['labels_received']} delivered and identical: {_yes(bd['received_identical'] and bd['missing_equals_dropped'])} |")
    add(f"| `harstream serve` SIGKILLed and started again | `offline` (last will) at once ({k['will_s']} s); online again "
        f"{k['restart_online_s']} s after the restart; the {k['readings_while_dead']:,} readings sent while it was dead were kept "
        f"by the broker and processed: {k['labels_after_restart']} labels, identical to a fresh start on them: "
        f"{_yes(k['after_identical'])}; readings delivered twice: {k['readings_redelivered']}; lost: {k['labels_lost']} label "
        f"(the window across the kill) |")
    add(f"| overload: {o['devices']:,} devices at once, a model slowed to {o['model_delay_ms']:g} ms a window | "
        f"{o['windows']:,} windows in {o['load_s']} s: {o['labels']:,} classified, {o['dropped_windows']:,} dropped (oldest first, "
        f"counted); every window accounted for: {_yes(o['accounted'])}; queue at most {o['queue_max']:,} (`max_queue` "
        f"{o['max_queue']:,}); memory after each round "
        + " / ".join(f"{m:g}" for m in o["memory_after_round_mb"]) + f" MB (from {o['memory_baseline_mb']:g} MB idle); "
        f"all evicted once silent: {_yes(o['evicted_all'])} ({o['evicted']:,}) |")
    add(f"\nMemory per device: {mem['bytes_per_device'] / 1000:.1f} kB of state (stream, filters, bookkeeping; "
        f"`memory_per_device` over {mem['devices']:,} devices), plus {mem['bytes_per_queued_window'] / 1000:.1f} kB for each window "
        f"waiting for the model, at most `max_queue` of them. Resident memory does not shrink after eviction: Python keeps "
        f"the freed memory and reuses it for the devices that come next.\n")
    add("## Security\n")
    add("Against Mosquitto with a password file, the README's ACL, and TLS listeners using certificates made on the spot "
        "(`benchmarks/secure.py`), each way in tried by the daemon itself:\n")
    add("| attempt | outcome | connections the broker saw | seconds |")
    add("|---|---|---|---|")
    for a in r["security"]["attempts"]:
        add(f"| {a['case']} | {a['outcome']} | {a['connections']} | {a['seconds']} |")
    add("\nThe ACL (phone-a tries to pass for phone-b; phone-b's own traffic shows that the paths work):\n")
    add("| check | result |")
    add("|---|---|")
    for key, value in r["security"]["acl"].items():
        add(f"| {key} | {value} |")
    leak = r["security"]["leak"]
    add("\nCredentials (`harstream serve --log-level DEBUG`, password in `HARSTREAM_PASSWORD`):\n")
    add("| where | password found |")
    add("|---|---|")
    add(f"| its argv (`/proc/PID/cmdline`) | {leak['in_argv']} |")
    add(f"| its output at DEBUG ({leak['output_lines']} lines) | {leak['in_output']} |")
    add(f"| `har/stats` ({leak['stats_messages']} messages) | {leak['in_stats']} |")
    add(f"| the broker's log (`log_type all`) | {r['security']['passwords_in_broker_log']} |")
    add(f"| output of a run with a wrong password (exit {leak['wrong_password_exit']}: `{' '.join(leak['wrong_password_error'])}`) "
        f"| {leak['wrong_password_in_output']} |")
    return "\n".join(out) + "\n"


