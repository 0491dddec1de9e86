"""Rebuild the wall screen's web fonts in server/static/fonts/ from Debian's Roboto.

    .venv/bin/python server/fonts/build.py            # apt-get download + dpkg-deb -x, then build
    .venv/bin/python server/fonts/build.py --from DIR # TTFs already at hand (searched recursively)
    .venv/bin/python server/fonts/build.py --check    # build to a temp folder, compare with the shipped ones

The screen must look the same on every kiosk, whatever fonts its OS has, so it ships its own: Roboto
(regular and bold, for the text) and Roboto Condensed bold (for the big numbers), Apache License 2.0,
from Debian's `fonts-roboto-unhinted` (pinned version and SHA-256 below). Each face is subset to the
characters a wall screen can show (Latin, Latin-1, Latin Extended-A for station names, the punctuation
the screen uses: – — … · ° and digits) and written as WOFF2. Needs `fonttools` and `brotli` (the
project's `dev` extra) and, without `--from`, apt-get and dpkg-deb (Debian). The output is byte-for-byte
reproducible from the same inputs and the same fontTools/brotli versions (no timestamps are rewritten).

The build fails if a character in wall.html, wall.js or wall.css is not in the subset: a new glyph on
the screen must be added to TEXT_RANGES here (if Roboto has it) or drawn another way (the ✓ of the
screen's ticks is drawn in CSS because Roboto has none).
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent
OUT = SERVER / "static" / "fonts"
SCREEN_FILES = [SERVER / "templates" / "wall.html", SERVER / "static" / "wall.js",
                SERVER / "static" / "wall.css"]

DEB_PACKAGE = "fonts-roboto-unhinted"
DEB_VERSION = "2:0~20170802-3"  # Debian bookworm; Roboto 2.138
LICENSE_FILE = Path("/usr/share/common-licenses/Apache-2.0")  # Debian's base-files, the licence's text

# output name: (source file name, SHA-256 of the source TTF)
FACES = {
    "roboto-400.woff2":
        ("Roboto-Regular.ttf", "797e35f7f5d6020a5c6ea13b42ecd668bcfb3bbc4baa0e74773527e5b6cb3174"),
    "roboto-700.woff2":
        ("Roboto-Bold.ttf", "36f3709dea3e3ce3c6aedc058079e55980825f898f1e901d091c73c40de8bab1"),
    "roboto-condensed-700.woff2":
        ("RobotoCondensed-Bold.ttf", "7f109b2b6d72e7563522d3c3d2c6c8b79ec5a711bfdf483b93e345eab5b5ef94"),
}

# What a wall screen can show: ASCII, Latin-1 (° · × é ...), Latin Extended-A (station names such as
# "Sala Łódź"), general punctuation (– — ‘ ’ “ ” • … ‹ ›), €, ™ and the minus sign.
TEXT_RANGES = [(0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x203A), (0x2044, 0x2044),
               (0x20AC, 0x20AC), (0x2122, 0x2122), (0x2212, 0x2212)]
# OpenType features kept: fontTools' defaults plus the figure styles the CSS asks for.
EXTRA_FEATURES = ["tnum", "lnum", "pnum", "case"]
NOTE = "Subset and converted to WOFF2 for the MatCoach wall screen by server/fonts/build.py."


def unicodes() -> list[int]:
    return [c for lo, hi in TEXT_RANGES for c in range(lo, hi + 1)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sources(workdir: Path) -> Path:
    """`apt-get download` the pinned package and unpack it (no root, no install)."""
    subprocess.run(["apt-get", "download", f"{DEB_PACKAGE}={DEB_VERSION}"], cwd=workdir, check=True)
    (deb,) = workdir.glob(f"{DEB_PACKAGE}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(workdir / "root")], check=True)
    return workdir / "root"


def find_sources(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for out, (name, digest) in FACES.items():
        candidates = sorted(root.rglob(name))
        if not candidates:
            sys.exit(f"build.py: {name} is not under {root}")
        path = candidates[0]
        if sha256(path) != digest:
            sys.exit(f"build.py: {path} is not the pinned {name} ({DEB_PACKAGE} {DEB_VERSION}); "
                     "update FACES (and the docs) if the new version is meant")
        found[out] = path
    return found


def subset(src: Path, dest: Path) -> None:
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    options = ftsubset.Options()
    options.flavor = "woff2"
    options.layout_features = [*options.layout_features, *EXTRA_FEATURES]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14]  # keep copyright, licence, URLs
    options.name_languages = [0x409]
    options.hinting = False  # the source is unhinted; the screen's text is large
    options.notdef_outline = True
    font = TTFont(src, recalcTimestamp=False)
    font["name"].setName(NOTE, 10, 3, 1, 0x409)  # Apache-2.0 4(b): say that the files were changed
    sub = ftsubset.Subsetter(options)
    sub.populate(unicodes=unicodes())
    sub.subset(font)
    font.flavor = "woff2"
    font.save(dest, reorderTables=True)


def check_coverage(fonts: dict[str, Path]) -> None:
    """Every non-ASCII character of the screen's files is in every face."""
    from fontTools.ttLib import TTFont

    used = {ch for f in SCREEN_FILES for ch in f.read_text(encoding="utf-8") if ord(ch) > 0x7E}
    for name, path in fonts.items():
        cmap = TTFont(path).getBestCmap()
        missing = sorted(ch for ch in used if ord(ch) not in cmap)
        if missing:
            sys.exit(f"build.py: {name} has no glyph for {' '.join(missing)} used by the wall screen: "
                     "add it to TEXT_RANGES (if Roboto has it) or draw it another way")


def build(dest: Path, sources: dict[str, Path]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for out, src in sources.items():
        subset(src, dest / out)
    shutil.copyfile(LICENSE_FILE, dest / "LICENSE-Apache-2.0.txt")
    check_coverage({out: dest / out for out in sources})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="src", type=Path,
                    help="a folder holding the source TTFs (searched recursively)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    ap.add_argument("--check", action="store_true", help="build to a temp folder and compare with --out")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="matcoach-fonts-") as tmp:
        work = Path(tmp)
        sources = find_sources(args.src if args.src else fetch_sources(work))
        dest = work / "out" if args.check else args.out
        build(dest, sources)
        if args.check:
            names = [*FACES, "LICENSE-Apache-2.0.txt"]
            _, differ, missing = filecmp.cmpfiles(dest, args.out, names, shallow=False)
            if differ or missing:
                print(f"out of date in {args.out}: {' '.join(differ + missing)}", file=sys.stderr)
                return 1
            print(f"{args.out} is up to date")
            return 0
        for out in FACES:
            print(f"{dest / out}  {(dest / out).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
