"""The pure core: samples in, labelled windows out.  Numpy and a TFLite interpreter; no MQTT, no files.

* ``preprocess``: the one preprocessing implementation (training and the daemon share it);
* ``windows``: one device's stream, resampled, preprocessed and cut into windows;
* ``recognizer``: many devices' windows classified in batches, with each device's placement;
* ``queue``: windows waiting for the model, bounded and fair between devices;
* ``model``: a model artifact (TFLite file + metadata) and its interpreter;
* ``placement``: where a phone is worn, inferred from its windows;
* ``upright``: how a phone is worn, learnt from its own walking (a belt phone turned, a still wearer upright);
* ``payloads``, ``sensorlogger``: messages as devices send them, parsed and checked;
* ``recording``: recordings as CSV files; ``metrics``, ``scoring``: accuracy, offline and streamed.
"""
from .activities import ACTIVITIES
from .model import Model, ModelError, ModelInfo
from .queue import WindowQueue
from .recognizer import Label, Recognizer
from .windows import MAX_GAP_S, DeviceStream, Resampler, Window

__all__ = ["ACTIVITIES", "MAX_GAP_S", "DeviceStream", "Label", "Model", "ModelError", "ModelInfo", "Recognizer", "Resampler",
           "Window", "WindowQueue"]
