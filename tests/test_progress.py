"""The progress bar of `matcoach analyze VIDEO` and `matcoach trace VIDEO`: on a terminal's stderr, frames
done of the video's frame count, the rate and the time left, redrawn in place, and finished with a
newline (or cleared before an error or Ctrl-C's one line). Where stderr is no terminal, or the output is
`--json` for a program (stdout piped), there is none: the output is exactly what it was without it.

The real command runs with its stderr on a pseudo-terminal; what a user would see is what is left on
that terminal's screen once every carriage return has drawn over what was before it. The videos are
made here (`phone_video` of tests/test_short_video.py: small, so the pose pass takes about a second).
The rendering itself is tested on a fake clock."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from matcoach.progress import ProgressBar, clock_time, render
from tests.test_short_video import phone_video

COLUMNS = 100  # the pseudo-terminal's width
BAR = re.compile(r"(\d+)(?:/(\d+))? frames")
LEFT = re.compile(r"(-?[\d:]+) left")


def screen(text: str) -> list[str]:
    """The lines a terminal shows after `text` (carriage return: back to the line's start, to be drawn
    over), each without trailing blanks; an unfinished last line only if anything is left on it."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if "".join(line).strip():
        lines.append("".join(line).rstrip())
    return lines


def draws(text: str) -> list[str]:
    """Every state of the bar drawn, in order (each redraw starts with a carriage return and the
    command's name)."""
    states = (part.split("\n")[0] for part in text.split("\r")[1:])
    return [s for s in states if s.startswith(("analyze ", "trace ")) and BAR.search(s)]


# --- the rendering, on a fake clock ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _bar(columns: int = COLUMNS,
         stream: io.StringIO | None = None) -> tuple[ProgressBar, io.StringIO, FakeClock]:
    out = stream or io.StringIO()
    clock = FakeClock()
    return ProgressBar("analyze clip.mp4", out, clock=clock, columns=lambda: columns), out, clock


def test_the_bar_shows_frames_done_of_total_the_rate_and_the_time_left() -> None:
    bar, out, clock = _bar()
    bar.update(0, 1030)
    clock.now += 10.0
    bar.update(234, 1030)  # 23.4 frames a second: 796 frames left are 34 s
    assert screen(out.getvalue()) == [
        "analyze clip.mp4  █████░░░░░░░░░░░░░░░░░░░  234/1030 frames  23.4 fps  0:34 left"]
    clock.now += 10.0
    bar.update(468, 1030)
    assert screen(out.getvalue())[-1].endswith("468/1030 frames  23.4 fps  0:24 left")
    clock.now += 24.0
    bar.update(1030, 1030)
    bar.close()
    assert out.getvalue().endswith("\n")
    assert screen(out.getvalue()) == [
        "analyze clip.mp4  ████████████████████████  1030/1030 frames  23.4 fps  in 0:44"]


def test_it_redraws_at_most_ten_times_a_second() -> None:
    bar, out, clock = _bar()
    for done in range(301):  # 300 frames in 3 s
        clock.now = 100.0 + done * 0.01
        bar.update(done, 300)
    assert 28 <= out.getvalue().count("\r") <= 31
    bar.close()
    assert screen(out.getvalue())[-1].endswith("300/300 frames  100.0 fps  in 0:03")


def test_an_unknown_frame_count_shows_frames_done_and_the_rate_alone() -> None:
    for unknown in (None, 0):
        bar, out, clock = _bar()
        bar.update(0, unknown)
        clock.now += 2.0
        bar.update(50, unknown)
        assert screen(out.getvalue()) == ["analyze clip.mp4  50 frames  25.0 fps"]
        bar.close()
        assert screen(out.getvalue()) == ["analyze clip.mp4  50 frames  25.0 fps  in 0:02"]


def test_a_video_short_of_its_header_finishes_full_and_one_longer_never_shows_more_than_its_total() -> None:
    bar, out, clock = _bar()
    for done in range(133):  # the header says 136; 132 decode
        clock.now = 100.0 + done * 0.05
        bar.update(done, 136)
    assert screen(out.getvalue())[-1].endswith("/136 frames  20.0 fps  0:00 left")
    bar.close()
    assert screen(out.getvalue()) == [
        "analyze clip.mp4  ████████████████████████  132/132 frames  20.0 fps  in 0:07"]

    bar, out, clock = _bar()
    for done in range(150):  # the header says 136; 149 decode
        clock.now = 100.0 + done * 0.05
        bar.update(done, 136)
    for state in draws(out.getvalue()):
        done, total = BAR.search(state).groups()
        assert int(done) <= int(total) == 136
        assert not LEFT.search(state) or not LEFT.search(state)[1].startswith("-")
    assert "136/136 frames  20.0 fps  0:00 left" in draws(out.getvalue())[-1]
    bar.close()
    assert screen(out.getvalue())[-1].endswith("  149/149 frames  20.0 fps  in 0:07")


def test_the_time_left_is_never_negative_and_reads_as_a_clock() -> None:
    assert [clock_time(s) for s in (-5, 0, 26.4, 59.6, 725, 3723, float("inf"))] == \
        ["0:00", "0:00", "0:26", "1:00", "12:05", "1:02:03", "0:00"]
    line = render("x", 200, 100, 10.0, "0:00 left", columns=60)  # more done than the header's count
    assert line.endswith("100/100 frames  10.0 fps  0:00 left")


def test_an_error_clears_the_line_and_a_warning_gets_a_line_of_its_own() -> None:
    bar, out, clock = _bar()
    bar.update(0, 136)
    clock.now += 1.0
    bar.update(40, 136)
    with bar.paused():
        out.write("matcoach: warning: something\n")
    assert screen(out.getvalue())[0] == "matcoach: warning: something"
    assert screen(out.getvalue())[1].endswith("40/136 frames  40.0 fps  0:02 left")
    with pytest.raises(KeyboardInterrupt), bar:
        raise KeyboardInterrupt
    out.write("matcoach: interrupted\n")
    assert screen(out.getvalue()) == ["matcoach: warning: something", "matcoach: interrupted"]


def test_a_narrow_terminal_gets_a_line_that_fits_and_a_disabled_bar_writes_nothing() -> None:
    for columns in (20, 40, 60, 79):
        bar, out, clock = _bar(columns)
        bar.update(0, 1030)
        clock.now += 10.0
        bar.update(234, 1030)
        bar.close()
        assert all(len(state) < columns for state in out.getvalue().replace("\n", "\r").split("\r"))
    out = io.StringIO()
    bar = ProgressBar("analyze clip.mp4", out, enabled=False)
    with bar:
        bar.update(0, 10)
        bar.update(10, 10)
        with bar.paused():
            out.write("warning\n")
    assert out.getvalue() == "warning\n"


def test_a_terminal_that_cannot_show_blocks_gets_ascii() -> None:
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    bar, _, clock = _bar(stream=ascii_out)  # type: ignore[arg-type]
    bar.update(0, 10)
    clock.now += 1.0
    bar.update(5, 10)
    bar.close()
    ascii_out.flush()
    text = ascii_out.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
    assert screen(text) == ["analyze clip.mp4  ########################  5/5 frames  5.0 fps  in 0:01"]


# --- the real command, its stderr on a pseudo-terminal -------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: str  # as the terminal received it (or as captured, when it was no terminal)
    seconds: float


def _pty() -> tuple[int, int]:
    import fcntl
    import termios
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)  # no "\n" → "\r\n": the bytes as the command wrote them
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, COLUMNS, 0, 0))
    return master, slave


def _drain(fd: int, into: bytearray, seen: threading.Event | None = None) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        into.extend(chunk)
        if seen is not None and re.search(rb"[1-9]\d*/\d+ frames", into):
            seen.set()
    os.close(fd)


def matcoach(*args: str, stderr_tty: bool = True, stdout_tty: bool = False,
             interrupt: bool = False) -> Run:
    """`matcoach ARGS`; with `interrupt`, Ctrl-C (SIGINT) as soon as the bar shows a frame done."""
    cmd = [sys.executable, "-m", "matcoach", *args]
    start = time.monotonic()
    if not stderr_tty:
        assert not stdout_tty and not interrupt
        res = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        return Run(res.returncode, res.stdout, res.stderr.decode(), time.monotonic() - start)
    err_master, err_slave = _pty()
    out_master, out_slave = _pty() if stdout_tty else (None, None)
    # Ctrl-C must raise KeyboardInterrupt in the command even when these tests run with SIGINT ignored.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=err_slave,
                            stdout=subprocess.PIPE if out_slave is None else out_slave,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(err_slave)
    err, out = bytearray(), bytearray()
    seen = threading.Event()
    readers = [threading.Thread(target=_drain, args=(err_master, err, seen))]
    if out_master is not None:
        os.close(out_slave)
        readers.append(threading.Thread(target=_drain, args=(out_master, out)))
    for r in readers:
        r.start()
    try:
        if interrupt:
            assert seen.wait(60), err.decode()
            proc.send_signal(signal.SIGINT)
        stdout = proc.communicate(timeout=120)[0]  # None when stdout is the terminal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for r in readers:
            r.join(10)
    return Run(proc.returncode, bytes(out) if stdout is None else stdout, err.decode(),
               time.monotonic() - start)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("progress")
    return {
        "whole": phone_video(d / "whole.mp4", frames=90, unreadable=0),  # every frame its header counts
        "short": phone_video(d / "short.mp4"),  # the header says 136, 132 decode
        "broken": phone_video(d / "broken.mp4", unreadable=40),  # 96 of 136: an error, at the end
        "long": phone_video(d / "long.mp4", frames=2000, unreadable=0),  # still going when Ctrl-C comes
    }


def _assert_bar_counts_up_to(text: str, done: int, total: int, label: str) -> None:
    states = draws(text)
    assert len(states) >= 2, text
    counts = [tuple(int(g) for g in BAR.search(s).groups()) for s in states]
    assert counts[0] == (0, total)
    assert all(t == total and d <= t for d, t in counts[:-1]), counts
    assert [d for d, _ in counts] == sorted(d for d, _ in counts)
    assert all(label in s for s in states)
    assert all(not LEFT.search(s) or not LEFT.search(s)[1].startswith("-") for s in states)
    assert counts[-1] == (done, done)


def test_analyze_shows_the_bar_on_a_terminal_and_prints_the_same_output(videos: dict[str, Path]) -> None:
    video = str(videos["whole"])
    plain = matcoach("analyze", video, stderr_tty=False)
    assert plain.returncode == 0 and plain.stderr == ""  # stderr no terminal: no bar, nothing at all
    run = matcoach("analyze", video)
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout  # the table, byte for byte
    _assert_bar_counts_up_to(run.stderr, 90, 90, "analyze whole.mp4")
    assert len(draws(run.stderr)) <= 10 * run.seconds + 2  # at most ten redraws a second
    (last,) = screen(run.stderr)  # the finished bar, on a line of its own
    assert run.stderr.endswith("\n")
    assert re.fullmatch(r"analyze whole\.mp4  [█#]{24}  90/90 frames  \d+\.\d fps  in \d:\d\d", last), last


def test_no_bar_for_json_piped_to_a_program_but_one_for_json_on_a_terminal(videos: dict[str, Path]) -> None:
    video = str(videos["whole"])
    piped = matcoach("analyze", video, "--json")
    assert piped.returncode == 0 and piped.stderr == ""
    assert set(json.loads(piped.stdout)) == {"reps", "sets", "holds"}
    shown = matcoach("analyze", video, "--json", stdout_tty=True)
    assert shown.returncode == 0
    assert json.loads(shown.stdout) == json.loads(piped.stdout)
    _assert_bar_counts_up_to(shown.stderr, 90, 90, "analyze whole.mp4")


def test_trace_of_a_video_short_of_its_header_finishes_its_bar_below_the_warning(videos: dict[str, Path],
                                                                                tmp_path: Path) -> None:
    video, out = videos["short"], tmp_path / "short.jsonl"
    run = matcoach("trace", str(video), "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout == b""
    _assert_bar_counts_up_to(run.stderr, 132, 136, "trace short.mp4")
    warning, bar, wrote = screen(run.stderr)
    assert warning == f"matcoach: warning: {video}: header says 136 frames, 132 decodable; analysed those"
    assert re.fullmatch(r"trace short\.mp4  [█#]{24}  132/132 frames  \d+\.\d fps  in \d:\d\d", bar), bar
    assert wrote.startswith(f"wrote {out}: 132 frames")
    plain = matcoach("trace", str(video), "-o", str(tmp_path / "plain.jsonl"), stderr_tty=False)
    assert plain.stderr.splitlines() == [warning, wrote.replace(str(out), str(tmp_path / "plain.jsonl"))]


def test_an_error_at_the_end_of_the_video_clears_the_bar_for_its_one_line(videos: dict[str, Path]) -> None:
    video = videos["broken"]
    run = matcoach("analyze", str(video))
    assert run.returncode == 2 and run.stdout == b""
    assert draws(run.stderr)  # the bar was there …
    assert screen(run.stderr) == [  # … and only the error is left
        f"matcoach: error: {video}: video ends after 96 of 136 frames (truncated or corrupt)"]


def test_ctrl_c_clears_the_bar_and_says_so_in_one_line(videos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "long.jsonl"
    run = matcoach("trace", str(videos["long"]), "-o", str(out), interrupt=True)
    assert run.returncode == 130, run.stderr
    assert draws(run.stderr)
    assert screen(run.stderr) == ["matcoach: interrupted"]
    assert not out.exists() and not list(tmp_path.glob(".long.jsonl.*"))  # no half trace left behind
