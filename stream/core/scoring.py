"""Streaming accuracy: each label against the majority ground truth of its window.

Windows whose majority is a transition (STAND_TO_SIT, ...) or unlabelled time are
counted apart: the model has no such class.

>>> s = StreamScore()
>>> [s.add(p, t) for p, t in [("WALKING", "WALKING"), ("SITTING", "STANDING"), ("LAYING", "SIT_TO_LIE"), ("LAYING", "")]]
['right', 'wrong', 'apart', 'apart']
>>> s.summary()["accuracy"], s.summary()["transition"], s.summary()["unlabelled"]
(0.5, 1, 1)
"""
from __future__ import annotations

from collections import Counter

from .activities import TRAINABLE


class StreamScore:
    def __init__(self):
        self.counts = Counter()
        self.per_class: dict[str, Counter] = {}

    def add(self, predicted: str, truth: str) -> str:
        if truth in TRAINABLE:
            verdict = "right" if predicted == truth else "wrong"
            self.per_class.setdefault(truth, Counter())[verdict] += 1
        else:
            verdict = "apart"
            self.counts["unlabelled" if not truth else "transition"] += 1
        self.counts[verdict] += 1
        return verdict

    def summary(self) -> dict:
        scored = self.counts["right"] + self.counts["wrong"]
        recall = {a: c["right"] / (c["right"] + c["wrong"]) for a, c in sorted(self.per_class.items(), key=lambda kv: TRAINABLE.index(kv[0]))}
        return {"accuracy": self.counts["right"] / scored if scored else None, "scored": scored,
                "right": self.counts["right"], "transition": self.counts["transition"], "unlabelled": self.counts["unlabelled"],
                "recall": recall}

    def describe(self) -> str:
        s = self.summary()
        if not s["scored"]:
            return "no window fell inside one of the activities"
        recall = ", ".join(f"{a.lower()} {r * 100:.1f}%" for a, r in s["recall"].items())
        return (f"streaming accuracy {s['accuracy'] * 100:.2f}% ({s['right']}/{s['scored']} windows inside an activity); "
                f"apart: {s['transition']} in transitions, {s['unlabelled']} in unlabelled time; recall: {recall}")
