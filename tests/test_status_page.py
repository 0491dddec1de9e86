"""The staff status page in real headless Chromium against the real server process: log in, watch a
station go online and offline, rename it, issue it a new token."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.browser import chromium, screenshot
from tests.servers import STAFF_PASSWORD, STAFF_USER, LiveServer, heartbeat, provision, write_server_config


@pytest.fixture
def gym(tmp_path):
    db = tmp_path / "server.db"
    mats = provision(db, ["Mat 1", "Mat 2"])
    server = LiveServer(db, write_server_config(tmp_path / "server.toml", offline_after_s=2.0)).start()
    yield server, mats
    server.stop()


def beat_until(stop: threading.Event, url: str, token: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        while not stop.is_set():
            client.post("/api/v1/heartbeat", json=heartbeat(fps=14.8, cpu_temp_c=61.5, backlog=3,
                                                            last_error="camera reopened"))
            stop.wait(0.5)


def test_staff_see_a_station_go_offline_when_its_heartbeats_stop(gym):
    from playwright.sync_api import expect

    server, (mat1, _) = gym
    stop = threading.Event()
    beating = threading.Thread(target=beat_until, args=(stop, server.url, mat1.token), daemon=True)
    beating.start()
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(server.url + "/staff")
            expect(page).to_have_url(server.url + "/staff/login")
            page.fill("input[name=username]", STAFF_USER)
            page.fill("input[name=password]", "wrong password")
            page.click("button[type=submit]")
            expect(page.locator(".error")).to_have_text("Wrong username or password.")
            page.fill("input[name=username]", STAFF_USER)
            page.fill("input[name=password]", STAFF_PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(server.url + "/staff")

            row = page.locator(f'tr[data-station="{mat1.station_id}"]')
            expect(row.locator('[data-field="online"]')).to_have_text("online", timeout=5000)
            expect(row.locator('[data-field="fps"]')).to_have_text("14.8")
            expect(row.locator('[data-field="cpu_temp_c"]')).to_have_text("62")
            expect(row.locator('[data-field="camera"]')).to_have_text("ok")
            expect(row.locator('[data-field="backlog"]')).to_have_text("3")
            expect(row.locator('[data-field="last_error"]')).to_have_text("camera reopened")
            expect(row.locator('[data-field="versions"]')).to_contain_text("yolo11n-pose-320-int8")
            screenshot(page, "status-online")

            stop.set()  # the station loses power
            expect(row.locator('[data-field="online"]')).to_have_text("offline", timeout=8000)
            screenshot(page, "status-offline")

            row.locator('input[name="name"]').fill("Mat 1 (by the window)")
            row.get_by_role("button", name="Rename").click()
            expect(page.locator(f'tr[data-station="{mat1.station_id}"] [data-field="name"]')).to_have_text(
                "Mat 1 (by the window)")

            renamed = page.locator(f'tr[data-station="{mat1.station_id}"]')
            renamed.get_by_role("button", name="New token").click()
            token = page.locator("#new-token").inner_text()
            assert token.startswith("mcs_") and token != mat1.token
    finally:
        stop.set()
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(server.url + "/api/v1/heartbeat", json=heartbeat(), headers=auth).status_code == 200
    old = {"Authorization": f"Bearer {mat1.token}"}
    assert httpx.post(server.url + "/api/v1/heartbeat", json=heartbeat(), headers=old).status_code == 401
