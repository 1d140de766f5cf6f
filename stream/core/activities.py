"""The activities models label, in the order of their output columns.

The six of UCI HAR come first, in its order; a model may add RUNNING (learnt from jogging) and
UNKNOWN (none of its activities: a window unlike anything it learnt, or no label likely enough).
Models that predate RUNNING and UNKNOWN keep their six labels and still load.
"""
from __future__ import annotations

ACTIVITIES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
RUNNING = "RUNNING"
UNKNOWN = "UNKNOWN"
#: Every activity a model can be trained to label: the six, then RUNNING.  Class index k of a window set.
TRAINABLE = ACTIVITIES + (RUNNING,)
#: The activities in which a person is upright and on the move.
GAITS = ACTIVITIES[:3] + (RUNNING,)
#: Every label the daemon can publish.
ALL_LABELS = TRAINABLE + (UNKNOWN,)
#: HAPT's activity ids 1..12 by name: the six activities, then the postural transitions.
HAPT_LABELS = ACTIVITIES + ("STAND_TO_SIT", "SIT_TO_STAND", "SIT_TO_LIE", "LIE_TO_SIT", "STAND_TO_LIE", "LIE_TO_STAND")
#: A recording's label id for RUNNING (after HAPT's 12).
RUNNING_ID = 13


def class_of(label_id: int) -> int | None:
    """A recording's per-sample label id -> the class index in ``TRAINABLE``, or None (a transition, unlabelled).

    >>> class_of(1), class_of(6), class_of(7), class_of(RUNNING_ID), class_of(0)
    (0, 5, None, 6, None)
    """
    if 1 <= label_id <= len(ACTIVITIES):
        return label_id - 1
    if label_id == RUNNING_ID:
        return TRAINABLE.index(RUNNING)
    return None
