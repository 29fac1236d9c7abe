"""Copy computed rasters from scratch space into the disk cache (run detached by the CLI)."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def copy_all(pairs: list[tuple[str, str]], scratch: str | None) -> None:
    """Copy each ``src`` to ``dst`` atomically, then remove the scratch folder."""
    try:
        for src, dst in pairs:
            dst_p = Path(dst)
            dst_p.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst_p.with_suffix(f".{os.getpid()}.tmp.npy")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst_p)  # readers never see a partial file
            os.unlink(src)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    job = json.load(sys.stdin)
    copy_all([tuple(p) for p in job["pairs"]], job.get("scratch"))
