"""Bad model files: each one line and exit status 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harstream.adapters.brokers import free_port
from harstream.cli import default_model

from .harness import (
    ROOT,
)


def bad_models() -> list[dict]:
    """``harstream serve`` with a model that is missing, corrupt or mismatched: one clear error, a non-zero exit."""
    source = Path(default_model())
    meta = json.loads(source.with_suffix(".json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def model(name: str, tflite: bytes | None, metadata) -> Path:
            path = tmp / f"{name}.tflite"
            if tflite is not None:
                path.write_bytes(tflite)
            if metadata is not None:
                path.with_suffix(".json").write_text(metadata if isinstance(metadata, str) else json.dumps(metadata))
            return path

        body = source.read_bytes()
        cases = [
            ("no such file", model("missing", None, None)),
            ("metadata missing", model("nometa", body, None)),
            ("metadata not JSON", model("badjson", body, "{labels: ")),
            ("not a TFLite file (random bytes)", model("random", os.urandom(len(body)), meta)),
            ("TFLite file cut in half", model("half", body[: len(body) // 2], meta)),
            ("empty file", model("empty", b"", meta)),
            ("another preprocessing version", model("prep", body, {**meta, "preprocessing": "someone-else-1"})),
            ("metadata window 100, model takes 128", model("window", body, {**meta, "window": 100})),
            ("five labels for six outputs", model("labels", body, {**meta, "labels": meta["labels"][:5]})),
            ("acceleration in m/s2, runtime sends g", model("units", body, {**meta, "units": {**meta["units"], "acc": "m/s2"}})),
            ("a channel the runtime does not make", model("channel", body, {**meta, "channels": meta["channels"][:-1] + ["magnetometer_x"]})),
        ]
        rows = []
        for case, path in cases:
            # the broker is never reached: the model is checked before connecting
            proc = subprocess.run([sys.executable, "-m", "harstream.cli", "serve", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--model", str(path)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)
            lines = [line for line in proc.stderr.splitlines() if line.strip() and "XNNPACK delegate" not in line]
            rows.append({"case": case, "exit": proc.returncode, "lines": len(lines),
                         "error": (lines[-1] if lines else "").replace(str(tmp) + "/", "")})
    return rows


# -- security ------------------------------------------------------------------------------------
