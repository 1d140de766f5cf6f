"""Prometheus metrics for ``serve --metrics-port``: the counters of ``har/stats`` and latency histograms.

Needs prometheus-client (the ``metrics`` extra).  Counters are read from the daemon when scraped,
so the hot path pays nothing for them; the two histograms are fed as labels are delivered.
"""
from __future__ import annotations


def start(daemon, port: int, addr: str = "0.0.0.0"):
    """Serve ``/metrics`` on ``addr:port`` for this daemon; returns the registry."""
    try:
        from prometheus_client import CollectorRegistry, Histogram, start_http_server
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError:
        raise RuntimeError("--metrics-port needs prometheus-client: pip install 'harstream[metrics]'") from None

    registry = CollectorRegistry()
    buckets = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
    latency = Histogram("harstream_window_to_label_seconds", "From a window's completion to its label handed to the broker",
                        buckets=buckets, registry=registry)
    inference = Histogram("harstream_inference_seconds_per_window", "The model's time per window, per batch",
                          buckets=buckets, registry=registry)
    daemon.worker.observers.append(lambda label_s, model_s: (latency.observe(label_s), inference.observe(model_s)))

    class Counts:
        def collect(self):
            c = daemon.counts
            for name, key, what in [("messages", "messages", "Messages received"), ("samples", "samples", "Samples accepted"),
                                    ("windows", "windows", "Windows completed"), ("labels", "labels", "Labels published"),
                                    ("dropped_labels", "dropped_labels", "Labels dropped while the broker was away"),
                                    ("evicted_devices", "evicted", "Devices whose state was freed after idle_timeout"),
                                    ("disconnects", "disconnects", "Connections to the broker lost"),
                                    ("taken_over", "taken_over", "Times another client was found using our client id")]:
                yield CounterMetricFamily(f"harstream_{name}", what, value=c[key])
            yield CounterMetricFamily("harstream_dropped_windows", "Windows dropped from the full queue", value=daemon.worker.queue.dropped)
            rejects = CounterMetricFamily("harstream_rejects", "Messages rejected, by reason", labels=["reason"])
            for reason, n in sorted(daemon.intake.rejects.items()):
                rejects.add_metric([reason], n)
            yield rejects
            resets = CounterMetricFamily("harstream_resets", "Device streams restarted, by reason", labels=["reason"])
            for reason, n in sorted(daemon.intake.resets().items()):
                resets.add_metric([reason], n)
            yield resets
            yield GaugeMetricFamily("harstream_devices", "Devices with state", value=len(daemon.intake.last_seen))
            yield GaugeMetricFamily("harstream_queue", "Windows waiting for the model", value=len(daemon.worker.queue))
            yield GaugeMetricFamily("harstream_connected", "1 while connected to the broker", value=float(daemon.connected.is_set()))
            replica = getattr(daemon, "replica_counts", None)
            if replica is not None:  # one of several replicas behind RabbitMQ (adapters.amqp)
                for key, what in [("acquired", "Partitions this replica became the active consumer of"),
                                  ("released", "Partitions this replica let go (or lost with its connection)"),
                                  ("redelivered", "Readings another replica had taken and not acknowledged"),
                                  ("devices_handed_over", "Devices whose state this replica dropped as they moved on"),
                                  ("samples_dropped", "Samples of windows in progress dropped as devices moved on")]:
                    yield CounterMetricFamily(f"harstream_replica_{key}", what, value=replica[key])
                yield GaugeMetricFamily("harstream_replica_partitions", "Partitions this replica holds", value=len(daemon.link.active))

    registry.register(Counts())
    start_http_server(port, addr=addr, registry=registry)
    return registry
