"""`matcoach server` and its admin subcommands, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from server.auth import verify_password
from server.store import open_store
from tests.servers import (
    STAFF_PASSWORD,
    STAFF_USER,
    TEST_PASSWORD_COST,
    LiveServer,
    heartbeat,
    provision,
    write_server_config,
)


def matcoach(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matcoach", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_add_station_prints_a_token_that_a_running_server_accepts(tmp_path, database):
    out = matcoach("server", "add-station", "Mat 4", "--db", database)
    assert out.returncode == 0, out.stderr
    fields = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert fields["wall"].startswith("screen /wall/")
    server = LiveServer(database, write_server_config(tmp_path / "server.toml"), log=tmp_path / "server.log")
    server.start()
    try:
        r = httpx.post(server.url + "/api/v1/heartbeat", json=heartbeat(),
                       headers={"Authorization": f"Bearer {fields['token']}"})
        assert r.status_code == 200 and r.json()["name"] == "Mat 4"
    finally:
        server.stop()


def test_add_staff_reads_the_password_from_stdin_and_stores_only_a_slow_hash(database):
    out = matcoach("server", "add-staff", "sam", "--db", database, stdin="a long enough secret\n")
    assert out.returncode == 0, out.stderr
    store = open_store(database)
    stored = store.staff_password_hash("sam")
    store.close()
    assert stored.startswith("scrypt$") and "a long enough secret" not in stored
    assert verify_password("a long enough secret", stored) and not verify_password("wrong", stored)


def test_a_short_password_is_refused_with_one_line(tmp_path):
    out = matcoach("server", "add-staff", "sam", "--db", str(tmp_path / "gym.db"), stdin="short\n")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "at least 10 characters" in out.stderr


def test_bad_server_settings_are_one_line_errors(tmp_path):
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[server]\nofline_after_s = 3\n")
    for args in (["server", "--config", str(unknown)],
                 ["server", "--db", "mysql://db.example/matcoach"],
                 ["server", "--db", "postgresql://matcoach:secret@127.0.0.1:1/matcoach"],  # nothing there
                 ["server", "--db", str(tmp_path)]):
        out = matcoach(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("matcoach: error:") and "Traceback" not in out.stderr
    assert "ofline_after_s" in matcoach("server", "--config", str(unknown)).stderr
    unreachable = matcoach("server", "--db", "postgresql://matcoach:secret@127.0.0.1:1/matcoach").stderr
    assert "cannot open the database postgresql://matcoach:***@127.0.0.1:1/matcoach" in unreachable
    assert "secret" not in unreachable and unreachable.strip().count("\n") == 0
    proxies = tmp_path / "proxies.toml"
    proxies.write_text('[server]\ntrusted_proxies = ["10.0.0.1", "proxy.local"]\n')
    out = matcoach("server", "--config", str(proxies))
    assert out.returncode == 2 and "trusted_proxies" in out.stderr and "'proxy.local'" in out.stderr


@pytest.mark.parametrize("trusted", [True, False], ids=["behind-a-trusted-proxy", "headers-from-anyone"])
def test_the_login_throttle_counts_the_forwarded_client_only_behind_a_trusted_proxy(tmp_path, trusted):
    db = tmp_path / "gym.db"
    provision(db, ["Mat 1"])
    settings: dict[str, object] = {"login_attempts": 2, "password_cost": TEST_PASSWORD_COST}
    if trusted:
        settings["trusted_proxies"] = ["127.0.0.0/8"]  # the tests' proxy: this machine
    server = LiveServer(db, write_server_config(tmp_path / "server.toml", **settings)).start()

    def log_in(client: str, user: str, password: str = "a guess") -> int:
        return httpx.post(server.url + "/staff/login", data={"username": user, "password": password},
                          headers={"X-Forwarded-For": client}).status_code

    try:
        # Someone guesses at one account, then another, from one address.
        assert [log_in("203.0.113.9", "owner"), log_in("203.0.113.9", "owner")] == [401, 401]
        assert log_in("203.0.113.9", "manager") == 429  # stopped by address, whatever the name
        # A coach at the front desk logs in through the same proxy.
        coach = log_in("198.51.100.4", STAFF_USER, STAFF_PASSWORD)
        # Trusted, the proxy's header tells them apart; otherwise the header is anybody's to forge, so
        # every request is the connection's address, the guesser's included.
        assert coach == (303 if trusted else 429)
    finally:
        server.stop()
