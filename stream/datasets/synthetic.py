"""Out-of-set motion made up from physics: what a phone reads when nobody is doing one of the labelled
activities with it.  Each generator returns raw rows (total acceleration in g, Android's signs; angular
velocity in rad/s) at 50 Hz, as a phone would send them.

Families, and why each is out of set:

* ``shake``: the phone shaken in a hand, 2.5 to 8 Hz, 0.3 to 3 g: faster and harder than any gait;
* ``table``: the phone put down on a table or shelf, flat or leaning, nobody touching it: still as no
  body is (no breathing, no pulse), whatever its tilt;
* ``vehicle``: the phone resting in a car or on a train, engine and road vibration (8 to 25 Hz) over
  slow sway: a seat's stillness shaken by a machine;
* ``bag``: the phone in a bag that hangs from a hand or shoulder and swings as a pendulum (0.6 to
  1.4 Hz, 15 to 70 degrees) without the footfalls of a gait;
* ``jump``: the phone worn in a pocket or on a belt by someone jumping on the spot (1.5 to 2.6 jumps a
  second): free fall in the air, a landing that carries the body's whole weight in a fraction of the
  time, the knees bending the thigh and the hips with each landing; no stride, no step forward.

Training uses ``shake``, ``table`` and ``vehicle``; ``bag`` and ``jump`` are kept out of training as the
families the model never saw, so that the out-of-set score is not only a score on the generators it learnt.
``belt_gait`` (not a family) makes up a belt's walking and running the same way.

>>> import numpy as np
>>> rows = make("table", np.random.default_rng(0), seconds=4)
>>> rows.shape, bool(abs(np.linalg.norm(rows[:, :3], axis=1).mean() - 1.0) < 0.01)
((200, 6), True)
>>> sorted(FAMILIES)
['bag', 'jump', 'shake', 'table', 'vehicle']
"""
from __future__ import annotations

import numpy as np

RATE = 50.0
TRAINING_FAMILIES = ("shake", "table", "vehicle")
HELD_OUT_FAMILIES = ("bag", "jump")


def _rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) about one unit ``axis`` by ``angle`` (n,) (Rodrigues)."""
    K = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * K[None] + (1 - c) * (K @ K)[None]


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _tilt(rng: np.random.Generator, most_deg: float) -> np.ndarray:
    """A rotation about any axis by up to ``most_deg`` degrees."""
    return _rotation(_unit(rng), np.array([np.deg2rad(rng.uniform(0, most_deg))]))[0]


def _resting_gravity(rng: np.random.Generator) -> np.ndarray:
    """Gravity (Android's signs: +1 g up) in the frame of a phone set down any way: flat on either face
    (most often), or leaning on an edge."""
    if rng.random() < 0.6:
        g = np.array([0.0, 0.0, rng.choice([-1.0, 1.0])])
    else:
        g = _unit(rng)
    return _tilt(rng, 8) @ g


def _noise(rng, n, acc_sd=None, gyro_sd=None):
    acc_sd = rng.uniform(0.0005, 0.004) if acc_sd is None else acc_sd
    gyro_sd = rng.uniform(0.0005, 0.006) if gyro_sd is None else gyro_sd
    return rng.normal(0, acc_sd, (n, 3)), rng.normal(0, gyro_sd, (n, 3)) + rng.normal(0, 0.01, 3)


def table(rng: np.random.Generator, n: int) -> np.ndarray:
    acc_noise, gyro_noise = _noise(rng, n)
    return np.hstack([_resting_gravity(rng)[None] + acc_noise, gyro_noise])


def vehicle(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    g = _resting_gravity(rng)
    acc, gyro = _noise(rng, n)
    for _ in range(rng.integers(2, 5)):  # engine and road: a few tones between 8 and 25 Hz
        f, a = rng.uniform(8, 25), rng.uniform(0.01, 0.12)
        acc += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))[:, None] * _unit(rng)[None]
        gyro += a * 2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))[:, None] * _unit(rng)[None]
    sway = rng.uniform(0.02, 0.15) * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
    acc += sway[:, None] * _unit(rng)[None]  # braking, turning: slow horizontal acceleration
    return np.hstack([g[None] + acc, gyro])


def shake(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    f = rng.uniform(2.5, 8.0)
    phase = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    axis = _unit(rng)
    angle = np.deg2rad(rng.uniform(5, 40)) * np.sin(phase + rng.uniform(0, np.pi))
    R = _rotation(axis, angle)  # the phone's attitude swings as the hand shakes it
    g = np.einsum("nij,j->ni", R.transpose(0, 2, 1), _resting_gravity(rng))
    linear = rng.uniform(0.3, 3.0) * (np.sin(phase) + rng.uniform(0, 0.4) * np.sin(2 * phase))[:, None] * _unit(rng)[None]
    acc_noise, gyro_noise = _noise(rng, n, 0.01, 0.01)
    omega = np.gradient(angle, 1 / RATE)[:, None] * axis[None]
    return np.hstack([g + linear + acc_noise, omega + gyro_noise])


def bag(rng: np.random.Generator, n: int) -> np.ndarray:
    """A pendulum of length L swinging about a horizontal axis: gravity turns with the swing, and the
    phone feels the swing's centripetal and tangential acceleration."""
    t = np.arange(n) / RATE
    f = rng.uniform(0.6, 1.4)
    amplitude = np.deg2rad(rng.uniform(15, 70))
    theta = amplitude * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    dtheta = np.gradient(theta, 1 / RATE)
    length = 9.81 / (2 * np.pi * f) ** 2  # the pendulum whose period this is
    # In the bag's frame (x along the swing, z along the string), the reaction to gravity and the swing:
    # along its arc a free pendulum feels nothing (gravity's share there is what swings it); along the
    # string, gravity's share and the centripetal pull
    az = np.cos(theta) + length * dtheta ** 2 / 9.81
    frame = np.stack([np.zeros(n), np.zeros(n), az], axis=1)
    M = _rotation(_unit(rng), np.array([rng.uniform(0, 2 * np.pi)]))[0]  # the phone lies any way in the bag
    acc_noise, gyro_noise = _noise(rng, n, 0.01, 0.01)
    wobble = rng.uniform(0.0, 0.05) * np.sin(2 * np.pi * 2 * f * t)[:, None] * _unit(rng)[None]  # the bag's contents settle
    omega = np.stack([np.zeros(n), dtheta, np.zeros(n)], axis=1)
    return np.hstack([frame @ M.T + acc_noise + wobble, omega @ M.T + gyro_noise])


def _worn(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """How a phone sits on a standing body, in its own frame: "up" (what its accelerometer reads at rest, Android's
    signs) along its long or its short side, either way, leaning up to 25 degrees (a thigh's or a pelvis's slope; a
    pocket or a belt, upright or sideways), and the body's left-right axis (about which a thigh and a pelvis pitch)
    any horizontal direction (the screen facing forward, backward or sideways)."""
    up = np.zeros(3)
    up[rng.integers(0, 2)] = rng.choice([-1.0, 1.0])
    up = _tilt(rng, 25) @ up
    side = np.cross(up, _unit(rng))
    return up, side / np.linalg.norm(side)


def _cycles(rng: np.random.Generator, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """For ``n`` samples of something done ``rate`` times a second, each a little longer or shorter than the last
    (4%): which cycle each sample lies in, and how far through it (0 to 1)."""
    t = np.arange(n) / RATE
    periods = np.clip(rng.normal(1 / rate, 0.04 / rate, int(n / RATE * rate) + 3), 0.5 / rate, None)
    starts = np.concatenate([[-rng.uniform(0, 1 / rate)], np.cumsum(periods) - periods[0]])
    k = np.searchsorted(starts, t, side="right") - 1
    return k, (t - starts[k]) / np.diff(starts)[k]


def _landings(phase: np.ndarray, duty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a body that leaves the ground in every cycle (a jump, a running step), on the ground for the first ``duty`` of
    it: whether each sample is on the ground, how far through the stance (0 to 1, 1 in the air), and the vertical
    specific force in g (nothing in the air; on the ground a half-sine whose area is the cycle's worth of 1 g, so the
    body ends each cycle as high and as fast as it began it: its peak pi / (2 duty) g)."""
    ground, through = phase < duty, np.minimum(phase / duty, 1.0)
    return ground, through, np.where(ground, np.pi / (2 * duty) * np.sin(np.pi * through), 0.0)


def jump(rng: np.random.Generator, n: int) -> np.ndarray:
    """Jumping on the spot, one jump after another.  Along the vertical the phone reads the body's specific force
    (``_landings``: nothing in the air, a landing of a fraction ``duty`` of the jump peaking at pi / (2 duty) g).
    While on the ground the knees bend and the thigh or pelvis pitches forward and
    back (5 to 35 degrees at the deepest), which turns gravity in the phone's frame and is what its gyroscope
    reads; a little fore-and-aft sway at the jump's rate rides on it."""
    rate, duty = rng.uniform(1.5, 2.6), rng.uniform(0.4, 0.75)
    _, phase = _cycles(rng, n, rate)  # 0 at touch-down, the jump's first duty on the ground
    ground, through, vertical = _landings(phase, duty)
    # a short landing is a stiff one: the thigh turns at most 6 rad/s (about a run's swing), so the bend is shallower
    deepest = min(np.deg2rad(rng.uniform(5, 35)), 6.0 * duty / (rate * np.pi))
    bend = deepest * np.where(ground, np.sin(np.pi * through) ** 2, 0.0)
    sway = rng.uniform(0.03, 0.2) * np.sin(2 * np.pi * phase + rng.uniform(0, 2 * np.pi)) * ground
    up, side = _worn(rng)
    forward = np.cross(side, up)
    force = vertical[:, None] * up[None] + sway[:, None] * forward[None]
    # the phone pitched by `bend` about `side` reads the world's force turned back by as much
    R = _rotation(side, -bend)
    acc_noise, gyro_noise = _noise(rng, n, 0.01, 0.01)
    omega = np.gradient(bend, 1 / RATE)[:, None] * side[None]
    return np.hstack([np.einsum("nij,nj->ni", R, force) + acc_noise, omega + gyro_noise])


FAMILIES = {"shake": shake, "table": table, "vehicle": vehicle, "bag": bag, "jump": jump}


def belt_gait(rng: np.random.Generator, n: int, running: bool) -> np.ndarray:
    """Not out of set, and not a family: a phone on a belt (the pelvis) of someone walking or running, made up the
    same way, to say what a model does with running on a belt, where no recording here has it; walking, made by the
    same code, is the check that the made-up belt reads like a real one.

    Walking, 1.55 to 2.0 steps a second: the pelvis rises and falls once a step (0.22 to 0.42 g along the vertical, with
    the second and third harmonics that make heel strike a sharp peak and mid-stance a flat trough, as on HAPT's training
    subjects' belts), brakes and pushes once a step (0.1 to 0.3 g), sways to the standing leg once a stride (0.05 to
    0.2 g); it never leaves the ground.  Running, 2.5 to 3.2 steps a second: each step a flight
    (free fall) and a stance of 45% to 80% of it carrying the step's worth of 1 g as a half-sine (2 to 3.5 g at its
    peak), braking then pushing across it (0.3 to 0.8 g), leaning to the standing leg (0.15 to 0.4 g).  Either way the
    pelvis turns about the vertical and leans to each side once a stride (walking 4 to 11 and 3 to 8 degrees, running 5
    to 12 and 4 to 10), and pitches once a step (2 to 4, running 2 to 5); the phone on the belt turns with it.

    The check fails for ``anyone`` (December 2026): it reads this walking as stairs, though its cadence, its peaks
    and troughs along the vertical and its rotation match HAPT's belts (docs/generalisation-choices.md, item 33)."""
    if running:
        rate, duty = rng.uniform(2.5, 3.2), rng.uniform(0.45, 0.8)
        step, phase = _cycles(rng, n, rate)
        ground, through, vertical = _landings(phase, duty)
        fore = np.where(ground, -rng.uniform(0.3, 0.8) * np.sin(2 * np.pi * through), 0.0)
        side = np.where(ground, rng.uniform(0.15, 0.4) * np.sin(np.pi * through), 0.0) * np.where(step % 2, -1.0, 1.0)
        turn, lean, pitch = (np.deg2rad(rng.uniform(*r)) for r in ((5, 12), (4, 10), (2, 5)))
    else:  # as HAPT's training subjects walk (along the vertical their 95th and 5th percentiles 1.47 and 0.71 g, these 1.42
        rate = rng.uniform(1.55, 2.0)  # and 0.69; their cadence 1.58 to 1.98 steps a second, 5th to 95th percentile)
        step, phase = _cycles(rng, n, rate)
        a, h2, h3 = rng.uniform(0.22, 0.42), rng.uniform(0.05, 0.45), rng.uniform(0.05, 0.45)
        vertical = 1.0 + a * sum(h * np.cos(k * 2 * np.pi * phase + rng.uniform(-0.3, 0.3) * (k > 1))
                                 for k, h in ((1, 1.0), (2, h2), (3, h3)))
        fore = rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * phase + rng.uniform(0, np.pi / 2))
        side = rng.uniform(0.05, 0.2) * np.sin(np.pi * (step + phase))
        turn, lean, pitch = (np.deg2rad(rng.uniform(*r)) for r in ((4, 11), (3, 8), (2, 4)))
    stride = np.pi * (step + phase)  # once a stride: two steps
    yaw = turn * np.sin(stride + rng.uniform(0, 2 * np.pi))
    roll = lean * np.sin(stride + rng.uniform(0, 2 * np.pi))
    tilt = pitch * np.sin(2 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    up, left = _worn(rng)
    forward = np.cross(left, up)
    force = vertical[:, None] * up[None] + fore[:, None] * forward[None] + side[:, None] * left[None]
    R = _rotation(up, yaw) @ _rotation(forward, roll) @ _rotation(left, tilt)  # the pelvis's attitude, in the phone's frame
    omega = sum(np.gradient(a, 1 / RATE)[:, None] * axis[None] for a, axis in ((yaw, up), (roll, forward), (tilt, left)))
    acc_noise, gyro_noise = _noise(rng, n)
    return np.hstack([np.einsum("nji,nj->ni", R, force) + acc_noise, omega + gyro_noise])


def make(family: str, rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """``seconds`` of one family's motion at 50 Hz: (n, 6) raw rows."""
    return FAMILIES[family](rng, int(round(seconds * RATE)))
