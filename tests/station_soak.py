"""The station's memory over a long run: `python -m tests.station_soak --minutes 30`.

Two real `matcoach station` processes against a real `matcoach server`: one plays the sports2d clip in
a loop through the pose model (a camera station: capture, crops, model, analysis, the back's empty
scene), one replays the bundled session in a loop at `--speed` (reps, sets, the outbox and the uplink
at work). Each one's resident memory is read from /proc every `--every` seconds. Prints the samples,
then per station its RSS once warmed up, at the end, its peak and the growth, and the reps stored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.pixels.model_files import FOOTAGE
from matcoach.demo import SAMPLE
from tests.procs import process_tree
from tests.servers import LiveServer, count_stored, provision, write_server_config, write_station_config

# Memory taken while models load, caches fill and the first sets close is not growth: the comparison
# starts after this long.
WARMUP_S = 60.0


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def rss_mb(pid: int) -> tuple[float, int] | None:
    """Resident memory of a process and of the processes below it, in MB, and how many they are; None
    once it is gone."""
    own = _rss_mb(pid)
    if own is None:
        return None
    found = [own] + [mb for p in process_tree(pid)[1:] if (mb := _rss_mb(p)) is not None]
    return sum(found), len(found)


def soak(minutes: float, every_s: float, speed: float, workdir: Path) -> dict:
    db = workdir / "server.db"
    camera, replay = provision(db, ["Mat 1 (camera)", "Mat 2 (replay)"])
    server = LiveServer(db, write_server_config(workdir / "server.toml")).start()
    configs = {
        "camera": write_station_config(workdir / "camera.toml", server.url, camera.token,
                                ['kind = "video"', f'path = "{FOOTAGE}"', "loop = true"]),
        "replay": write_station_config(workdir / "replay.toml", server.url, replay.token,
                                ['kind = "trace"', f'path = "{SAMPLE}"', "loop = true", f"speed = {speed}"]),
    }
    samples: list[tuple[float, dict[str, tuple[float, int] | None]]] = []
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        procs = {name: subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(path)],
                                        stdout=subprocess.DEVNULL,
                                        stderr=stack.enter_context(open(path.with_suffix(".log"), "w")))
                 for name, path in configs.items()}
        start = time.monotonic()
        try:
            while (elapsed := time.monotonic() - start) < minutes * 60:
                row = {name: rss_mb(p.pid) for name, p in procs.items()}
                samples.append((elapsed, row))
                print(f"{elapsed:7.0f} s  " + "  ".join(f"{n} {'-' if v is None else f'{v[0]:6.1f}'} MB"
                                                      for n, v in row.items()), flush=True)
                if any(p.poll() is not None for p in procs.values()):
                    break
                time.sleep(every_s)
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            exits = {name: p.wait(60) for name, p in procs.items()}
    for name, code in exits.items():
        if code != 0:
            print(f"station_soak: the {name} station exited with {code}:\n"
                  f"{configs[name].with_suffix('.log').read_text()[-2000:]}", file=sys.stderr)
    out: dict = {"minutes": round((samples[-1][0] if samples else 0) / 60, 1),
                 "reps_stored": count_stored(db), "exit_codes": exits, "stations": {}}
    # Frames in flight move a camera station's RSS by a few MB from one sample to the next: a minute's
    # median at either end is what is compared.
    k = max(1, round(60 / every_s))
    for name in procs:
        taken = [(t, v) for t, row in samples if (v := row[name]) is not None]
        series = [(t, mb) for t, (mb, _) in taken]
        warm = [v for t, v in series if t >= WARMUP_S] or [v for _, v in series]
        if not warm:
            continue
        first, last = statistics.median(warm[:k]), statistics.median(warm[-k:])
        out["stations"][name] = {"rss_warm_mb": round(first, 1), "rss_end_mb": round(last, 1),
                                 "rss_peak_mb": round(max(v for _, v in series), 1),
                                 "growth_mb": round(last - first, 1),
                                 # The station's own and its pose model's, for a camera station.
                                 "processes": max(n for _, (_, n) in taken)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--speed", type=float, default=4.0, help="replay speed of the bundled session")
    p.add_argument("--json", action="store_true", help="print only the summary, as one JSON object")
    args = p.parse_args(argv)
    if not FOOTAGE.is_file():
        print(f"station_soak: {FOOTAGE} is missing: run `bash models/fetch_footage.sh`", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="matcoach-soak-"))
        if args.json:  # only the summary: the samples go nowhere
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        out = soak(args.minutes, args.every, args.speed, Path(tmp))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"\n{out['minutes']} minutes; {out['reps_stored']} reps stored; exit codes {out['exit_codes']}")
    print(f"{'station':<8} {'RSS warm':>9} {'RSS end':>8} {'peak':>7} {'growth':>7}   (MB; medians of the "
          f"first minute after {WARMUP_S:.0f} s and of the last)")
    for name, s in out["stations"].items():
        print(f"{name:<8} {s['rss_warm_mb']:>9.1f} {s['rss_end_mb']:>8.1f} {s['rss_peak_mb']:>7.1f} "
              f"{s['growth_mb']:>+7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
