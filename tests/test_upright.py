"""A belt phone worn another way round (upright in a holster): learnt from the device's own walking, and read turned
back into the frame the model knows (harstream/core/upright.py)."""
from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
from conftest import MODELS
from harstream.core import Recognizer
from harstream.core.catalog import default_model
from harstream.core.model import Model, ModelError
from harstream.core.recording import Recording, read_csv, window_truth
from harstream.core.upright import LEAST_TURN_DEG, MEMORY, Upright

from benchmarks.worn import MOUNTINGS, mounted, one_day

POCKET = MODELS.parent / "stream" / "data" / "pocket_sub01.csv.gz"
QUARTER = MOUNTINGS["turned a quarter about the screen's normal"]
REFERENCE = {"waist": [0.98, -0.18, -0.08] / np.linalg.norm([0.98, -0.18, -0.08])}


def walked(upright: Upright, gravity, windows: int = 8) -> Upright:
    for _ in range(windows):
        upright.learn("waist", gravity)
    return upright


def angle_deg(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return math.degrees(math.acos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


@pytest.mark.parametrize("gravity, turned", [
    ([0.97, -0.25, 0.0], False),     # worn as the model's walkers wore theirs, a little differently: read as it is
    ([0.0, -1.0, 0.1], True),        # upright in a holster: a quarter turn
    ([0.25, 0.97, 0.0], True),       # upright, the other way up
    ([0.7, 0.7, 0.1], True),         # half way, 45 degrees
    ([-0.98, 0.18, 0.0], False),     # upside down, or the screen against the body: walking cannot tell which
    ([0.1, 0.2, -0.97], False),      # screen up while walking: not a belt
])
def test_a_device_is_turned_only_when_it_walks_turned_about_its_screens_normal(gravity, turned):
    upright = walked(Upright(REFERENCE), gravity)
    M = upright.turn()
    assert (M is not None) == turned
    if turned:
        np.testing.assert_allclose(M @ M.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(M[2], [0, 0, 1], atol=1e-12)  # about the screen's normal only
        g = M @ (np.asarray(gravity) / np.linalg.norm(gravity))
        assert angle_deg(g[:2], REFERENCE["waist"][:2]) < 1e-6  # its walking gravity brought to the model's, in the screen's plane


def test_a_few_windows_are_not_trusted_and_a_phone_clipped_on_again_is_followed():
    upright = walked(Upright(REFERENCE), [0.0, -1.0, 0.0], windows=3)
    assert upright.turn() is None
    upright.learn("waist", [0.0, -1.0, 0.0])
    assert upright.turn() is not None
    walked(upright, [0.0, -1.0, 0.0], windows=100)
    walked(upright, [0.98, -0.18, 0.0], windows=MEMORY)  # worn sideways again, as trained: after a minute's walk, read as it is
    assert upright.turn() is None


def test_walking_in_a_placement_without_a_reference_teaches_the_turn_nothing():
    upright = walked(Upright(REFERENCE), [0.0, -1.0, 0.0])
    M = upright.turn()
    for _ in range(50):
        upright.learn("pocket", [1.0, 0.0, 0.0])
        upright.learn(None, [1.0, 0.0, 0.0])
        upright.learn("waist", [0.0, 0.0, 0.0])  # no direction at all
    np.testing.assert_array_equal(upright.turn(), M)
    assert Upright({}).turn() is None and walked(Upright({}), [0.0, 1.0, 0.0]).turn() is None


@pytest.mark.parametrize("garbage", [None, "waist", [], {"walked": "x"}, {"walked": {"waist": [1.0, 2.0]}},
                                     {"walked": {"waist": ["a", 0.0, 0.0, 3]}}, {"walked": {"waist": [math.nan, 0.0, 0.0, 5]}},
                                     {"walked": {"waist": [0.0, 1.0, 0.0, 0]}}, {"walked": {"wrist": [0.0, 1.0, 0.0, 9]}},
                                     {"walked": {"waist": {"x": 1}}}, {"last": "waist"},
                                     {"recent": [0.0, -1.0, 0.0, 8], "recent_where": {"waist": 7.0}},
                                     {"recent": [0.0, -1.0, 0.0, 8], "recent_where": {"waist": "most"}},
                                     {"recent": [0.0, -1.0, 0.0, 8], "recent_where": [1.0]},
                                     {"recent": "up", "recent_where": {"waist": 1.0}}])
def test_a_carried_state_that_makes_no_sense_is_left_out(garbage):
    upright = walked(Upright(REFERENCE), [0.0, -1.0, 0.0])
    upright.restore(garbage)
    assert upright.turn() is None and upright.walked == {} and upright.where_walked() is None
    assert not upright.stands([0.0, -1.0, 0.0])


def test_a_carried_state_survives_json():
    first = walked(Upright(REFERENCE), [0.0, -1.0, 0.0])
    second = Upright(REFERENCE)
    second.restore(json.loads(json.dumps(first.state())))
    np.testing.assert_allclose(second.turn(), first.turn())
    assert second.where_walked() == first.where_walked() == "waist" and second.stands([0.1, -1.0, 0.0])


@pytest.mark.parametrize("gravity, stands", [
    ([0.0, -1.0, 0.0], True),        # as it walked: an upright wearer
    ([0.3, -1.0, 0.2], True),        # 20 degrees off: a wearer standing at ease
    ([0.0, -0.5, 0.87], False),      # 60 degrees: a seated thigh
    ([1.0, 0.0, 0.0], False),        # 90 degrees: lying down, or the phone put down
])
def test_a_still_window_upright_as_the_device_walked_is_a_wearer_standing(gravity, stands):
    device = Upright(REFERENCE)
    for _ in range(8):
        device.learn("pocket", [0.0, -1.0, 0.0])
    assert device.stands(gravity) == stands and device.where_walked() == "pocket"
    unsure = Upright(REFERENCE)
    for k in range(8):
        unsure.learn("pocket" if k % 2 else "waist", [0.0, -1.0, 0.0])  # its steps did not agree where it was
    assert unsure.where_walked() is None
    little = walked(Upright(REFERENCE), [0.0, -1.0, 0.0], windows=3)  # too little walking to say anything
    assert little.where_walked() is None and not little.stands([0.0, -1.0, 0.0])


@pytest.fixture(scope="module")
def anyone():
    return Model(default_model())


def without_upright(model):
    class Plain:  # the same model, its metadata without ``upright``: as every model before it
        info = dataclasses.replace(model.info, upright={})
        name = model.name

        def predict_all(self, X, features=False):
            return model.predict_all(X, features)

    return Plain()


@pytest.fixture(scope="module")
def walk_then_still(recording):
    """The bundled HAPT recording (a belt phone), its walking first, then its still postures, as one device's day."""
    walk = Recording(recording.t[7306:9687], recording.raw[7306:9687], recording.labels[7306:9687])
    still = Recording(recording.t[:6599], recording.raw[:6599], recording.labels[:6599])
    return walk, still


def postures(labels, day, after: float) -> float:
    pairs = [(label.activity, window_truth(day, label.start, label.end)) for label in labels if label.start >= after]
    right = [activity == truth for activity, truth in pairs if truth and "_TO_" not in truth]
    assert len(right) > 50
    return float(np.mean(right))


def test_a_belt_phone_worn_upright_reads_its_postures_once_it_has_walked(anyone, walk_then_still):
    walk, still = walk_then_still
    day = one_day([mounted(walk, QUARTER), mounted(still, QUARTER)])
    after = day.t[len(walk)]
    assert "waist" in anyone.info.upright
    turned_back = postures(Recognizer(anyone).feed("d", day.t, day.raw), day, after)
    as_read = postures(Recognizer(without_upright(anyone)).feed("d", day.t, day.raw), day, after)
    assert turned_back >= 0.95 and as_read <= 0.5, (turned_back, as_read)


def test_a_phone_worn_as_the_model_learnt_keeps_its_activities(anyone, walk_then_still):
    """Never turned, and its activities as before wherever the recording is labelled; its still windows can only keep
    the placement its steps gave."""
    walk, still = walk_then_still
    day = one_day([walk, still, walk])
    ours = Recognizer(anyone).feed("d", day.t, day.raw)
    plain = Recognizer(without_upright(anyone)).feed("d", day.t, day.raw)
    inside = [window_truth(day, a.start, a.end) for a in ours]
    assert [a.activity for a, t in zip(ours, inside) if t] == [b.activity for b, t in zip(plain, inside) if t]
    differ = [(a.placement, b.placement) for a, b in zip(ours, plain) if a.placement != b.placement]
    assert all(a != "pocket" and b != "waist" for a, b in differ)  # a belt phone: never less right than before


def test_a_pocket_phone_of_someone_standing_still_stays_in_the_pocket(anyone):
    """A phone upright in a trouser pocket, its wearer standing still after a walk: on its own it looks like a phone
    on the belt of someone lying down; as it lies as it did while walking, it is read where it was, standing.  (The
    minute is sensor noise alone, no body's sway, as a phone put down gives it: the model may call it UNKNOWN.)  Without
    reading how it is worn and with every still window counted as fresh evidence, as before items 13 and 22, it was
    talked onto a belt; a still run counted once keeps it in the pocket by itself too."""
    pocket = read_csv(POCKET)
    walk = Recording(pocket.t[:1000], pocket.raw[:1000], pocket.labels[:1000])  # the bundled MotionSense walk
    up = pocket.raw[1000:2000, :3].mean(axis=0)  # the same subject's standing: 23 degrees from the walk's gravity
    rng = np.random.default_rng(0)
    n = 3000  # a minute still, sensor noise only
    raw = np.hstack([up / np.linalg.norm(up) + rng.normal(0, 0.004, (n, 3)), rng.normal(0, 0.004, (n, 3))])
    day = one_day([walk, Recording(np.arange(n) / 50.0, raw, np.full(n, "STANDING", dtype=object))], gap_s=0.02)
    after = day.t[len(walk)] + 10.0  # the windows wholly still
    ours = [label for label in Recognizer(anyone).feed("d", day.t, day.raw) if label.start >= after]
    plain = [label for label in Recognizer(without_upright(anyone), still_once=False).feed("d", day.t, day.raw) if label.start >= after]
    assert {a.placement for a in ours} == {"pocket"} and {a.activity for a in ours} <= {"STANDING", "UNKNOWN"}
    assert any(a.activity == "STANDING" for a in ours)
    assert sum(b.placement == "waist" for b in plain) > len(plain) / 2  # as it was: talked onto a belt...
    assert "LAYING" in {b.activity for b in plain} and "STANDING" not in {b.activity for b in plain}  # ...lying down
    once = [label for label in Recognizer(without_upright(anyone)).feed("d", day.t, day.raw) if label.start >= after]
    assert {a.placement for a in once} == {"pocket"}  # the still minute is one look (item 22): not enough to move it


def test_a_belt_phone_does_not_change_places_while_it_lies_still(anyone, walk_then_still):
    """After a walk on a belt, a minute lying still with gravity along the screen's normal (as the belt of someone on
    their back has it, and a seated thigh's pocket too): the steps said where the phone is, and it has not moved.  The
    minute is the recording's own lying, its body's small motion kept, turned so that gravity lies along the normal.
    Before items 13 and 22 it was talked into a pocket; a still run counted once keeps it on the belt by itself too."""
    walk, still = walk_then_still
    lying = np.flatnonzero(still.labels == "LAYING")
    runs = np.split(lying, np.flatnonzero(np.diff(lying) > 1) + 1)
    seg = still.raw[max(runs, key=len)]
    g = seg[:, :3].mean(axis=0) / np.linalg.norm(seg[:, :3].mean(axis=0))
    v, c = np.cross(g, [0.0, 0.0, -1.0]), g @ [0.0, 0.0, -1.0]
    K = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    R = np.eye(3) + K + K @ K / (1 + c)  # takes g onto -z
    raw = np.tile(np.hstack([seg[:, :3] @ R.T, seg[:, 3:] @ R.T]), (3000 // len(seg) + 1, 1))[:3000]
    day = one_day([walk, Recording(np.arange(len(raw)) / 50.0, raw, np.full(len(raw), "LAYING", dtype=object))], gap_s=0.02)
    after = day.t[len(walk)] + 10.0
    ours = [label for label in Recognizer(anyone).feed("d", day.t, day.raw) if label.start >= after]
    plain = [label for label in Recognizer(without_upright(anyone), still_once=False).feed("d", day.t, day.raw) if label.start >= after]
    assert {a.placement for a in ours} == {"waist"} and sum(a.activity == "LAYING" for a in ours) >= 0.9 * len(ours)
    assert sum(b.placement == "pocket" for b in plain) > len(plain) / 2  # as it was: talked into a pocket, sitting
    once = [label for label in Recognizer(without_upright(anyone)).feed("d", day.t, day.raw) if label.start >= after]
    assert "pocket" not in {a.placement for a in once}  # the still minute's runs (its body's small motions part them) doubt, no more


def test_turned_labels_do_not_depend_on_batching_and_move_with_the_device(anyone, walk_then_still):
    walk, still = walk_then_still
    day = one_day([mounted(walk, QUARTER), mounted(still, QUARTER)])
    whole = Recognizer(anyone).feed("d", day.t, day.raw)
    apart, recognizer = [], Recognizer(anyone)
    for i in range(0, len(day.t), 333):
        apart += recognizer.feed("d", day.t[i:i + 333], day.raw[i:i + 333])
    assert [(a.activity, round(a.confidence, 9)) for a in whole] == [(b.activity, round(b.confidence, 9)) for b in apart]
    first = Recognizer(anyone)
    cut = len(walk) + 64 * 10  # a window boundary after the walk: the still part begins on the next replica
    first.feed("d", day.t[:cut], day.raw[:cut])
    carried = json.loads(json.dumps(first.carried("d")))
    assert carried["upright"]["last"] == "waist"
    second = Recognizer(anyone)
    second.restore("d", carried)
    moved = second.feed("d", day.t[cut - 64:], day.raw[cut - 64:])
    stayed = first.feed("d", day.t[cut:], day.raw[cut:])
    assert [a.activity for a in moved] == [b.activity for b in stayed]


@pytest.mark.parametrize("upright, message", [
    ({"waist": [0.0, 1.0]}, "upright"),
    ({"waist": [0.0, 2.0, 0.0]}, "unit"),
    ({"wrist": [0.0, 1.0, 0.0]}, "wrist"),
    ({"waist": ["up", 0.0, 0.0]}, "upright"),
    ({"waist": [math.nan, 0.0, 0.0]}, "upright"),
    ([0.0, 1.0, 0.0], "upright"),
])
def test_a_malformed_upright_is_refused_in_one_line(tmp_path, upright, message):
    target = tmp_path / "m.tflite"
    shutil.copy(default_model(), target)
    meta = json.loads(default_model().with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**meta, "upright": upright}))
    with pytest.raises(ModelError, match=message) as error:
        Model(target)
    assert "\n" not in str(error.value)


def test_models_before_it_load_and_only_a_placement_aware_model_can_name_one(tmp_path):
    lstm = Model(MODELS / "lstm.tflite")  # no placements, no upright: labels as they always were
    assert lstm.info.upright == {} and not lstm.info.placements
    target = tmp_path / "lstm.tflite"
    shutil.copy(MODELS / "lstm.tflite", target)
    meta = json.loads((MODELS / "lstm.json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**meta, "upright": {"waist": [1.0, 0.0, 0.0]}}))
    with pytest.raises(ModelError, match="not the model's"):
        Model(target)


def test_the_walking_gravity_of_a_belt_is_the_models_and_the_command_says_one_line(recording, tmp_path):
    """``python -m harstream.training.upright`` (no TensorFlow needed): a HAPT test subject walks as the training
    subjects did, well within the turn that is left alone; a bad model or data file gets one line and a non-zero exit."""
    import subprocess
    import sys

    from harstream.training.upright import walking_gravity

    assert angle_deg(walking_gravity([recording]), Model(default_model()).info.upright["waist"]) < LEAST_TURN_DEG  # 15 degrees: worn as they did
    with pytest.raises(ValueError, match="no walking"):
        walking_gravity([Recording(recording.t[:3000], recording.raw[:3000], recording.labels[:3000])])
    target = tmp_path / "m.tflite"
    shutil.copy(default_model(), target)
    shutil.copy(default_model().with_suffix(".json"), target.with_suffix(".json"))
    for args in ([str(tmp_path / "missing.tflite")], [str(target), "--hapt", str(tmp_path / "nowhere.zip")]):
        done = subprocess.run([sys.executable, "-m", "harstream.training.upright", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("upright", ["junk", {"walked": {"waist": "up"}}, {"recent": [1, 2, 3, "x"], "recent_where": {"pocket": 2}}])
def test_a_replicas_state_with_a_malformed_upright_is_taken_without_it(anyone, upright):
    """What arrives from another replica is input: the device's belief and filter are taken, a malformed ``upright``
    left out (the device learns it again from its walking), and nothing raised."""
    from harstream.adapters.config import Settings
    from harstream.engine import Engine, Events

    first = Recognizer(anyone)
    first.feed("d", np.arange(1000) / 50.0, np.tile([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], (1000, 1)))
    state = {**json.loads(json.dumps(first.carried("d"))), "upright": upright}
    engine = Engine(Settings().validate(), anyone, Events())
    assert engine.restore("d", state)  # held until the device's next reading arrives
    engine.recognizer.restore("d", state)
    assert engine.recognizer.carried("d")["placement"] == pytest.approx(state["placement"])
    assert engine.recognizer.upright("d").walked == {} and engine.recognizer.upright("d").where_walked() is None
