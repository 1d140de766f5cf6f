"""A tiny training run of each seed architecture, its export, and the parity check (needs the train extra)."""
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from harstream.core.model import Model  # noqa: E402
from harstream.training.train import train  # noqa: E402


@pytest.mark.parametrize("arch", ["lstm", "cnn-lstm", "convlstm", "hcnn", "anywhere"])
def test_tiny_training_exports_a_model_that_agrees_with_keras(arch, hapt_dir, tmp_path):
    report = train(arch, repeats=2, data=hapt_dir, out=tmp_path, epochs=1, max_windows=120)
    assert [r["repeat"] for r in report["repeats"]] == [1, 2]
    accs = [r["test_accuracy"] for r in report["repeats"]]
    assert report["mean_test_accuracy"] == pytest.approx(np.mean(accs)) and report["std_test_accuracy"] == pytest.approx(np.std(accs))
    best = max(report["repeats"], key=lambda r: r["validation_accuracy"])
    assert report["selected_repeat"] == best["repeat"]
    parity = report["exported"]["parity"]
    assert parity["argmax_disagreements"] == 0 and parity["max_abs_prob_diff"] < 1e-4 and parity["windows"] == 120
    model = Model(tmp_path / f"{arch}.tflite")
    if arch in ("hcnn", "anywhere"):  # shipped as int8: the report compares it with its float model
        quantized = parity["quantized"]
        assert quantized["type"] == "int8-weights" and quantized["bytes"] <= 64 * 1024 < quantized["float_bytes"]
        assert model.dynamic_batch and len(model.info.channels) == 12
    assert model.info.channels[:3] == ["total_acc_x", "total_acc_y", "total_acc_z"] and model.info.window == 128
    assert model.info.accuracy["test"] == round(report["exported"]["accuracy"], 4)
    assert (tmp_path / f"{arch}.confusion.png").read_bytes()[:4] == b"\x89PNG"
    on_disk = json.loads((tmp_path / f"{arch}.report.json").read_text())
    assert on_disk["exported"]["confusion"] == report["exported"]["confusion"]


def test_too_few_subjects_is_a_clear_error(tmp_path, recording):
    from conftest import write_hapt
    from harstream.datasets import DatasetError

    only_test = write_hapt(tmp_path / "d", recording, {4: (2, slice(0, 3000))})
    with pytest.raises(DatasetError, match="need windows of training"):
        train("lstm", 1, data=only_test, out=tmp_path, epochs=1)


def test_without_validation_subjects_all_training_subjects_fit_and_the_first_repeat_ships(hapt_dir, tmp_path):
    report = train("hcnn", repeats=2, data=hapt_dir, out=tmp_path, epochs=1, max_windows=120, validation_subjects=())
    assert report["selected_repeat"] == 1 and report["data"]["validation_windows"] == 0
    assert all(r["validation_accuracy"] is None for r in report["repeats"])
    assert Model(tmp_path / "hcnn.tflite").info.accuracy["validation"] is None


@pytest.mark.parametrize("quantize", ["int8", "float16", "int8-weights"])
def test_every_quantisation_exports_a_model_the_runtime_loads(quantize, tmp_path):
    from harstream.core.model import ModelInfo
    from harstream.core.preprocess import CHANNELS
    from harstream.training.archs import ARCHS, build_hcnn
    from harstream.training.export import to_tflite, write_model

    X = np.random.default_rng(0).normal(size=(32, 128, 12)).astype(np.float32)
    keras_model = build_hcnn(128, 12, 6)
    tflite = to_tflite(keras_model, ARCHS["hcnn"], 128, 6, quantize=quantize, representative=X)
    path = write_model(tflite, ModelInfo(name="q", labels=list("ABCDEF"), channels=list(CHANNELS)), tmp_path)
    probs = Model(path).predict(X)
    assert probs.shape == (32, 6) and np.allclose(probs.sum(axis=1), 1, atol=0.02)
    if quantize != "int8":  # full int8 rounds too coarsely to compare; the others track Keras closely
        assert np.abs(probs - keras_model.predict(X, verbose=0)).max() < 0.05


def test_the_train_command_offers_every_architecture():
    from harstream.training.archs import ARCHS
    from harstream.training.cli import ARCH_NAMES

    assert tuple(ARCHS) == ARCH_NAMES


def test_a_placement_aware_model_trains_on_waist_and_pocket_data_together(hapt_dir, tmp_path):
    from test_placement import write_motionsense

    pocket = write_motionsense(tmp_path / "ms.zip", subjects=(1, 2, 5))
    report = train("anywhere", repeats=1, data=[hapt_dir, pocket], out=tmp_path, epochs=1, max_windows=200)
    assert report["data"]["held_out_subjects"] == [102, 105]  # MotionSense's validation subjects: scored, never trained on
    assert set(report["summary"]) == {"test", "held_out"}
    model = Model(tmp_path / "anywhere.tflite")
    assert model.info.placements == ["waist", "pocket"] and model.info.outputs == 6 * 3 + 2
    assert {"test", "held_out"} <= set(model.info.accuracy)


def test_placement_augmentation_keeps_a_waist_facing_and_turns_a_pocket_every_way():
    from harstream.training.archs import orientation_matrices

    M, gyro_sign = orientation_matrices(np.array([0] * 500 + [1] * 500), np.random.default_rng(0), max_deg=0)
    assert np.allclose(M @ M.transpose(0, 2, 1), np.eye(3), atol=1e-6)
    assert np.allclose(gyro_sign, np.sign(np.linalg.det(M)))
    sitting = np.array([0.9, 0.24, 0.36])  # a waist phone's gravity when seated: tilted back and aside
    waist = M[:500] @ sitting
    assert np.allclose(np.abs(waist), np.abs(sitting), atol=1e-6) and (np.sign(waist) == np.sign(waist[:, :1])).all()
    seen = {tuple(np.round(m).astype(int).ravel()) for m in M[500:]}
    assert len(seen) == 16  # a pocket: the 8 sign flips, each also a quarter turn about the screen's normal


@pytest.mark.parametrize("turns, ways", [("quarter", 8), ("all", 16)])
def test_a_waist_turned_about_its_screen_keeps_the_pelvis_tilt(turns, ways):
    """A holster upright or sideways, a clip upside down: turns about the screen's normal leave gravity's component
    along it (the pelvis's tilt back when seated) as it was; "all" also turns the screen to face the body."""
    from harstream.training.archs import orientation_matrices

    M, _ = orientation_matrices(np.zeros(2000, int), np.random.default_rng(1), max_deg=0, waist_turns=turns)
    assert np.allclose(M @ M.transpose(0, 2, 1), np.eye(3), atol=1e-6)
    assert len({tuple(np.round(m).astype(int).ravel()) for m in M}) == ways  # each with and without the iPhone's negation
    sitting = np.array([0.9, 0.24, 0.36])
    turned = M @ sitting
    assert np.allclose(np.linalg.norm(turned[:, :2], axis=1), np.linalg.norm(sitting[:2]), atol=1e-6)
    assert np.allclose(np.abs(turned[:, 2]), sitting[2], atol=1e-6)
    upright = (np.abs(turned[:, 1]) > 0.8).mean()  # gravity along the long axis: an upright holster
    assert 0.4 < upright < 0.6
    facing = np.sign(turned[:, 2]) == np.sign(np.linalg.det(M))  # the screen faces where it faced (the iPhone's mirror aside)
    assert facing.all() if turns == "quarter" else 0.4 < facing.mean() < 0.6


def test_waist_turns_gaits_turns_a_belts_gait_windows_and_leaves_its_postures_and_the_pocket_alone():
    """``--waist-turns gaits`` (item 27 of docs/generalisation-choices.md): a belt's walking, stairs and running windows
    are turned about the screen's normal as a holster upright or a clip upside down would sit; its still windows keep
    the way HAPT's belts sat (a belt upright while standing would look like one sideways while lying, item 10)."""
    from harstream.training.anyone import LABELS, augment, is_gait

    n = 800
    X = np.zeros((n, 128, 12), np.float32)
    X[:, :, 0] = X[:, :, 9] = 1.0  # gravity along the phone's x: a belt sideways, as HAPT's
    y = np.arange(n) % (len(LABELS) + 1) - 1  # every label, and -1 (a posture change)
    placement = np.where(np.arange(n) < 600, 0, 1)
    gaits = is_gait(y)
    assert sorted({LABELS[k] for k in y[gaits]}) == ["RUNNING", "WALKING", "WALKING_DOWNSTAIRS", "WALKING_UPSTAIRS"]
    out = augment(X.copy(), placement, np.random.default_rng(0), waist_turns="gaits", gaits=gaits)
    upright = np.abs(out[:, :, 9:12].mean(axis=1))[:, 1] > 0.7  # gravity along the long axis
    belt = placement == 0
    assert 0.35 < upright[belt & gaits].mean() < 0.65 and not upright[belt & ~gaits].any()
    plain = augment(X.copy(), placement, np.random.default_rng(0), waist_turns="none", gaits=gaits)  # no belt turned
    assert not (np.abs(plain[:, :, 9:12].mean(axis=1))[:, 1] > 0.7)[belt].any()
    with pytest.raises(ValueError, match="gaits"):
        augment(X.copy(), placement, np.random.default_rng(0), waist_turns="gaits")


def test_a_tiny_anyone_run_exports_running_unknown_and_its_threshold(hapt_dir, tmp_path):
    from harstream.training.anyone import LABELS, train_anyone
    from test_placement import write_motionsense

    motion = write_motionsense(tmp_path / "ms.zip", subjects=(1, 2, 3))
    report = train_anyone(hapt_dir, motion, repeats=1, epochs=1, out=tmp_path, log=lambda m: None, keep_repeats=True)
    model = Model(tmp_path / "anyone.tflite")
    repeat = Model(tmp_path / "anyone-repeat1.tflite")  # every repeat kept as the daemon would run it, distance and all
    assert repeat.info.extra["repeat"] == 1 and repeat.info.distance and repeat.info.labels == model.info.labels
    assert model.info.labels == list(LABELS) and LABELS[-2:] == ("RUNNING", "UNKNOWN")
    assert 0 <= model.info.unknown_threshold < 1 and len(model.info.prior) == len(LABELS) and model.info.prior[-1] > 0
    parity = report["exported"]["parity"]  # the int8-weight file against the float Keras model
    assert parity["windows"] > 0 and parity["argmax_disagreements"] <= 0.02 * parity["windows"] and model.info.placements == ["waist", "pocket"]
    assert model.info.extra["augmentation"] == {"intensity": None, "spin": False, "waist_tilt": 12.0, "waist_turns": "gaits"}  # for the distance
    assert model.info.extra["turns"] is True  # the varied copies turned where they moved: the distance reloads them so
    assert model.info.extra["changes"] is True  # and the windows across changes of activity were trained on
    assert model.info.extra["stretch"] == [0.7, 1.3]  # their cadences (item 30): the distance reloads the same copies
    assert model.info.distance["labels"] and model.predict_all(np.zeros((2, 128, 12), np.float32), features=True)[1].shape == (2, 96)
    assert model.info.gaits_from_features and repeat.info.gaits_from_features  # walking and stairs by the features, as shipped
    assert report["distance"]["threshold"] == model.info.distance["threshold"] > 0


def test_varied_copies_that_turn_turn_about_gravity_on_the_move_and_never_standing_still(hapt_dir, monkeypatch):
    """Item 20 of docs/generalisation-choices.md: a copy made to turn (every copy, here) turns its wearer about the
    vertical while they walk, by the recipe's angles, and never while they sit, stand or lie."""
    from benchmarks.turning import heading_turn
    from harstream.core.preprocess import Preprocessor
    from harstream.datasets import read_hapt
    from harstream.training import copies as made

    monkeypatch.setattr(made, "TURN_SHARE", 1.0)
    rec = read_hapt(hapt_dir)[0]
    copies = [made.varied(rec, np.random.default_rng(seed), turns=True) for seed in range(3)]
    plain = [made.varied(rec, np.random.default_rng(seed), turns=False) for seed in range(3)]

    def turned(copy):  # degrees turned about gravity in each window's newer 1.28 s, and whether the wearer moved in it all
        X = Preprocessor(50.0).process(copy.raw)
        starts = np.arange(0, len(X) - 127, 64)
        newer = copy.labels[starts[:, None] + np.arange(64, 128)]
        still = np.isin(newer, (4, 5, 6)).all(axis=1)
        still[1:-1] &= still[:-2] & still[2:]  # and so are the windows either side (people start a posture change early)
        return heading_turn(X[starts[:, None] + np.arange(128)]), np.isin(newer, made.MOVING_IDS).all(axis=1), still

    for copy, before in zip(copies, plain):
        turns, moving, still = turned(copy)
        plain_turns, _, plain_still = turned(before)
        assert moving.any() and still.any()
        assert turns[moving].max() >= 30.0 > plain_turns[moving].max()  # turned while walking; the plain copy never did
        assert turns[still].max() < 10.0 and plain_turns[plain_still].max() < 10.0


def test_a_placements_own_cadence_range_stretches_only_its_copies(hapt_dir):
    """``--waist-stretch`` (item 26 of docs/generalisation-choices.md): a waist recording's copies are stretched within
    the waist's range, a pocket's within the other; one range for both, as before, when no mapping is given."""
    import dataclasses

    from harstream.datasets import read_hapt
    from harstream.training.copies import varied

    waist = read_hapt(hapt_dir)[0]
    pocket = dataclasses.replace(waist, placement="pocket")
    ranges = {"waist": [0.7, 0.7001], "pocket": [1.25, 1.2501]}
    slower = varied(waist, np.random.default_rng(0), stretch=ranges)
    quicker = varied(pocket, np.random.default_rng(0), stretch=ranges)
    both = varied(pocket, np.random.default_rng(0), stretch=(0.7, 0.7001))
    assert abs(len(slower.labels) / len(waist.labels) - 1 / 0.7) < 0.01 and slower.placement == "waist"
    assert abs(len(quicker.labels) / len(waist.labels) - 1 / 1.25) < 0.01 and quicker.placement == "pocket"
    assert abs(len(both.labels) / len(waist.labels) - 1 / 0.7) < 0.01


def test_a_distance_tells_a_window_far_from_every_activity():
    """Two activities' features as two clouds: a point inside either is near, one between them far beyond both
    clouds' spread is far; each activity is measured in its own spread."""
    from harstream.core.model import ModelInfo
    from harstream.training.distance import fit, threshold, to_metadata

    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal(0, 1, (500, 4)), rng.normal(0, 3, (500, 4)) + [20, 0, 0, 0]])
    y = np.repeat([0, 1], 500)
    stats = fit(features, y, ["SITTING", "RUNNING", "UNKNOWN"])
    assert stats["labels"] == ["SITTING", "RUNNING"] and stats["scales"][1] > stats["scales"][0]
    info = ModelInfo(name="t", labels=["SITTING", "RUNNING", "UNKNOWN"], channels=["gravity_z"])
    info.distance = to_metadata(stats, 0.0, 0.01)
    limit = threshold(info.distances(features), 0.01)
    info.distance = to_metadata(stats, limit, 0.01)
    info.validate("t")
    probes = np.array([[0.5, 0, 0, 0], [21, 2, 0, 0], [10, 0, 0, 10], [0, 0, 12, 0], [4.5, 0, 0, 0]])  # the last: far only for a tight cloud
    assert info.far(probes).tolist() == [False, False, True, True, True]


@pytest.mark.parametrize("augmentation", [{"waist_turns": "sideways"}, {"tilt": 3}, ["none"]])
def test_the_distance_command_refuses_a_recipe_it_does_not_know_in_one_line(augmentation, tmp_path):
    """The distance is measured on windows turned as the model was trained; metadata naming another recipe is refused
    before any data is read (the data paths here do not exist), in one line and a non-zero exit."""
    import shutil
    import subprocess
    import sys

    from harstream.core.model import metadata_path

    path = shutil.copy(Path(__file__).parents[1] / "models" / "anywhere.tflite", tmp_path / "m.tflite")
    meta = json.loads(metadata_path(Path(__file__).parents[1] / "models" / "anywhere.tflite").read_text())
    meta["extra"] = {**meta.get("extra", {}), "augmentation": augmentation}
    metadata_path(path).write_text(json.dumps(meta))
    done = subprocess.run([sys.executable, "-m", "harstream.training.distance", str(path), "--hapt", "nowhere.zip",
                           "--motionsense", "nowhere.zip"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "augmentation" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_cross_validation_fold_leaves_its_hapt_subjects_out_and_is_never_a_scored_one(hapt_dir, tmp_path, capsys):
    """``--hold-out`` (a fold of HAPT's training subjects) leaves them out of training, and MotionSense's in;
    ``benchmarks.across_validation --subjects`` streams a fold, and refuses a scored subject in one line."""
    from benchmarks import across_validation
    from harstream.training.anyone import load
    from test_placement import write_motionsense

    motion = write_motionsense(tmp_path / "ms.zip", subjects=(1, 3))
    every, _, _ = load(hapt_dir, motion)
    fold, _, _ = load(hapt_dir, motion, hold_out=[3])
    subjects = lambda ws, where: set(ws.subject[ws.placement == where].tolist())  # noqa: E731
    assert subjects(every, 0) == {1, 3} and subjects(fold, 0) == {1}
    assert subjects(fold, 1) == subjects(every, 1) == {101, 103}  # MotionSense's subjects, numbered from 100, stay
    with pytest.raises(SystemExit) as exit:
        across_validation.main([str(tmp_path / "m.tflite"), "--subjects", "3", "2"])
    assert exit.value.code == 2 and "[2] are HAPT's scored subjects" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:  # a shift of benchmarks.generalisation it does not have: named, and the list
        across_validation.main([str(tmp_path / "m.tflite"), "--shifts", "cadence ×0.75", "a tilt"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "no shift 'a tilt'" in err and "a half turn after every 2.5 s walked" in err
    with pytest.raises(SystemExit) as exit:  # a day's recordings lie a minute apart: a shift that resamples would fill it
        across_validation.main([str(tmp_path / "m.tflite"), "--day", "--shifts", "cadence ×0.75"])
    assert exit.value.code == 2 and "without --day" in capsys.readouterr().err


def test_windows_across_a_change_are_labelled_as_the_streamed_score_reads_them():
    """Item 21 of docs/generalisation-choices.md: the daemon's grid windows that no single activity holds, each with
    its activity where most of its samples have one (as the streamed score reads it), else -1 (only its placement is
    learnt): a posture change; a window mostly of unlabelled time is left out.  A recording of one activity has none."""
    from harstream.datasets.common import Recording as DatasetRecording
    from harstream.datasets.common import change_windows

    # walking 270, unlabelled 82, STAND_TO_SIT (7) 100, SITTING 188: grid windows start every 64 samples
    ids = np.repeat([1, 0, 7, 4], [270, 82, 100, 188])
    rec = DatasetRecording(1, 1, np.zeros((len(ids), 3)), np.zeros((len(ids), 3)), ids, 50.0, "waist", "hapt", "")
    w = change_windows([rec])
    # starts 0, 64 and 128 lie inside the walk and 512 inside the sitting; 192: mostly walking; 256: mostly unlabelled
    # (left out); 320 and 384: mostly the posture change; 448: mostly sitting
    assert w.y.tolist() == [0, -1, -1, 3] and w.placement.tolist() == [0] * 4 and len(w.X) == 4
    pocket = DatasetRecording(1, 1, np.zeros((len(ids), 3)), np.zeros((len(ids), 3)), ids, 50.0, "pocket", "motionsense", "")
    assert change_windows([pocket]).placement.tolist() == [1] * 4
    one = DatasetRecording(1, 1, np.zeros((640, 3)), np.zeros((640, 3)), np.full(640, 4), 50.0, "pocket", "motionsense", "")
    assert len(change_windows([one])) == 0 and change_windows([one]).X.shape == (0, 128, 12)


def test_a_window_whose_activity_is_not_learnt_teaches_only_its_placement(hapt_dir):
    """Its activity target is all zero, so the loss is the placement's alone, whatever the activity heads answer."""
    from harstream.training.anyone import LABELS, load, targets
    from harstream.training.archs import placement_loss
    from test_placement import write_motionsense

    fit, _, _ = load(hapt_dir, write_motionsense(hapt_dir.parent / "ms.zip", subjects=(1, 2, 3)), with_changes=True)
    plain, _, _ = load(hapt_dir, hapt_dir.parent / "ms.zip")
    assert (fit.y == -1).any() and (fit.placement[fit.y == -1] == 0).all() and (plain.y >= 0).all()  # belt changes, only asked
    T = targets(np.array([-1, 2]), np.array([0, 0]))
    assert T[0, :len(LABELS)].sum() == 0 and T[0, len(LABELS):].tolist() == [1, 0] and T[1, 2] == 1
    loss = placement_loss(len(LABELS), 2)
    rng = np.random.default_rng(0)
    place = np.array([[0.8, 0.2]], np.float32)
    costs = []
    for _ in range(2):  # two different activity answers, the same placement answer
        act = rng.dirichlet(np.ones(len(LABELS)), 3).astype(np.float32).reshape(1, -1)
        costs.append(float(np.asarray(loss(T[:1], np.hstack([act, place])))[0]))
    assert costs[0] == pytest.approx(costs[1]) == pytest.approx(-0.3 * np.log(0.8), rel=1e-5)


def test_a_made_up_window_is_taught_unknown_by_the_placements_mixture_or_by_each():
    """A made-up window has no placement (a uniform placement target).  By default its UNKNOWN is learnt by the mixture
    of the placements' answers, which one placement saying UNKNOWN nearly satisfies while the other says SITTING; with
    ``each_placement`` (item 24, not kept) each placement's answer pays for its own mistake.  For a window of one
    placement the two are the same loss."""
    from harstream.training.anyone import LABELS, targets
    from harstream.training.archs import placement_loss

    n = len(LABELS)
    unknown, sitting = np.eye(n, dtype=np.float32)[LABELS.index("UNKNOWN")], np.eye(n, dtype=np.float32)[LABELS.index("SITTING")]
    sure = lambda a: 0.98 * a + 0.02 / n  # noqa: E731
    answer = np.hstack([sure(unknown), sure(unknown), sure(sitting), [0.5, 0.5]]).astype(np.float32)[None]  # the pocket's says SITTING
    made_up, worn = targets(np.array([LABELS.index("UNKNOWN")]), np.array([-1])), targets(np.array([LABELS.index("UNKNOWN")]), np.array([0]))
    mixture, each = placement_loss(n, 2), placement_loss(n, 2, each_placement=True)
    cost = lambda loss, T: float(np.asarray(loss(T, answer))[0])  # noqa: E731
    assert cost(each, made_up) > cost(mixture, made_up) + 1.0  # half of the target on a label given 0.25% costs log(400)/2
    assert cost(each, worn) == pytest.approx(cost(mixture, worn), rel=1e-6)


def test_the_distance_reloads_a_model_as_it_was_trained_not_with_todays_defaults():
    """Item 30 made a belt's gait turns and cadences 0.7-1.3 the defaults; a model whose metadata names neither was
    trained without them, and the distance must turn and stretch its windows as it was trained."""
    import doctest

    from harstream.training import distance
    from harstream.training.anyone import WAIST_TURNS

    before = {"augmentation": {"intensity": None, "spin": False, "waist_tilt": 12.0}}
    recipe, stretch = distance.trained_recipe(before, "old.tflite")
    assert recipe["waist_turns"] == "none" != WAIST_TURNS and stretch == (0.8, 1.25)
    assert distance.trained_recipe({}, "older.tflite") == ({"waist_turns": "none"}, (0.8, 1.25))
    now = {"augmentation": {**before["augmentation"], "waist_turns": "gaits"}, "stretch": [0.7, 1.3]}
    assert distance.trained_recipe(now, "new.tflite") == (now["augmentation"], [0.7, 1.3])
    assert doctest.testmod(distance).failed == 0
