"""``harstream train``: N independent trainings of one architecture, scored on the test subjects,
the one that is best on the validation subjects exported to TFLite."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from stream import preprocess
from stream.datasets import ACTIVITIES, DatasetError, load_windows
from stream.datasets.common import VALIDATION_SUBJECTS
from stream.metrics import format_table, scores
from stream.model import Model, ModelInfo

from .archs import ARCHS
from .export import parity, to_tflite, write_metadata, write_model
from .report import confusion_png, write_report

#: The seed tutorial's figures over 10 repeats on UCI HAR's own windows.
SEED_REPORTED = {"lstm": (0.897, 0.014), "cnn-lstm": (0.907, 0.011), "convlstm": (0.908, 0.009)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _thin(X, y, limit, rng):
    if limit is None or len(y) <= limit:
        return X, y
    keep = np.sort(rng.choice(len(y), limit, replace=False))
    return X[keep], y[keep]


def _progress(label: str, epochs: int):
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val = f" val_acc {logs['val_accuracy']:.4f}" if "val_accuracy" in logs else ""
            log(f"{label} epoch {epoch + 1}/{epochs} loss {logs.get('loss', float('nan')):.4f} "
                f"acc {logs.get('accuracy', float('nan')):.4f}{val} ({time.time() - self.t0:.1f} s)")

    return Progress()


def _optimizer(arch, epochs: int, n: int):
    import keras

    if arch.learning_rate is None:
        return "adam"  # the seed's: Adam at Keras' default rate
    steps = epochs * int(np.ceil(n / arch.batch_size))
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(arch.learning_rate, steps))


def fit_model(arch, X_fit, y_fit, epochs: int, seed: int, X_val=None, y_val=None, label: str | None = None, **build_options):
    """One model of ``arch`` trained on (X_fit, y_fit); progress per epoch when ``label`` is given."""
    import keras

    keras.utils.set_random_seed(seed)
    classes = len(ACTIVITIES)
    model = arch.build(X_fit.shape[1], X_fit.shape[2], classes, **build_options)
    for layer in model.layers:  # normalisation inside the model learns its statistics from the training windows
        if isinstance(layer, keras.layers.Normalization):
            layer.adapt(X_fit)
    model.compile(optimizer=_optimizer(arch, epochs, len(y_fit)), metrics=["accuracy"],
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=arch.label_smoothing))
    validation = (X_val, keras.utils.to_categorical(y_val, classes)) if X_val is not None else None
    model.fit(X_fit, keras.utils.to_categorical(y_fit, classes), epochs=epochs, batch_size=arch.batch_size,
              validation_data=validation, verbose=0, callbacks=[_progress(label, epochs)] if label else [])
    return model


def train(arch_name: str, repeats: int, data=None, out: Path = Path("models"), *, epochs: int | None = None,
          seed: int = 0, max_windows: int | None = None, name: str | None = None,
          validation_subjects=VALIDATION_SUBJECTS) -> dict:
    arch = ARCHS[arch_name]
    epochs = epochs or arch.epochs
    name = name or arch.name
    windows = load_windows(data)
    train_set, test_set = windows.split()
    val_set = train_set.subjects(validation_subjects)
    fit_set = train_set.where(~np.isin(train_set.subject, validation_subjects))
    if not len(fit_set) or (validation_subjects and not len(val_set)) or not len(test_set):
        raise DatasetError(f"{windows.source}: need windows of training, validation {list(validation_subjects)} and test subjects; "
                           f"found {len(fit_set)}, {len(val_set)} and {len(test_set)}")
    rng = np.random.default_rng(seed)
    X_fit, y_fit = _thin(fit_set.select(arch.channels), fit_set.y, max_windows, rng)
    X_val, y_val = _thin(val_set.select(arch.channels), val_set.y, max_windows, rng)
    X_test, y_test = _thin(test_set.select(arch.channels), test_set.y, max_windows, rng)
    classes, window = len(ACTIVITIES), X_fit.shape[1]
    log(f"[{name}] {len(y_fit)} training windows, {len(y_val)} validation (subjects {list(validation_subjects)}), "
        f"{len(y_test)} test; {repeats} repeats of {epochs} epochs")

    runs, best = [], None
    for k in range(repeats):
        t0 = time.time()
        validation = (X_val, y_val) if len(y_val) else (None, None)
        model = fit_model(arch, X_fit, y_fit, epochs, seed + k, *validation, f"[{name}] repeat {k + 1}/{repeats}")
        fit_s = time.time() - t0
        val_acc = float((model.predict(X_val, verbose=0).argmax(1) == y_val).mean()) if len(y_val) else None
        test_probs = model.predict(X_test, verbose=0)
        test_acc = float((test_probs.argmax(1) == y_test).mean())
        runs.append({"repeat": k + 1, "seed": seed + k, "validation_accuracy": val_acc, "test_accuracy": test_acc, "fit_seconds": round(fit_s, 1)})
        shown = f"validation {val_acc * 100:.2f}%, " if val_acc is not None else ""
        log(f"[{name}] repeat {k + 1}/{repeats}: test accuracy {test_acc * 100:.2f}% ({shown}{fit_s:.0f} s)")
        if best is None or (val_acc is not None and val_acc > best[0]):  # no validation: the first repeat
            best = (val_acc, k, model, test_probs)

    accs = np.array([r["test_accuracy"] for r in runs])
    log(f"[{name}] test accuracy over {repeats} repeats: {accs.mean() * 100:.2f}% ± {accs.std() * 100:.2f}")

    _, best_k, best_model, keras_probs = best
    info = ModelInfo(name=name, labels=list(ACTIVITIES), channels=list(arch.channels), arch=arch.name,
                     sample_rate_hz=50.0, window=window, step=window // 2)
    tflite = to_tflite(best_model, arch, window, classes)
    path = write_model(tflite, info, out)
    check = parity(path, X_test, keras_probs)
    lite_probs = check.pop("tflite_probs")
    if check["argmax_disagreements"]:
        raise RuntimeError(f"{path}: TFLite and Keras disagree on {check['argmax_disagreements']} test windows")
    result = scores(y_test, lite_probs.argmax(1), ACTIVITIES)
    if arch.quantize:
        float_accuracy, float_bytes = result["accuracy"], len(tflite)
        sample = X_fit[np.random.default_rng(seed).choice(len(X_fit), min(500, len(X_fit)), replace=False)]
        tflite = to_tflite(best_model, arch, window, classes, quantize=arch.quantize, representative=sample)
        path = write_model(tflite, info, out)
        quant_probs = Model(path).predict(X_test)
        result = scores(y_test, quant_probs.argmax(1), ACTIVITIES)
        check["quantized"] = {"type": arch.quantize, "float_accuracy": float_accuracy, "float_bytes": float_bytes,
                              "accuracy": result["accuracy"], "bytes": len(tflite),
                              "argmax_disagreements_with_float": int((quant_probs.argmax(1) != lite_probs.argmax(1)).sum())}
        log(f"[{name}] {arch.quantize}: {len(tflite)} bytes (float {float_bytes}); test accuracy {result['accuracy'] * 100:.2f}% "
            f"against {float_accuracy * 100:.2f}% for the float model")
    info.accuracy = {"test": round(result["accuracy"], 4), "test_windows": result["n_windows"],
                     "validation": None if best[0] is None else round(best[0], 4), "test_subjects": "UCI HAR split", "data": Path(windows.source).name}
    info.extra = {"repeat": best_k + 1, "parity_max_abs_prob_diff": check["max_abs_prob_diff"], "trained": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_metadata(info, path)  # again, now with the measured accuracy
    log(f"[{name}] exported repeat {best_k + 1} ({'best on validation' if validation_subjects else 'the first'}) to {path} ({len(tflite)} bytes); "
        f"parity: argmax agrees on all {check['windows']} test windows, largest probability difference {check['max_abs_prob_diff']:.2e}")
    log(format_table(result))

    report = {
        "arch": arch.name, "name": name, "description": arch.description, "epochs": epochs, "batch_size": arch.batch_size,
        "repeats": runs, "mean_test_accuracy": float(accs.mean()), "std_test_accuracy": float(accs.std()),
        "std_note": "population std (numpy default), as the seed computed it",
        "seed_reported_on_uci_har": SEED_REPORTED.get(arch.name),
        "selected_repeat": best_k + 1,
        "selection": (f"highest accuracy on validation subjects {list(validation_subjects)}" if validation_subjects
                      else "no validation subjects: all 21 training subjects fit every repeat; the first repeat is exported"),
        "exported": {"path": str(path), "bytes": len(tflite), **result, "parity": check},
        "data": {"source": windows.source, "preprocessing": preprocess.VERSION, "train_windows": len(y_fit),
                 "validation_windows": len(y_val), "test_windows": len(y_test), "max_windows": max_windows},
    }
    write_report(report, out / f"{name}.report.json")
    confusion_png(result["confusion"], ACTIVITIES, f"{name}: test accuracy {result['accuracy'] * 100:.2f}% "
                  f"(mean of {repeats}: {accs.mean() * 100:.2f}% ± {accs.std() * 100:.2f})", out / f"{name}.confusion.png")
    return report
