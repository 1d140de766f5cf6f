"""Offline training: Keras models on HAPT/UCI HAR windows, repeated evaluation, TFLite export.

Needs the ``train`` extra (TensorFlow, pandas, matplotlib).  Imports ``stream``; never the reverse.
"""
