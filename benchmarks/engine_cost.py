"""Where a message's time goes, with the network taken out: the engine alone against parsing alone.

    python -m benchmarks.engine_cost [--shape all] [--repeats 3]

The flood of ``benchmarks.throughput`` (same shapes, same messages) is handed straight to
``Engine.receive`` on this thread, as a transport would, until every window is labelled; beside it the
bare subscriber's work on the same messages (``bare_parse``: JSON parsed, or CSV lines split into
floats), and the model alone on as many windows, in batches as the engine makes them.  Microseconds per
message, best of ``--repeats``.  What the engine costs beyond parsing, set against what the bare
subscriber pays per message over MQTT (paho's share, from ``throughput``'s drains), bounds the ratio that
benchmark can show: ratio <= bare / (bare + engine - parse).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from harstream.core import Model
from harstream.core.catalog import default_model
from harstream.engine import Engine, Events

from .throughput import ALIASES, SHAPES, bare_parse, flood, settings_for, windows_in


def per_message_us(shape: str, model, repeats: int) -> dict:
    messages = flood(shape, t0=1.7e9)
    parse_s, engine_s = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _, payload in messages:
            bare_parse(payload)
        parse_s.append(time.perf_counter() - t0)
        engine = Engine(settings_for(shape), model, Events())
        engine.start()
        t0 = time.perf_counter()
        for topic, payload in messages:
            engine.receive(topic, payload)
        engine.stop()  # every window labelled
        engine_s.append(time.perf_counter() - t0)
        assert engine.counts["labels"] == windows_in(shape) and not engine.rejects, (engine.counts, engine.rejects)
    info = model.info
    batch = np.zeros((32, info.window, len(info.channels)), dtype=np.float32)
    model.predict(batch)
    t0 = time.perf_counter()
    for _ in range(20):
        model.predict(batch) if getattr(model, "dynamic_batch", False) else [model.predict(batch[:1]) for _ in range(32)]
    model_per_window = (time.perf_counter() - t0) / (20 * 32)
    n = len(messages)
    return {"shape": shape, "messages": n, "parse_us": min(parse_s) / n * 1e6, "engine_us": min(engine_s) / n * 1e6,
            "model_us": model_per_window * windows_in(shape) / n * 1e6, "samples_per_message": SHAPES[shape][2]}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--shape", nargs="+", choices=[*SHAPES, *ALIASES], default=["all"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    model = Model(args.model or default_model())
    shapes = list(dict.fromkeys(s for given in args.shape for s in ALIASES.get(given, [given])))
    rows = [per_message_us(shape, model, args.repeats) for shape in shapes]
    print(f"model {model.name}; microseconds per message, best of {args.repeats}\n")
    print("| message shape | samples | bare parse | engine (all of it) | of which the model |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['samples_per_message']} | {r['parse_us']:.1f} | {r['engine_us']:.1f} | {r['model_us']:.1f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
