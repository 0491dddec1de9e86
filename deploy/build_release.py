"""Build one release of MatCoach on the operator's machine: the project's wheel, a constraints file of
the exact versions it runs with here, and the model files a station loads, in a directory named after
the version and a hash of that content. Every host of a deploy installs this same directory.

The name hashes the wheel's members rather than the wheel file, whose zip timestamps change with every
build: unchanged code and models give the same release, so a second deploy has nothing to do.

Prints one JSON object: {"release": name, "dir": path, "wheel": file name, "new": true/false}; the
directory's release.json says the first two of these again, for a deploy given a release built earlier,
and its release.tar holds it all, for the hosts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EXTRAS = ("edge", "server")
MODELS = ("rep-classifier.onnx", "yolo11n-pose-dyn.onnx")


def pinned_requirements(project: str, extras: tuple[str, ...]) -> list[str]:
    """`name==version` for everything `project[extras]` pulls in, as installed in this environment: the
    versions the operator ran and tested with."""
    pins: dict[str, str] = {}
    todo = [(project, set(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a requirement for another platform or Python than this one
        for line in dist.requires or []:
            req = Requirement(line)
            env_extras = wanted or {""}
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in env_extras):
                continue
            key = canonicalize_name(req.name)
            if key not in pins:
                try:
                    pins[key] = distribution(req.name).version
                except PackageNotFoundError:
                    continue
                todo.append((req.name, set(req.extras)))
    pins.pop(canonicalize_name(project), None)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _content_hash(paths: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for label, path in sorted(paths):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                for member in sorted(wheel.namelist()):
                    digest.update(f"{label}/{member}\0".encode())
                    digest.update(hashlib.sha256(wheel.read(member)).digest())
        else:
            digest.update(f"{label}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build(source: Path, builds: Path, models_dir: Path, models: tuple[str, ...]) -> dict:
    builds.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=builds, prefix=".building-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", str(work / "dist"), str(source)], check=True, stdout=sys.stderr)
        (wheel,) = (work / "dist").glob("matcoach-*.whl")
        (work / "constraints.txt").write_text("\n".join(pinned_requirements("matcoach", EXTRAS)) + "\n")
        (work / "models").mkdir()
        for name in models:
            shutil.copy2(models_dir / name, work / "models" / name)
        content = [("dist", wheel), ("constraints.txt", work / "constraints.txt")]
        content += [(f"models/{p.name}", p) for p in (work / "models").iterdir()]
        version = wheel.name.split("-")[1]
        name = f"{version}-{_content_hash(content)[:12]}"
        final = builds / name
        new = not final.exists()
        if new:
            (work / "release.json").write_text(json.dumps({"release": name, "wheel": wheel.name}) + "\n")
            # One file to send to each host rather than one transfer per file.
            with tarfile.open(work / "release.tar", "w") as tar:
                for entry in ("dist", "constraints.txt", "models", "release.json"):
                    tar.add(work / entry, arcname=entry)
            work.chmod(0o755)
            work.rename(final)  # whole or not at all: a build interrupted before this leaves no release
            work.mkdir()  # for TemporaryDirectory's clean-up
    return {"release": name, "dir": str(final), "wheel": wheel.name, "new": new}


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=here.parent,
                        help="the project (default: this checkout)")
    parser.add_argument("--builds", type=Path, required=True, help="where releases are kept")
    parser.add_argument("--models-dir", type=Path, default=here.parent / "models")
    parser.add_argument("--model", action="append", dest="models", help=f"model file (default: {MODELS})")
    args = parser.parse_args(argv)
    print(json.dumps(build(args.source.resolve(), args.builds.resolve(), args.models_dir,
                           tuple(args.models or MODELS))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
