"""Every shipped model in one run: HAPT test accuracy, file size, per-window latency on one thread.

Placement-aware models are scored with HAPT's placement (the waist) given, as ``evaluate`` does.

    python -m benchmarks.models [--data ../shared/data/hapt-rawdata.zip] [--json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from harstream.core.model import Model, load_interpreter_class
from harstream.datasets import load_windows

MODELS = Path(__file__).resolve().parent.parent / "models"


def latency_ms(model: Model, X: np.ndarray, repeats: int = 300) -> float:
    """Median time to classify one window, batch of one, one thread."""
    x = X[:1]
    for _ in range(20):
        model.predict(x)
    times = []
    for i in range(repeats):
        x = X[i % len(X):i % len(X) + 1]
        t0 = time.perf_counter()
        model.predict(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def weight_format(path: Path) -> str:
    """How the file stores its weights, from its tensors (a report without a ``quantized`` entry says nothing)."""
    Interpreter, _ = load_interpreter_class()
    kinds = {np.dtype(t["dtype"]).name for t in Interpreter(model_path=str(path)).get_tensor_details()}
    return "int8-weights" if "int8" in kinds else "float32"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    _, test = load_windows(args.data).split()
    rows = []
    for path in sorted(MODELS.glob("*.tflite")):
        model = Model(path, threads=1)
        X = test.select(model.info.channels).astype(np.float32)
        waist = [model.info.placements.index("waist")] * len(X) if "waist" in model.info.placements else None
        acc = float((model.predict(X, placement=waist).argmax(1) == test.y).mean())
        report = path.with_suffix(".report.json")
        quantized = json.loads(report.read_text())["exported"]["parity"].get("quantized") if report.exists() else None
        rows.append({"model": model.name, "accuracy": round(acc, 4), "bytes": path.stat().st_size,
                     "float_accuracy": round(quantized["float_accuracy"], 4) if quantized else None,
                     "format": quantized["type"] if quantized else weight_format(path),
                     "ms_per_window": round(latency_ms(model, X), 3), "runtime": model.backend, "windows": len(X)})
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'model':<21} {'format':<12} {'accuracy':>8} {'float model':>11} {'size':>10} {'ms/window':>10}"
          f"  ({rows[0]['windows']} test windows, {rows[0]['runtime']}, 1 thread)")
    for r in rows:
        float_acc = f"{r['float_accuracy'] * 100:10.2f}%" if r["float_accuracy"] is not None else f"{'':11}"
        print(f"{r['model']:<21} {r['format']:<12} {r['accuracy'] * 100:7.2f}% {float_acc} {r['bytes'] / 1024:8.1f} KB {r['ms_per_window']:10.3f}")


if __name__ == "__main__":
    main()
