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
from keras import layers, ops

from harstream.core.preprocess import CHANNELS, UCI_CHANNELS


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
    # unknown, given each placement, and the placement itself; trained with ``placement_loss``.
    placements: tuple[str, ...] = ()
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


class PlacementAugment(layers.Layer):
    """While training: put the phone in a random one of the ways it sits on a body, as a whole
    window: every combination of flipped axes (the four ways a phone goes into a pocket, screen in or
    out, top up or down; left or right pocket, which mirror each other; and iOS's acceleration
    signs, which mirror all three axes), then a tilt of up to ``max_deg`` about a random axis and a
    scale of up to ±``scale``.

    A flip of an odd number of axes is a mirror image: acceleration (a vector) flips with the axes,
    angular velocity (an axial vector) flips with them and then once more as a whole, which is what
    a mirrored movement reads.  Channel triples are (total acc, body acc, gyro, gravity).
    """

    GYRO = 2  # the third triple

    def __init__(self, max_deg: float = 30.0, scale: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.max_deg, self.scale = max_deg, scale

    def call(self, x, training=None):
        if not training:
            return x
        batch = ops.shape(x)[0]
        signs = ops.where(keras.random.uniform((batch, 1, 3)) < 0.5, -1.0, 1.0)
        mirror = ops.prod(signs, axis=-1, keepdims=True)  # -1 for an odd number of flips
        axis = keras.random.normal((batch, 3))
        axis = axis / ops.norm(axis, axis=1, keepdims=True)
        angle = keras.random.uniform((batch, 1, 1), -1.0, 1.0) * (self.max_deg * np.pi / 180)
        zero = ops.zeros_like(axis[:, 0])
        K = ops.stack([ops.stack([zero, -axis[:, 2], axis[:, 1]], 1),
                       ops.stack([axis[:, 2], zero, -axis[:, 0]], 1),
                       ops.stack([-axis[:, 1], axis[:, 0], zero], 1)], 1)
        R = ops.eye(3)[None] + ops.sin(angle) * K + (1 - ops.cos(angle)) * ops.matmul(K, K)  # Rodrigues
        Rt = ops.transpose(R, (0, 2, 1))
        scale = 1 + keras.random.uniform((batch, 1, 1), -self.scale, self.scale)
        triples = []
        for k, i in enumerate(range(0, x.shape[-1], 3)):
            v = x[:, :, i:i + 3] * signs
            if k == self.GYRO:
                v = v * mirror
            triples.append(ops.matmul(v, Rt) * scale)
        return ops.concatenate(triples, axis=-1)

    def get_config(self):
        return {**super().get_config(), "max_deg": self.max_deg, "scale": self.scale}


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


def build_anywhere(window, channels, classes, batch_size=None, placements=2, max_deg=30.0, scale=0.1):
    """hcnn's trunk on windows put in every way a phone sits on a body, with two heads: which placement
    the window looks like, and the activity with the placement unknown or given (one output tensor:
    activity | unknown, activity | each placement, placement)."""
    inp = _input(window, channels, batch_size)
    h = layers.Normalization(axis=-1, name="normalize")(PlacementAugment(max_deg=max_deg, scale=scale)(inp))
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


def placement_loss(classes: int, placements: int, label_smoothing: float = 0.1, placement_weight: float = 0.3):
    """y_true = activity one-hot | placement one-hot.  The activity is learnt both with the placement
    unknown and given the true one; the placement head learns from every window."""
    def loss(y_true, y_pred):
        act = y_true[:, :classes] * (1 - label_smoothing) + label_smoothing / classes
        place = y_true[:, classes:]
        blocks = ops.reshape(y_pred[:, classes:classes * (1 + placements)], (-1, placements, classes))
        given = ops.sum(blocks * place[:, :, None], axis=1)
        ce = lambda t, q: -ops.sum(t * ops.log(ops.clip(q, 1e-7, 1.0)), axis=-1)  # noqa: E731
        return ce(act, y_pred[:, :classes]) + ce(act, given) + placement_weight * ce(place, y_pred[:, classes * (1 + placements):])

    return loss


ARCHS = {
    a.name: a
    for a in [
        Arch("lstm", build_lstm, epochs=15, recurrent=True, description="seed: LSTM 100"),
        Arch("cnn-lstm", build_cnn_lstm, epochs=25, recurrent=True, description="seed: TimeDistributed CNN + LSTM"),
        Arch("convlstm", build_convlstm, epochs=25, recurrent=True, description="seed: ConvLSTM2D"),
        Arch("hcnn", build_hcnn, epochs=100, channels=CHANNELS, learning_rate=2e-3, label_smoothing=0.1, quantize="int8-weights",
             description="1D CNN, normalisation in the model, rotation/scale augmentation, label smoothing, int8 weights"),
        Arch("anywhere", build_anywhere, epochs=60, channels=CHANNELS, learning_rate=2e-3, label_smoothing=0.1,
             quantize="int8-weights", placements=("waist", "pocket"), symmetric_normalization=True,
             description="hcnn's trunk, trained on waist and pocket data put in every way a phone sits on a body; "
                         "activity given the placement, and the placement, inferred per device"),
    ]
}
