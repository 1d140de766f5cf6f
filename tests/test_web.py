"""The pages in a real browser (Debian's chromium, headless, driven by Playwright): a phone page fed synthetic
``devicemotion`` events at 50 Hz in both sign conventions labels what ``predict`` labels for the same
samples, through a real Mosquitto and the daemon; the live page shows the device; a wrong token is refused
and bad messages are counted like MQTT's."""
from __future__ import annotations

import asyncio
import json
import shutil
import time

import numpy as np
import pytest
from harstream.adapters.config import Settings
from harstream.adapters.mqtt import Daemon
from harstream.core import Recognizer
from harstream.core.payloads import parse
from harstream.core.recording import read_csv

from benchmarks.browser import CHROMIUM, FLAGS, POCKET, REPLAY_JS, motion_rows

pytest.importorskip("aiohttp")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def site(broker, model, tmp_path):
    from harstream.adapters.web import WebFront

    settings = Settings(broker=broker.url, client_id="web-daemon", web_state=str(tmp_path), web_token="test-token-123",
                        stats_interval=0.5).validate()
    daemon = Daemon(settings, model)
    daemon.start()
    pages = WebFront(settings, daemon.engine.labels).start()
    yield daemon, pages
    pages.stop()
    daemon.stop()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does this)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def in_a_thread(coroutine):
    """asyncio.run away from Playwright's own loop in this thread."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


@pytest.mark.parametrize("sign", ["android", "ios"])
def test_a_phone_page_labels_what_predict_labels(site, browser, listen, model, sign):
    daemon, pages = site
    device = f"browser-{sign}"
    sent = listen(f"har/{device}/imu")
    labels = listen(f"har/{device}/activity")
    page = browser.new_page()
    page.goto(f"{pages.phone_url}&device={device}&sign={sign}")
    assert page.evaluate("window.harstream.sign") == sign
    page.click("#start")
    page.wait_for_function("window.harstream.open()", timeout=10_000)
    rec = read_csv(POCKET)
    rows = motion_rows(rec.raw[:600])
    page.evaluate(REPLAY_JS, [rows, -1 if sign == "ios" else 1])  # Safari's opposite sign, which the page undoes
    page.click("#start")  # stop: the last readings go too
    messages = sent.take(24, timeout=20)
    t, raw = map(np.concatenate, zip(*(parse(payload) for _, payload, _ in messages)))
    assert len(t) == 600
    np.testing.assert_allclose(raw, rec.raw[:600], atol=1e-9)  # the frame and units, both conventions
    offline = Recognizer(model).feed("x", t, raw)
    got = labels.labels(len(offline), timeout=20)
    assert [g["activity"] for g in got] == [o.activity for o in offline]
    page.wait_for_function(f"window.harstream.shown().length >= {len(offline)}", timeout=10_000)
    assert page.evaluate("window.harstream.shown()") == [o.activity for o in offline]
    assert page.inner_text("#activity").replace(" ", "_") == offline[-1].activity
    page.close()


def test_the_live_page_shows_each_device_and_its_activity(site, browser, publisher, model):
    from harstream.adapters.replay import replay

    daemon, pages = site
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone's screen
    page.goto(pages.url)
    page.wait_for_selector("#qr svg", timeout=10_000)
    replay(publisher, [read_csv(POCKET)], "kitchen-phone", "batch", speed=0)
    card = page.wait_for_selector('[data-device="kitchen-phone"] .activity', timeout=20_000)
    page.wait_for_function("document.querySelector('[data-device=\"kitchen-phone\"] .activity').textContent.length > 0")
    assert card.inner_text() in model.info.labels
    page.wait_for_function("document.getElementById('stats').textContent.includes('devices')", timeout=10_000)
    assert page.inner_text("#conn") == "live"
    page.close()


def test_a_wrong_token_is_refused_and_nothing_reaches_a_device(site, browser, listen):
    import aiohttp

    daemon, pages = site
    readings = listen("har/+/imu")
    page = browser.new_page()
    page.goto(pages.phone_url.replace("test-token-123", "wrong-token") + "&device=intruder")
    page.click("#start")
    page.wait_for_function("document.getElementById('banner').textContent.includes('Refused')", timeout=10_000)

    async def try_socket(token):
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{pages.base}/ws/phone?token={token}&device=intruder") as ws:
                    await ws.send_str(json.dumps({"t": 1.7e9, "acc": [0, 0, 1], "gyro": [0, 0, 0]}))
                    return "open"
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert in_a_thread(try_socket("wrong")) == 403 and in_a_thread(try_socket("")) == 403
    assert readings.take(1, timeout=1.5) == []
    assert pages.counts["phone_refused"] >= 3
    page.close()


def test_garbage_from_a_page_is_counted_as_mqtts_and_disturbs_no_other(site, listen, model):
    import aiohttp

    daemon, pages = site
    rec = read_csv(POCKET)
    labels = listen("har/clean/activity")

    async def send():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{pages.base}/ws/phone?token=test-token-123&device=messy") as messy, \
                    session.ws_connect(f"{pages.base}/ws/phone?token=test-token-123&device=clean") as clean:
                for payload in ("{not json", '{"t": "soon"}', "[1, 2"):
                    await messy.send_str(payload)
                for lo in range(0, 300, 25):
                    t = (1.7e9 + rec.t[lo:lo + 25]).tolist()
                    await clean.send_str(json.dumps({"t": t, "acc": rec.raw[lo:lo + 25, :3].tolist(), "gyro": rec.raw[lo:lo + 25, 3:].tolist()}))
                await asyncio.sleep(1.0)

    in_a_thread(send())
    got = labels.labels((300 - 128) // 64 + 1, timeout=20)
    assert [g["activity"] for g in got] == [o.activity for o in Recognizer(model).feed("x", 1.7e9 + rec.t[:300], rec.raw[:300])]
    deadline = time.monotonic() + 5
    while sum(daemon.engine.rejects.values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(daemon.engine.rejects.values()) == 3 and set(daemon.engine.rejects) <= {"invalid_json", "bad_type", "missing_field"}


def test_https_with_a_certificate_made_once_and_kept(broker, model, tmp_path):
    import ssl
    import urllib.request

    pytest.importorskip("cryptography")
    from harstream.adapters.web import WebFront

    settings = Settings(broker=broker.url, web_state=str(tmp_path), web_host="0.0.0.0").validate()
    pages = WebFront(settings, list(model.info.labels)).start()
    try:
        assert pages.secure and pages.phone_url.startswith("https://") and (tmp_path / "web-cert.pem").is_file()
        context = ssl.create_default_context(cafile=str(tmp_path / "web-cert.pem"))
        context.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{pages.port}/api/state", context=context, timeout=5) as r:
            assert json.loads(r.read())["secure"] is True
        token = (tmp_path / "web-token").read_text().strip()
        assert len(token) >= 12 and pages.token == token
    finally:
        pages.stop()
    again = WebFront(settings, list(model.info.labels))  # kept: the phones' bookmarks and trust stay good
    assert again.token == token
    again.client.disconnect()
