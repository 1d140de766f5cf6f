"""harstream: real-time human activity recognition from phone and wearable IMU streams.

The folder ``stream/`` is installed as the import package ``harstream``; its layers
import only downward:

* ``harstream.core``: samples in, labelled windows out (numpy and a TFLite interpreter);
* ``harstream.datasets``: the public datasets, read into recordings and windows;
* ``harstream.adapters``: MQTT daemon, replay, demo, brokers: thin shells around the core;
* ``harstream.cli``: the ``harstream`` command.

``harstream.training`` (the folder ``training/``) needs the ``train`` extra.
"""
from importlib import metadata

try:
    __version__ = metadata.version("harstream")
except metadata.PackageNotFoundError:  # run from a checkout that is not installed
    __version__ = "0+unknown"
