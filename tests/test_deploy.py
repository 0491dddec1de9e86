"""The deploy/ playbooks run for real, over SSH, against a gym of test hosts on this machine (a server and
three stations in two gyms, each its own sshd and root directory: tests/deploy_hosts.py), in order:
first-time set-up, a rerun, --check --diff, a release that fails its health check, an update over a
full outbox, a deploy during a member's set, a roll-back, and a run cut off halfway.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.deploy_hosts import REPO, SERVICE_USER, STAFF_PASSWORD, Fleet, Host, health
from tests.procs import all_gone
from tests.servers import wait_for


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """The wheels of everything a release needs, fetched once, so each host installs offline and fast."""
    builds = tmp_path_factory.mktemp("wheelhouse-build")
    out = subprocess.run([sys.executable, str(REPO / "deploy/build_release.py"), "--builds", str(builds)],
                         capture_output=True, text=True, check=True, timeout=300)
    release = Path(json.loads(out.stdout)["dir"])
    # Outside pytest's private tmp directory: the hosts' service account reads it.
    wheels = Path(f"/tmp/mcdeploy-wheels-{os.getpid()}")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels),
                    "--constraint", str(release / "constraints.txt"),
                    f"{next((release / 'dist').glob('*.whl'))}[edge,server]"], check=True, timeout=600)
    yield wheels
    shutil.rmtree(wheels, ignore_errors=True)


@pytest.fixture(scope="module")
def fleet(wheelhouse):
    fleet = Fleet(wheelhouse).start()
    yield fleet
    fleet.stop()
    fleet.remove()


def healthy_on(host: Host, release: str) -> bool:
    body = health(host.port)
    venv = str(host.base / "releases" / release / "venv")
    return bool(body) and body["prefix"] == venv and body["frames"] > 0


def release_of(fleet: Fleet, host: Host) -> str:
    return str(fleet.builds / host.current())


# --- first-time set-up and a good release -------------------------------------------------------------


def test_setup_registers_the_stations_and_a_good_release_goes_live_on_every_host(fleet):
    run = fleet.play("setup.yml")
    assert run.returncode == 0, run.output[-4000:]
    release = fleet.server.current()
    assert release and all(h.current() == release for h in fleet.hosts), [h.current() for h in fleet.hosts]
    assert all((h.base / "releases" / release / ".complete").exists() for h in fleet.hosts)
    for station in fleet.stations.values():
        assert wait_for(lambda s=station: healthy_on(s, release), timeout=10), health(station.port)
        assert health(station.port)["server_ok_s_ago"] is not None
    assert health(fleet.server.port, "/api/v1/health")["status"] == "ok"
    # One station went first, alone.
    canary = run.output.split("PLAY [Canary", 1)[1].split("PLAY [", 1)[0]
    assert "north-1" in canary and "north-2" not in canary and "gym-server" not in canary

    db = sqlite3.connect(fleet.server.root / "var/lib/matcoach/matcoach.db")
    assert sorted(r[0] for r in db.execute("SELECT name FROM stations")) == ["North mat 1", "North mat 2",
                                                                              "South mat 1"]
    db.close()
    service_uid = pwd.getpwnam(SERVICE_USER).pw_uid
    for name, station in fleet.stations.items():
        config = station.root / "etc/matcoach/station.toml"
        token = tomllib.loads(config.read_text())["station"]["token"]
        vault = (fleet.inventory / "host_vars" / name / "vault.yml").read_text()
        assert vault.startswith("$ANSIBLE_VAULT") and token not in vault and token not in run.output
        assert (config.stat().st_mode & 0o777, config.stat().st_uid) == (0o600, service_uid)
        kiosk = (station.root / "etc/systemd/user/matcoach-kiosk.service").read_text()
        wall = [w for w in kiosk.split() if "/wall/" in w]
        assert wall and wall[0].startswith(f"http://127.0.0.1:{fleet.server.port}/wall/")
    password = fleet.server.root / "etc/matcoach/staff-password"
    assert (password.stat().st_mode & 0o777, password.stat().st_uid) == (0o600, service_uid)
    assert STAFF_PASSWORD not in run.output


def test_a_second_run_with_nothing_new_changes_nothing(fleet):
    run = fleet.play("deploy.yml", "-e", f"matcoach_release_dir={release_of(fleet, fleet.server)}")
    assert run.returncode == 0, run.output[-4000:]
    recap = run.recap()
    assert set(recap) == {"gym-server", "north-1", "north-2", "south-1"}
    assert {host: counts["changed"] for host, counts in recap.items()} == dict.fromkeys(recap, 0)


def test_check_diff_shows_a_new_release_and_touches_nothing(fleet):
    before = {h.name: (h.current(), h.releases()) for h in fleet.hosts}
    new = fleet.release(2)
    run = fleet.play("deploy.yml", "--check", "--diff", "-e", f"matcoach_release_dir={new}")
    assert run.returncode == 0, run.output[-4000:]
    assert f"north-2: would switch from {before['north-2'][0]} to {Path(new).name} and restart" in run.output
    for station in fleet.stations.values():
        token = tomllib.loads((station.root / "etc/matcoach/station.toml").read_text())["station"]["token"]
        assert token not in run.output
    assert {h.name: (h.current(), h.releases()) for h in fleet.hosts} == before


# --- a bad release ------------------------------------------------------------------------------------


def test_a_release_failing_its_health_check_is_rolled_back_on_the_canary_and_reaches_no_other_host(fleet):
    good = fleet.server.current()
    models = fleet.dir / "broken-models"
    shutil.copytree(REPO / "models", models, ignore=shutil.ignore_patterns("footage", "classifier", "*.py"))
    with open(models / "rep-classifier.onnx", "r+b") as f:
        f.truncate(4096)  # a model file cut short: the station refuses to start on it
    bad = Path(fleet.build(models_dir=models)).name
    run = fleet.play("deploy.yml", "-e", f"matcoach_release_dir={fleet.builds / bad}")
    assert run.returncode != 0
    assert f"north-1: release {bad} did not come up healthy" in run.output
    assert f"switched back to {good}" in run.output
    canary = fleet.stations["north-1"]
    assert canary.current() == good and wait_for(lambda: healthy_on(canary, good), timeout=20)
    for host in fleet.hosts:
        if host is not canary:
            assert bad not in host.releases() and host.current() == good
    assert run.recap()["north-1"]["failed"] == 1
    assert "PLAY [Install the release on the other" not in run.output


# --- state outlives releases --------------------------------------------------------------------------


def test_events_queued_before_an_update_are_delivered_after_it_exactly_once(fleet):
    member, server = fleet.stations["north-2"], fleet.server
    outbox = member.root / "var/lib/matcoach/outbox.db"
    assert server.service("stop", "matcoach-server") == 0
    try:
        assert wait_for(lambda: (health(member.port) or {}).get("backlog", 0) >= 3, timeout=60)
    finally:
        assert member.service("stop", "matcoach-station") == 0
        assert server.service("start", "matcoach-server") == 0
    db = sqlite3.connect(outbox)
    queued = [r[0] for r in db.execute("SELECT event_id FROM outbox")]
    db.close()
    assert len(queued) >= 3

    new = fleet.release(2)
    run = fleet.play("deploy.yml", "--limit", "north-2", "-e", f"matcoach_release_dir={new}")
    assert run.returncode == 0, run.output[-4000:]
    assert member.current() == Path(new).name

    def delivered() -> int:
        db = sqlite3.connect(server.root / "var/lib/matcoach/matcoach.db")
        try:
            marks = ",".join("?" * len(queued))
            return db.execute(f"SELECT count(*) FROM events WHERE id IN ({marks})", queued).fetchone()[0]
        finally:
            db.close()

    assert wait_for(lambda: delivered() == len(queued), timeout=30), (delivered(), len(queued))
    db = sqlite3.connect(outbox)
    left = db.execute(f"SELECT count(*) FROM outbox WHERE event_id IN ({','.join('?' * len(queued))})",
                      queued).fetchone()[0]
    db.close()
    assert left == 0


# --- never in the middle of a set ---------------------------------------------------------------------


def test_a_deploy_during_a_members_set_restarts_the_station_only_once_the_mat_is_empty(fleet):
    member = fleet.stations["north-2"]
    # The set-up's release, still installed there: the run reaches the restart while the set goes on
    # (a release to install first would take about as long as the set).
    release = release_of(fleet, fleet.server)
    assert Path(release).name in member.releases() and Path(release).name != member.current()
    # Start just as the member lies down for their sets: they take longer than installing the release.
    assert wait_for(lambda: (health(member.port) or {}).get("mat") == "empty", timeout=60)
    assert wait_for(lambda: (health(member.port) or {}).get("mat") == "lying", timeout=60, every=0.05)
    deploy = fleet.spawn("deploy.yml", "--limit", "north-2", "-e", f"matcoach_release_dir={release}")
    timeline: list[dict | None] = []
    while deploy.poll() is None:
        timeline.append(health(member.port))
        time.sleep(0.1)
    output = deploy.stdout.read()
    assert deploy.returncode == 0, output[-4000:]
    new_prefix = str(member.base / "releases" / Path(release).name / "venv")
    restarted = next(i for i, body in enumerate(timeline) if body is None or body["prefix"] == new_prefix)
    assert timeline[0]["mat"] == "lying" and restarted > 0
    # The play says the station's own last look, a moment before the restart, found the mat empty. This
    # test asks less often, and on a busy machine its last answer can be the member stepping off.
    assert "north-2: someone was on the mat; waited" in output
    assert timeline[restarted - 1]["mat"] in ("empty", "on_mat"), "the station was restarted mid-set"
    assert wait_for(lambda: healthy_on(member, Path(release).name), timeout=20)


def test_rollback_puts_a_station_back_on_its_previous_release_and_waits_no_longer_than_told(fleet):
    member = fleet.stations["north-2"]
    previous = Path(os.readlink(member.base / "previous")).name
    assert previous != member.current()
    # Start as the member lies down, not at some moment of their sets: the play must reach the restart
    # while they are still on the mat, and on a loaded machine it can take 20 s of their 32 to get there.
    assert wait_for(lambda: (health(member.port) or {}).get("mat") == "empty", timeout=60)
    assert wait_for(lambda: (health(member.port) or {}).get("mat") == "lying", timeout=60, every=0.05)
    run = fleet.play("rollback.yml", "--limit", "north-2", "-e", "matcoach_mat_wait_s=2")
    assert run.returncode == 0, run.output[-4000:]
    # Still lying, or already sitting up: whoever is on the mat, the wait ends when told.
    assert re.search(r"north-2: the mat was still not empty after 2 s \((lying|on_mat)\); restarting anyway",
                     run.output), run.output[-4000:]
    assert member.current() == previous and wait_for(lambda: healthy_on(member, previous), timeout=20)


# --- a run cut off halfway ----------------------------------------------------------------------------


def test_an_interrupted_run_leaves_every_host_on_one_whole_release(fleet):
    canary = fleet.stations["north-1"]
    before = canary.current()
    new = fleet.release(3)
    name = Path(new).name
    deploy = fleet.spawn("deploy.yml", "--limit", "north-1", "-e", f"matcoach_release_dir={new}")
    # The operator's laptop goes away while the release is being installed.
    assert wait_for(lambda: (canary.base / "releases" / name / "venv/bin/python").exists(), timeout=120)
    deploy.send_signal(signal.SIGKILL)
    deploy.wait()
    deploy.stdout.close()
    installing = [pid for pid in _pids() if str(canary.base / "releases" / name) in _cmdline(pid)]
    assert all_gone(installing, within_s=120)
    assert canary.current() == before and (canary.base / "current/.complete").exists()
    assert not (canary.base / "releases" / name / ".complete").exists()
    assert healthy_on(canary, before)

    run = fleet.play("deploy.yml", "--limit", "north-1", "-e", f"matcoach_release_dir={new}")
    assert run.returncode == 0, run.output[-4000:]
    assert canary.current() == name and wait_for(lambda: healthy_on(canary, name), timeout=20)
    for host in fleet.hosts:
        assert len(host.releases()) <= 3, host.releases()
        for link in ("current", "previous"):
            if (host.base / link).is_symlink():
                assert (host.base / link / ".complete").exists()


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --- the units ----------------------------------------------------------------------------------------


def test_the_installed_units_pass_systemd_analyze_verify(fleet, tmp_path):
    station, server = fleet.stations["north-1"], fleet.server
    units = [station.root / "etc/systemd/system/matcoach-station.service",
             server.root / "etc/systemd/system/matcoach-server.service"]
    for unit in units:
        out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    out = subprocess.run(["systemd-analyze", "verify", "--user",
                          str(station.root / "etc/systemd/user/matcoach-kiosk.service")],
                         capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
