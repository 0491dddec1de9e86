"""The README's screenshots, taken by the browser tests: `python -m tests.screens`.

    .venv/bin/python -m tests.screens

Runs (pytest, in this process) exactly the two browser tests that take them, in Debian's headless
Chromium against a real `matcoach server` process, then copies their screenshots into docs/img/:

    tests/test_wall_screen.py::test_a_full_set_then_rest_with_a_running_timer_and_the_set_summary
        artifacts/screens/wall-set-landscape.png -> docs/img/wall-screen.png
        (the wall screen during a set: twelve scored reps, their scores and cues; 1920x1080)
    tests/test_status_page.py::test_staff_watch_stations_go_offline_rename_them_and_replace_their_tokens
        artifacts/screens/status-online.png -> docs/img/status-page.png
        (the staff status page: two of three stations online, their health columns; 1600x900)

Each PNG is re-encoded losslessly at PNG's highest compression (OpenCV) when that is smaller, and must
stay under 400 KB. Prints each file it wrote. Exits 1 with one line on stderr, writing nothing, when a
test fails, is skipped (no chromium: `apt-get install chromium`, see setup.sh) or is not found, or
when a screenshot was not produced (or is unreadable, the wrong size or too big).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import SCREENS

ROOT = Path(__file__).resolve().parent.parent
DOCS_IMG = ROOT / "docs" / "img"
MAX_BYTES = 400_000


@dataclass(frozen=True)
class Shot:
    test: str  # pytest node id, relative to the repository
    screen: str  # the name the test gives tests.browser.screenshot
    doc: str  # file name under docs/img/
    size: tuple[int, int]  # width, height


SHOTS = (
    Shot("tests/test_wall_screen.py::test_a_full_set_then_rest_with_a_running_timer_and_the_set_summary",
         "wall-set-landscape", "wall-screen.png", (1920, 1080)),
    Shot("tests/test_status_page.py::test_staff_watch_stations_go_offline_rename_them_and_replace_their_tokens",
         "status-online", "status-page.png", (1600, 900)),
)


class Failed(Exception):
    """One line: what went wrong."""


class Outcomes:
    """A pytest plugin noting which tests passed and why the others did not."""

    def __init__(self) -> None:
        self.passed: set[str] = set()
        self.bad: dict[str, str] = {}  # node id (a test's or a module's) -> why

    def _note(self, report, when: str) -> None:
        if report.skipped:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.bad.setdefault(report.nodeid, f"skipped: {reason}")
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            lines = message.strip().splitlines() or ["(no message)"]
            self.bad.setdefault(report.nodeid, f"failed in {when}: {lines[0]}")

    def pytest_collectreport(self, report) -> None:
        self._note(report, "collection")

    def pytest_runtest_logreport(self, report) -> None:
        self._note(report, report.when)
        if report.when == "call" and report.passed:
            self.passed.add(report.nodeid)

    def why_not(self, test: str) -> str | None:
        """None when `test` ran and passed, else why."""
        for nodeid, why in self.bad.items():
            if test == nodeid or test.startswith(nodeid + "::"):
                return why
        return None if test in self.passed else "was not run (not found: renamed?)"


def run_tests(shots: tuple[Shot, ...], pytest_args: list[str]) -> None:
    outcomes = Outcomes()
    args = ["-p", "no:cacheprovider", "--rootdir", str(ROOT), *pytest_args,
            *(str(ROOT / shot.test) for shot in shots)]
    code = pytest.main(args, plugins=[outcomes])
    for shot in shots:
        why = outcomes.why_not(shot.test)
        if why is not None:
            raise Failed(f"{shot.test} {why}")
    if code != 0:
        raise Failed(f"pytest exited with {int(code)}")


def encoded(shot: Shot) -> bytes:
    """The screenshot's PNG, recompressed losslessly when that is smaller; checked readable, sized."""
    import cv2
    import numpy as np

    src = SCREENS / f"{shot.screen}.png"
    if not src.is_file():
        raise Failed(f"{shot.test} passed but did not produce {src.relative_to(ROOT)}")
    data = src.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise Failed(f"{src.relative_to(ROOT)} is not a readable PNG")
    if image.ndim == 3 and image.shape[2] == 4 and (image[..., 3] == 255).all():
        image = image[..., :3]  # an opaque page: no alpha channel needed
    height, width = image.shape[:2]
    if (width, height) != shot.size:
        raise Failed(f"{src.relative_to(ROOT)} is {width}x{height}, not {shot.size[0]}x{shot.size[1]}")
    ok, smaller = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if ok and len(smaller) < len(data):
        data = smaller.tobytes()
    if len(data) > MAX_BYTES:
        raise Failed(f"{src.relative_to(ROOT)} is {len(data) // 1000} KB, over {MAX_BYTES // 1000} KB")
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --), e.g. -- -x -s")
    args = p.parse_args(argv)
    try:
        for shot in SHOTS:  # a screenshot left from an earlier run must not pass for this run's
            (SCREENS / f"{shot.screen}.png").unlink(missing_ok=True)
        run_tests(SHOTS, args.pytest_args or ["-q"])
        pngs = {shot: encoded(shot) for shot in SHOTS}
    except Failed as e:
        print(f"tests.screens: FAILED: {e}", file=sys.stderr)
        return 1
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    for shot, data in pngs.items():
        out = DOCS_IMG / shot.doc
        tmp = out.with_suffix(".png.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        print(f"wrote {out.relative_to(ROOT)} ({shot.size[0]}x{shot.size[1]}, {len(data) // 1000} KB) "
              f"from {shot.test}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
