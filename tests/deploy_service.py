"""A stand-in for systemd on the deployment tests' SSH hosts, where systemd cannot run as PID 1.

`deploy_service.py --root DIR start|stop|restart|is-active UNIT` honours the contract the playbooks rely
on from `systemctl`: it reads the unit the role installed (DIR/etc/systemd/system/UNIT.service) and runs
its ExecStart as its User and Group (with SupplementaryGroups), detached, with a pidfile; for
`Type=notify` it passes NOTIFY_SOCKET and WATCHDOG_USEC and returns once the service says READY=1, or
fails if it exits first or TimeoutStartSec passes. `stop` sends SIGTERM and, after TimeoutStopSec,
SIGKILL. `is-active` prints active or inactive, exit status 0 or 3, as systemctl does. It does not
supervise (no Restart=, no watchdog). It lives under tests/ and never reaches a Pi.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import os
import pwd
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def read_unit(path: Path) -> dict[str, list[str]]:
    """The [Service] section's settings, each key with its values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    return float(value.removesuffix("s")) if value != "infinity" else 1e9


class Unit:
    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.file = root / "etc/systemd/system" / f"{name}.service"
        run = root / "run/deploy-service"
        run.mkdir(parents=True, exist_ok=True)
        self.pidfile = run / f"{name}.pid"
        self.log = root / "var/log" / f"{name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return pid if state != "Z" else None

    def start(self) -> int:
        if self.pid() is not None:
            return 0
        service = read_unit(self.file)
        first = lambda key, default=None: service.get(key, [default])[-1]  # noqa: E731
        user = first("User", "root")
        group = first("Group") or grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        extra = [g for value in service.get("SupplementaryGroups", []) for g in value.split()]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        for value in service.get("Environment", []):
            for assignment in shlex.split(value):
                key, _, val = assignment.partition("=")
                env[key] = val
        notify = first("Type") == "notify"
        sock = None
        if notify:
            address = self.pidfile.with_suffix(".notify")
            with contextlib.suppress(FileNotFoundError):
                address.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(address))
            os.chmod(address, 0o666)  # the service's user must reach it, as systemd's socket
            env["NOTIFY_SOCKET"] = str(address)
            env["WATCHDOG_USEC"] = str(int(_seconds(first("WatchdogSec"), 0) * 1e6))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(shlex.split(first("ExecStart")), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, cwd="/", user=user, group=group,
                                    extra_groups=extra or None, start_new_session=True)
        self.pidfile.write_text(f"{proc.pid}\n")
        if sock is None:
            return 0
        deadline = time.monotonic() + _seconds(first("TimeoutStartSec"), 90)
        try:
            sock.settimeout(0.2)
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    print(f"{self.name}: exited with {proc.returncode} before it was ready", file=sys.stderr)
                    return 1
                with contextlib.suppress(TimeoutError):
                    if b"READY=1" in sock.recv(4096).split(b"\n"):
                        return 0
            print(f"{self.name}: not ready within TimeoutStartSec", file=sys.stderr)
            self.stop()
            return 1
        finally:
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                Path(env["NOTIFY_SOCKET"]).unlink()

    def stop(self) -> int:
        pid = self.pid()
        if pid is None:
            return 0
        timeout = _seconds(read_unit(self.file).get("TimeoutStopSec", [None])[-1], 90)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while self.pid() is not None:
            time.sleep(0.05)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the test host's root directory")
    parser.add_argument("action", choices=["start", "stop", "restart", "is-active"])
    parser.add_argument("unit", help="unit name, with or without .service")
    args = parser.parse_args(argv)
    unit = Unit(args.root, args.unit.removesuffix(".service"))
    if args.action == "is-active":
        active = unit.pid() is not None
        print("active" if active else "inactive")
        return 0 if active else 3
    if args.action in ("stop", "restart"):
        unit.stop()
    return unit.start() if args.action != "stop" else 0


if __name__ == "__main__":
    sys.exit(main())
