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
from harstream.core import preprocess
from harstream.core.metrics import format_table, scores
from harstream.core.model import Model, ModelInfo
from harstream.datasets import (
    ACTIVITIES,
    READERS,
    DatasetError,
    WindowSet,
    load_windows,
)
from harstream.datasets.common import TEST_SUBJECTS, VALIDATION_SUBJECTS

from .archs import ARCHS, placement_loss
from .export import parity, to_tflite, write_metadata, write_model
from .report import confusion_png, write_report

#: The seed tutorial's figures over 10 repeats on UCI HAR's own windows.
SEED_REPORTED = {"lstm": (0.897, 0.014), "cnn-lstm": (0.907, 0.011), "convlstm": (0.908, 0.009)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _thin(windows: WindowSet, limit, rng) -> WindowSet:
    if limit is None or len(windows) <= limit:
        return windows
    keep = np.zeros(len(windows), dtype=bool)
    keep[rng.choice(len(windows), limit, replace=False)] = True
    return windows.where(keep)


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


def _targets(arch, y, placement):
    import keras

    onehot = keras.utils.to_categorical(y, len(ACTIVITIES))
    if not arch.placements:
        return onehot
    return np.hstack([onehot, keras.utils.to_categorical(placement, len(arch.placements))])


def fit_model(arch, X_fit, y_fit, epochs: int, seed: int, X_val=None, y_val=None, label: str | None = None,
              placement_fit=None, placement_val=None, **build_options):
    """One model of ``arch`` trained on (X_fit, y_fit); progress per epoch when ``label`` is given.
    A placement-aware arch also takes each window's placement index."""
    import keras

    keras.utils.set_random_seed(seed)
    classes = len(ACTIVITIES)
    model = arch.build(X_fit.shape[1], X_fit.shape[2], classes, **build_options)
    for layer in model.layers:  # normalisation inside the model learns its statistics from the training windows
        if isinstance(layer, keras.layers.Normalization):
            layer.adapt(np.concatenate([X_fit, -X_fit]) if arch.symmetric_normalization else X_fit)
    if arch.placements:
        loss, metrics = placement_loss(classes, len(arch.placements), arch.label_smoothing), []
    else:
        loss, metrics = keras.losses.CategoricalCrossentropy(label_smoothing=arch.label_smoothing), ["accuracy"]
    model.compile(optimizer=_optimizer(arch, epochs, len(y_fit)), metrics=metrics, loss=loss)
    validation = (X_val, _targets(arch, y_val, placement_val)) if X_val is not None else None
    targets = _targets(arch, y_fit, placement_fit)
    callbacks = [_progress(label, epochs)] if label else []
    if arch.augment is not None:  # every window turned anew each epoch, the whole epoch in one vectorised call
        rng = np.random.default_rng(seed)
        for epoch in range(epochs):
            turned = arch.augment(X_fit, placement_fit, rng)
            model.fit(turned, targets, initial_epoch=epoch, epochs=epoch + 1, batch_size=arch.batch_size,
                      validation_data=validation, verbose=0, callbacks=callbacks)
    else:
        model.fit(X_fit, targets, epochs=epochs, batch_size=arch.batch_size, validation_data=validation, verbose=0, callbacks=callbacks)
    return model


def _load(data) -> WindowSet:
    paths = data if isinstance(data, (list, tuple)) else [data]
    sets = [load_windows(p) for p in paths]
    return sets[0] if len(sets) == 1 else WindowSet.concat(sets)


def _held_out_subjects(windows: WindowSet) -> tuple[int, ...]:
    """Validation subjects of the datasets other than HAPT (MotionSense's): kept out of training and
    of every choice, scored only."""
    return tuple(s for name, r in READERS.items() if name != "hapt" for s in r.validation_subjects if s in set(windows.subject.tolist()))


def _evaluate(info, outputs, windows: WindowSet) -> dict:
    """Accuracy with the placement given, and (placement-aware models) unknown."""
    y = windows.y
    out = {"windows": int(len(y)),
           "accuracy": float((info.activity(outputs, windows.placement if info.placements else None).argmax(1) == y).mean())}
    if info.placements:
        out["accuracy_placement_unknown"] = float((info.activity(outputs).argmax(1) == y).mean())
        out["placement_accuracy"] = float((info.split(outputs)[1].argmax(1) == windows.placement).mean())
    return out


def train(arch_name: str, repeats: int, data=None, out: Path = Path("models"), *, epochs: int | None = None,
          seed: int = 0, max_windows: int | None = None, name: str | None = None,
          validation_subjects=VALIDATION_SUBJECTS) -> dict:
    """``data``: one dataset or a list (e.g. HAPT and MotionSense).  Test subjects are HAPT's (UCI HAR's
    split); ``validation_subjects`` choose the repeat to export; other datasets' validation subjects
    (MotionSense's) are kept out of training and only scored."""
    arch = ARCHS[arch_name]
    epochs = epochs or arch.epochs
    name = name or arch.name
    windows = _load(data).classes(len(ACTIVITIES))  # the six: these archs predate RUNNING
    held_out = _held_out_subjects(windows)
    test_set = windows.subjects(TEST_SUBJECTS)
    val_set = windows.subjects(validation_subjects)
    scored_set = windows.subjects(held_out)
    fit_set = windows.where(~np.isin(windows.subject, list(TEST_SUBJECTS) + list(validation_subjects) + list(held_out)))
    if not len(fit_set) or (validation_subjects and not len(val_set)):
        raise DatasetError(f"{windows.source}: need windows of training and validation {list(validation_subjects)} subjects; "
                           f"found {len(fit_set)} and {len(val_set)}")
    rng = np.random.default_rng(seed)
    fit_set, val_set, test_set, scored_set = (_thin(w, max_windows, rng) for w in (fit_set, val_set, test_set, scored_set))
    X_fit, y_fit = fit_set.select(arch.channels), fit_set.y
    X_val, y_val = val_set.select(arch.channels), val_set.y
    classes, window = len(ACTIVITIES), X_fit.shape[1]
    info = ModelInfo(name=name, labels=list(ACTIVITIES), channels=list(arch.channels), arch=arch.name,
                     sample_rate_hz=50.0, window=window, step=window // 2, placements=list(arch.placements))
    scored_sets = {"test": test_set, "held_out": scored_set}
    log(f"[{name}] {len(y_fit)} training windows, {len(y_val)} validation (subjects {list(validation_subjects)}), "
        f"{len(test_set)} test, {len(scored_set)} held out {list(held_out)}; {repeats} repeats of {epochs} epochs")

    runs, best = [], None
    for k in range(repeats):
        t0 = time.time()
        validation = (X_val, y_val) if len(y_val) else (None, None)
        model = fit_model(arch, X_fit, y_fit, epochs, seed + k, *validation, f"[{name}] repeat {k + 1}/{repeats}",
                          placement_fit=fit_set.placement, placement_val=val_set.placement if len(y_val) else None)
        fit_s = time.time() - t0
        val = _evaluate(info, model.predict(X_val, verbose=0), val_set)["accuracy"] if len(y_val) else None
        run = {"repeat": k + 1, "seed": seed + k, "validation_accuracy": val, "fit_seconds": round(fit_s, 1)}
        outputs = {}
        for what, ws in scored_sets.items():
            if len(ws):
                outputs[what] = model.predict(ws.select(arch.channels), verbose=0)
                run[what] = _evaluate(info, outputs[what], ws)
        run["test_accuracy"] = run["test"]["accuracy"] if "test" in run else None
        runs.append(run)
        shown = ", ".join(f"{what} {r['accuracy'] * 100:.2f}%" for what, r in run.items() if isinstance(r, dict))
        log(f"[{name}] repeat {k + 1}/{repeats}: {shown}" + (f", validation {val * 100:.2f}%" if val is not None else "") + f" ({fit_s:.0f} s)")
        if best is None or (val is not None and val > best[0]):  # no validation: the first repeat
            best = (val, k, model, outputs)

    summary = {}
    for what in scored_sets:
        accs = np.array([r[what]["accuracy"] for r in runs if what in r])
        if len(accs):
            summary[what] = {"mean": float(accs.mean()), "std": float(accs.std())}
            log(f"[{name}] {what} accuracy over {repeats} repeats: {accs.mean() * 100:.2f}% ± {accs.std() * 100:.2f}")

    _, best_k, best_model, keras_outputs = best
    check_set = test_set if len(test_set) else scored_set
    check_outputs = keras_outputs["test" if len(test_set) else "held_out"]
    X_check = check_set.select(arch.channels)
    tflite = to_tflite(best_model, arch, window, classes)
    path = write_model(tflite, info, out)
    check = parity(path, X_check, check_outputs)
    lite_outputs = check.pop("tflite_probs")
    if check["argmax_disagreements"]:
        raise RuntimeError(f"{path}: TFLite and Keras disagree on {check['argmax_disagreements']} windows")
    place = check_set.placement if info.placements else None
    result = scores(check_set.y, info.activity(lite_outputs, place).argmax(1), ACTIVITIES)
    if arch.quantize:
        float_accuracy, float_bytes = result["accuracy"], len(tflite)
        sample = X_fit[np.random.default_rng(seed).choice(len(X_fit), min(500, len(X_fit)), replace=False)]
        tflite = to_tflite(best_model, arch, window, classes, quantize=arch.quantize, representative=sample)
        path = write_model(tflite, info, out)
        quant_outputs = Model(path).predict_all(X_check)
        result = scores(check_set.y, info.activity(quant_outputs, place).argmax(1), ACTIVITIES)
        check["quantized"] = {"type": arch.quantize, "float_accuracy": float_accuracy, "float_bytes": float_bytes,
                              "accuracy": result["accuracy"], "bytes": len(tflite),
                              "argmax_disagreements_with_float": int((info.activity(quant_outputs, place).argmax(1)
                                                                      != info.activity(lite_outputs, place).argmax(1)).sum())}
        log(f"[{name}] {arch.quantize}: {len(tflite)} bytes (float {float_bytes}); accuracy {result['accuracy'] * 100:.2f}% "
            f"against {float_accuracy * 100:.2f}% for the float model")
    exported = Model(path)
    info.accuracy = {"validation": None if best[0] is None else round(best[0], 4), "data": " + ".join(Path(s).name for s in windows.source.split(" + "))}
    for what, ws in scored_sets.items():
        if len(ws):
            e = _evaluate(info, exported.predict_all(ws.select(arch.channels)), ws)
            info.accuracy[what] = round(e["accuracy"], 4)
            info.accuracy[f"{what}_windows"] = e["windows"]
    info.accuracy["test_subjects"] = "UCI HAR split"
    if held_out:
        info.accuracy["held_out_subjects"] = list(held_out)
    info.extra = {"repeat": best_k + 1, "parity_max_abs_prob_diff": check["max_abs_prob_diff"], "trained": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_metadata(info, path)  # again, now with the measured accuracy
    log(f"[{name}] exported repeat {best_k + 1} ({'best on validation' if validation_subjects else 'the first'}) to {path} ({len(tflite)} bytes); "
        f"parity: argmax agrees on all {check['windows']} windows, largest difference {check['max_abs_prob_diff']:.2e}")
    log(format_table(result))

    test_summary = summary.get("test") or summary.get("held_out")
    report = {
        "arch": arch.name, "name": name, "description": arch.description, "epochs": epochs, "batch_size": arch.batch_size,
        "repeats": runs, "mean_test_accuracy": test_summary["mean"], "std_test_accuracy": test_summary["std"], "summary": summary,
        "std_note": "population std (numpy default), as the seed computed it",
        "seed_reported_on_uci_har": SEED_REPORTED.get(arch.name),
        "selected_repeat": best_k + 1,
        "selection": (f"highest accuracy on validation subjects {list(validation_subjects)}" if validation_subjects
                      else "no validation subjects: all training subjects fit every repeat; the first repeat is exported"),
        "exported": {"path": str(path), "bytes": len(tflite), **result, "parity": check},
        "data": {"source": windows.source, "preprocessing": preprocess.VERSION, "train_windows": len(y_fit),
                 "validation_windows": len(y_val), "test_windows": len(test_set), "held_out_windows": len(scored_set),
                 "held_out_subjects": list(held_out), "max_windows": max_windows},
    }
    write_report(report, out / f"{name}.report.json")
    confusion_png(result["confusion"], ACTIVITIES, f"{name}: accuracy {result['accuracy'] * 100:.2f}% "
                  f"(mean of {repeats}: {test_summary['mean'] * 100:.2f}% ± {test_summary['std'] * 100:.2f})", out / f"{name}.confusion.png")
    return report
