"""Datasets: UCI HAPT raw recordings, UCI HAR windows, and the cache they are downloaded to.

Numpy and the standard library only, so that ``harstream evaluate`` runs where
TensorFlow is not installed.
"""
from .common import ACTIVITIES, TEST_SUBJECTS, DatasetError, WindowSet, default_data_path, load_windows
from .hapt import Recording, read_hapt, segment_windows

__all__ = [
    "ACTIVITIES", "TEST_SUBJECTS", "DatasetError", "WindowSet", "Recording",
    "default_data_path", "load_windows", "read_hapt", "segment_windows",
]
