"""What the browser tests and the screenshots share: Debian's chromium and synthetic motion for a phone page."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from harstream.core.payloads import G

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As a probe of this machine's kind runs it: no sandbox as root, and none of the background traffic a closed network refuses.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
POCKET = Path(__file__).resolve().parent.parent / "stream" / "data" / "pocket_sub01.csv.gz"


# Synthetic DeviceMotionEvents, 50 a second, each at its own moment: the page stamps them as a phone would.
REPLAY_JS = """async ([rows, flip]) => {
  const wait = ms => new Promise(r => setTimeout(r, ms));
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i++) {
    const due = t0 + 20 * i - performance.now();
    if (due > 0) await wait(due);
    const [ax, ay, az, gx, gy, gz] = rows[i];
    window.dispatchEvent(new DeviceMotionEvent("devicemotion", {interval: 20,
      accelerationIncludingGravity: {x: flip * ax, y: flip * ay, z: flip * az}, rotationRate: {alpha: gz, beta: gx, gamma: gy}}));
  }
}"""


def motion_rows(raw: np.ndarray) -> list:
    """Readings in g and rad/s as a browser gives them: m/s² (Android's signs) and deg/s."""
    return np.hstack([raw[:, :3] * G, np.degrees(raw[:, 3:])]).tolist()
