"""The progress bar of the commands' long work (a video through the pose model), on a terminal's stderr:

    analyze clip.mp4  ████████░░░░░░░░░░░░░░░░  412/1030 frames  23.4 fps  0:26 left

redrawn in place at most ten times a second, and ended with a newline when the work is done (the line
kept, full, with the time it took) or cleared when it ends in an error or Ctrl-C (so the one-line
error stands alone). Where the stream is no terminal nothing is drawn at all, so scripts see exactly the
output they would without it. A frame count from a video's header is an estimate: the bar never shows
more done than its total nor a negative time left, and a video that ends short of its header finishes
full. With no count known it shows frames done and the rate alone.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self, TextIO

REDRAW_S = 0.1  # at most ten redraws a second
RATE_WINDOW_S = 5.0  # frames per second over about this much of the latest work
BAR_CELLS = 24  # the bar's width, when the terminal has room for it
MIN_BAR_CELLS = 8  # narrower than this, no bar: the counts alone
DEFAULT_COLUMNS = 80
GLYPHS = "█░"
ASCII_GLYPHS = "#-"


def on_terminal(stream: TextIO | None) -> bool:
    """Whether the stream is a terminal (False for None, a closed stream or a file)."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def clock_time(seconds: float) -> str:
    """0:26, 12:05, 1:02:03: whole seconds, never negative."""
    whole = max(0, round(seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def render(label: str, done: int, total: int | None, fps: float | None, tail: str = "",
           columns: int = DEFAULT_COLUMNS, glyphs: str = GLYPHS) -> str:
    """One line of the bar, shorter than `columns` (a line filling the last column wraps on some
    terminals, and a wrapped line cannot be redrawn in place). `total` None or 0: unknown, no bar;
    `done` is clamped to it. `tail` is what follows the rate ("0:26 left", "in 0:44")."""
    done = max(0, done)
    if total is not None and total > 0:
        done = min(done, total)
        counts = f"{done}/{total} frames"
    else:
        total = None
        counts = f"{done} frames"
    right = "  ".join(part for part in (counts, "" if fps is None else f"{fps:.1f} fps", tail) if part)
    room = max(1, columns - 1)
    if total is not None:
        cells = min(BAR_CELLS, room - len(label) - len(right) - 4)
        if cells >= MIN_BAR_CELLS:
            filled = done * cells // total
            right = f"{glyphs[0] * filled}{glyphs[1] * (cells - filled)}  {right}"
    line = f"{label}  {right}" if label else right
    if len(line) > room:  # a narrow terminal: the label gives way first, then the tail of the counts
        keep = room - len(right) - 2
        line = f"{label[:keep]}  {right}" if keep >= 4 else right[:room]
    return line


class ProgressBar:
    """The bar of one piece of work. `update(done, total)` as frames get done; leaving the `with` block
    finishes it (kept with a newline when the block ended normally, cleared when it raised). Disabled,
    every method does nothing but run what `paused` wraps.

    `clock` and `columns` are for tests: a fake clock, and a terminal's width (default: the stream's
    terminal, looked up at each redraw so a resized window is followed)."""

    def __init__(self, label: str, stream: TextIO, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 columns: Callable[[], int] | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self._stream = stream
        self._clock = clock
        self._columns = columns or self._terminal_columns
        self._glyphs = GLYPHS if _can_encode(stream, GLYPHS) else ASCII_GLYPHS
        self._done = 0
        self._total: int | None = None
        self._started: float | None = None  # when the first update came: the work, not the set-up
        self._last_draw = -math.inf
        self._samples: deque[tuple[float, int]] = deque()  # (time, frames done) at each redraw
        self._line = ""  # what is drawn now (the whole line, in case it must be drawn again)
        self._width = 0  # how many columns of the current line are written

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(completed=exc_type is None)

    def update(self, done: int, total: int | None) -> None:
        """`done` frames of `total` (None or 0: unknown) are done; redrawn if the last redraw is 0.1 s old."""
        if not self.enabled:
            return
        now = self._clock()
        if self._started is None:
            self._started = now
        self._done, self._total = done, total if total else None
        if now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        fps = self._rate()
        tail = ""
        if fps and self._total is not None:
            tail = f"{clock_time(max(0, self._total - done) / fps)} left"
        self._draw(render(self.label, done, self._total, fps, tail, self._columns(), self._glyphs))

    def _rate(self) -> float | None:
        """Frames per second over the samples kept (the latest RATE_WINDOW_S or so); None before two."""
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The bar out of the way while the block writes lines of its own (a warning), then drawn again
        below them."""
        line = self._line
        self._clear()
        try:
            yield
        finally:
            if line:
                self._draw(line)

    def close(self, completed: bool = True) -> None:
        """The work has ended: with `completed`, the bar is drawn full (frames done are all there were,
        whatever the header said), with the average rate and the time taken, and the line ended;
        otherwise the line is cleared for the error that follows. Nothing, if nothing was drawn."""
        if not self.enabled or not self._line:
            return
        if completed:
            elapsed = self._clock() - (self._started or 0.0)
            fps = self._done / elapsed if elapsed > 0 else None
            total = self._done if self._total is not None else None
            self._draw(render(self.label, self._done, total, fps, f"in {clock_time(elapsed)}",
                              self._columns(), self._glyphs))
            self._write("\n")
        else:
            self._clear()
        self._line, self._width = "", 0
        self.enabled = False

    def _draw(self, line: str) -> None:
        pad = max(0, self._width - len(line))  # the end of a longer line drawn before
        # Told before the write: Ctrl-C can land between the write and the next statement, and the
        # clearing that follows must then cover what the write put there.
        self._line, self._width = line, max(self._width, len(line))
        self._write(f"\r{line}{' ' * pad}")

    def _clear(self) -> None:
        """Blanks over the line, and the cursor back at its start."""
        if self._width:
            self._write(f"\r{' ' * self._width}\r")
        self._line, self._width = "", 0

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: the work goes on without its bar
            self.enabled = False

    def _terminal_columns(self) -> int:
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return DEFAULT_COLUMNS
        return columns or DEFAULT_COLUMNS  # a pseudo-terminal nobody sized says 0


def _can_encode(stream: TextIO, text: str) -> bool:
    """Whether the stream can take `text` (one with no encoding, as io.StringIO, takes any)."""
    encoding = getattr(stream, "encoding", None)
    try:
        if encoding:
            text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
