"""Server benchmark: N simulated stations on loopback against real `matcoach server` processes.

For each N: a fresh database (a SQLite file, or with `--db postgresql://…` a new database on that
server, dropped afterwards) and `--servers` server processes on it, N stations each with its wall
screen's WebSocket open, each station posting a rep every few seconds (as a member would). With more
than one process, a station's screen is connected to another process than the one it posts to.
Measured per rep: from just before the POST is sent to the moment that station's screen socket
receives the snapshot whose `session.last_rep` is that rep. Then a flat-out phase (every station
posting back to back, screens still open) for ingest throughput; then the reps in the database are
counted against those acknowledged. Printed as a table with ratios against the first (smallest) run
of the same invocation, and a pass/fail line against the target: p95 under 100 ms at 100 stations on
SQLite, at 1,000 on PostgreSQL.

Loopback only, bounded in count and time; each server process is stopped and the temp dir removed at
the end, on errors and on Ctrl-C. Runs from an installed package (no dependency on tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from server.main import allow_many_connections

# The bar: screen p95 under 100 ms at 100 stations on one process on SQLite, and at 1,000 stations on
# PostgreSQL, however many processes serve them.
TARGET_STATIONS = {"sqlite": 100, "postgresql": 1000}
TARGET_P95_MS = 100.0
HOST = "127.0.0.1"
MAX_STATIONS = 2000
MAX_DURATION_S = 600.0


@dataclass
class Run:
    stations: int
    sent: int = 0
    seen: int = 0
    errors: int = 0
    live_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    burst_events: int = 0
    burst_errors: int = 0
    burst_s: float = 0.0
    burst_post_ms: list[float] = field(default_factory=list)
    rss_mb: float | None = None
    stored: int | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)  # status code or exception: how many
    live_cpu_s: float | None = None
    burst_cpu_s: float | None = None

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "stations": self.stations, "reps_sent": self.sent, "reps_seen_on_screen": self.seen,
            "lost": self.sent - self.seen, "post_errors": self.errors + self.burst_errors,
            "post_error_kinds": self.error_kinds,
            # Reps in the database minus reps acknowledged: >0 stored twice, <0 lost after a 200.
            "stored_minus_acked": self.stored - self.sent - self.burst_events if self.stored is not None
            else None,
            "screen_p50_ms": _pct(lat, 50), "screen_p95_ms": _pct(lat, 95),
            "screen_p99_ms": _pct(lat, 99), "screen_max_ms": _round(max(lat)) if lat else None,
            "post_p50_ms": _pct(self.post_ms, 50), "post_p95_ms": _pct(self.post_ms, 95),
            "live_ingest_per_s": _round(self.sent / self.live_s) if self.live_s else None,
            "burst_events": self.burst_events,
            "burst_events_per_s": _round(self.burst_events / self.burst_s) if self.burst_s else None,
            "burst_post_p50_ms": _pct(self.burst_post_ms, 50),
            "burst_post_p95_ms": _pct(self.burst_post_ms, 95),
            "server_rss_mb": self.rss_mb,
            # Server process CPU (user + system, all threads) per stored event: what bounds throughput.
            "live_server_cpu_ms_per_event": _per(self.live_cpu_s, self.sent),
            "burst_server_cpu_ms_per_event": _per(self.burst_cpu_s, self.burst_events),
            "burst_server_cpu_share": round(self.burst_cpu_s / self.burst_s, 2) if self.burst_cpu_s
            and self.burst_s else None,
        }


def _round(v: float) -> float:
    return round(v, 1)


def _pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return _round(ordered[int(rank) - 1])


def _per(cpu_s: float | None, events: int) -> float | None:
    return round(cpu_s * 1000 / events, 2) if cpu_s is not None and events else None


def _cpu_s(pid: int) -> float | None:
    """utime + stime of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _delta(a: float | None, b: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return _round(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rep_batch(session: str, index: int) -> str:
    """A single-event batch, built with the wire model so it is exactly what a station sends."""
    from matcoach.wire import RepEvent

    rep = RepEvent(id=uuid.uuid4().hex, at=time.time(), session_id=session, set_index=1 + (index - 1) // 12,
                   rep_index=index, variant="double_leg", start_t=6.0 * index, end_t=6.0 * index + 5.0,
                   descent_s=3.6, ascent_s=1.4, bottom_pause_s=0.3, top_angle_deg=85.0,
                   bottom_angle_deg=20.0, min_knee_angle_deg=168.0,
                   faults=["fast_descent"] if index % 4 == 0 else [], score=93 - 20 * (index % 4 == 0),
                   cue="Slower on the way down: count to four", end_range_deg=20.0)
    return '{"events": [' + rep.model_dump_json() + "]}"


class Database:
    """A fresh database for one run: a SQLite file in the work dir, or a new database on the
    PostgreSQL server of `--db` (created for the run and dropped after it, the URL's own untouched)."""

    def __init__(self, workdir: Path, n: int, url: str | None) -> None:
        self.admin_url = url
        if url is None:
            self.url = str(workdir / f"n{n}" / "bench.db")
            return
        import psycopg

        self.name = f"matcoach_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        self.url = urlunsplit(urlsplit(url)._replace(path="/" + self.name))

    def drop(self) -> None:
        if self.admin_url is None:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Server:
    """`matcoach server` on the run's database, as its own process."""

    def __init__(self, workdir: Path, db: str, index: int) -> None:
        self.dir = workdir
        self.db = db
        self.config = self.dir / "server.toml"
        self.config.write_text(f'[server]\nhost = "{HOST}"\n')
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = self.dir / f"server{index}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "matcoach", "server", "--config", str(self.config),
                 "--db", self.db, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    async def ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            link = _Link(self.port, None, 2.0)
            try:
                with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                    if await link.request("GET", "/api/v1/health") == 200:
                        return
            finally:
                link.close()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"server did not come up in {timeout:g} s")

    def rss_mb(self) -> float | None:
        return _rss_mb(self.proc.pid) if self.proc else None

    def cpu_s(self) -> float | None:
        return _cpu_s(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Servers:
    """A fresh database with N stations, and `--servers` server processes on it. Station i posts to
    process i mod S, and its wall screen is connected to the next one, so on more than one process
    every rep crosses from one process to another (through the database) on its way to the screen."""

    def __init__(self, workdir: Path, n: int, url: str | None, count: int) -> None:
        from server import admin
        from server.store import open_store

        self.dir = workdir / f"n{n}"
        self.dir.mkdir()
        self.database = Database(workdir, n, url)
        store = open_store(self.database.url)
        try:
            now = time.time()
            self.stations = [admin.add_station(store, f"Bench {i + 1}", now) for i in range(n)]
        finally:
            store.close()
        self.processes = [Server(self.dir, self.database.url, k) for k in range(count)]

    def posts_to(self, i: int) -> Server:
        return self.processes[i % len(self.processes)]

    def screen_on(self, i: int) -> Server:
        return self.processes[(i + 1) % len(self.processes)]

    def start(self) -> None:
        for p in self.processes:
            p.start()

    async def ready(self) -> None:
        for p in self.processes:
            await p.ready()

    def stored_reps(self) -> int:
        from server.store import open_store

        store = open_store(self.database.url)
        try:
            return store.count_events("rep")
        finally:
            store.close()

    def rss_mb(self) -> float | None:
        return _total([p.rss_mb() for p in self.processes])

    def cpu_s(self) -> float | None:
        return _total([p.cpu_s() for p in self.processes])

    def stop(self) -> None:
        for p in self.processes:
            p.stop()
        self.database.drop()


def _total(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 2)


class _Link:
    """One station's keep-alive HTTP/1.1 connection to its server process, on plain asyncio streams.
    Not httpx: at a thousand stations its per-request work took half of this process's core, and
    whatever delays this process is in every latency measured."""

    def __init__(self, port: int, token: str | None, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self._auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """The answer's status; raises OSError (TimeoutError among them) or IncompleteReadError."""
        try:
            return await asyncio.wait_for(self._request(method, path, body), self.timeout)
        except BaseException:
            self.close()  # a half-read answer would be taken for the next one's
            raise

    async def _request(self, method: str, path: str, body: bytes) -> int:
        reused = self._streams is not None and not self._streams[1].is_closing() \
            and not self._streams[0].at_eof()
        if not reused:
            self.close()
            self._streams = await asyncio.open_connection(HOST, self.port)
        assert self._streams is not None
        reader, writer = self._streams
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{self._auth}Content-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        try:
            status_line = await reader.readline()
        except ConnectionResetError:
            status_line = b""
        if not status_line:
            if reused:
                # The server closed the idle connection as this request went out, so it never read
                # it: sent again on a new connection, as httpx (and so a station) does.
                self.close()
                return await self._request(method, path, body)
            raise ConnectionResetError("the server closed the connection")
        length, keep = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                keep = False
        await reader.readexactly(length)
        if not keep:
            self.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _run(n: int, args: argparse.Namespace, workdir: Path) -> Run:
    import websockets

    run = Run(n)
    server = Servers(workdir, n, args.db, args.servers)
    links: list[_Link] = []
    sockets: list = []
    readers: list[asyncio.Task] = []
    try:
        server.start()
        await server.ready()
        # One keep-alive connection per station, as each station is its own machine.
        links = [_Link(server.posts_to(i).port, token, args.timeout)
                 for i, (_, token) in enumerate(server.stations)]
        sent_at: dict[tuple[int, int], float] = {}

        async def screen(i: int, ws) -> None:
            with contextlib.suppress(websockets.ConnectionClosed):  # a dropped screen shows as lost reps
                async for message in ws:
                    now = time.perf_counter()
                    rep = (json.loads(message).get("session") or {}).get("last_rep") or {}
                    t0 = sent_at.pop((i, rep.get("rep_index")), None)
                    if t0 is not None:
                        run.latencies_ms.append((now - t0) * 1000)
                        run.seen += 1

        async def post(i: int, body: str, into: list[float]) -> bool:
            t0 = time.perf_counter()
            try:
                status = await links[i].request("POST", "/api/v1/events", body.encode())
            except (OSError, asyncio.IncompleteReadError) as exc:  # TimeoutError is an OSError
                run.error_kinds[exc.__class__.__name__] = run.error_kinds.get(exc.__class__.__name__, 0) + 1
                return False
            into.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                run.error_kinds[str(status)] = run.error_kinds.get(str(status), 0) + 1
            return status == 200

        # Each station registers on start, as a real one does: it also opens the station's keep-alive
        # connection, so connection setup isn't in the first rep's latency.
        registration = json.dumps({"hostname": "bench", "software_version": "bench"}).encode()
        for i in range(n):
            status = await links[i].request("POST", "/api/v1/register", registration)
            if status != 200:
                raise RuntimeError(f"registering station {i + 1} answered {status}")

        session = [f"live-{uuid.uuid4().hex[:12]}" for _ in range(n)]

        async def station(i: int, stop_at: float) -> None:
            await asyncio.sleep(random.uniform(0, args.interval))  # stations out of phase
            k = 0
            while time.perf_counter() < stop_at:
                k += 1
                body = _rep_batch(session[i], k)
                sent_at[(i, k)] = time.perf_counter()
                if await post(i, body, run.post_ms):
                    run.sent += 1
                else:
                    sent_at.pop((i, k), None)
                    run.errors += 1
                await asyncio.sleep(random.uniform(1 - args.jitter, 1 + args.jitter) * args.interval)

        ws_bases = [server.screen_on(i).url.replace("http://", "ws://", 1) for i in range(n)]
        sockets = await asyncio.gather(*(websockets.connect(f"{ws_bases[i]}/wall/{s.wall_key}/live",
                                                            open_timeout=args.timeout)
                                         for i, (s, _) in enumerate(server.stations)))
        for ws in sockets:  # the snapshot every screen gets on connecting
            await asyncio.wait_for(ws.recv(), args.timeout)
        readers = [asyncio.create_task(screen(i, ws)) for i, ws in enumerate(sockets)]
        # A thousand stations' worth of connection objects would be walked by every full collection,
        # a pause in the middle of the measurements; they live to the end of the run anyway.
        gc.freeze()

        cpu0 = server.cpu_s()
        t_live = time.perf_counter()
        await asyncio.gather(*(station(i, t_live + args.duration) for i in range(n)))
        run.live_s = time.perf_counter() - t_live
        # Grace for the last pushes; a rep still unseen after this counts as lost.
        grace_until = time.perf_counter() + 2.0
        while sent_at and time.perf_counter() < grace_until:
            await asyncio.sleep(0.05)
        run.live_cpu_s = _delta(cpu0, server.cpu_s())

        # Flat out: every station posts back to back (new sessions, screens still open and pushed to).
        burst_session = [f"burst-{uuid.uuid4().hex[:12]}" for _ in range(n)]

        async def flood(i: int, stop_at: float) -> None:
            k = 0
            while time.perf_counter() < stop_at:
                k += 1
                if await post(i, _rep_batch(burst_session[i], k), run.burst_post_ms):
                    run.burst_events += 1
                else:
                    run.burst_errors += 1

        if args.burst > 0:
            cpu0 = server.cpu_s()
            t_burst = time.perf_counter()
            await asyncio.gather(*(flood(i, t_burst + args.burst) for i in range(n)))
            run.burst_s = time.perf_counter() - t_burst
            run.burst_cpu_s = _delta(cpu0, server.cpu_s())
        run.rss_mb = server.rss_mb()
        run.stored = server.stored_reps()
    finally:
        for task in readers:
            task.cancel()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        for link in links:
            link.close()
        server.stop()
    return run


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="matcoach bench-server",
                                description="Benchmark the MatCoach server with N simulated stations "
                                            "on loopback (a real server process per N).")
    p.add_argument("--stations", type=int, nargs="+", default=[1, 20, 100], metavar="N",
                   help="station counts to run, one fresh server each (default: 1 20 100)")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of live reps per N (default 20)")
    p.add_argument("--interval", type=float, default=4.5,
                   help="mean seconds between one station's reps (default 4.5: a member's rep every 3-6 s)")
    p.add_argument("--jitter", type=float, default=1 / 3,
                   help="each gap is interval × uniform(1-jitter, 1+jitter) (default 0.33)")
    p.add_argument("--burst", type=float, default=4.0,
                   help="seconds of flat-out posting per N, 0 to skip (default 4)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds (default 30)")
    p.add_argument("--seed", type=int, default=None, help="random seed for the stations' phases and gaps")
    p.add_argument("--db", metavar="URL", default=None,
                   help="postgresql://… : a PostgreSQL server to benchmark on (a fresh database is created "
                        "on it for each N and dropped after; the user needs CREATEDB); default: a fresh "
                        "SQLite file")
    p.add_argument("--servers", type=int, default=1, metavar="S",
                   help="server processes sharing the database (PostgreSQL only; default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if any(n < 1 or n > MAX_STATIONS for n in args.stations):
        p.error(f"--stations: each N is 1..{MAX_STATIONS}")
    if not 0 < args.duration <= MAX_DURATION_S or not 0 <= args.burst <= MAX_DURATION_S:
        p.error(f"--duration is in (0, {MAX_DURATION_S:g}] s and --burst in [0, {MAX_DURATION_S:g}] s")
    if not 0.1 <= args.interval <= 60 or not 0 <= args.jitter < 1 or args.timeout <= 0:
        p.error("--interval is 0.1..60 s, --jitter in [0, 1), --timeout positive")
    kind = "postgresql" if args.db else "sqlite"
    if args.db is not None and not args.db.startswith(("postgresql://", "postgres://")):
        p.error("--db is a postgresql:// URL (without it, each run has a fresh SQLite file)")
    if not 1 <= args.servers <= 16 or (args.servers > 1 and kind == "sqlite"):
        p.error("--servers is 1..16, and more than 1 only with --db postgresql://… (on SQLite the wall "
                "screens' live push stays in one process)")
    if args.seed is not None:
        random.seed(args.seed)
    # Each station holds a socket and its screen another, on both sides; the servers inherit the limit.
    allow_many_connections()
    target_stations = TARGET_STATIONS[kind]

    cpus = os.cpu_count()
    if kind == "sqlite":
        database = "fresh SQLite (WAL, synchronous=FULL)"
    else:
        from server.pg_store import redacted

        database = f"a fresh database on {redacted(args.db)}"
    header = [
        f"matcoach bench-server: {args.servers} real `matcoach server` process(es) per N on {HOST}, "
        f"{database}, Python {platform.python_version()}",
        f"NOTE: {cpus} CPU core(s) shared by the server(s), the database AND this benchmark client (N "
        f"stations + N wall sockets in one asyncio process); latencies include client-side scheduling",
        f"live: each station posts a single-rep batch every {args.interval:g} s ±{args.jitter:.0%} for "
        f"{args.duration:g} s; screen latency = just before POST → that rep as session.last_rep on the "
        f"station's wall socket; burst: back-to-back POSTs for {args.burst:g} s",
    ]
    if not args.json:
        print("\n".join(header), flush=True)

    def _terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM cleans up like Ctrl-C: the running server process is stopped and the temp dir removed.
    with contextlib.suppress(ValueError):  # not the main thread: leave the handler alone
        previous = signal.signal(signal.SIGTERM, _terminated)
    workdir = Path(tempfile.mkdtemp(prefix="matcoach-bench-"))
    results: list[dict] = []
    try:
        for n in args.stations:
            results.append(asyncio.run(_run(n, args, workdir)).summary())
            if not args.json:
                print(f"  … N={n} done", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; server stopped, temp files removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(ValueError, NameError):
            signal.signal(signal.SIGTERM, previous)

    base = results[0]
    for r in results:
        r["screen_p95_vs_base"] = _ratio(r["screen_p95_ms"], base["screen_p95_ms"])
        r["screen_p50_vs_base"] = _ratio(r["screen_p50_ms"], base["screen_p50_ms"])
        r["post_p95_vs_base"] = _ratio(r["post_p95_ms"], base["post_p95_ms"])
        r["burst_per_s_vs_base"] = _ratio(r["burst_events_per_s"], base["burst_events_per_s"])
    target = next((r for r in results if r["stations"] == target_stations), None)
    verdict: bool | None = None
    if target is not None:
        p95 = target["screen_p95_ms"]
        verdict = (p95 is not None and p95 < TARGET_P95_MS and target["lost"] == 0
                   and not target["post_errors"] and target["stored_minus_acked"] == 0)

    if args.json:
        print(json.dumps({
            "header": header, "cpus": cpus, "base_stations": base["stations"],
            "settings": {k: getattr(args, k) for k in ("duration", "interval", "jitter", "burst", "servers")}
            | {"database": kind},
            "runs": results,
            "target": {"stations": target_stations, "screen_p95_ms_under": TARGET_P95_MS, "pass": verdict},
        }, indent=2))
        return 0

    cols = [("stations", "N", 4, 0), ("reps_sent", "sent", 5, 0), ("reps_seen_on_screen", "seen", 5, 0),
            ("lost", "lost", 4, 0), ("stored_minus_acked", "dup", 3, 0), ("post_errors", "err", 3, 0),
            ("screen_p50_ms", "p50", 6, 1), ("screen_p95_ms", "p95", 6, 1),
            ("screen_p99_ms", "p99", 6, 1), ("screen_max_ms", "max", 6, 1),
            ("screen_p95_vs_base", "p95/b", 5, 2), ("post_p50_ms", "POST50", 6, 1),
            ("post_p95_ms", "POST95", 6, 1), ("live_ingest_per_s", "live/s", 6, 1),
            ("burst_events_per_s", "burst/s", 7, 1), ("burst_per_s_vs_base", "bst/b", 5, 2),
            ("burst_post_p95_ms", "bPOST95", 7, 1), ("burst_server_cpu_ms_per_event", "cpu/ev", 6, 2),
            ("burst_server_cpu_share", "srvCPU", 6, 2), ("server_rss_mb", "RSS MB", 6, 1)]
    print()
    print(f"latencies in ms; /b = ratio to the N={base['stations']} run; dup = reps in the database minus "
          f"reps acknowledged (0: each once); cpu/ev = server CPU ms per event in the burst (all server "
          f"processes, not the database); srvCPU = server CPU cores busy in the burst (of {cpus})")
    print(" ".join(f"{title:>{width}}" for _, title, width, _ in cols))
    for r in results:
        print(" ".join(f"{_fmt(r[key], digits):>{width}}" for key, _, width, digits in cols))
    if verdict is not None:
        t = target or {}
        print(f"target: screen p95 < {TARGET_P95_MS:g} ms at {target_stations} stations on {kind}, nothing "
              f"lost or doubled: {'PASS' if verdict else 'FAIL'} (p95 {_fmt(t.get('screen_p95_ms'))} ms, "
              f"lost {t.get('lost')}, dup {t.get('stored_minus_acked')}, errors {t.get('post_errors')}"
              + (f" {t.get('post_error_kinds')}" if t.get("post_error_kinds") else "") + ")")
    else:
        print(f"target: screen p95 < {TARGET_P95_MS:g} ms at {target_stations} stations on {kind}: not run "
              f"(add {target_stations} to --stations)")
    return 0
