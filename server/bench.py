"""Server benchmark: N simulated stations on loopback against the real `matcoach server` process.

For each N: a fresh SQLite file and server process, N stations each with its wall screen's WebSocket
open, each station posting a rep every few seconds (as a member would). Measured per rep: from just
before the POST to the moment that station's screen socket receives the snapshot showing it. Then a
flat-out phase (every station posting back to back) for ingest throughput. Results are printed as a
table with ratios against the 1-station run of the same invocation. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

TARGET_P95_MS = 100.0


@dataclass
class Run:
    stations: int
    sent: int = 0
    seen: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    burst_events: int = 0
    burst_s: float = 0.0
    burst_post_ms: list[float] = field(default_factory=list)
    rss_mb: float | None = None

    def pct(self, values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "stations": self.stations, "reps_sent": self.sent, "reps_seen_on_screen": self.seen,
            "lost": self.sent - self.seen,
            "screen_p50_ms": self.pct(lat, 50), "screen_p95_ms": self.pct(lat, 95),
            "screen_p99_ms": self.pct(lat, 99), "screen_max_ms": max(lat) if lat else None,
            "post_p50_ms": self.pct(self.post_ms, 50), "post_p95_ms": self.pct(self.post_ms, 95),
            "live_ingest_per_s": None,
            "burst_events_per_s": round(self.burst_events / self.burst_s, 1) if self.burst_s else None,
            "burst_post_p95_ms": self.pct(self.burst_post_ms, 95),
            "server_rss_mb": self.rss_mb,
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _rep(session: str, index: int) -> str:
    from matcoach.wire import RepEvent

    return RepEvent(id=uuid.uuid4().hex, at=time.time(), session_id=session, set_index=1,
                    rep_index=index, variant="double_leg", start_t=6.0 * index, end_t=6.0 * index + 5.0,
                    descent_s=3.6,
                    ascent_s=1.4, bottom_pause_s=0.3, top_angle_deg=85.0, bottom_angle_deg=20.0,
                    min_knee_angle_deg=168.0, faults=[], score=93, cue="Great rep",
                    end_range_deg=20.0).model_dump_json()


class Server:
    def __init__(self, workdir: Path, n: int) -> None:
        from server import admin
        from server.store import open_store

        self.db = workdir / f"bench-{n}.db"
        store = open_store(str(self.db))
        self.stations = [admin.add_station(store, f"Bench {i + 1}", time.time()) for i in range(n)]
        store.close()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / f"server-{n}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "matcoach", "server", "--db", str(self.db),
                                      "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self, client) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if (await client.get(self.url + "/api/v1/health")).status_code == 200:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("server did not come up in 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


async def _run(n: int, duration: float, interval: float, burst_s: float, workdir: Path) -> Run:
    import httpx
    import websockets

    run = Run(n)
    server = Server(workdir, n)
    # One HTTP client per station, as each station is its own machine (a shared pool of 100
    # connections would measure the client library's pool, not the server).
    clients = [httpx.AsyncClient(timeout=30) for _ in range(n)]
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await server.ready(client)
            sent_at: dict[tuple[int, int], float] = {}
            session = [uuid.uuid4().hex[:12] for _ in range(n)]

            async def screen(i: int, ws) -> None:
                async for message in ws:
                    now = time.perf_counter()
                    rep = (json.loads(message).get("session") or {}).get("last_rep") or {}
                    key = (i, rep.get("rep_index"))
                    if key in sent_at:
                        run.latencies_ms.append((now - sent_at.pop(key)) * 1000)
                        run.seen += 1

            async def station(i: int, token: str, stop_at: float) -> None:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                await asyncio.sleep(random.uniform(0, interval))  # stations are out of phase
                k = 0
                while time.perf_counter() < stop_at:
                    k += 1
                    body = '{"events": [' + _rep(session[i], k) + "]}"
                    t0 = time.perf_counter()
                    sent_at[(i, k)] = t0
                    r = await clients[i].post(server.url + "/api/v1/events", content=body, headers=headers)
                    run.post_ms.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                    run.sent += 1
                    await asyncio.sleep(random.uniform(0.5, 1.5) * interval)

            ws_base = server.url.replace("http", "ws")
            sockets = [await websockets.connect(f"{ws_base}/wall/{s.wall_key}/live")
                       for s, _ in server.stations]
            readers = [asyncio.create_task(screen(i, ws)) for i, ws in enumerate(sockets)]
            stop_at = time.perf_counter() + duration
            await asyncio.gather(*(station(i, tok, stop_at) for i, (_, tok) in enumerate(server.stations)))
            await asyncio.sleep(2.0)  # grace for the last pushes

            # Flat out: every station posts back to back, a new session so snapshots stay small.
            burst_session = [uuid.uuid4().hex[:12] for _ in range(n)]

            async def flood(i: int, token: str, stop_at: float) -> None:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                k = 0
                while time.perf_counter() < stop_at:
                    k += 1
                    t0 = time.perf_counter()
                    r = await clients[i].post(server.url + "/api/v1/events", headers=headers,
                                          content='{"events": [' + _rep(burst_session[i], k) + "]}")
                    run.burst_post_ms.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                    run.burst_events += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(flood(i, tok, t0 + burst_s) for i, (_, tok) in enumerate(server.stations)))
            run.burst_s = time.perf_counter() - t0
            run.rss_mb = _rss_mb(server.proc.pid)
            for task in readers:
                task.cancel()
            for ws in sockets:
                await ws.close()
    finally:
        for c in clients:
            await c.aclose()
        server.stop()
    return run


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="matcoach bench-server", description=__doc__.splitlines()[0])
    p.add_argument("--stations", type=int, nargs="+", default=[1, 20, 100])
    p.add_argument("--duration", type=float, default=20.0, help="seconds of live reps per N (default 20)")
    p.add_argument("--interval", type=float, default=4.0, help="mean seconds between a station's reps")
    p.add_argument("--burst", type=float, default=4.0, help="seconds of flat-out posting per N")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    if any(n < 1 or n > 500 for n in args.stations) or args.duration <= 0 or args.duration > 600:
        p.error("--stations 1..500 and --duration up to 600 s")

    workdir = Path(tempfile.mkdtemp(prefix="matcoach-bench-"))
    results = []
    try:
        for n in args.stations:
            run = asyncio.run(_run(n, args.duration, args.interval, args.burst, workdir))
            results.append(run.summary())
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for r in results:
        r["live_ingest_per_s"] = round(r["reps_sent"] / args.duration, 1)
    base = results[0]
    for r in results:
        b95, r95 = base["screen_p95_ms"], r["screen_p95_ms"]
        r["p95_vs_first"] = round(r95 / b95, 2) if b95 and r95 else None
    at_100 = next((r for r in results if r["stations"] == 100), None)
    verdict = None
    if at_100 is not None:
        p95 = at_100["screen_p95_ms"]
        verdict = p95 is not None and p95 < TARGET_P95_MS and not at_100["lost"]
    if args.json:
        print(json.dumps({"runs": results, "target_p95_ms_at_100": TARGET_P95_MS, "pass": verdict,
                          "cpus": os.cpu_count()}))
        return 0
    print(f"matcoach bench-server: real server process on loopback, SQLite synchronous=FULL, "
          f"{os.cpu_count()} CPUs shared by server and simulated stations")
    print(f"live: a rep every ~{args.interval:g} s per station for {args.duration:g} s; "
          f"latency = POST sent → snapshot with that rep on the station's wall socket")
    head = (f"{'stations':>8} {'reps':>6} {'lost':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'max ms':>7} {'p95/base':>8} {'POST p95':>8} {'live ev/s':>9} {'burst ev/s':>10} "
            f"{'burst p95':>9} {'RSS MB':>7}")
    print(head)
    for r in results:
        print(f"{r['stations']:>8} {r['reps_sent']:>6} {r['lost']:>4} {_fmt(r['screen_p50_ms']):>7} "
              f"{_fmt(r['screen_p95_ms']):>7} {_fmt(r['screen_p99_ms']):>7} {_fmt(r['screen_max_ms']):>7} "
              f"{_fmt(r['p95_vs_first'], 2):>8} {_fmt(r['post_p95_ms']):>8} "
              f"{_fmt(r['live_ingest_per_s']):>9} {_fmt(r['burst_events_per_s']):>10} "
              f"{_fmt(r['burst_post_p95_ms']):>9} {_fmt(r['server_rss_mb']):>7}")
    if verdict is not None:
        print(f"target p95 < {TARGET_P95_MS:g} ms at 100 stations, no rep lost: "
              f"{'PASS' if verdict else 'FAIL'}")
    return 0
