"""A Raspberry Pi 4 core against this machine's, for pure-Python work: the n-body benchmark timed here and there."""
from __future__ import annotations

import time

# The Raspberry Pi 4 (Cortex-A72, 1.5 GHz, "performance" governor) ran 5,000,000 steps of the
# n-body benchmark in CPython in 158.3 s (C. Mehta, "Performance Analysis of Languages on Raspberry
# Pi", chaitanyamehta.github.io/projects/performance-analysis-of-programming-languages).  The same
# program's speed here gives this machine's factor over a Pi 4 core for pure-Python work.
PI4_NBODY_S_PER_STEP = 158.263 / 5_000_000


def nbody_seconds_per_step(steps: int = 200_000) -> float:
    """The n-body benchmark's step (5 bodies, as in the Computer Language Benchmarks Game), timed here."""
    pi, days = 3.14159265358979323, 365.24
    mass = 4 * pi * pi
    bodies = [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], mass],
              [[4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01],
               [1.66007664274403694e-03 * days, 7.69901118419740425e-03 * days, -6.90460016972063023e-05 * days], 9.54791938424326609e-04 * mass],
              [[8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01],
               [-2.76742510726862411e-03 * days, 4.99852801234917238e-03 * days, 2.30417297573763929e-05 * days], 2.85885980666130812e-04 * mass],
              [[1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01],
               [2.96460137564761618e-03 * days, 2.37847173959480950e-03 * days, -2.96589568540237556e-05 * days], 4.36624404335156298e-05 * mass],
              [[1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01],
               [2.68067772490389322e-03 * days, 1.62824170038242295e-03 * days, -9.51592254519715870e-05 * days], 5.15138902046611451e-05 * mass]]
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    t0 = time.perf_counter()
    dt = 0.01
    for _ in range(steps):
        for ([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** (-1.5))
            b1m, b2m = m1 * mag, m2 * mag
            v1[0] -= dx * b2m
            v1[1] -= dy * b2m
            v1[2] -= dz * b2m
            v2[0] += dx * b1m
            v2[1] += dy * b1m
            v2[2] += dz * b1m
        for (r, [vx, vy, vz], m) in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz
    return (time.perf_counter() - t0) / steps
