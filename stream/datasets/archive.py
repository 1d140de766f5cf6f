"""Read files from a folder, a zip, or a zip nested in a zip, by their path inside."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path


class NotAnArchive(OSError):
    pass


class Archive:
    """A folder or zip file seen as a set of '/'-separated member names.

    A zip that holds a single inner zip (as UCI's download of HAR does) is opened
    through to the inner one.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._zip = None
        if self.path.is_dir():
            self.names = sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            self.names = [n for n in self._zip.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            inner = [n for n in self.names if n.lower().endswith(".zip")]
            if inner and not any(n.endswith(".txt") and "/" in n for n in self.names):
                self._zip = zipfile.ZipFile(io.BytesIO(self._zip.read(inner[0])))
                self.names = [n for n in self._zip.namelist() if not n.endswith("/") and "__MACOSX" not in n]
        elif self.path.exists():
            raise NotAnArchive(f"{self.path}: not a zip archive or a folder")
        else:
            raise FileNotFoundError(self.path)

    def find(self, suffix: str) -> str | None:
        """The shortest member name that ends with ``suffix`` (None if there is none)."""
        hits = [n for n in self.names if n == suffix or n.endswith("/" + suffix)]
        return min(hits, key=len) if hits else None

    def read_text(self, name: str) -> str:
        if self._zip is not None:
            return self._zip.read(name).decode("utf-8")
        return (self.path / name).read_text(encoding="utf-8")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def parse_table(text: str, columns: int, what: str):
    """Whitespace-separated numbers as an (n, columns) float array, or a clear ValueError."""
    import numpy as np

    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{what}: not a table of numbers ({exc})") from None
    if values.size % columns:
        raise ValueError(f"{what}: expected {columns} numbers per row, got {values.size} numbers")
    return values.reshape(-1, columns)
