"""The one `matcoach` command and its subcommands.

Every expected failure (bad trace, missing video, bad config) ends as one line on stderr and a
non-zero exit; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.analysis.classifier import ClassifierError
from edge.analysis.config import AnalysisConfig, ConfigError, load_analysis_config
from edge.analysis.scoring import FAULTS as FAULT_NAMES
from edge.analysis.session import Analysis
from edge.trace import TraceError
from matcoach.progress import ProgressBar, on_terminal

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a job stopped by Ctrl-C


class CliError(Exception):
    """An expected failure with a message for the user."""


def _is_trace(path: Path) -> bool:
    """A trace is JSON Lines whose first line names the format; anything else is treated as video."""
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def _progress_bar(verb: str, path: Path, json_out: bool = False) -> ProgressBar:
    """The bar of a video's pose pass, drawn on stderr when that is a terminal, and not when the output
    is JSON for a program (`--json` with stdout piped)."""
    quiet = json_out and not on_terminal(sys.stdout)
    return ProgressBar(f"{verb} {path.name}", sys.stderr, enabled=on_terminal(sys.stderr) and not quiet)


def _warn_beside(bar: ProgressBar) -> Callable[[str], None]:
    """The pose pass's warning, on a line of its own above the bar."""
    from edge.pixels.recording import warn_on_stderr

    def warn(message: str) -> None:
        with bar.paused():
            warn_on_stderr(message)

    return warn


@contextmanager
def _video_input() -> Iterator[None]:
    """Camera and pose-model failures as user errors. Imported only for video, so analysing a trace
    never loads OpenCV or ONNX Runtime."""
    from edge.pixels.camera import CameraError
    from edge.pixels.pose import PoseError

    try:
        yield
    except (CameraError, PoseError) as exc:
        raise CliError(str(exc)) from None


def _analyze(path: Path, config: AnalysisConfig, model: str | None, explain: bool = False,
             json_out: bool = False) -> Analysis:
    from edge.analysis.analyzer import analyze_frames
    from edge.trace import iter_trace

    if not path.exists():
        raise CliError(f"{path}: no such file")
    if _is_trace(path):
        try:
            with path.open(encoding="utf-8") as fh:
                header, frames = iter_trace(fh)
                return analyze_frames(frames, header, config, explain)
        except UnicodeDecodeError:
            raise CliError(f"{path}: not a text trace file") from None
    from edge.pixels.recording import pose_frames_from_video

    with _video_input(), _progress_bar("analyze", path, json_out) as bar:
        header, frames = pose_frames_from_video(path, model, _warn_beside(bar), bar.update)
        return analyze_frames(frames, header, config, explain)


def _rep_table(analysis: Analysis) -> str:
    data = analysis.to_json()
    rows = [f"{'#':>3} {'set':>3} {'variant':<10} {'start':>7} {'down s':>6} {'up s':>5} {'pause':>5} "
            f"{'top°':>5} {'bottom°':>7} {'knee°':>5} {'score':>5}  faults"]
    set_of = {i: s["index"] for s in data["sets"] for i in s["rep_indices"]}
    for r in data["reps"]:
        rows.append(
            f"{r['index']:>3} {set_of.get(r['index'], 0):>3} {r['variant']:<10} {r['start_t']:>7.1f} "
            f"{r['descent_s']:>6.1f} {r['ascent_s']:>5.1f} {r['bottom_pause_s']:>5.1f} "
            f"{r['top_angle_deg']:>5.0f} {r['bottom_angle_deg']:>7.0f} {r['min_knee_angle_deg']:>5.0f} "
            f"{r['score']:>5}  {', '.join(r['faults']) or '-'}"
        )
    if not data["reps"]:
        rows.append("(no reps)")
    for s in data["sets"]:
        end_range = "-" if s["end_range_deg"] is None else f"{s['end_range_deg']:.0f}°"
        rows.append(f"set {s['index']}: {s['rep_count']} × {s['variant']}, mean score {s['mean_score']}, "
                    f"end range {end_range}")
    for h in data["holds"]:
        rows.append(f"hold {h['index']}: {h['variant']} {h['duration_s']:.1f} s from {h['start_t']:.1f} s")
    return "\n".join(rows)


def _explanation(analysis: Analysis, config: AnalysisConfig) -> str:
    """Per movement of the legs, in time order: why it was counted (and how its faults were decided)
    or why not."""
    from edge.analysis.scoring import VARIANT_RULES

    number = {(s.rep.start_t, s.rep.end_t): i for i, s in enumerate(analysis.reps, start=1)}
    scored = {(s.rep.start_t, s.rep.end_t): s for s in analysis.reps}
    rows = ["", "why:"]
    for note in sorted(analysis.notes, key=lambda n: (n.start_t, not n.counted)):
        key = (note.start_t, note.end_t)
        if note.counted and key in scored:
            s = scored[key]
            rows.append(f"rep {number[key]}, {note.start_t:.2f}–{note.end_t:.2f} s, counted: {note.why}")
            for reason in VARIANT_RULES[s.variant].reasons(s.rep, config.faults):
                fault = reason.partition(":")[0]
                verdict = "yes" if fault in s.faults else "no"
                rows.append(f"    {verdict:>3}  {reason}" if fault in FAULT_NAMES else f"         {reason}")
        elif not note.counted:
            rows.append(f"not counted, {note.start_t:.2f}–{note.end_t:.2f} s: {note.why}")
    if len(rows) == 2:
        rows.append("no movement of the legs large enough to be a rep")
    return "\n".join(rows)


def cmd_analyze(args: argparse.Namespace) -> int:
    config = load_analysis_config(args.config)
    analysis = _analyze(Path(args.path), config, args.model, explain=args.explain, json_out=args.json)
    if args.json:
        print(json.dumps(analysis.to_json()))
    else:
        print(_rep_table(analysis))
    if args.explain:
        print(_explanation(analysis, config), file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from edge.pixels.recording import record_trace

    src = Path(args.video)
    if not src.exists():
        raise CliError(f"{src}: no such file")
    with _video_input(), _progress_bar("trace", src) as bar:
        frames, people = record_trace(src, Path(args.output), args.model, _warn_beside(bar), bar.update)
    print(f"wrote {args.output}: {frames} frames, {people} people detections", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcoach", description="MatCoach: leg-lift reps and form on a mat")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="count and score the reps in a keypoint trace or a video file")
    p.add_argument("path", help="trace v1 (.jsonl) or a video file")
    p.add_argument("--json", action="store_true", help="print the analysis object of SPEC.md")
    p.add_argument("--explain", action="store_true",
                   help="say per rep why it was counted and how its faults were decided, and per movement "
                        "not counted why not (on stderr with --json)")
    p.add_argument("--config", help="TOML file with an [analysis] table overriding thresholds")
    p.add_argument("--model", help="pose model ONNX file for the crops of a video (default: the station's)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("trace", help="run the pose model over a video and write a keypoint trace")
    p.add_argument("video")
    p.add_argument("-o", "--output", required=True, help="trace v1 file to write (.jsonl)")
    p.add_argument("--model", help="pose model ONNX file for the crops (default: the station's)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("server", help="run the MatCoach server (wall screens, status page, station API)")
    _server_options(p)
    p.set_defaults(func=cmd_server)
    actions = p.add_subparsers(dest="action")
    a = actions.add_parser("add-station", help="create a station and print its token (shown once)")
    a.add_argument("name")
    _server_options(a)
    a.set_defaults(func=cmd_add_station)
    a = actions.add_parser("add-staff", help="create a staff login (or set its password); password on stdin")
    a.add_argument("username")
    _server_options(a)
    a.set_defaults(func=cmd_add_staff)

    p = sub.add_parser("station", help="run the station: camera or replay → reps → outbox → server")
    p.add_argument("--config", required=True, help="station TOML: [station] (and optional [analysis])")
    p.set_defaults(func=cmd_station)

    p = sub.add_parser("demo", help="server + replayed stations + wall screen on this machine")
    p.add_argument("--duration", type=float, help="stop by itself after this many seconds")
    p.add_argument("--no-browser", dest="browser", action="store_false", help="don't open the wall screen")
    p.add_argument("--stations", type=int, default=2, help="how many stations to replay (default 2)")
    p.add_argument("--speed", type=float, default=3.0, help="replay speed, × real time (default 3)")
    p.add_argument("--port", type=int, default=8420, help="server port (another free one if taken)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", add_help=False,
                       help="benchmark the live pipeline on a video against the 640 model (--help: options)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("bench-server", add_help=False,
                       help="benchmark the server with N simulated stations on loopback (--help for options)")
    p.set_defaults(func=cmd_bench_server)
    return parser


def cmd_station(args: argparse.Namespace) -> int:
    import logging
    import signal

    # The analysis's notes for the operator (rules and rep classifier disagreeing) go to the journal;
    # other libraries' logging (each HTTP request) stays quiet.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("matcoach station: %(message)s"))
    ours = logging.getLogger("matcoach")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    from edge.station.outbox import OutboxError
    from edge.station.service import Station, StationConfigError, load_station_settings

    stops: tuple[type[Exception], ...] = (StationConfigError,)  # errors that end a run with a message
    try:
        settings = load_station_settings(args.config)
        if settings.source.kind == "trace":
            station = Station(settings)
        else:
            from edge.pixels.pose import PoseError  # the pose stack is imported for cameras only

            # The pose model's process ending: the exit status has systemd start the station again.
            stops = (StationConfigError, PoseError)
            with _video_input():
                station = Station(settings)
    except (StationConfigError, OutboxError) as exc:
        raise CliError(str(exc)) from None
    # SIGTERM (systemd stop) ends the run like Ctrl-C: queued events stay on disk for the next start.
    signal.signal(signal.SIGTERM, lambda *_: station.stop.set())
    try:
        station.run()
    except KeyboardInterrupt:
        station.stop.set()
    except stops as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from matcoach.demo import run_demo

    if args.stations < 1 or args.speed <= 0 or (args.duration is not None and args.duration <= 0):
        raise CliError("--stations, --speed and --duration must be positive")
    return run_demo(args.duration, args.stations, args.speed, args.port, args.browser)


def cmd_bench(args: argparse.Namespace) -> int:
    from edge.station.bench import main as bench_main

    return bench_main(args.rest)


def cmd_bench_server(args: argparse.Namespace) -> int:
    from server.bench import main as bench_main

    return bench_main(args.rest)


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file with a [server] table")
    p.add_argument("--db", help="SQLite file (or database URL); default from the config, else ./matcoach.db")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8420)")


def _server_settings(args: argparse.Namespace):  # -> ServerSettings, imported lazily with the server
    from server.settings import load_settings

    return load_settings(args.config, database_url=args.db, host=args.host, port=args.port)


def cmd_server(args: argparse.Namespace) -> int:
    from server.main import serve

    serve(_server_settings(args))
    return 0


def cmd_add_station(args: argparse.Namespace) -> int:
    from server.main import add_station

    station_id, wall_path, token = add_station(_server_settings(args), args.name)
    print(f"station {station_id}\nwall screen {wall_path}\ntoken {token}")
    print("keep the token: it goes in the station's config and is not shown again", file=sys.stderr)
    return 0


def cmd_add_staff(args: argparse.Namespace) -> int:
    import getpass

    from server.main import add_staff

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    add_staff(_server_settings(args), args.username, password)
    print(f"staff login {args.username!r} saved", file=sys.stderr)
    return 0


def _server_errors() -> tuple[type[Exception], ...]:
    from server.main import USER_ERRORS

    return USER_ERRORS


def main(argv: list[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    if args.command in ("bench", "bench-server"):
        args.rest = rest  # the benchmark parses its own options
    elif rest:
        build_parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.func(args))
    except (CliError, TraceError, ConfigError, ClassifierError, *_server_errors()) as exc:
        print(f"matcoach: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C: one line, like any other end of the work (a progress bar cleared)
        print("matcoach: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
