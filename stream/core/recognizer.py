"""Many devices and one model: the windows they complete, classified together in one batch.

>>> import numpy as np
>>> class Still:  # a stand-in model that always answers LAYING
...     info = type("Info", (), {"labels": ["SITTING", "LAYING"], "channels": ["gravity_z"], "placements": [],
...                              "sample_rate_hz": 50.0, "window": 128, "step": 64})()
...     name = "still"
...     def predict(self, X):
...         return np.tile([0.1, 0.9], (len(X), 1))
>>> still = np.tile([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (200, 1))
>>> recognizer = Recognizer(Still(), stay=0)   # each window alone; 200 samples: windows end at samples 128 and 192
>>> [(label.seq, label.activity, label.confidence) for label in recognizer.feed("phone", np.arange(200) / 50.0, still)]
[(0, 'LAYING', 0.9), (1, 'LAYING', 0.9)]
>>> recognizer = Recognizer(Still())           # the time filter (on by default): a day's prior, then evidence piling up (a still phone keeps its posture)
>>> [(label.activity, round(label.confidence, 3)) for label in recognizer.feed("phone", np.arange(200) / 50.0, still)]
[('LAYING', 0.783), ('LAYING', 0.97)]
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import preprocess
from .activities import GAITS, UNKNOWN
from .model import GAIT_SPLIT
from .placement import AUTO, STILL_SPREAD_G, PlacementBelief
from .timefilter import TURN_DEG, ActivityFilter
from .upright import Upright
from .windows import MAX_GAP_S, DeviceStream, Window


#: A window counts as walking, for learning how its device is worn, when its gaits are this likely together.
GAIT_SURE = 0.8
_BODY_ACC = slice(preprocess.CHANNELS.index("body_acc_x"), preprocess.CHANNELS.index("body_acc_z") + 1)


@dataclass
class Label:
    device: str
    seq: int
    start: float
    end: float
    activity: str
    confidence: float
    probabilities: dict
    model: str
    placement: str | None = None  # where the device is worn, as set or inferred so far (placement-aware models)

    def to_dict(self) -> dict:
        return {"device": self.device, "seq": self.seq, "start": self.start, "end": self.end, "activity": self.activity,
                "confidence": self.confidence, "probabilities": self.probabilities, "model": self.model,
                "placement": self.placement}


@dataclass
class Recognizer:
    """Many devices and one model: ``push`` samples, ``classify`` completed windows in a batch.

    ``smoothing`` > 1 averages each device's probabilities over its last k windows.
    ``stay`` is the time filter's chance of keeping an activity from one window to the next
    (:class:`~.timefilter.ActivityFilter`); 0 labels every window alone.  ``turn_deg``: a still posture
    changes only in a window in which the phone's gravity turned at least this far (None: in any window).
    A model that names a ``unknown_threshold`` has its label turned UNKNOWN when the top label is less
    likely than that; one with a ``distance``, when the window's features lie far from every activity's.  One that
    sets ``gaits_from_features`` has how likely a gait is from its answer and which gait from its features
    (``ModelInfo.gait_odds``).
    With a placement-aware model each device carries a :class:`PlacementBelief`:
    ``placement_for(device)`` gives ``"auto"`` (inferred from its windows) or a fixed
    ``"waist"``/``"pocket"``.  A window's placement comes from the windows up to and
    including it, in order, so a device's labels do not depend on how its windows
    were batched; a run of still windows counts as one (``still_once``, on by default; off: each still window counts
    as a moving one does, as before item 22 of docs/generalisation-choices.md).  With a model that knows how its walkers wore their phones (``upright`` in its metadata), what
    a device learns from its own walking tells how it is worn (:class:`~.upright.Upright`): a belt phone turned
    from that (upright in a holster) is read turned back, and once its steps have said where the phone is, a still
    phone keeps that place.
    """

    model: object
    smoothing: int = 1
    max_gap: float = MAX_GAP_S
    devices: dict = field(default_factory=dict)
    placement_for: object = None  # device -> "auto" | "waist" | "pocket"; None: "auto" for every device
    stay: float = 0.9
    turn_deg: float | None = TURN_DEG  # a still posture changes only in a window where gravity turned this far; None: any window
    still_once: bool = True  # a run of still windows is one look at the placement, not one per window

    def __post_init__(self):
        info = self.model.info
        self._columns = [preprocess.CHANNELS.index(c) for c in info.channels]
        self._history: dict[str, deque] = {}
        self._placement: dict[str, PlacementBelief] = {}
        self._filters: dict[str, ActivityFilter] = {}
        self._upright: dict[str, Upright] = {}
        self._gait_mask = np.array([float(label in GAITS) for label in info.labels])
        self._split = [info.labels.index(a) for a in GAIT_SPLIT] if getattr(info, "gaits_from_features", False) else []  # their columns
        self.labels = list(info.labels) + ([UNKNOWN] if getattr(info, "unknown_threshold", 0.0) and UNKNOWN not in info.labels else [])
        prior = getattr(info, "prior", None) or []
        self._unlearnt = [k for k, share in enumerate(prior) if share <= 0]  # no training window had it: never published

    def placement(self, device: str) -> PlacementBelief:
        belief = self._placement.get(device)
        if belief is None:
            fixed = self.placement_for(device) if self.placement_for else AUTO
            belief = self._placement[device] = PlacementBelief(fixed)
        return belief

    def timeline(self, device: str) -> ActivityFilter:
        """The device's time filter."""
        f = self._filters.get(device)
        if f is None:
            f = self._filters[device] = ActivityFilter(self.model.info.labels, getattr(self.model.info, "prior", None), self.stay,
                                                       turn_deg=self.turn_deg)
        return f

    def upright(self, device: str) -> Upright:
        """How the device is worn, learnt from its walking (upright.py)."""
        u = self._upright.get(device)
        if u is None:
            u = self._upright[device] = Upright(getattr(self.model.info, "upright", None) or {})
        return u

    def carried(self, device: str) -> dict:
        """What the device's labels carry from window to window (its placement belief, time filter and how it
        is worn), for another process that takes the device over; ``restore`` puts it back."""
        belief = self.placement(device).state()
        return {"placement": belief["log_odds"], "placement_stretch": belief["stretch"], "filter": self.timeline(device).state(),
                "upright": self.upright(device).state()}

    def restore(self, device: str, carried: dict) -> None:
        """Continue the device from ``carried`` (another process's ``carried``); a malformed one changes nothing."""
        before = self.carried(device)
        try:
            self._restore(device, carried)
        except Exception:
            self._restore(device, before)
            raise

    def _restore(self, device: str, carried: dict) -> None:
        # a replica from before item 22 sends no stretch: the device's next still windows begin one
        self.placement(device).restore({"log_odds": carried.get("placement", 0.0), "stretch": carried.get("placement_stretch")})
        self.timeline(device).restore(carried.get("filter") or {})
        self.upright(device).restore(carried.get("upright") or {})

    def stream(self, device: str) -> DeviceStream:
        s = self.devices.get(device)
        if s is None:
            info = self.model.info
            s = self.devices[device] = DeviceStream(info.sample_rate_hz, info.window, info.step, device, self.max_gap)
        return s

    def push(self, device: str, t, raw) -> list[Window]:
        """Process the device's samples now; the windows they complete."""
        return self.stream(device).push(t, raw)


    def forget(self, device: str) -> None:
        self.devices.pop(device, None)
        self._history.pop(device, None)
        self._placement.pop(device, None)
        self._filters.pop(device, None)
        self._upright.pop(device, None)

    def classify(self, windows: list[Window]) -> list[Label]:
        if not windows:
            return []
        data = np.stack([w.data for w in windows])
        every = self._columns == list(range(len(preprocess.CHANNELS)))  # the model takes every channel, in order
        X = (data if every else data[:, :, self._columns]).astype(np.float32, copy=False)
        info = self.model.info
        labels = info.labels
        answer, far, odds = self._read_features(X)
        worn = bool(info.placements and getattr(info, "upright", None))  # how each device is worn, from its walking
        moved = None  # how far each phone turned: a still posture changes only with a turn; a still wearer stands
        if worn or (self.still_once and info.placements) or (self.stay > 0.0 and self.turn_deg is not None):
            moved = preprocess.gravity_turn(data)
        if info.placements:
            activity, placement = info.split(self.model.predict_all(X) if answer is None else answer)
            if worn:
                activity, placement, far, odds = self._as_worn_in_training(windows, data, moved, activity, placement, far, odds)
            beliefs = [self.placement(w.device) for w in windows]
            inferred = self.still_once and any(b.fixed is None for b in beliefs)  # a placement set in the settings needs no look
            still = self._still(data, moved) if inferred else [False] * len(windows)
            where = [b.update(p, s) for b, p, s in zip(beliefs, placement, still)]  # in order, per device
            rows = [1 + info.placements.index(p) if p in info.placements else 0 for p in where]
            probs = activity[np.arange(len(windows)), rows]
        else:
            probs, where = (self.model.predict(X) if answer is None else info.activity(answer)), [None] * len(windows)
        if odds is not None and self._split:  # how likely a gait is, the model's answer; which gait, its features
            probs = np.array(probs, dtype=np.float64)
            probs[:, self._split] = probs[:, self._split].sum(axis=1, keepdims=True) * odds
        if self._unlearnt and self.stay <= 0.0:  # a label never learnt: its answer is noise (the filter, when on, leaves it out)
            probs = np.array(probs, dtype=np.float64)
            probs[:, self._unlearnt] = 0.0
        threshold = getattr(info, "unknown_threshold", 0.0) or 0.0
        turns = moved.tolist() if self.stay > 0.0 and self.turn_deg is not None else [None] * len(windows)
        out = []
        for w, p, place, turned, strange in zip(windows, probs, where, turns, far):
            if self.smoothing > 1:
                h = self._history.setdefault(w.device, deque(maxlen=self.smoothing))
                h.append(p)
                p = np.mean(h, axis=0)
            if self.stay > 0.0:  # a window unlike anything learnt tells the filter nothing: its belief carries on
                p = self.timeline(w.device).update(None if strange else p, w.start, turned)
            k = int(np.argmax(p))
            activity = labels[k] if p[k] >= threshold and not strange else UNKNOWN
            out.append(Label(w.device, w.seq, w.start, w.end, activity, float(p[k]),
                             {name: float(v) for name, v in zip(labels, p)}, self.model.name, place))
        return out

    @staticmethod
    def _still(data: np.ndarray, moved: np.ndarray) -> list[bool]:
        """Which windows hold a pose: the body hardly moves and gravity hardly turns (placement.STILL_SPREAD_G)."""
        body = data[:, :, _BODY_ACC]  # the spread as the norm of the axes' standard deviations, in fewer numpy calls
        n, total = body.shape[1], np.add.reduce(body, axis=1)
        variance = (np.einsum("nti,nti->n", body, body) - np.einsum("ni,ni->n", total, total) / n) / n
        return ((variance < STILL_SPREAD_G ** 2) & (moved < TURN_DEG)).tolist()

    def _read_features(self, X: np.ndarray) -> tuple:
        """For a model with a ``distance``: its whole answer for windows ``X``, which of them are far (unlike anything
        it learnt, so UNKNOWN whatever it answers) and their gait odds (walking and stairs by the features, None unless
        ``gaits_from_features``).  Without one: (None, none far, None), the answer left to the caller."""
        info = self.model.info
        if not getattr(info, "distance", None):
            return None, [False] * len(X), None
        answer, features = self.model.predict_all(X, features=True)
        far, odds = info.read_features(features)
        return answer, far.tolist(), odds

    def _as_worn_in_training(self, windows, data, moved, activity, placement, far, odds):
        """The model's readings (activity per placement row, placement, far, gait odds) as a device's own walking tells how it
        is worn (upright.py): the windows of a device worn turned from how the model's walkers wore theirs read again
        turned back, and a still window of a device whose steps said where the phone is given no placement evidence
        of its own (sure evidence of that place if its wearer is upright as when walking).  Each window is read by
        what its device learnt from the windows before it, in two passes (the turn from the windows as they look,
        which way is up and where the phone is from them as they are finally read), so a device's labels do not
        depend on how its windows were batched."""
        info = self.model.info
        gravity = data[:, :, 9:12].sum(axis=1).tolist()  # a direction: the sum does

        def walking(activity, placement, far):
            """Which windows walk, and the placement each looks like (few numpy calls: batches are often one window)."""
            own = placement.argmax(axis=1).tolist()
            gait = (activity @ self._gait_mask).tolist()  # (n, 1 + placements): how likely a gait, per reading
            return ([g[1 + k] >= GAIT_SURE and not f for g, k, f in zip(gait, own, far)],
                    [info.placements[k] for k in own])

        walks, own = walking(activity, placement, far)
        turned, turns = [], []
        for k, w in enumerate(windows):
            upright = self.upright(w.device) if walks[k] else self._upright.get(w.device)  # a device that never walked holds none
            if upright is None:
                continue
            M = upright.turn()
            if M is not None:
                turned.append(k)
                turns.append(M)
            if walks[k]:
                upright.learn_turn(own[k], gravity[k])
        if turned:
            X = preprocess.turn(data[turned], np.stack(turns))[:, :, self._columns].astype(np.float32)
            answer, far_turned, odds_turned = self._read_features(X)
            answer = self.model.predict_all(X) if answer is None else answer
            far = list(far)
            for k, strange in zip(turned, far_turned):
                far[k] = strange
            if odds is not None:
                odds = odds.copy()
                odds[turned] = odds_turned
            activity, placement = activity.copy(), placement.copy()
            activity[turned], placement[turned] = info.split(answer)
            walks, own = walking(activity, placement, far)
        still = (moved < TURN_DEG).tolist()
        stood = {}
        for k, w in enumerate(windows):
            upright = self.upright(w.device) if walks[k] else self._upright.get(w.device)
            if upright is None:
                continue
            if walks[k]:
                upright.learn_upright(own[k], gravity[k])
            elif still[k]:  # a phone does not change places while it stays still: its steps said where it is
                was = upright.where_walked()
                if was is not None:
                    sure = upright.stands(gravity[k])  # upright as it walked: the phone is where it was, surely
                    even = [0.5] * len(info.placements)  # no evidence either way
                    stood[k] = [float(p == was) for p in info.placements] if sure else even
        if stood:
            placement = placement.copy()
            placement[list(stood)] = list(stood.values())
        return activity, placement, far, odds

    def feed(self, device: str, t, raw) -> list[Label]:
        return self.classify(self.push(device, t, raw))
