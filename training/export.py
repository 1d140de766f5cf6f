"""Keras -> TFLite with metadata, and a parity check of the two on the test windows."""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from harstream.core.model import Model, ModelInfo, metadata_path


def to_tflite(model, arch, window: int, classes: int, quantize: str | None = None, representative=None) -> bytes:
    """Convert a trained Keras model.  Recurrent ones are rebuilt with a batch of 1 first
    (Keras 3 + TF 2.21 cannot convert them with a dynamic batch) and given the same weights."""
    import tensorflow as tf

    if arch.recurrent:
        fixed = arch.build(window, len(arch.channels), classes, batch_size=1)
        fixed.set_weights(model.get_weights())
        model = fixed
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8-weights":  # weights in int8, activations in float: the input keeps its resolution
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # Per-channel weights in a dense layer need FULLY_CONNECTED version 12, which tflite-runtime 2.14
        # (the last build for a Pi's Python 3.11 and numpy 1.x) cannot run; per-tensor keeps version 9.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None].astype(np.float32)] for x in representative)
    elif quantize:
        raise ValueError(f"unknown quantisation {quantize!r}")
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its SavedModel's signature
        return converter.convert()


def write_model(tflite: bytes, info: ModelInfo, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{info.name}.tflite"
    # Write both files beside their final names, then rename: a reader never sees half a model.
    with tempfile.NamedTemporaryFile(dir=out_dir, delete=False, suffix=".tmp") as f:
        f.write(tflite)
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)
    write_metadata(info, path)
    return path


def write_metadata(info: ModelInfo, path: Path) -> None:
    meta = metadata_path(path)
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(info.to_json(), encoding="utf-8")
    os.replace(tmp, meta)


def parity(path: Path, X: np.ndarray, keras_probs: np.ndarray) -> dict:
    """Run the exported file on X and compare with Keras: argmax agreement and the largest difference."""
    lite = Model(path).predict_all(X)
    disagree = int((lite.argmax(1) != keras_probs.argmax(1)).sum())
    return {
        "windows": int(len(X)),
        "argmax_disagreements": disagree,
        "max_abs_prob_diff": float(np.abs(lite - keras_probs).max()) if len(X) else 0.0,
        "tflite_probs": lite,
    }
