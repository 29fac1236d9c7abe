"""The on-disk cache: where it lives, how inputs are fingerprinted, and atomic writes.

Everything in it can be deleted at any time; it only saves work. ``$SITESEL_CACHE`` moves it
(default: the platform's user cache folder).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from platformdirs import user_cache_dir

__all__ = [
    "CACHE_VERSION", "atomic_file", "atomic_write_bytes", "cache_root", "digest", "file_fingerprint", "load_array",
    "load_json", "save_array", "save_json", "sha256_file",
]

#: Bump when cached arrays or layers would change meaning, so old entries are never read.
CACHE_VERSION = 5


def cache_root() -> Path:
    """The cache folder (``$SITESEL_CACHE`` or the platform's user cache folder)."""
    return Path(os.environ.get("SITESEL_CACHE") or user_cache_dir("sitesel"))


def file_fingerprint(path: Path) -> str:
    """Path, size and modification time: changes whenever the file is replaced or edited.

    Parameters
    ----------
    path : Path
        An existing file.

    Returns
    -------
    str
        ``"RESOLVED_PATH|SIZE|MTIME_NS"``.
    """
    st = Path(path).stat()
    return f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}"


def digest(*parts: object, n: int = 20) -> str:
    """A short hex digest of the ``repr`` of ``parts``, for cache keys.

    Parameters
    ----------
    *parts : object
        What the key depends on (their ``repr`` must be stable across processes).
    n : int
        Hex digits kept.

    Returns
    -------
    str

    Examples
    --------
    >>> digest("dem", 5, n=8)
    'c209c20e'
    """
    return hashlib.sha256("\n".join(map(repr, parts)).encode()).hexdigest()[:n]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, remembered in the cache by its fingerprint (inputs rarely change).

    Parameters
    ----------
    path : Path
        An existing file.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    path = Path(path)
    memo = cache_root() / "sha256" / f"{digest(file_fingerprint(path), CACHE_VERSION)}.txt"
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    value = h.hexdigest()
    try:
        atomic_write_bytes(memo, value.encode())
    except OSError:
        pass  # a read-only cache only costs time
    return value


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: readers see either the old file or the whole new
    one, and two processes writing the same path never share a temporary file.

    Parameters
    ----------
    path : Path
        The file to (re)write; its folder is created if needed.

    Yields
    ------
    file
        A temporary file in the same folder, moved onto ``path`` when the block ends without error
        (and removed when it raises).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see either the old file or the whole new one.

    Parameters
    ----------
    path : Path
        The file to (re)write.
    data : bytes
        Its new contents.
    """
    with atomic_file(path) as f:
        f.write(data)


def save_array(path: Path, arr: np.ndarray) -> None:
    """Atomically save an array as ``.npy``.

    Parameters
    ----------
    path : Path
        The ``.npy`` file.
    arr : ndarray
        The array.
    """
    with atomic_file(path) as f:
        np.save(f, arr)


def load_array(path: Path, length: int | None = None, mmap: bool = False) -> np.ndarray | None:
    """A cached array, or None if it is missing, damaged or of the wrong length.

    Parameters
    ----------
    path : Path
        The ``.npy`` file.
    length : int, optional
        The number of rows expected.
    mmap : bool
        Memory-map the file read-only instead of reading it.

    Returns
    -------
    ndarray or None
    """
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError):
        return None
    if length is not None and arr.shape[:1] != (length,):
        return None
    return arr


def save_json(path: Path, obj: dict) -> None:
    """Atomically write ``obj`` as JSON (keys sorted, so equal objects make equal files).

    Parameters
    ----------
    path : Path
        The file.
    obj : dict
        JSON-serialisable contents.
    """
    atomic_write_bytes(path, json.dumps(obj, sort_keys=True).encode())


def load_json(path: Path) -> dict | None:
    """The JSON object in a cache file, or None if it is missing or damaged.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    dict or None
    """
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
