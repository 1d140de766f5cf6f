"""Classification scores: accuracy, per-class precision/recall/F1, confusion matrix.

>>> s = scores([0, 0, 1, 1], [0, 1, 1, 1], ["A", "B"])
>>> s["accuracy"], s["confusion"]
(0.75, [[1, 1], [0, 2]])
>>> s["per_class"]["B"]["precision"], s["per_class"]["A"]["recall"]
(0.6667, 0.5)
"""
from __future__ import annotations

import numpy as np


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def scores(y_true, y_pred, labels) -> dict:
    m = confusion(y_true, y_pred, len(labels))
    tp = np.diag(m).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / m.sum(axis=0))
        recall = np.nan_to_num(tp / m.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    per_class = {
        label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, m.sum(axis=1))
    }
    total = int(m.sum())
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "n_windows": total,
        "macro_f1": round(float(f1.mean()), 4),
        "per_class": per_class,
        "confusion": m.tolist(),
    }


def format_table(result: dict) -> str:
    """The per-class table and confusion matrix as text."""
    labels = list(result["per_class"])
    width = max(len(label) for label in labels)
    lines = [f"{'':{width}}  precision  recall     f1  support"]
    for label, row in result["per_class"].items():
        lines.append(f"{label:{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7d}")
    lines.append(f"accuracy {result['accuracy']:.4f} over {result['n_windows']} windows; macro F1 {result['macro_f1']:.4f}")
    lines.append("confusion (rows true, columns predicted):")
    short = [label[:8] for label in labels]
    lines.append(f"{'':{width}}  " + " ".join(f"{s:>8}" for s in short))
    for label, row in zip(labels, result["confusion"]):
        lines.append(f"{label:{width}}  " + " ".join(f"{v:8d}" for v in row))
    return "\n".join(lines)
