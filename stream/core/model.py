"""A model artifact: ``NAME.tflite`` beside ``NAME.json`` (its metadata), run by a TFLite interpreter.

The interpreter is ai-edge-litert's, else tflite-runtime's (``HARSTREAM_TFLITE=litert|tflite-runtime``
forces one); the runtime never imports TensorFlow.  Everything
the daemon needs to feed the model (channels, units, rate, window, step,
preprocessing version) comes from the metadata and is checked at load time.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import preprocess
from .activities import ACTIVITIES
from .metadata import decode_array, distance_problems, encode_array, prior_problems, upright_problems  # noqa: F401 (the codec, imported from here too)
from .placement import PLACEMENTS

FORMAT = "harstream-model/1"
#: The activities ``gaits_from_features`` tells apart: walking and the stairs (running stays the model's).
GAIT_SPLIT = ACTIVITIES[:3]
UNITS = {"acc": "g", "gyro": "rad/s"}


# A model's ``distance``, decoded: the activities' means whitened and their squares, the whitening, each activity's
# spread, and the gaits' rows and log weights for ``gait_odds``.
_Statistics = NamedTuple("_Statistics", [("means", np.ndarray), ("squares", np.ndarray), ("whitening", np.ndarray),
                                         ("scales", np.ndarray), ("gaits", list), ("log_weights", np.ndarray)])


class ModelError(Exception):
    """The model file or its metadata is missing, corrupt, or does not fit this runtime."""


@dataclass
class ModelInfo:
    name: str
    labels: list[str]
    channels: list[str]
    sample_rate_hz: float = 50.0
    window: int = 128
    step: int = 64
    preprocessing: str = preprocess.VERSION
    units: dict = field(default_factory=lambda: dict(UNITS))
    arch: str = ""
    accuracy: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    format: str = FORMAT
    # A placement-aware model (see ``placement.py``) names the placements it tells apart; its output
    # then holds the activity with the placement unknown, the activity given each placement, and the
    # placement: len(labels) * (1 + len(placements)) + len(placements) columns.
    placements: list[str] = field(default_factory=list)
    # A model with an UNKNOWN label: below this confidence (the top label's probability, after the
    # device's filter) a window is UNKNOWN too; 0 never.  Chosen on validation windows.
    unknown_threshold: float = 0.0
    # How often each label was seen in training (the filter divides it out of the model's answers);
    # empty: every label alike.
    prior: list = field(default_factory=list)
    # A model that gives its features as a second output: every in-set activity's mean features, the
    # whitening of their shared covariance, each activity's spread and the distance beyond which a window is
    # unlike anything the model learnt, hence UNKNOWN (``labels``, ``means``, ``whitening``, ``scales``,
    # ``threshold``; training/distance.py).
    distance: dict = field(default_factory=dict)
    # How the model's walkers wore their phones: gravity's direction in the phone's frame while they walked,
    # per placement (a unit vector).  A device worn turned about its screen's normal from it is read turned
    # back once it has walked (upright.py); a placement not named here is never turned.
    upright: dict = field(default_factory=dict)
    # Walking and stairs told apart by ``distance``'s statistics (a linear discriminant), not the model's last layers:
    # fewer walks read as stairs, for a little on the pocket's stairs (docs/generalisation-choices.md, items 14, 15).
    gaits_from_features: bool = False

    @property
    def outputs(self) -> int:
        return len(self.labels) * (1 + len(self.placements)) + len(self.placements)

    def split(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(activity (n, 1 + placements, labels): row 0 placement unknown, row 1 + k given placement k;
        placement (n, placements), or None for a model that does not tell placements)."""
        n, L, P = len(out), len(self.labels), len(self.placements)
        activity = out[:, :L * (1 + P)].reshape(n, 1 + P, L)
        return activity, (out[:, L * (1 + P):] if P else None)

    def activity(self, out: np.ndarray, placement=None) -> np.ndarray:
        """The activity probabilities (n, labels) in a model's output: for a placement-aware model with
        the placement unknown (None), or given as one index into ``placements`` per window (-1: unknown)."""
        if not self.placements:
            return out
        activity, _ = self.split(out)
        rows = np.zeros(len(out), dtype=np.int64) if placement is None else np.asarray(placement, dtype=np.int64) + 1
        return activity[np.arange(len(out)), rows]

    def _statistics(self) -> "_Statistics":
        """The distance's arrays decoded once, and again only if ``distance`` or ``prior`` is replaced."""
        cached = self.__dict__.get("_decoded")
        if cached is None or cached[0] is not self.distance or cached[1] is not self.prior:
            whitening = decode_array(self.distance["whitening"])
            means = decode_array(self.distance["means"]) @ whitening
            labels = self.distance["labels"]
            gaits = [labels.index(a) for a in GAIT_SPLIT] if holds_gaits(self.distance) else []
            seen = len(self.prior) == len(self.labels)  # how often training saw each gait; else alike
            weights = [float(self.prior[self.labels.index(labels[k])]) if seen else 1.0 for k in gaits]
            cached = self.__dict__["_decoded"] = (self.distance, self.prior, _Statistics(
                means, (means * means).sum(axis=1), whitening, np.asarray(self.distance["scales"], dtype=np.float64),
                gaits, np.log(np.maximum(weights, 1e-9))))
        return cached[2]

    @staticmethod
    def _squared_distances(features: np.ndarray, s: "_Statistics") -> np.ndarray:
        """Each window's squared Mahalanobis distance (n, k) from every in-set activity's mean features."""
        z = np.asarray(features, dtype=np.float64) @ s.whitening
        return (z * z).sum(axis=1)[:, None] - 2.0 * z @ s.means.T + s.squares  # |z - m|^2, expanded

    @staticmethod
    def _gait_odds(squared: np.ndarray, s: "_Statistics") -> np.ndarray:
        logit = -0.5 * squared[:, s.gaits] + s.log_weights
        odds = np.exp(logit - logit.max(axis=1, keepdims=True))
        return odds / odds.sum(axis=1, keepdims=True)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Each window's squared Mahalanobis distance (n,) from the nearest in-set activity's mean features, in
        units of that activity's spread (its training windows' median)."""
        s = self._statistics()
        return (self._squared_distances(features, s) / s.scales).min(axis=1)

    def gait_odds(self, features: np.ndarray) -> np.ndarray:
        """How likely each of walking, upstairs and downstairs (n, 3, summing to one) is, by the features alone: a
        linear discriminant over ``distance``'s means and shared spread, weighted as training saw them (``prior``)."""
        s = self._statistics()
        return self._gait_odds(self._squared_distances(features, s), s)

    def far(self, features: np.ndarray) -> np.ndarray:
        """Which windows (n,) are unlike anything the model learnt: all False for a model without ``distance``."""
        if not self.distance:
            return np.zeros(len(features), dtype=bool)
        return self.distances(features) > self.distance["threshold"]

    def read_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``far`` and ``gait_odds`` (None unless ``gaits_from_features``) in one pass: batches are often one window."""
        s = self._statistics()
        squared = self._squared_distances(features, s)
        far = (squared / s.scales).min(axis=1) > self.distance["threshold"]
        return far, (self._gait_odds(squared, s) if self.gaits_from_features else None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "ModelInfo":
        known = set(cls.__dataclass_fields__)
        missing = {"name", "labels", "channels"} - set(data)
        if missing:
            raise ModelError(f"{where}: metadata lacks {', '.join(sorted(missing))}")
        info = cls(**{k: v for k, v in data.items() if k in known})
        info.validate(where)
        return info

    def validate(self, where: str) -> None:
        problems = []
        if self.format != FORMAT:
            problems.append(f"format is {self.format!r}, this runtime reads {FORMAT!r}")
        if self.preprocessing != preprocess.VERSION:
            problems.append(f"trained with preprocessing {self.preprocessing!r}, this runtime has {preprocess.VERSION!r}")
        unknown = [c for c in self.channels if c not in preprocess.CHANNELS]
        if unknown or not self.channels:
            problems.append(f"unknown channels {unknown or '(none)'}; this runtime makes {', '.join(preprocess.CHANNELS)}")
        if self.units != UNITS:
            problems.append(f"units {self.units} differ from the runtime's {UNITS}")
        if not (isinstance(self.window, int) and isinstance(self.step, int) and 0 < self.step <= self.window):
            problems.append(f"window {self.window!r} and step {self.step!r} must be whole numbers with 0 < step <= window")
        if not (isinstance(self.sample_rate_hz, (int, float)) and 1 <= self.sample_rate_hz <= 1000):
            problems.append(f"sample rate {self.sample_rate_hz!r} Hz is not plausible")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            problems.append("labels must be a non-empty list of distinct names")
        if not isinstance(self.placements, list) or any(p not in PLACEMENTS for p in self.placements) \
                or len(set(self.placements)) != len(self.placements):
            problems.append(f"placements {self.placements!r} must be distinct names out of {', '.join(PLACEMENTS)}")
        if self.distance:
            problems += distance_problems(self.distance, self.labels)
        if self.upright:
            problems += upright_problems(self.upright, self.placements)
        if self.gaits_from_features is not False and not (self.gaits_from_features is True and holds_gaits(self.distance)):
            problems.append(f"gaits_from_features {self.gaits_from_features!r} must be true or false, and true only with a "
                            f"distance that holds {', '.join(GAIT_SPLIT)}")
        if self.prior:
            problems += prior_problems(self.prior, self.labels)
        if problems:
            raise ModelError(f"{where}: " + "; ".join(problems))


def holds_gaits(distance) -> bool:
    """Whether a model's ``distance`` has statistics for every gait ``gaits_from_features`` tells apart."""
    return isinstance(distance, dict) and isinstance(distance.get("labels"), list) and all(a in distance["labels"] for a in GAIT_SPLIT)


def metadata_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def load_interpreter_class():
    """(Interpreter class, backend name): the first TFLite runtime that imports."""
    choice = os.environ.get("HARSTREAM_TFLITE", "")
    tried = []
    for name in ([choice] if choice else ["litert", "tflite-runtime"]):
        try:
            if name == "litert":
                from ai_edge_litert.interpreter import Interpreter
            elif name == "tflite-runtime":
                from tflite_runtime.interpreter import Interpreter
            else:
                raise ModelError(f"HARSTREAM_TFLITE={name!r}: choose litert or tflite-runtime")
            return Interpreter, name
        except ImportError as exc:
            tried.append(f"{name} ({exc})")
    raise ModelError("no TFLite runtime: install ai-edge-litert (or tflite-runtime). Tried " + "; ".join(tried))


#: What the TFLite runtime prints to the process's stderr at INFO level on every load, whatever
#: our log level: said once at DEBUG instead.
_NATIVE_INFO = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)


@contextlib.contextmanager
def _native_info_hidden():
    """Catch what native code writes to file descriptor 2 meanwhile; pass on all but ``_NATIVE_INFO``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (a service manager, a notebook): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if line.strip() in _NATIVE_INFO:
                    logging.getLogger("harstream").debug("%s", line.strip())
                elif line:
                    print(line, file=sys.stderr)


class Model:
    """A loaded, validated model.  ``predict`` takes (n, window, channels) and returns (n, classes).

    Models with a dynamic batch take all n windows in one call; models exported
    with a batch of 1 (recurrent ones) are called once per window.
    """

    def __init__(self, path: str | Path, threads: int = 1, features_expected: bool | None = None):
        self.path = Path(path)
        meta_path = metadata_path(self.path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        if not meta_path.is_file():
            raise ModelError(f"{self.path}: its metadata {meta_path.name} is missing (it says which channels, units and window the model expects)")
        try:
            data = json.loads(meta_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ModelError(f"{meta_path}: metadata must be a JSON object")
        self.info = ModelInfo.from_dict(data, str(meta_path))
        Interpreter, self.backend = load_interpreter_class()
        try:
            with _native_info_hidden():
                self._interp = Interpreter(model_path=str(self.path), num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path}: not a loadable TFLite model ({str(exc).strip().splitlines()[0]})") from None
        inp, out = self._interp.get_input_details(), self._interp.get_output_details()
        features = bool(self.info.distance) if features_expected is None else features_expected
        if len(inp) != 1 or len(out) != 1 + features:
            wanted = "one output tensor and its features" if features else "one output tensor"
            raise ModelError(f"{self.path}: expected one input and {wanted} (its metadata says so), found {len(inp)} and {len(out)}")
        self._in, self._out = inp[0], out[0]
        self._features = out[1] if features else None
        if self.info.distance and self._features["shape"][-1] != self.info.distance["whitening"]["shape"][0]:
            raise ModelError(f"{self.path}: {self._features['shape'][-1]} features, but its metadata's distance is for "
                             f"{self.info.distance['whitening']['shape'][0]}")
        want = (self.info.window, len(self.info.channels))
        if tuple(self._in["shape"][1:]) != want:
            raise ModelError(f"{self.path}: input shape {self._in['shape'].tolist()} does not fit window {want[0]} x {want[1]} channels of its metadata")
        if self._out["shape"][-1] != self.info.outputs:
            placements = f" and {len(self.info.placements)} placements" if self.info.placements else ""
            raise ModelError(f"{self.path}: {self._out['shape'][-1]} outputs but {len(self.info.labels)} labels{placements} "
                             f"in its metadata (which need {self.info.outputs})")
        self._lock = threading.Lock()  # an interpreter is not safe to call from two threads
        self.dynamic_batch = int(self._in.get("shape_signature", self._in["shape"])[0]) == -1
        self._batch = int(self._in["shape"][0])

    @property
    def name(self) -> str:
        return self.info.name

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = self._in["dtype"]
        if dtype == np.float32:
            return x.astype(np.float32, copy=False)
        scale, zero = self._in["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if self._out["dtype"] == np.float32:
            return y.astype(np.float64)
        scale, zero = self._out["quantization"]
        return (y.astype(np.float64) - zero) * scale

    def _invoke(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if len(x) != self._batch:
            self._interp.resize_tensor_input(self._in["index"], [len(x), *self._in["shape"][1:]])
            self._interp.allocate_tensors()
            self._batch = len(x)
        self._interp.set_tensor(self._in["index"], self._quantize(x))
        self._interp.invoke()
        out = self._dequantize(self._interp.get_tensor(self._out["index"]))
        return out, (None if self._features is None else self._interp.get_tensor(self._features["index"]).astype(np.float64))

    def predict(self, X: np.ndarray, placement=None) -> np.ndarray:
        """Activity probabilities (n, labels).  For a placement-aware model, ``placement`` is None
        (unknown for every window) or one index into ``info.placements`` per window, -1 for unknown."""
        return self.info.activity(self.predict_all(X), placement)

    def predict_all(self, X: np.ndarray, features: bool = False):
        """The model's whole output (n, info.outputs); with ``features``, (output, features (n, d)) of a model
        that gives them (``info.distance``)."""
        if features and self._features is None:
            raise ValueError(f"{self.path}: this model gives no features")
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.info.window, len(self.info.channels)):
            raise ValueError(f"expected windows of shape (n, {self.info.window}, {len(self.info.channels)}), got {X.shape}")
        if len(X) == 0:
            empty = np.zeros((0, self.info.outputs))
            return (empty, np.zeros((0, int(self._features["shape"][-1])))) if features else empty
        with self._lock:
            if not self.dynamic_batch:
                parts = [self._invoke(X[i:i + 1]) for i in range(len(X))]
                out = np.concatenate([o for o, _ in parts])
                return (out, np.concatenate([f for _, f in parts])) if features else out
            # One call for the batch (the interpreter lets other threads run during it), padded to a
            # power of two: resizing the interpreter costs more than the model (~0.1 ms), and the
            # daemon's batches change size from one call to the next, but seldom their power of two.
            n = len(X)
            size = 1 << (n - 1).bit_length()
            if size != n:
                X = np.concatenate([X, np.zeros((size - n, *X.shape[1:]), dtype=X.dtype)])
            out, feats = self._invoke(X)
            return (out[:n], feats[:n]) if features else out[:n]
