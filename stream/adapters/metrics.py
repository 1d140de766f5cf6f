"""Prometheus metrics for ``serve --metrics-port``: the counters of ``har/stats`` and latency histograms.

Needs prometheus-client (the ``metrics`` extra).  Counters are read from the engine when scraped,
so the hot path pays nothing for them; the two histograms are fed as labels are delivered.  A
service (the MQTT daemon, a replica) adds figures of its own with ``metric_values()``.
"""
from __future__ import annotations


def start(service, port: int, addr: str = "0.0.0.0"):
    """Serve ``/metrics`` on ``addr:port`` for ``service`` (its ``engine``, ``connected`` and ``metric_values``);
    returns the registry."""
    try:
        from prometheus_client import CollectorRegistry, Histogram, start_http_server
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError:
        raise RuntimeError("--metrics-port needs prometheus-client: pip install 'harstream[metrics]'") from None

    engine = service.engine
    registry = CollectorRegistry()
    buckets = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
    latency = Histogram("harstream_window_to_label_seconds", "From a window's completion to its label handed to the broker",
                        buckets=buckets, registry=registry)
    inference = Histogram("harstream_inference_seconds_per_window", "The model's time per window, per batch",
                          buckets=buckets, registry=registry)
    engine.observe(lambda label_s, model_s: (latency.observe(label_s), inference.observe(model_s)))
    family = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily}

    class Counts:
        def collect(self):
            c = engine.counts
            for name, key, what in [("messages", "messages", "Messages received"), ("samples", "samples", "Samples accepted"),
                                    ("windows", "windows", "Windows completed"), ("labels", "labels", "Labels published"),
                                    ("dropped_labels", "dropped_labels", "Labels dropped while the broker was away"),
                                    ("evicted_devices", "evicted", "Devices whose state was freed after idle_timeout"),
                                    ("disconnects", "disconnects", "Connections to the broker lost"),
                                    ("taken_over", "taken_over", "Times another client was found using our client id")]:
                yield CounterMetricFamily(f"harstream_{name}", what, value=c[key])
            yield CounterMetricFamily("harstream_dropped_windows", "Windows dropped from the full queue", value=engine.dropped_windows())
            rejects = CounterMetricFamily("harstream_rejects", "Messages rejected, by reason", labels=["reason"])
            for reason, n in sorted(engine.rejects.items()):
                rejects.add_metric([reason], n)
            yield rejects
            resets = CounterMetricFamily("harstream_resets", "Device streams restarted, by reason", labels=["reason"])
            for reason, n in sorted(engine.resets().items()):
                resets.add_metric([reason], n)
            yield resets
            yield GaugeMetricFamily("harstream_devices", "Devices with state", value=len(engine.devices()))
            yield GaugeMetricFamily("harstream_queue", "Windows waiting for the model", value=engine.queued())
            yield GaugeMetricFamily("harstream_connected", "1 while connected to the broker", value=float(service.connected.is_set()))
            for kind, name, what, value in service.metric_values():
                yield family[kind](name, what, value=value)

    registry.register(Counts())
    start_http_server(port, addr=addr, registry=registry)
    return registry
