"""Refresh the JavaScript/CSS that offline maps inline (``sitesel/maps/assets/``) from the npm registry.

Run by hand when folium changes the versions it links (``python tools/vendor_assets.py``); it
needs ``npm``. Each package is fetched with ``npm pack NAME@VERSION``, the files listed in
``sitesel/maps/assets/assets.toml`` are extracted beside their licence, and their sha256 is checked
against the manifest (``--update`` rewrites the hashes instead).
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "sitesel" / "maps" / "assets"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--update", action="store_true", help="write the new sha256 sums into assets.toml")
    a = ap.parse_args(argv)
    manifest = tomllib.loads((ASSETS / "assets.toml").read_text())
    sums: dict[str, str] = {}
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in manifest["package"]:
            spec = f"{pkg['npm']}@{pkg['version']}"
            out = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout.split()[-1]
            dest = ASSETS / pkg["dir"]
            with tarfile.open(Path(tmp) / out) as tar:
                for rel in [pkg["license"], *pkg["files"]]:
                    member = tar.extractfile(f"package/{rel}")
                    data = member.read()
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    key = f"{pkg['dir']}/{rel}"
                    sums[key] = hashlib.sha256(data).hexdigest()
                    want = manifest.get("sha256", {}).get(key)
                    if want and want != sums[key] and not a.update:
                        print(f"sha256 mismatch: {key}", file=sys.stderr)
                        bad += 1
            print(f"{spec}: {len(pkg['files'])} files -> {dest}")
    if a.update:
        text = (ASSETS / "assets.toml").read_text().split("\n[sha256]")[0].rstrip()
        text += "\n\n[sha256]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in sorted(sums.items()))
        (ASSETS / "assets.toml").write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
