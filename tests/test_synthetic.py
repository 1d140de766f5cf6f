"""The made-up out-of-set motion obeys the physics its docstrings claim (harstream.datasets.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest
from harstream.datasets import synthetic

SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
def test_jumping_averages_one_g_and_falls_freely_in_the_air(seed):
    raw = synthetic.make("jump", np.random.default_rng(seed), seconds=40)
    acc = raw[:, :3]
    # over whole jumps the body goes nowhere, so the phone's mean reading is gravity's reaction alone
    assert abs(np.linalg.norm(acc.mean(axis=0)) - 1.0) < 0.05
    magnitude = np.linalg.norm(acc, axis=1)
    in_the_air = (magnitude < 0.1).mean()
    assert 0.2 <= in_the_air <= 0.62  # the air takes 25 to 60% of a jump
    assert magnitude.max() > 2.0  # the landing carries a jump's worth of 1 g in its fraction of the time


@pytest.mark.parametrize("seed", SEEDS)
def test_jumping_turns_the_phone_about_the_bodys_left_right_axis(seed):
    raw = synthetic.make("jump", np.random.default_rng(seed), seconds=40)
    gyro, up = raw[:, 3:], raw[:, :3].mean(axis=0)
    # one horizontal axis carries the rotation: the thigh or pelvis pitching as the knees bend
    _, s, vt = np.linalg.svd(gyro - gyro.mean(axis=0), full_matrices=False)
    assert s[0] ** 2 / (s ** 2).sum() > 0.95
    cosine = abs(vt[0] @ up) / np.linalg.norm(up)
    assert cosine < np.sin(np.deg2rad(5))
    # and the phone is worn: "up" within 25 degrees (and the bend) of one of its sides
    assert np.max(np.abs(up)) / np.linalg.norm(up) > np.cos(np.deg2rad(40))


@pytest.mark.parametrize("seed", SEEDS)
def test_one_jump_after_another_at_a_jumping_rate(seed):
    raw = synthetic.make("jump", np.random.default_rng(seed), seconds=40)
    magnitude = np.linalg.norm(raw[:, :3], axis=1)
    spectrum = np.abs(np.fft.rfft(magnitude - magnitude.mean()))
    hz = np.fft.rfftfreq(len(magnitude), 1 / synthetic.RATE)
    assert 1.4 <= hz[np.argmax(spectrum)] <= 2.7


def test_the_families_kept_out_of_training_are_not_trained_on():
    assert set(synthetic.HELD_OUT_FAMILIES) == {"bag", "jump"}
    assert not set(synthetic.HELD_OUT_FAMILIES) & set(synthetic.TRAINING_FAMILIES)
    assert set(synthetic.FAMILIES) == set(synthetic.HELD_OUT_FAMILIES) | set(synthetic.TRAINING_FAMILIES)


@pytest.mark.parametrize("running", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
def test_a_made_up_belt_walks_on_the_ground_and_runs_with_flights_at_its_step_rate(seed, running):
    raw = synthetic.belt_gait(np.random.default_rng(seed), 2000, running)
    acc = raw[:, :3]
    assert abs(np.linalg.norm(acc.mean(axis=0)) - 1.0) < 0.05
    magnitude = np.linalg.norm(acc, axis=1)
    if running:
        assert 0.15 <= (magnitude < 0.1).mean() <= 0.6 and magnitude.max() > 1.8
    else:
        assert magnitude.min() > 0.5 and 0.15 < magnitude.std() < 0.4  # HAPT's belts: 0.24 g along the vertical
    spectrum = np.abs(np.fft.rfft(magnitude - magnitude.mean()))
    hz = np.fft.rfftfreq(len(magnitude), 1 / synthetic.RATE)
    low, high = (2.4, 3.3) if running else (1.5, 2.2)
    assert low <= hz[np.argmax(spectrum)] <= high
    # the pelvis sways to the standing leg once a stride, every other step: half the step rate shows in the rotation
    rotation = np.abs(np.fft.rfft(raw[:, 3:] - raw[:, 3:].mean(axis=0), axis=0)).sum(axis=1)
    assert low / 2 - 0.1 <= hz[1:][np.argmax(rotation[1:])] <= high
