"""The wall screen in real headless Chromium against the real server process: what a member on the
mat sees when a rep is posted, when they rest, and after the server restarts."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser import chromium, screenshot
from tests.servers import LiveServer, mat_event, provision, rep_event, write_server_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def gym(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wall")
    db = tmp / "server.db"
    (mat,) = provision(db, ["Mat 1"])
    server = LiveServer(db, write_server_config(tmp / "server.toml", rest_after_s=3.0)).start()
    yield server, mat
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def post(server: LiveServer, token: str, *events: dict) -> None:
    r = httpx.post(server.url + "/api/v1/events", json={"events": list(events)},
                   headers={"Authorization": f"Bearer {token}"}, timeout=10)
    r.raise_for_status()


def test_a_member_sees_each_rep_then_rest_and_the_screen_survives_a_server_restart(gym, browser):
    from playwright.sync_api import expect

    server, mat = gym
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(server.url + mat.wall_path)
    expect(page.locator("#idle")).to_contain_text("Lie on your back, side-on to the camera")
    expect(page.locator("footer")).to_contain_text("Stop")
    screenshot(page, "wall-idle-landscape")

    post(server, mat.token, mat_event("lying", "m1"))
    expect(page.locator("#ready")).to_be_visible(timeout=3000)

    post(server, mat.token, rep_event("m1", 1, score=73, cue="Slower on the way down: count to four",
                                      faults=["fast_descent"], descent_s=2.2))
    expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)
    expect(page.locator("#latest-score")).to_have_text("73")
    expect(page.locator("#latest-cue")).to_have_text("Slower on the way down: count to four")
    expect(page.locator("#tempo-value")).to_have_text("2.2 s")

    post(server, mat.token, rep_event("m1", 2, score=94, cue="Good rep", faults=[], descent_s=4.3))
    expect(page.locator("#rep-count")).to_have_text("2", timeout=2000)
    expect(page.locator("#tiles li")).to_have_count(2)
    expect(page.locator("#latest-cue")).to_contain_text("Great rep")
    expect(page.locator("#floor-label")).to_contain_text("your floor 22°")
    screenshot(page, "wall-set-landscape")
    page.set_viewport_size({"width": 1080, "height": 1920})
    screenshot(page, "wall-set-portrait")

    # The member stops: after rest_after_s the screen shows the rest timer and the set summary.
    expect(page.locator("#rest")).to_be_visible(timeout=6000)
    expect(page.locator("#summary")).to_contain_text("Set 1: 2 reps · average 84")
    expect(page.locator("#rest-timer")).to_have_text(re.compile(r"0:0[3-9]"))
    screenshot(page, "wall-rest-portrait")
    page.set_viewport_size({"width": 1920, "height": 1080})
    screenshot(page, "wall-rest-landscape")

    # The server restarts while the page stays open: the screen says so, then carries on by itself.
    server.stop()
    expect(page.locator("#link")).to_be_visible(timeout=5000)
    server.start()
    post(server, mat.token, rep_event("m1", 3, set_index=2, score=88, cue="Good rep"))
    expect(page.locator("#link")).to_be_hidden(timeout=10000)
    expect(page.locator("#set-index")).to_have_text("2", timeout=5000)
    expect(page.locator("#rep-count")).to_have_text("1")
    expect(page.locator("#latest-score")).to_have_text("88")
    page.close()


def test_an_unknown_wall_screen_is_not_found(gym):
    server, _ = gym
    assert httpx.get(server.url + "/wall/nope").status_code == 404
