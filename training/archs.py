"""Network architectures, by name.  Each builder takes (window, channels, classes, batch_size).

The seed's three networks are copied exactly from the tutorial; they take
(128, 9) windows and reshape inside the model, so every exported model has the
same (batch, window, channels) input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from stream.preprocess import UCI_CHANNELS


@dataclass(frozen=True)
class Arch:
    name: str
    build: Callable[..., keras.Model]
    epochs: int
    batch_size: int = 64
    channels: tuple[str, ...] = UCI_CHANNELS
    recurrent: bool = False  # TFLite export then needs a fixed batch of 1
    description: str = ""


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


ARCHS = {
    a.name: a
    for a in [
        Arch("lstm", build_lstm, epochs=15, recurrent=True, description="seed: LSTM 100"),
        Arch("cnn-lstm", build_cnn_lstm, epochs=25, recurrent=True, description="seed: TimeDistributed CNN + LSTM"),
        Arch("convlstm", build_convlstm, epochs=25, recurrent=True, description="seed: ConvLSTM2D"),
    ]
}
