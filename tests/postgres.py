"""A throwaway PostgreSQL cluster for the tests: Debian's own binaries, `initdb` in a temp dir, the
server on a private loopback port (and a socket in that dir), run as an unprivileged user when the
tests run as root (PostgreSQL refuses root), fsync off because nothing in it has to outlive the run.

    python -m tests.postgres    # a cluster for trying things by hand: prints its URL, Ctrl-C ends it
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.servers import free_port

SUPERUSER = "matcoach"
# Who runs the cluster when the tests run as root: a user that owns nothing else.
UNPRIVILEGED = "nobody"


class PostgresMissing(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                          "run setup.sh, which installs Debian's postgresql, or apt-get install postgresql")


class Cluster:
    def __init__(self) -> None:
        self.bin = bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="matcoach-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as: dict = {}
        self._free: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _run(self, *args: str | Path, timeout: float = 60) -> None:
        out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                             cwd=self.root, **self._as)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({out.returncode}): {out.stderr or out.stdout}"
                               + (self.log.read_text()[-2000:] if self.log.exists() else ""))

    def start(self) -> Cluster:
        if not self.data.exists():
            self._run(self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop it the way an operator's restart does (connections cut), stay down a while, start."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database; its URL. Give it back with `recycle` when done."""
        import psycopg

        if self._free:
            return self._free.pop()
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def recycle(self, url: str) -> None:
        """Empty a database for the next test: far cheaper than making one (some 300 files each), and
        cheaper again to delete with the cluster."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        self._free.append(url)

    def dump(self, url: str) -> str:
        """The whole database as SQL text (pg_dump), to look for what must not be in it."""
        return subprocess.run([str(self.bin / "pg_dump"), "--dbname", url], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` cleans up like Ctrl-C
    cluster = Cluster().start()
    try:
        print(cluster.url(), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.remove()
