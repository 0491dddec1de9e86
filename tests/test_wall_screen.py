"""The wall screen in Debian's Chromium (driven by Playwright) against a real `matcoach server` process:
what a member on the mat sees before they start, as each rep lands, while they rest, and after the
server restarts under an open page. Assertions are on visible text, as a person would read it.
Screenshots of every mode in both orientations go to artifacts/screens/."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import LiveServer, Provisioned, mat_event, provision, rep_event, write_server_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

SCREENS = Path(__file__).resolve().parent.parent / "artifacts" / "screens"
REST_AFTER_S = 3.0
LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
FAST_CUE = "Slower on the way down: count to four"
NAMES = ["Mat 1", "Mat 2", "Mat 3", "Mat <b>4</b> & co"]


@pytest.fixture(scope="module")
def gym(tmp_path_factory) -> Iterator[tuple[LiveServer, dict[str, Provisioned]]]:
    tmp = tmp_path_factory.mktemp("wall")
    db = tmp / "server.db"
    stations = dict(zip(NAMES, provision(db, NAMES), strict=True))
    server = LiveServer(db, write_server_config(tmp / "server.toml", rest_after_s=REST_AFTER_S)).start()
    yield server, stations
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@contextmanager
def wall(browser, server: LiveServer, mat: Provisioned, viewport: dict = LANDSCAPE):
    """A wall screen page, connected; on the way out, no script error may have happened."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and "wall screen" in m.text and errors.append(m.text))
    page.goto(server.url + mat.wall_path)
    expect(page.locator("#link")).to_be_hidden(timeout=5000)  # the live socket delivered the state
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def post(server: LiveServer, mat: Provisioned, *events: dict) -> None:
    r = httpx.post(server.url + "/api/v1/events", json={"events": list(events)},
                   headers={"Authorization": f"Bearer {mat.token}"}, timeout=10)
    assert r.status_code == 200, r.text


def hold_event(session_id: str, duration_s: float, flat_share: float | None = None) -> dict:
    return {"type": "hold", "id": uuid.uuid4().hex, "at": time.time(), "session_id": session_id,
            "variant": "hollow_hold", "duration_s": duration_s, "flat_share": flat_share}


def set_event(session_id: str, set_index: int, rep_count: int, mean_score: float,
              end_range_deg: float) -> dict:
    return {"type": "set", "id": uuid.uuid4().hex, "at": time.time(), "session_id": session_id,
            "set_index": set_index, "variant": "double_leg", "rep_count": rep_count, "mean_score": mean_score,
            "end_range_deg": end_range_deg}


def screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def visible_panel(page):
    return page.locator("main > .panel:visible")


def test_the_idle_screen_says_how_to_set_up_and_loads_nothing_from_outside(gym, browser):
    server, stations = gym
    with wall(browser, server, stations["Mat 1"]) as page:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.reload()
        expect(page.locator("#link")).to_be_hidden(timeout=5000)
        idle = page.locator("#idle")
        expect(idle).to_be_visible()
        expect(idle).to_contain_text("Lie on your back, side-on to the camera.")
        expect(idle).to_contain_text("Press your lower back into the mat (squish the grape).")
        expect(idle).to_contain_text("Then lift.")
        expect(page.locator("footer")).to_have_text(
            re.compile(r"Pain or popping in your hip or back\? Stop — the camera can't feel it\."))
        expect(page.locator("header")).to_contain_text("Mat 1")
        assert page.locator("img, video, canvas, iframe").count() == 0
        assert requests and all(u.startswith((server.url, server.url.replace("http", "ws", 1)))
                                for u in requests), requests
        screenshot(page, "wall-idle-landscape")
        page.set_viewport_size(PORTRAIT)
        screenshot(page, "wall-idle-portrait")
        assert not page.evaluate("document.scrollingElement.scrollHeight > innerHeight")


def test_each_rep_appears_with_its_score_and_cue_within_a_moment(gym, browser):
    server, stations = gym
    mat = stations["Mat 1"]
    with wall(browser, server, mat) as page:
        post(server, mat, mat_event("on_mat", "m1"))
        ready = page.locator("#ready")
        expect(ready).to_contain_text("Lie on your back, side-on to the camera", timeout=2000)
        post(server, mat, mat_event("lying", "m1"))
        expect(ready).to_contain_text("Press your lower back into the mat", timeout=2000)
        screenshot(page, "wall-ready-landscape")
        page.set_viewport_size(PORTRAIT)
        screenshot(page, "wall-ready-portrait")
        page.set_viewport_size(LANDSCAPE)

        post(server, mat, rep_event("m1", 1, score=73, cue=FAST_CUE, faults=["fast_descent"], descent_s=2.2))
        expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)
        expect(page.locator("#latest-score")).to_have_text("73")
        expect(page.locator("#latest-cue")).to_have_text(FAST_CUE)
        expect(page.locator("#tempo-value")).to_have_text("2.2 s")
        expect(page.locator("#floor-label")).to_have_text("your floor 22°")
        expect(page.locator("#tiles li")).to_have_count(1)

        post(server, mat, rep_event("m1", 2, score=91, cue="Great control, keep it up", descent_s=4.2))
        expect(page.locator("#rep-count")).to_have_text("2", timeout=2000)
        expect(page.locator("#latest-score")).to_have_text("91")
        expect(page.locator("#latest-cue")).to_have_text("Great rep — slow and controlled")
        expect(page.locator("#tiles li")).to_have_count(2)
        expect(page.locator("#tiles li").nth(0)).to_contain_text("73")
        expect(page.locator("#tiles li").nth(0)).to_contain_text("Too fast")
        expect(page.locator("#tiles li").nth(1)).to_contain_text("91")
        expect(page.locator("#latest-back")).to_be_hidden()

        # An arched back: how far it lifted and from which leg angle, so the member knows where to stop.
        arched_cue = "Press your lower back into the mat: squish the grape"
        post(server, mat, rep_event("m1", 3, score=48, cue=arched_cue, faults=["back_arched"],
                                    back_lift_cm=2.43, back_onset_deg=31.4))
        expect(page.locator("#rep-count")).to_have_text("3", timeout=2000)
        expect(page.locator("#latest-back")).to_have_text("Back lifted 2.4 cm from legs at 31°")
        cue = page.locator("#latest-cue")
        screenshot(page, "wall-set-arched-landscape")
        assert cue.evaluate("e => e.scrollHeight <= e.clientHeight"), "the cue is cut off"
        page.set_viewport_size(PORTRAIT)
        screenshot(page, "wall-set-arched-portrait")
        assert cue.evaluate("e => e.scrollHeight <= e.clientHeight"), "the cue is cut off"
        page.set_viewport_size(LANDSCAPE)
        # A lift under the fault's threshold is not shown as a fault.
        post(server, mat, rep_event("m1", 4, score=90, cue="Great control", back_lift_cm=0.4))
        expect(page.locator("#rep-count")).to_have_text("4", timeout=2000)
        expect(page.locator("#latest-back")).to_be_hidden()


def test_a_full_set_then_rest_with_a_running_timer_and_the_set_summary(gym, browser):
    """Also the gallery: a realistic set of twelve in both orientations, then the rest screen."""
    server, stations = gym
    mat = stations["Mat 2"]
    plan = [  # score, faults, descent, bottom angle, end range so far
        (88, [], 4.1, 34, 34), (92, [], 4.3, 30, 30), (64, ["fast_descent"], 2.6, 27, 27),
        (95, [], 4.4, 26, 26), (90, [], 4.0, 24, 24), (41, ["back_arched"], 3.6, 15, 24),
        (86, [], 4.2, 24, 24), (93, [], 4.5, 23, 23), (70, ["momentum"], 3.9, 23, 23),
        (89, [], 4.1, 22, 22), (58, ["fast_descent", "knees_bent"], 2.4, 25, 22), (100, [], 4.6, 22, 22)]
    cues = {"fast_descent": FAST_CUE, "back_arched": "Press your lower back into the mat: squish the grape",
            "momentum": "No swinging: lift with your abs, not momentum"}
    reps = [rep_event("m2", i, score=s, faults=f, descent_s=d, bottom_angle_deg=b, end_range_deg=e,
                      cue=cues[f[0]] if f else "Great control, keep it up")
            for i, (s, f, d, b, e) in enumerate(plan, start=1)]
    with wall(browser, server, mat) as land, wall(browser, server, mat, PORTRAIT) as port:
        post(server, mat, mat_event("lying", "m2"), hold_event("m2", 21.6, 0.92), *reps)
        for page in (land, port):
            expect(page.locator("#rep-count")).to_have_text("12", timeout=2000)
        screenshot(land, "wall-set-landscape")
        screenshot(port, "wall-set-portrait")
        for page in (land, port):
            expect(page.locator("#latest-score")).to_have_text("100")
            expect(page.locator("#tiles li")).to_have_count(12)
            expect(page.locator("#floor-label")).to_have_text("your floor 22°")

        # The member stops: rest_after_s later the screen is the rest timer and the set summary.
        for page in (land, port):
            expect(page.locator("#rest")).to_be_visible(timeout=REST_AFTER_S * 1000 + 3000)
            expect(page.locator("#summary-title")).to_have_text("Set 1")
        # ...and the station closes the set.
        post(server, mat, set_event("m2", 1, 12, 80.5, 22.0))
        for page in (land, port):
            expect(page.locator("#summary-title")).to_have_text("Set 1 done", timeout=2000)
            expect(page.locator("#summary-reps")).to_have_text("12")
            expect(page.locator("#summary-mean")).to_have_text("81")  # 80.5, rounded half up
            expect(page.locator("#summary-floor")).to_have_text("22°")
            expect(page.locator("#summary-hold")).to_have_text("Hollow hold: 22 s · back flat 92% of it")
            expect(page.locator("#summary")).to_contain_text("2–3 sets of 10–15 quality reps")
            expect(page.locator("#rest-timer")).to_have_text(re.compile(r"^00:0[3-9]$"))
        timer = land.locator("#rest-timer").inner_text()
        expect(land.locator("#rest-timer")).not_to_have_text(timer, timeout=2500)  # it runs
        screenshot(land, "wall-rest-landscape")
        screenshot(port, "wall-rest-portrait")
        for page in (land, port):
            assert not page.evaluate("document.scrollingElement.scrollHeight > innerHeight")


def test_text_from_the_server_is_shown_as_text_never_as_markup(gym, browser):
    server, stations = gym
    mat = stations["Mat <b>4</b> & co"]
    hostile = "<img src=x onerror=alert(1)> lift!"
    with wall(browser, server, mat) as page:
        expect(page.locator("#station-name")).to_have_text("Mat <b>4</b> & co")
        post(server, mat, mat_event("lying", "m4"), rep_event("m4", 1, score=40, cue=hostile))
        expect(page.locator("#latest-cue")).to_have_text(hostile, timeout=2000)
        expect(page.locator("#tiles li")).to_contain_text(hostile)
        assert page.locator("img, #station-name *").count() == 0


def test_the_screen_carries_on_by_itself_after_the_server_restarts(gym, browser):
    server, stations = gym
    mat = stations["Mat 3"]
    with wall(browser, server, mat) as page:
        post(server, mat, mat_event("lying", "m3"),
             rep_event("m3", 1, score=68, cue=FAST_CUE, faults=["fast_descent"], descent_s=2.6))
        expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)

        server.stop()
        expect(page.locator("#link")).to_have_text("reconnecting…", timeout=5000)
        expect(visible_panel(page)).to_have_count(1)  # the last state stays up, never a blank screen
        screenshot(page, "wall-reconnecting-landscape")
        server.start()
        # A rep while the screen is still reconnecting: the first snapshot after it is back has it.
        post(server, mat, rep_event("m3", 2, score=77, cue=FAST_CUE, faults=["fast_descent"], descent_s=2.9))
        expect(page.locator("#link")).to_be_hidden(timeout=15000)
        post(server, mat, rep_event("m3", 3, score=95, cue="Great control, keep it up"))
        expect(page.locator("#rep-count")).to_have_text("3", timeout=2000)
        expect(page.locator("#latest-score")).to_have_text("95")
        expect(page.locator("#tiles li")).to_have_count(3)
        expect(page.locator("#tiles li").nth(1)).to_contain_text("77")
