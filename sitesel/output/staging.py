"""The output directory of a run, written all at once.

Everything is written into a temporary folder beside the output directory and swapped into place
only when complete (:class:`OutputDir`), so an interrupted run never leaves a half-written file
behind and never touches the previous outputs before the new ones are whole.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from sitesel.errors import OutputError

__all__ = ["STAGING_TAG", "OutputDir", "exchange_directories"]

#: Marker in the names of staging and backup folders, beside the output directory.
STAGING_TAG = ".sitesel-"
#: errno values that mean "the disk or the permissions", i.e. the user's to fix.
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}


class OutputDir:
    """An output directory written all at once: staged beside it, swapped in when complete.

    Files are written into a hidden sibling folder (``.NAME.sitesel-PID-XXXX``) on the same file
    system. :meth:`commit` renames it into place; when ``path`` already holds a previous run (and
    ``overwrite`` is set) the two folders are exchanged in one atomic ``renameat2`` call, so an
    interrupted run (Ctrl-C, kill -9, a full disk) leaves either the previous outputs or the new
    ones, never a mixture. Staging folders of runs that were killed are removed the next time.

    Parameters
    ----------
    path : path-like
        The output directory.
    overwrite : bool
        Replace an existing, non-empty directory (it must hold a previous sitesel run).

    Raises
    ------
    OutputError
        At construction, before any work: ``path`` is a file, cannot be created or written, or
        exists and is not empty without ``overwrite``.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False):
        self.path = Path(path).expanduser().absolute()
        self.overwrite = overwrite
        self.tmp: Path | None = None
        self._check()

    def _check(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise OutputError(f"output path {p} exists and is not a directory; choose another {{opt:out}}")
        ancestor = p.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputError(f"cannot create output directory {p}: {ancestor} is a file; "
                              "choose another {opt:out}")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write to {ancestor} (permission denied), so not to output directory {p}; "
                              "choose a writable {opt:out}")
        if p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                raise OutputError(f"output directory {p} is not writable (permission denied); "
                                  "choose a writable {opt:out}")
            if any(p.iterdir()):
                if not self.overwrite:
                    raise OutputError(f"output directory {p} exists and is not empty; pass "
                                      "{opt:overwrite=True} to replace it, or choose another {opt:out}")
                if not _looks_like_run(p):
                    raise OutputError(f"output directory {p} is not empty and holds no sitesel run (no run.json); "
                                      "{opt:overwrite=True} only replaces earlier sitesel outputs: "
                                      "choose another {opt:out}")
                cwd = Path.cwd().resolve()
                if cwd == p.resolve() or p.resolve() in cwd.parents:
                    raise OutputError(f"output directory {p} holds the current directory; run from elsewhere "
                                      "or choose another {opt:out}")

    def __enter__(self) -> Path:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(parent, self.path.name)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}{STAGING_TAG}{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise OutputError(f"cannot create output directory {self.path}: {exc.strerror}; "
                              "choose a writable {opt:out}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
            if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
                raise OutputError(f"could not write the outputs to {self.path}: {exc.strerror}; "
                                  "previous outputs were left untouched") from None
            return False
        try:
            self.commit()
        except OSError as exc:
            self.abort()
            raise OutputError(f"could not move the outputs into {self.path}: {exc.strerror}; "
                              "previous outputs were left untouched") from None
        return False

    def commit(self) -> None:
        """Move the staged folder into place (atomically replacing a previous run)."""
        tmp, dst = self.tmp, self.path
        _fsync_tree(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are ordinary files
        if dst.is_dir() and any(dst.iterdir()):
            if exchange_directories(tmp, dst):
                shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous run
            else:
                old = Path(tempfile.mkdtemp(prefix=f".{dst.name}{STAGING_TAG}{os.getpid()}-old-", dir=dst.parent))
                os.replace(dst, old / "previous")
                os.replace(tmp, dst)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)  # replaces an empty directory atomically
        _fsync_dir(dst.parent)
        self.tmp = None

    def abort(self) -> None:
        """Remove the staged files; the output directory is left as it was."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _looks_like_run(p: Path) -> bool:
    return (p / "run.json").is_file() or any((c / "run.json").is_file() for c in p.iterdir() if c.is_dir())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale(parent: Path, name: str) -> None:
    """Remove staging folders left by runs that were killed (their process no longer exists)."""
    prefix = f".{name}{STAGING_TAG}"
    for d in parent.glob(prefix + "*"):
        pid = d.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # someone else's live process


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_directories(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Parameters
    ----------
    a, b : Path
        Existing directories on one file system.

    Returns
    -------
    bool
        True if they were swapped; False where the call is unavailable (other systems, file
        systems without it), leaving both as they were.

    Raises
    ------
    OSError
        If the call exists but fails for another reason.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
