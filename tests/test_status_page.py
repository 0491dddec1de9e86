"""The staff status page in real headless Chromium against the real server process (uvicorn, SQLite):
log in, watch stations report, see one go offline without reloading, rename it, issue and revoke
tokens. Screenshots go to artifacts/screens/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
import pytest

from tests.browser import chromium, screenshot
from tests.servers import STAFF_PASSWORD, STAFF_USER, LiveServer, heartbeat, provision, write_server_config

OFFLINE_AFTER_S = 2.0


@pytest.fixture
def gym(tmp_path):
    db = tmp_path / "server.db"
    mats = provision(db, ["Mat 1 — front", "Mat 2 — back room", "Mat 3 — studio"])
    config = write_server_config(tmp_path / "server.toml", offline_after_s=OFFLINE_AFTER_S)
    server = LiveServer(db, config).start()
    yield server, mats
    server.stop()


@contextmanager
def beating(url: str, token: str, **fields: object) -> Iterator[threading.Event]:
    """A station posting a heartbeat every 0.5 s until the event is set (or the block ends)."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=2) as client:
            while not stop.is_set():
                with suppress(httpx.HTTPError):
                    client.post("/api/v1/heartbeat", json=heartbeat(**fields))
                stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(5)


def beat_once(url: str, token: str) -> int:
    return httpx.post(url + "/api/v1/heartbeat", json=heartbeat(),
                      headers={"Authorization": f"Bearer {token}"}).status_code


def test_staff_watch_stations_go_offline_rename_them_and_replace_their_tokens(gym):
    from playwright.sync_api import expect

    server, (mat1, mat2, mat3) = gym
    healthy = {"fps": 14.8, "cpu_temp_c": 58.0, "load_1m": 1.35, "camera": "ok", "backlog": 0,
               "model_versions": {"pose": "yolo11n-pose-320-int8", "reps": "repclf-3"}}
    struggling = {"fps": 9.6, "cpu_temp_c": 81.0, "load_1m": 3.9, "camera": "reopening", "backlog": 3,
                  "last_error": "camera reopened after USB reset"}
    with beating(server.url, mat1.token, **healthy), \
            beating(server.url, mat2.token, **struggling) as mat2_beat, chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))

        # Not logged in: the page sends staff to the login form, which refuses a wrong password.
        page.goto(server.url + "/staff")
        expect(page).to_have_url(server.url + "/staff/login")
        page.get_by_label("Username").fill(STAFF_USER)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".error")).to_have_text("Wrong username or password.")
        screenshot(page, "status-login")
        page.get_by_label("Username").fill(STAFF_USER)
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(server.url + "/staff")

        row1 = page.locator(f'tr[data-station="{mat1.station_id}"]')
        row2 = page.locator(f'tr[data-station="{mat2.station_id}"]')
        row3 = page.locator(f'tr[data-station="{mat3.station_id}"]')
        expect(row2.locator('[data-field="online"]')).to_have_text("online", timeout=5000)
        expect(row1.locator('[data-field="online"]')).to_have_text("online")
        expect(row1.locator('[data-field="fps"]')).to_have_text("14.8")
        expect(row1.locator('[data-field="cpu_temp_c"]')).to_have_text("58")
        expect(row1.locator('[data-field="load_1m"]')).to_have_text("1.35")
        expect(row1.locator('[data-field="camera"]')).to_have_text("ok")
        expect(row1.locator('[data-field="versions"]')).to_contain_text("0.1.0")
        expect(row1.locator('[data-field="versions"]')).to_contain_text("pose yolo11n-pose-320-int8")
        expect(row1.locator('[data-field="backlog"]')).to_have_text("0")
        expect(row1.locator('[data-field="heartbeat_age_s"]')).to_have_text(re.compile(r"^\d s ago$"))
        expect(row2.locator('[data-field="camera"]')).to_have_text("reopening")
        expect(row2.locator('[data-field="backlog"]')).to_have_text("3")
        expect(row2.locator('[data-field="last_error"]')).to_have_text("camera reopened after USB reset")
        expect(row3.locator('[data-field="online"]')).to_have_text("offline")
        expect(row3.locator('[data-field="heartbeat_age_s"]')).to_have_text("never")
        expect(page.locator("#summary")).to_have_text("2 of 3 online")
        screenshot(page, "status-online")

        # Mat 2 loses power: its row turns offline in place, the page is never reloaded.
        page.evaluate("window.__sameDocument = true")
        mat2_beat.set()
        offline_within_ms = OFFLINE_AFTER_S * 1000 + 2000 + 3000  # + one poll of status.js + slack
        expect(row2.locator('[data-field="online"]')).to_have_text("offline", timeout=offline_within_ms)
        expect(row1.locator('[data-field="online"]')).to_have_text("online")
        expect(page.locator("#summary")).to_have_text("1 of 3 online")
        assert page.evaluate("window.__sameDocument") is True
        screenshot(page, "status-offline")

        # Rename through the station's manage panel.
        row2.get_by_text("Manage").click()
        row2.get_by_label("Name").fill("Mat 2 — by the window")
        screenshot(page, "status-manage")
        row2.get_by_role("button", name="Rename").click()
        expect(page).to_have_url(server.url + "/staff")
        expect(row2.locator('[data-field="name"]')).to_have_text("Mat 2 — by the window")

        # A new token is shown once and replaces the old one.
        row2.get_by_text("Manage").click()
        row2.get_by_role("button", name="New token").click()
        token = page.locator("#new-token").inner_text().strip()
        assert token.startswith("mcs_") and token != mat2.token
        expect(page.locator(".token h2")).to_contain_text("Mat 2 — by the window")
        screenshot(page, "status-token")
        assert beat_once(server.url, token) == 200
        assert beat_once(server.url, mat2.token) == 401
        page.get_by_role("link", name="Done").click()
        expect(page.locator("#new-token")).to_have_count(0)
        assert token not in page.content()

        # Revoking asks first; dismissing keeps the token, accepting revokes it.
        row3.get_by_text("Manage").click()
        page.once("dialog", lambda dialog: dialog.dismiss())
        row3.get_by_role("button", name="Revoke token").click()
        assert beat_once(server.url, mat3.token) == 200
        page.once("dialog", lambda dialog: dialog.accept())
        row3.get_by_role("button", name="Revoke token").click()
        expect(page).to_have_url(server.url + "/staff")
        assert beat_once(server.url, mat3.token) == 401
        row3.get_by_text("Manage").click()
        expect(row3.get_by_role("button", name="Revoke token")).to_have_count(0)
        assert script_errors == []
