"""Screenshots of the pages for the README: the live view with a few devices, and a phone page in use.

    python -m benchmarks.screenshots [--out docs/img]

Starts a Mosquitto of its own, the daemon and the pages, replays the shipped recordings as devices, feeds a
phone page synthetic motion (Debian's chromium, headless, driven by Playwright), and writes live.png and
phone.png.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from harstream.adapters.brokers import Mosquitto
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.adapters.replay import bundled_recording, replay
from harstream.adapters.web import WebFront
from harstream.core.catalog import default_model
from harstream.core.model import Model
from harstream.core.recording import read_csv

from . import clients
from .browser import CHROMIUM, FLAGS, POCKET, REPLAY_JS, motion_rows

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright


    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = Model(default_model())
    with Mosquitto() as broker, tempfile.TemporaryDirectory() as state:
        settings = Settings(broker=broker.url, web_state=state, stats_interval=1.0).validate()
        daemon = Daemon(settings, model)
        daemon.start()
        pages = WebFront(settings, daemon.engine.labels).start()
        phone = clients.publisher(broker.port, "screenshots")
        try:
            devices = [("kitchen-tablet", read_csv(bundled_recording())), ("anna-pocket", read_csv(POCKET))]
            senders = [threading.Thread(target=replay, args=(phone, [rec], name, "batch", 8.0)) for name, rec in devices]
            for s in senders:
                s.start()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                mobile = browser.new_page(viewport={"width": 390, "height": 760}, device_scale_factor=2)
                mobile.goto(f"{pages.phone_url}&device=my-phone&sign=android")
                mobile.click("#start")
                mobile.wait_for_function("window.harstream.open()", timeout=10_000)
                mobile.evaluate(REPLAY_JS, [motion_rows(read_csv(POCKET).raw[:900]), 1])
                mobile.screenshot(path=str(args.out / "phone.png"))
                for s in senders:
                    s.join()
                live = browser.new_page(viewport={"width": 1100, "height": 760})
                live.goto(pages.url)
                live.wait_for_selector('[data-device="my-phone"]', timeout=15_000)
                live.wait_for_timeout(1500)
                live.screenshot(path=str(args.out / "live.png"))
                browser.close()
        finally:
            clients.close(phone)
            pages.stop()
            daemon.stop()
    print(f"wrote {args.out / 'live.png'} and {args.out / 'phone.png'}")


if __name__ == "__main__":
    main()
