"""Which model a user means: the shipped ones by name, a file by path, or the default.

The models ship inside the package (``harstream.models``), so a name works the same in a clone and
from a wheel: ``hcnn``, ``hcnn.tflite`` and ``models/hcnn.tflite`` all name the shipped hcnn.

>>> {"hcnn", "lstm"} <= set(shipped_models())
True
>>> resolve_model("models/hcnn.tflite").name
'hcnn.tflite'
"""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from .. import models
from .model import ModelError, metadata_path


def default_model() -> Path:
    """$HARSTREAM_MODEL, else the model that the package's ``models/DEFAULT`` names (in the checkout, or installed)."""
    if os.environ.get("HARSTREAM_MODEL"):
        return Path(os.environ["HARSTREAM_MODEL"])
    folder = resources.files(models)
    default = folder / "DEFAULT"
    if not default.is_file():
        raise ModelError(f"no default model: {default} is missing (a damaged install?); pass --model")
    return Path(str(folder / (default.read_text().strip() + ".tflite")))


def shipped_models() -> dict[str, Path]:
    """The models inside the package, by name."""
    folder = resources.files(models)
    return {p.name[:-len(".tflite")]: Path(str(p)) for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".tflite")}


def resolve_model(given=None) -> Path:
    """A model file from what a user typed: a path that exists, else a shipped model's name; nothing: the default."""
    if given is None or str(given) == "":
        return default_model()
    path = Path(given)
    if path.exists():
        return path
    shipped = shipped_models()
    name = path.name[:-len(".tflite")] if path.name.endswith(".tflite") else path.name
    if name in shipped and (len(path.parts) == 1 or path.parent.name == "models"):
        return shipped[name]
    raise ModelError(f"{given}: no such model file, nor a shipped model (shipped: {', '.join(shipped)}; `harstream models` lists them)")


def describe(path: Path) -> dict:
    """What ``harstream models`` shows of one model: its metadata's labels, placements and accuracy, its size."""
    try:
        meta = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"name": path.stem, "path": str(path), "error": f"unreadable metadata ({exc})"}
    return {"name": meta.get("name", path.stem), "path": str(path), "bytes": path.stat().st_size,
            "labels": meta.get("labels", []), "placements": meta.get("placements", []), "accuracy": meta.get("accuracy", {}),
            "unknown_threshold": meta.get("unknown_threshold", 0.0), "unknown_when_far": bool(meta.get("distance"))}
