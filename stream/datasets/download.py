"""Fetch the UCI archives into the cache: resumable, checksummed, with progress.

UCI publishes no checksums, and these machines cannot reach UCI, so no digest is
pinned here: pass ``--sha256`` to demand one.  Without it the archive is accepted
once it opens as a zip, passes its CRC checks and has the expected layout; its
SHA-256 is then written beside it (``NAME.sha256``) and checked on later runs.
"""
from __future__ import annotations

import hashlib
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .common import DatasetError, cache_dir

CHUNK = 1 << 16


@dataclass(frozen=True)
class Source:
    url: str
    filename: str
    layout: str  # a member the archive must hold (suffix match), proving it is the right data
    sha256: str | None = None


SOURCES = {
    "hapt": Source("https://archive.ics.uci.edu/static/public/341/"
                   "smartphone+based+recognition+of+human+activities+and+postural+transitions.zip",
                   "hapt.zip", "RawData/labels.txt"),
    "uci-har": Source("https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip",
                      "uci-har.zip", "train/Inertial Signals/total_acc_x_train.txt"),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_archive(path: Path, source: Source) -> None:
    from .archive import Archive

    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
        if bad:
            raise DatasetError(f"{path}: member {bad} fails its CRC check")
        with Archive(path) as archive:
            if archive.find(source.layout) is None:
                raise DatasetError(f"{path}: holds no {source.layout}; is it the right archive?")
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{path}: not a zip archive ({exc})") from None


class _Progress:
    def __init__(self, name: str, total: int | None, done: int, quiet: bool):
        self.name, self.total, self.done, self.quiet = name, total, done, quiet
        self.last = 0.0

    def update(self, n: int, final: bool = False) -> None:
        self.done += n
        if self.quiet or (not final and time.monotonic() - self.last < 0.2):
            return
        self.last = time.monotonic()
        mb = self.done / 1e6
        if self.total:
            line = f"\r{self.name}: {mb:.1f} / {self.total / 1e6:.1f} MB ({100 * self.done / self.total:.0f}%)"
        else:
            line = f"\r{self.name}: {mb:.1f} MB"
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()


def _fetch(url: str, part: Path, quiet: bool, timeout: float) -> None:
    """Download url into part, continuing from part's current size where the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "harstream"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with response:
        if have and response.status != 206:
            have = 0  # the server ignored the range: start again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else None
        progress = _Progress(part.name.removesuffix(".part"), total, have, quiet)
        with open(part, "ab" if have else "wb") as f:
            while chunk := response.read(CHUNK):
                f.write(chunk)
                progress.update(len(chunk))
        progress.update(0, final=True)
        if total is not None and part.stat().st_size < total:
            raise OSError(f"connection closed after {part.stat().st_size} of {total} bytes")


def download(name: str, cache: Path | None = None, url: str | None = None, sha256: str | None = None,
             quiet: bool = False, retries: int = 3, timeout: float = 30.0) -> Path:
    """The cached archive for ``name`` ('hapt' or 'uci-har'), downloading it first if needed."""
    source = SOURCES[name]
    url = url or source.url
    expected = (sha256 or source.sha256 or "").lower() or None
    target = (cache or cache_dir()) / source.filename
    digest_file = target.with_suffix(".sha256")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        expected = expected or (digest_file.read_text().split()[0] if digest_file.exists() else None)
        if expected is None or _sha256(target) == expected:
            return target
        raise DatasetError(f"{target}: checksum differs from {expected}; delete it to download again")

    part = target.with_name(target.name + ".part")
    error = None
    for attempt in range(retries):
        try:
            _fetch(url, part, quiet, timeout)
            error = None
            break
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = exc
            if not quiet:
                print(f"\n{source.filename}: attempt {attempt + 1}/{retries} failed: {exc}", file=sys.stderr)
            time.sleep(min(2 ** attempt, 10) * 0.5)
    if error is not None:
        kept = (f"; the partial file {part} ({part.stat().st_size:,} bytes) is kept and a rerun resumes it"
                if part.exists() and part.stat().st_size else "")
        raise DatasetError(f"could not download {url} ({getattr(error, 'reason', error)}). "
                           f"Download it by hand and save it as {target} (or pass --data PATH){kept}")
    digest = _sha256(part)
    if expected and digest != expected:
        part.unlink()
        raise DatasetError(f"{url}: downloaded file has SHA-256 {digest}, expected {expected}; it was deleted. "
                           f"Download it by hand and save it as {target}")
    try:
        _check_archive(part, source)
    except DatasetError:
        part.unlink()
        raise
    part.replace(target)
    digest_file.write_text(f"{digest}  {target.name}\n")
    if not quiet:
        print(f"{target}: SHA-256 {digest}", file=sys.stderr)
    return target
