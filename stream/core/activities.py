"""The six activities every model labels, in the order of their output columns (UCI HAR's order)."""

ACTIVITIES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
#: HAPT's activity ids 1..12 by name: the six activities, then the postural transitions.
HAPT_LABELS = ACTIVITIES + ("STAND_TO_SIT", "SIT_TO_STAND", "SIT_TO_LIE", "LIE_TO_SIT", "STAND_TO_LIE", "LIE_TO_STAND")
