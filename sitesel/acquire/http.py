"""HTTP downloads: retries with backoff, resumable transfers and checksum verification.

pooch does the bookkeeping of a verified download (skip a file already present with the right
hash, download to a temporary file, check the hash, move it into place, discard it on mismatch).
Its stock downloader starts over on every failure, so sitesel gives it :class:`ResumableDownloader`:
requests with urllib3's ``Retry`` (backoff on connection errors and 429/5xx answers) plus HTTP
``Range`` requests that continue a transfer cut off mid-file from the byte where it stopped.
"""
from __future__ import annotations

import logging
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pooch
import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from sitesel import __version__
from sitesel.errors import FetchError

__all__ = [
    "RETRY_STATUS", "ResumableDownloader", "RetryPolicy", "describe_http_error", "download", "http_session",
    "sha256_of",
]

#: HTTP answers worth another try (rate limits and transient server errors).
RETRY_STATUS = (429, 500, 502, 503, 504)
_CHUNK = 1 << 16

pooch.get_logger().setLevel(logging.WARNING)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    Parameters
    ----------
    attempts : int
        Tries per request, and per interrupted transfer.
    backoff : float
        Seconds before the second try; doubled for each further try.
    timeout : float
        Seconds to wait for a connection or for the next bytes.
    """

    attempts: int = 5
    backoff: float = 1.0
    timeout: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0, 1, ...): exponential backoff."""
        return self.backoff * (2 ** attempt)


def http_session(policy: RetryPolicy = RetryPolicy()) -> requests.Session:
    """A requests session that retries failed connections and 429/5xx answers with backoff.

    Parameters
    ----------
    policy : RetryPolicy
        Attempts and backoff.

    Returns
    -------
    requests.Session
    """
    retry = Retry(
        total=policy.attempts - 1, connect=policy.attempts - 1, read=policy.attempts - 1,
        status=policy.attempts - 1, status_forcelist=RETRY_STATUS, backoff_factor=policy.backoff,
        allowed_methods=frozenset({"GET", "HEAD", "POST"}), respect_retry_after_header=True,
        raise_on_status=True,
    )
    session = requests.Session()
    session.headers["User-Agent"] = f"sitesel/{__version__} (+https://pypi.org/project/sitesel)"
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def describe_http_error(url: str, exc: Exception, policy: RetryPolicy) -> str:
    """One line for a request that failed for good.

    Parameters
    ----------
    url : str
        The address requested.
    exc : Exception
        What requests raised.
    policy : RetryPolicy
        The retries made (their number is named).

    Returns
    -------
    str
    """
    if isinstance(exc, requests.exceptions.RetryError):
        reason = getattr(exc.args[0], "reason", exc) if exc.args else exc
        return f"{url}: gave up after {policy.attempts} attempts ({reason})"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"{url}: HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.ConnectionError):
        return f"{url}: cannot connect after {policy.attempts} attempts ({type(exc).__name__})"
    return f"{url}: {type(exc).__name__}: {exc}"


class ResumableDownloader:
    """A pooch downloader that resumes interrupted transfers with HTTP Range requests.

    Bytes are written to ``part`` (kept beside the final file, so a later run can resume too) and
    moved to pooch's temporary file once complete.

    Parameters
    ----------
    session : requests.Session
        From :func:`http_session`.
    part : Path
        Where the partial download lives.
    policy : RetryPolicy
    label : str
        Shown on the progress bar.
    progress : bool
        Show a progress bar (on a terminal).
    """

    def __init__(self, session: requests.Session, part: Path, policy: RetryPolicy = RetryPolicy(),
                 label: str = "", progress: bool = True):
        self.session, self.part, self.policy = session, Path(part), policy
        self.label, self.progress = label, progress
        #: (status, first byte asked for) of every request made, for logs and tests.
        self.requests: list[tuple[int, int]] = []

    def __call__(self, url: str, output_file, pooch_instance=None, check_only: bool = False):
        if check_only:
            return True
        self.part.parent.mkdir(parents=True, exist_ok=True)
        last: Exception | None = None
        for attempt in range(self.policy.attempts):
            try:
                if self._transfer(url):
                    break
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                    requests.exceptions.Timeout, _Incomplete) as exc:
                if isinstance(exc, requests.exceptions.ConnectionError) and _gave_up(exc):
                    raise FetchError(describe_http_error(url, exc, self.policy)) from None
                last = exc
            except requests.exceptions.RetryError as exc:
                raise FetchError(describe_http_error(url, exc, self.policy)) from None
            except requests.HTTPError as exc:
                raise FetchError(describe_http_error(url, exc, self.policy)) from None
            have = self.part.stat().st_size if self.part.exists() else 0
            if attempt + 1 < self.policy.attempts:
                _log(f"  {self.label or url}: transfer interrupted at byte {have:,}; resuming "
                     f"in {self.policy.delay(attempt):g}s", self.progress)
                time.sleep(self.policy.delay(attempt))
        else:
            raise FetchError(f"{url}: download still incomplete after {self.policy.attempts} attempts "
                             f"({type(last).__name__}); rerun to resume from {self.part}")
        target = output_file if isinstance(output_file, (str, Path)) else None
        if target is None:  # pooch may hand over an open file
            with open(self.part, "rb") as f:
                shutil.copyfileobj(f, output_file)
            self.part.unlink()
        else:
            shutil.move(self.part, target)
        return None

    def _transfer(self, url: str) -> bool:
        """One request; True when the part file now holds the whole resource."""
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self.session.get(url, headers=headers, stream=True, timeout=self.policy.timeout) as r:
            self.requests.append((r.status_code, have))
            if r.status_code == 416 and have:
                # Nothing left to send: the part file is complete, or it is not this resource.
                total = _content_range_total(r.headers.get("Content-Range", ""))
                if total == have:
                    return True
                self.part.unlink()
                raise _Incomplete("range not satisfiable; restarting")
            r.raise_for_status()
            start = 0
            if r.status_code == 206:
                start = _content_range_start(r.headers.get("Content-Range", ""))
                if start != have:  # the server answered another range than asked: start over
                    self.part.unlink(missing_ok=True)
                    raise _Incomplete(f"server resumed at byte {start}, not {have}")
            length = r.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            mode = "ab" if start else "wb"  # a 200 answer to a Range request restarts from zero
            with open(self.part, mode) as f, tqdm(
                total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                desc=self.label or Path(url).name, disable=not self.progress or None, file=sys.stderr,
                leave=False,
            ) as bar:
                for chunk in r.iter_content(_CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
        size = self.part.stat().st_size
        if total is not None and size < total:
            raise _Incomplete(f"got {size} of {total} bytes")
        return True


class _Incomplete(Exception):
    pass


def _gave_up(exc: requests.exceptions.ConnectionError) -> bool:
    """urllib3 already retried this connection error the policy's number of times."""
    from urllib3.exceptions import MaxRetryError

    return bool(exc.args) and isinstance(exc.args[0], MaxRetryError)


def _content_range_start(value: str) -> int:
    m = re.match(r"bytes (\d+)-\d+/", value)
    return int(m.group(1)) if m else 0


def _content_range_total(value: str) -> int | None:
    m = re.search(r"/(\d+)$", value)
    return int(m.group(1)) if m else None


def _log(message: str, show: bool) -> None:
    if show:
        print(message, file=sys.stderr, flush=True)


def download(url: str, dest: Path, sha256: str | None = None, *, session: requests.Session | None = None,
             policy: RetryPolicy = RetryPolicy(), label: str = "", progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right checksum is already there.

    Parameters
    ----------
    url : str
        http(s):// or file:// address.
    dest : Path
        The final file. An interrupted transfer is kept in ``dest`` + ``.part`` and resumed.
    sha256 : str, optional
        Expected checksum (fixed releases). Without one, an existing ``dest`` is kept as is.
    session, policy, label, progress
        See :class:`ResumableDownloader`.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    FetchError
        On a failed or incomplete transfer, or a checksum mismatch (the file is then discarded).
    """
    dest = Path(dest)
    if url.startswith("file://"):
        return _copy_local(url, dest, sha256)
    downloader = ResumableDownloader(session or http_session(policy), dest.with_name(dest.name + ".part"),
                                     policy, label=label, progress=progress)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256}" if sha256 else None, fname=dest.name,
                       path=dest.parent, downloader=downloader, progressbar=False)
    except ValueError as exc:  # pooch: the hash of the download does not match
        got = re.search(r"but got ([0-9a-f]{64})", str(exc))
        raise FetchError(
            f"checksum mismatch for {dest.name} from {url}: expected sha256 "
            f"{sha256[:16]}..., got {got.group(1)[:16] + '...' if got else 'another'}; the file was discarded"
        ) from None
    return dest


def _copy_local(url: str, dest: Path, sha256: str | None) -> Path:
    from urllib.parse import unquote, urlparse

    src = Path(unquote(urlparse(url).path))
    if not src.is_file():
        raise FetchError(f"{url}: no such file")
    if sha256 and pooch.file_hash(str(src)) != sha256:
        raise FetchError(f"{dest.name}: checksum mismatch for {src}: expected sha256 {sha256[:16]}...")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def sha256_of(path: Path) -> str:
    """The sha256 of a file.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    return pooch.file_hash(str(path), alg="sha256")
