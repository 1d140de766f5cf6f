import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from harstream.core.preprocess import UCI_CHANNELS
from harstream.datasets import DatasetError, load_windows, read_hapt
from harstream.datasets.download import download


def test_hapt_folder_and_zip_read_the_same(hapt_dir, tmp_path, recording):
    zipped = tmp_path / "hapt.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for path in hapt_dir.rglob("*"):
            if path.is_file():
                z.write(path, "HAPT Data Set/" + path.relative_to(hapt_dir).as_posix())
    a, b = read_hapt(hapt_dir), read_hapt(zipped)
    assert [(r.experiment, r.subject, len(r)) for r in a] == [(r.experiment, r.subject, len(r)) for r in b]
    assert a[3].subject == 2 and len(a[3]) == len(recording)
    np.testing.assert_array_equal(a[3].acc, recording.raw[:, :3])
    assert (a[3].labels > 0).sum() == (recording.labels != "").sum()


def test_windows_are_cut_inside_labelled_segments(hapt_dir, recording):
    windows = load_windows(hapt_dir, use_cache=False)
    train, test = windows.split()
    assert set(test.subject) == {2} and set(train.subject) == {1, 3, 7}
    assert windows.X.shape[1:] == (128, 12)
    expected = 0
    rec = read_hapt(hapt_dir, experiments={4})[0]
    for activity, start, end in rec.segments():
        if activity <= 6:
            expected += max(0, (end - start - 128) // 64 + 1)
    assert len(test) == expected


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "RawData" / "labels.txt").unlink(), "not a HAPT dataset"),
    (lambda d: (d / "RawData" / "gyro_exp01_user01.txt").unlink(), "no matching"),
    (lambda d: (d / "RawData" / "acc_exp02_user03.txt").write_text("1 2\n3 4 5\n"), "3 numbers per row"),
    (lambda d: (d / "RawData" / "acc_exp02_user03.txt").write_text("1 2 x\n"), "not a table of numbers"),
    (lambda d: (d / "RawData" / "labels.txt").write_text("1 1 1 0 999999\n"), "outside"),
])
def test_corrupt_hapt_gives_one_clear_error(hapt_dir, tmp_path, damage, message):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(hapt_dir, copy)
    damage(copy)
    with pytest.raises(DatasetError, match=message):
        read_hapt(copy)


def test_not_a_zip_and_missing_path(tmp_path):
    bad = tmp_path / "data.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError):
        load_windows(bad)
    with pytest.raises(DatasetError, match="no such file"):
        load_windows(tmp_path / "missing.zip")


def write_ucihar(root: Path, rng, n_train=12, n_test=6, prefix="HARDataset") -> Path:
    """UCI HAR's exact layout: 128 values per row in each Inertial Signals file, y and subject files."""
    base = root / prefix
    data = {}
    for split, n, subjects in (("train", n_train, [1, 3, 5]), ("test", n_test, [2, 4])):
        signals = (base / split / "Inertial Signals")
        signals.mkdir(parents=True)
        X = rng.normal(size=(n, 128, 9))
        for c, name in enumerate(UCI_CHANNELS):
            np.savetxt(signals / f"{name}_{split}.txt", X[:, :, c], fmt="%.8e")
        y = np.arange(n) % 6 + 1
        subject = np.array([subjects[i % len(subjects)] for i in range(n)])
        np.savetxt(base / split / f"y_{split}.txt", y, fmt="%d")
        np.savetxt(base / split / f"subject_{split}.txt", subject, fmt="%d")
        data[split] = (X, y, subject)
    return data


@pytest.mark.parametrize("as_zip,prefix", [(False, "HARDataset"), (True, "UCI HAR Dataset")])
def test_uci_har_layout_is_read_back(tmp_path, as_zip, prefix):
    data = write_ucihar(tmp_path / "src", np.random.default_rng(0), prefix=prefix)
    path = tmp_path / "src"
    if as_zip:
        path = tmp_path / "UCI HAR Dataset.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in (tmp_path / "src").rglob("*.txt"):
                z.write(f, f.relative_to(tmp_path / "src").as_posix())
    windows = load_windows(path)
    assert windows.channels == UCI_CHANNELS
    train, test = windows.split()
    X, y, subject = data["test"]
    np.testing.assert_allclose(test.X, X, rtol=1e-7)
    np.testing.assert_array_equal(test.y, y - 1)
    np.testing.assert_array_equal(test.subject, subject)
    assert len(train) == 12


def test_uci_har_inside_an_outer_zip(tmp_path):
    write_ucihar(tmp_path / "src", np.random.default_rng(1), prefix="UCI HAR Dataset")
    inner = tmp_path / "UCI HAR Dataset.zip"
    with zipfile.ZipFile(inner, "w") as z:
        for f in (tmp_path / "src").rglob("*.txt"):
            z.write(f, f.relative_to(tmp_path / "src").as_posix())
    outer = tmp_path / "human+activity+recognition+using+smartphones.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.write(inner, "UCI HAR Dataset.zip")
        z.writestr("UCI HAR Dataset.names", "description")
    assert len(load_windows(outer).split()[1]) == 6


def test_uci_har_with_bad_labels_is_refused(tmp_path):
    write_ucihar(tmp_path, np.random.default_rng(2))
    (tmp_path / "HARDataset" / "test" / "y_test.txt").write_text("7\n" * 6)
    with pytest.raises(DatasetError, match="outside 1..6"):
        load_windows(tmp_path)


# -- download -------------------------------------------------------------------------------
class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one body; honours Range; can cut the first response short to test resuming."""

    body = b""
    cut_first = False
    requests: list = []

    def do_GET(self):
        cls = type(self)
        cls.requests.append(self.headers.get("Range"))
        if self.path != "/data.zip":
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(cls.body) - 1}/{len(cls.body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(cls.body) - start))
        self.end_headers()
        payload = cls.body[start:]
        if cls.cut_first:
            cls.cut_first = False
            self.wfile.write(payload[: len(payload) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, hapt_dir):
    zipped = tmp_path / "served.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for path in hapt_dir.rglob("*"):
            if path.is_file():
                z.write(path, path.relative_to(hapt_dir).as_posix())
    RangeHandler.body = zipped.read_bytes()
    RangeHandler.cut_first = False
    RangeHandler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_verifies_and_caches(server, tmp_path, capsys):
    digest = hashlib.sha256(RangeHandler.body).hexdigest()
    path = download("hapt", cache=tmp_path / "cache", url=f"{server}/data.zip", sha256=digest)
    assert path.read_bytes() == RangeHandler.body
    assert "%" in capsys.readouterr().err  # progress was shown
    assert download("hapt", cache=tmp_path / "cache", url=f"{server}/data.zip") == path  # cached: no new request
    assert len(RangeHandler.requests) == 1
    assert len(load_windows(path).split()[1]) > 0


def test_download_resumes_after_a_dropped_connection(server, tmp_path):
    RangeHandler.cut_first = True
    path = download("hapt", cache=tmp_path, url=f"{server}/data.zip", quiet=True)
    assert path.read_bytes() == RangeHandler.body
    assert RangeHandler.requests[0] is None and RangeHandler.requests[1].startswith("bytes=")
    assert (tmp_path / "hapt.sha256").read_text().split()[0] == hashlib.sha256(RangeHandler.body).hexdigest()


def test_download_checksum_mismatch_deletes_and_explains(server, tmp_path):
    with pytest.raises(DatasetError, match="expected 0000"):
        download("hapt", cache=tmp_path, url=f"{server}/data.zip", sha256="0000", quiet=True)
    assert not list(tmp_path.glob("hapt.zip*"))


def test_download_failure_says_where_to_put_the_file(server, tmp_path):
    with pytest.raises(DatasetError, match=r"save it as .*hapt\.zip"):
        download("hapt", cache=tmp_path, url=f"{server}/missing.zip", quiet=True, retries=1)


def test_download_of_the_wrong_archive_is_refused(server, tmp_path):
    with pytest.raises(DatasetError, match="right archive"):
        download("uci-har", cache=tmp_path, url=f"{server}/data.zip", quiet=True)


def test_a_walk_with_turns_turns_only_about_gravity_and_only_while_moving(recording):
    """The turning shift and training variation (harstream.datasets.turning) on the demo's own walking: the gyroscope
    gains the turns' rate about gravity and nothing across it, the accelerometer the centripetal acceleration across
    gravity and nothing along it, and the still stretches are left exactly as recorded."""
    from harstream.core.activities import GAITS
    from harstream.core.preprocess import Preprocessor
    from harstream.datasets.turning import with_turns

    moving = np.isin(recording.labels, GAITS)
    assert moving.any() and (~moving).any()
    turned = with_turns(recording.raw, moving, np.random.default_rng(3), every_s=2.5, angle_deg=180.0, duration_s=1.5)
    assert np.array_equal(turned[~moving], recording.raw[~moving])
    up = Preprocessor(50.0).process(recording.raw)[:, 9:12]
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    gyro, acc = turned[:, 3:] - recording.raw[:, 3:], turned[:, :3] - recording.raw[:, :3]
    about = (gyro * up).sum(axis=1)
    assert np.abs(about).max() > 2.0  # half turns in 1.5 s peak near 4 rad/s
    assert np.abs(gyro - about[:, None] * up).max() < 0.15 * np.abs(about).max()  # up from a 1 s mean, not the filter's
    assert np.abs((acc * up).sum(axis=1)).max() < 0.15 * np.linalg.norm(acc, axis=1).max()
    walked = np.flatnonzero(moving)
    angle = np.degrees(np.abs(about[walked]).sum() / 50.0)
    assert 180.0 <= angle <= 180.0 * (len(walked) / 50.0 / 4.0 + 1)  # at least one whole half turn, at most one per 4 s walked
