"""Offline training: Keras models on HAPT, MotionSense and UCI HAR windows, repeated evaluation, TFLite export.

Installed as ``harstream.training``.  Needs the ``train`` extra (TensorFlow, pandas,
matplotlib).  Imports ``harstream``; never the reverse: ``harstream train`` reaches
it through the ``harstream.commands`` entry point.
"""
from importlib.util import find_spec

# Looked up, not imported: the ``harstream`` command loads this package's command at every start.
_MISSING = [name for name in ("tensorflow", "keras", "matplotlib") if find_spec(name) is None]
if _MISSING:
    raise ImportError(f"harstream.training needs the 'train' extra ({', '.join(_MISSING)} missing): pip install 'harstream[train]'",
                      name=_MISSING[0])
