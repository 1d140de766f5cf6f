"""The shipped models, installed as ``harstream.models``: ``NAME.tflite`` beside its metadata ``NAME.json``.

``DEFAULT`` names the model that ``serve``, ``demo`` and ``predict`` use without ``--model``.
Read through ``importlib.resources``, so an installed wheel finds them wherever it is installed.
"""
