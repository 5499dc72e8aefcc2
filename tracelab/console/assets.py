"""The console's browser libraries: pinned by ``web/package-lock.json``, vendored in ``static``.

``python -m tracelab.console.assets`` (``make console-assets``) runs
``npm ci`` in ``tracelab/console/web`` (the registry is read at build time
only, never at run time) and copies the files that ``web/package.json``
lists under ``tracelab.vendor`` (each library's browser build and its
licence) into ``static/vendor/<package>/``. A stamp holding the lock file's
hash makes a second run a no-op. ``--from DIR`` copies from an existing
``node_modules`` (the Dockerfile's Node stage) instead of running npm.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
WEB_DIR = PACKAGE_DIR / "web"
VENDOR_DIR = PACKAGE_DIR / "static" / "vendor"
STAMP = VENDOR_DIR / ".lock-sha256"
NPM_HINT = (
    "npm not found: the console's browser libraries are installed with Node.js's npm "
    "(Debian/Ubuntu: apt-get install nodejs npm; macOS: brew install node)"
)


class AssetError(RuntimeError):
    """The vendored files cannot be built."""


def vendor_manifest() -> dict[str, list[str]]:
    """``{package: [file relative to the package, ...]}`` from ``web/package.json``."""
    package = json.loads((WEB_DIR / "package.json").read_text())
    return {name: list(files) for name, files in package["tracelab"]["vendor"].items()}


def vendored_files() -> list[Path]:
    """Where every vendored file lands."""
    return [
        VENDOR_DIR / name / Path(file).name
        for name, files in vendor_manifest().items()
        for file in files
    ]


def _lock_hash() -> str:
    return hashlib.sha256((WEB_DIR / "package-lock.json").read_bytes()).hexdigest()


def up_to_date() -> bool:
    """True when every vendored file exists and was copied from the current lock file."""
    return (
        STAMP.is_file()
        and STAMP.read_text().strip() == _lock_hash()
        and all(path.is_file() for path in vendored_files())
    )


def _npm_ci() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(NPM_HINT)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(command, cwd=WEB_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssetError(f"npm ci failed in {WEB_DIR}:\n{done.stderr.strip()[-2000:]}")
    return WEB_DIR / "node_modules"


def build(node_modules: Path | None = None, force: bool = False) -> bool:
    """Copy the vendored files (running ``npm ci`` unless ``node_modules`` is given).

    Returns False when they were already up to date.
    """
    if up_to_date() and not force:
        return False
    source = node_modules or _npm_ci()
    for name, files in vendor_manifest().items():
        target = VENDOR_DIR / name
        target.mkdir(parents=True, exist_ok=True)
        for file in files:
            origin = source / name / file
            if not origin.is_file():
                raise AssetError(f"{origin} is missing: is {name} in web/package-lock.json?")
            shutil.copyfile(origin, target / Path(file).name)
    STAMP.write_text(_lock_hash() + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: build the vendored files; exit 1 with a one-line reason on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="node_modules", type=Path, help="an existing node_modules")
    parser.add_argument("--force", action="store_true", help="copy even when up to date")
    args = parser.parse_args(argv)
    try:
        built = build(args.node_modules, force=args.force)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("console assets " + ("built" if built else "up to date") + f" in {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
