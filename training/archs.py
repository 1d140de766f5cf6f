"""Network architectures, by name.  Each builder takes (window, channels, classes, batch_size).

The seed's three networks are copied exactly from the tutorial; they take
(128, 9) windows and reshape inside the model, so every exported model has the
same (batch, window, channels) input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
from harstream.core.preprocess import CHANNELS, UCI_CHANNELS, turn
from harstream.training.anyone import WAIST_TURN_CHOICES
from keras import layers, ops


@dataclass(frozen=True)
class Arch:
    name: str
    build: Callable[..., keras.Model]
    epochs: int
    batch_size: int = 64
    channels: tuple[str, ...] = UCI_CHANNELS
    recurrent: bool = False  # TFLite export then needs a fixed batch of 1
    description: str = ""
    learning_rate: float | None = None  # None: Keras' Adam default, as the seed; else cosine decay from it
    label_smoothing: float = 0.0
    # The exported file: "int8-weights" (dynamic range), "int8" (full integer, from representative
    # training windows), "float16", or None for float32.  Full int8 quantises the whole input with
    # one scale, which erases the small body-acceleration channels: hcnn lost 3.6 points that way.
    quantize: str | None = None
    # A placement-aware model (harstream.core.placement): its output is the activity with the placement
    # unknown, given each placement, and the placement itself; trained with ``placement_loss`` on windows
    # turned by ``augment`` (X, placement, rng) -> X, on the data side, since the turn depends on the placement.
    placements: tuple[str, ...] = ()
    augment: Callable[..., np.ndarray] | None = None
    # Normalisation statistics from the windows and their mirror images, so that a model trained on
    # sign-flipped windows has no preferred sign built into its first layer.
    symmetric_normalization: bool = False


class Augment(layers.Layer):
    """While training: rotate every xyz triple of a window by one random rotation (up to ``max_deg``
    about a random axis) and scale it by up to ±``scale``, as a phone worn at another angle would
    read.  At inference it passes the window through, so it vanishes from the TFLite graph."""

    def __init__(self, max_deg: float = 15.0, scale: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.max_deg, self.scale = max_deg, scale

    def call(self, x, training=None):
        if not training:
            return x
        batch = ops.shape(x)[0]
        axis = keras.random.normal((batch, 3))
        axis = axis / ops.norm(axis, axis=1, keepdims=True)
        angle = keras.random.uniform((batch, 1, 1), -1.0, 1.0) * (self.max_deg * np.pi / 180)
        zero = ops.zeros_like(axis[:, 0])
        K = ops.stack([ops.stack([zero, -axis[:, 2], axis[:, 1]], 1),
                       ops.stack([axis[:, 2], zero, -axis[:, 0]], 1),
                       ops.stack([-axis[:, 1], axis[:, 0], zero], 1)], 1)
        R = ops.eye(3)[None] + ops.sin(angle) * K + (1 - ops.cos(angle)) * ops.matmul(K, K)  # Rodrigues
        scale = 1 + keras.random.uniform((batch, 1, 1), -self.scale, self.scale)
        Rt = ops.transpose(R, (0, 2, 1))
        return ops.concatenate([ops.matmul(x[:, :, i:i + 3], Rt) * scale for i in range(0, x.shape[-1], 3)], axis=-1)

    def get_config(self):
        return {**super().get_config(), "max_deg": self.max_deg, "scale": self.scale}


def orientation_matrices(placement: np.ndarray, rng: np.random.Generator, max_deg: float = 30.0,
                         waist_turns: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """Per window, a way the phone could sit on the body: (M (n, 3, 3), gyro sign (n,)).

    Every placement: acceleration negated or not (an iPhone sending Core Motion's signs: a
    point mirror of the acceleration), then a tilt of up to ``max_deg`` about a random axis.
    A pocket also turns the phone every way that keeps it along the thigh (the four ways it goes
    into a pocket, screen in or out, top up or down: flips of two axes), mirrored (left or right
    pocket) and sideways (a quarter turn about the screen's normal).  A waist keeps which way the
    phone faces: sitting differs from standing there by a tilt of the pelvis of 15 to 25 degrees,
    forward-backward and sideways, which any flip or mirror of the axes would turn into another
    posture's (tried on the validation subjects: flips took waist SITTING from 98% to 31%).

    ``waist_turns``: "quarter" also turns a waist's phone about its screen's normal by 0, 90, 180 or 270 degrees
    (a holster upright or sideways, a clip upside down), which keeps gravity's component along the normal, the
    pelvis's tilt; "all" also turns it screen in or out half the time (180 degrees about its long axis).

    A mirror (an odd number of flipped axes; negation is one) turns angular velocity, an axial
    vector, once more as a whole: ``gyro sign`` is -1 for those.
    """
    if waist_turns not in WAIST_TURN_CHOICES:
        raise ValueError(f"waist turns must be one of {', '.join(WAIST_TURN_CHOICES)}, not {waist_turns!r}")
    n = len(placement)
    pocket = placement == 1
    negate = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    signs = np.repeat(negate[:, None], 3, axis=1)
    flips = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)  # 180° about none, x, y, z
    signs[pocket] = negate[pocket, None] * np.where(rng.random(pocket.sum())[:, None] < 0.5, 1.0, -1.0) \
        * flips[rng.integers(0, 4, pocket.sum())]
    M = signs[:, :, None] * np.eye(3)[None]  # diag(signs)
    quarter = pocket & (rng.random(n) < 0.5)
    Q = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    M[quarter] = Q @ M[quarter]
    if waist_turns != "none":
        waist = ~pocket
        if waist_turns == "all":
            inside = waist & (rng.random(n) < 0.5)
            M[inside] = np.diag([-1.0, 1.0, -1.0]) @ M[inside]
        turns = np.where(waist, rng.integers(0, 4, n), 0)
        for k in (1, 2, 3):
            M[turns == k] = np.linalg.matrix_power(Q, k) @ M[turns == k]
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = rng.uniform(-1.0, 1.0, n) * np.deg2rad(max_deg)
    K = np.zeros((n, 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    K -= K.transpose(0, 2, 1)
    R = np.eye(3)[None] + np.sin(angle)[:, None, None] * K + (1 - np.cos(angle))[:, None, None] * (K @ K)  # Rodrigues
    return (R @ M).astype(np.float32), np.sign(np.linalg.det(M)).astype(np.float32)


def augment_placements(X: np.ndarray, placement: np.ndarray, rng: np.random.Generator, max_deg: float = 30.0,
                       scale: float = 0.1, waist_turns: str = "none") -> np.ndarray:
    """X (n, window, CHANNELS) with each window turned as ``orientation_matrices`` says and scaled by up to ±``scale``."""
    M, _ = orientation_matrices(placement, rng, max_deg, waist_turns)
    k = (1 + rng.uniform(-scale, scale, len(X)))[:, None, None].astype(np.float32)
    return turn(X, M) * k


def _input(window, channels, batch_size):
    return keras.Input((window, channels), batch_size=batch_size, name="window")


def _head(x, classes):
    x = layers.Dense(100, activation="relu")(x)
    return layers.Dense(classes, activation="softmax")(x)


def build_lstm(window, channels, classes, batch_size=None):
    inp = _input(window, channels, batch_size)
    x = layers.LSTM(100)(inp)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inp, _head(x, classes), name="lstm")


def build_cnn_lstm(window, channels, classes, batch_size=None, steps=4):
    inp = _input(window, channels, batch_size)
    x = layers.Reshape((steps, window // steps, channels))(inp)
    x = layers.TimeDistributed(layers.Conv1D(64, 3, activation="relu"))(x)
    x = layers.TimeDistributed(layers.Conv1D(64, 3, activation="relu"))(x)
    x = layers.TimeDistributed(layers.Dropout(0.5))(x)
    x = layers.TimeDistributed(layers.MaxPooling1D(2))(x)
    x = layers.TimeDistributed(layers.Flatten())(x)
    x = layers.LSTM(100)(x)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inp, _head(x, classes), name="cnn_lstm")


def build_convlstm(window, channels, classes, batch_size=None, steps=4):
    inp = _input(window, channels, batch_size)
    x = layers.Reshape((steps, 1, window // steps, channels))(inp)
    x = layers.ConvLSTM2D(64, (1, 3), activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, _head(x, classes), name="convlstm")


def build_hcnn(window, channels, classes, batch_size=None, width=1.0, max_deg=30.0, scale=0.1, dilated=False):
    """A small 1D CNN, normalised inside the model, trained on randomly rotated and scaled windows.

    Chosen by cross-validation over the training subjects (``python -m benchmarks.select_hcnn``)."""
    inp = _input(window, channels, batch_size)
    h = layers.Normalization(axis=-1, name="normalize")(Augment(max_deg=max_deg, scale=scale)(inp))
    plan = [(32, 7, 1, False), (32, 5, 1, True), (64, 5, 1, True), (64, 3, 1, False)]
    if dilated:  # a wider view of the window: two more layers, dilated 2 and 4
        plan[-1:] = [(64, 3, 2, False), (64, 3, 4, False)]
    for filters, kernel, dilation, pool in plan:
        h = layers.Conv1D(int(filters * width), kernel, padding="same", dilation_rate=dilation, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
        if pool:
            h = layers.MaxPooling1D(2)(h)
    h = layers.GlobalAveragePooling1D()(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model(inp, layers.Dense(classes, activation="softmax")(h), name="hcnn")


def build_anywhere(window, channels, classes, batch_size=None, placements=2):
    """hcnn's trunk on windows put in the ways a phone sits on a body (``augment_placements``), with two heads: which placement
    the window looks like, and the activity with the placement unknown or given (one output tensor:
    activity | unknown, activity | each placement, placement)."""
    inp = _input(window, channels, batch_size)
    h = layers.Normalization(axis=-1, name="normalize")(inp)
    for filters, kernel, pool in [(32, 7, False), (32, 5, True), (64, 5, True), (64, 3, False)]:
        h = layers.Conv1D(filters, kernel, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
        if pool:
            h = layers.MaxPooling1D(2)(h)
    features = layers.Dropout(0.3)(layers.GlobalAveragePooling1D()(h))
    placement = layers.Dense(placements, activation="softmax", name="placement")(features)
    hidden = layers.Dense(32, activation="relu", name="activity_hidden")
    activity = layers.Dense(classes, activation="softmax", name="activity")
    none = ops.zeros_like(placement)
    given = [none] + [none + ops.one_hot(k, placements) for k in range(placements)]
    outputs = [activity(hidden(layers.Concatenate()([features, code]))) for code in given]
    return keras.Model(inp, layers.Concatenate(name="outputs")(outputs + [placement]), name="anywhere")


class GravityFrame(layers.Layer):
    """The 12 preprocessed channels -> 7 that no turn of the phone changes but for the last three: body
    acceleration along gravity and its size across it, the size of the rotation rate about gravity
    (unsigned: the other pocket mirrors it) and across it, and gravity's direction in the phone's frame
    (the clue to posture).  A phone of another make, worn at another angle, gives the same first four."""

    def call(self, x):
        body, gyro, gravity = x[..., 3:6], x[..., 6:9], x[..., 9:12]
        up = gravity / ops.sqrt(ops.maximum(ops.sum(gravity * gravity, axis=-1, keepdims=True), 1e-6))
        along = ops.sum(body * up, axis=-1, keepdims=True)
        across = ops.sqrt(ops.maximum(ops.sum(body * body, axis=-1, keepdims=True) - along * along, 1e-8))
        turn_along = ops.sum(gyro * up, axis=-1, keepdims=True)
        turn_across = ops.sqrt(ops.maximum(ops.sum(gyro * gyro, axis=-1, keepdims=True) - turn_along * turn_along, 1e-8))
        return ops.concatenate([along, across, ops.abs(turn_along), turn_across, up], axis=-1)


def build_anyone(window, channels, classes, batch_size=None, placements=2, width=48):
    """``anywhere``'s two heads on a trunk that reads ``GravityFrame``'s channels (training/anyone.py)."""
    inp = _input(window, channels, batch_size)
    h = layers.Normalization(axis=-1, name="normalize")(GravityFrame(name="gravity_frame")(inp))
    for filters, kernel, pool in [(width, 7, False), (width, 5, True), (2 * width, 5, True), (2 * width, 3, False)]:
        h = layers.Conv1D(filters, kernel, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
        if pool:
            h = layers.MaxPooling1D(2)(h)
    features = layers.Dropout(0.3)(layers.GlobalAveragePooling1D(name="features")(h))  # also an output: training/distance.py
    placement = layers.Dense(placements, activation="softmax", name="placement")(features)
    hidden = layers.Dense(48, activation="relu", name="activity_hidden")
    activity = layers.Dense(classes, activation="softmax", name="activity")
    none = ops.zeros_like(placement)
    given = [none] + [none + ops.one_hot(k, placements) for k in range(placements)]
    outputs = [activity(hidden(layers.Concatenate()([features, code]))) for code in given]
    return keras.Model(inp, layers.Concatenate(name="outputs")(outputs + [placement]), name="anyone")


def placement_loss(classes: int, placements: int, label_smoothing: float = 0.1, placement_weight: float = 0.3,
                   each_placement: bool = False):
    """y_true = activity one-hot | placement one-hot.  The activity is learnt both with the placement
    unknown and given the true one; the placement head learns from every window, also one whose activity
    part is all zero (a posture change: nothing to learn of its activity, ``harstream.datasets.common.change_windows``).
    A made-up window has no placement (a uniform placement part): its activity (UNKNOWN) is learnt by the placements'
    mixture, which one placement's answer can satisfy while the other's says SITTING; with ``each_placement`` it is
    learnt given each placement in turn (tried and not kept: item 24 of docs/generalisation-choices.md)."""
    def loss(y_true, y_pred):
        learnt = ops.sum(y_true[:, :classes], axis=-1)  # 1, or 0 for a window whose activity is not learnt
        act = y_true[:, :classes] * (1 - label_smoothing) + learnt[:, None] * label_smoothing / classes
        place = y_true[:, classes:]
        blocks = ops.reshape(y_pred[:, classes:classes * (1 + placements)], (-1, placements, classes))
        ce = lambda t, q: -ops.sum(t * ops.log(ops.clip(q, 1e-7, 1.0)), axis=-1)  # noqa: E731
        if each_placement:  # the same as the mixture's for a window of one placement
            given = ops.sum(place * ce(act[:, None, :], blocks), axis=-1)
        else:
            given = ce(act, ops.sum(blocks * place[:, :, None], axis=1))
        return ce(act, y_pred[:, :classes]) + given + placement_weight * ce(place, y_pred[:, classes * (1 + placements):])

    return loss


ARCHS = {
    a.name: a
    for a in [
        Arch("lstm", build_lstm, epochs=15, recurrent=True, description="seed: LSTM 100"),
        Arch("cnn-lstm", build_cnn_lstm, epochs=25, recurrent=True, description="seed: TimeDistributed CNN + LSTM"),
        Arch("convlstm", build_convlstm, epochs=25, recurrent=True, description="seed: ConvLSTM2D"),
        Arch("hcnn", build_hcnn, epochs=100, channels=CHANNELS, learning_rate=2e-3, label_smoothing=0.1, quantize="int8-weights",
             description="1D CNN, normalisation in the model, rotation/scale augmentation, label smoothing, int8 weights"),
        Arch("anywhere", build_anywhere, epochs=100, channels=CHANNELS, learning_rate=2e-3, label_smoothing=0.1,
             quantize="int8-weights", placements=("waist", "pocket"), symmetric_normalization=True, augment=augment_placements,
             description="hcnn's trunk, trained on waist and pocket data put in every way a phone sits on a body; "
                         "activity given the placement, and the placement, inferred per device"),
        Arch("anyone", build_anyone, epochs=18, channels=CHANNELS, learning_rate=2e-3, label_smoothing=0.1, quantize="int8-weights",
             placements=("waist", "pocket"), description="the default: inputs along and across gravity, varied copies of every "
                                                         "recording, RUNNING and UNKNOWN (trained by training/anyone.py)"),
    ]
}
