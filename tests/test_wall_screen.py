"""The wall screen in Debian's Chromium (driven by Playwright) against a real `matcoach server` process:
what a member on the mat sees before they start, as each rep lands, while they rest, and after the
server restarts under an open page. Assertions are on visible text, as a person would read it.
Screenshots of every mode in both orientations go to artifacts/screens/ (tests.browser.screenshot)."""

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

from tests.browser import screenshot
from tests.servers import LiveServer, Provisioned, mat_event, provision, rep_event, write_server_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

REST_AFTER_S = 3.0
LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
FAST_CUE = "Slower on the way down: count to four"
NAMES = ["Mat 1", "Mat 2", "Mat 3", "Mat <b>4</b> & co", "Mat 5", "Mat 6", "Bar 1"]
# The fonts the screen ships (server/static/fonts/, server/fonts/build.py): family → files.
SHIPPED_FONTS = {"Roboto": ["roboto-400.woff2", "roboto-700.woff2"],
                 "Roboto Condensed": ["roboto-condensed-700.woff2"]}
ALL_SHOWN = "e => e.scrollHeight <= e.clientHeight && e.scrollWidth <= e.clientWidth"


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


def all_shown(locator, timeout_ms: int = 1000) -> bool:
    """Whether the element shows all of its text, nothing cut off. The screen fits its free text when
    the text changes, when the window is resized and when its fonts load: give it a moment."""
    try:
        locator.page.wait_for_function(ALL_SHOWN, arg=locator.element_handle(), timeout=timeout_ms)
    except sync_api.TimeoutError:
        return False
    return True


def px(locator, prop: str = "fontSize") -> float:
    return float(locator.evaluate(f"e => parseFloat(getComputedStyle(e).{prop})"))


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
        assert all_shown(cue), "the cue is cut off"
        screenshot(page, "wall-set-arched-landscape")
        page.set_viewport_size(PORTRAIT)
        assert all_shown(cue), "the cue is cut off"
        screenshot(page, "wall-set-arched-portrait")
        page.set_viewport_size(LANDSCAPE)
        assert all_shown(cue), "the cue is cut off"
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


def test_the_screen_shows_the_fonts_it_ships_whatever_the_kiosk_has(gym, browser):
    """The text and the numbers are in the fonts served from /static/fonts/, loaded, not in whatever
    the kiosk's OS has (which differs from one kiosk to the next and once cut a cue off)."""
    server, stations = gym
    mat = stations["Mat 5"]
    for files in SHIPPED_FONTS.values():
        for name in files:
            r = httpx.get(f"{server.url}/static/fonts/{name}", timeout=10)
            assert r.status_code == 200, name
            assert r.headers["content-type"] == "font/woff2" and r.content[:4] == b"wOF2", name
    with wall(browser, server, mat) as page:
        post(server, mat, mat_event("lying", "m5"), rep_event("m5", 1, score=73, cue=FAST_CUE,
                                                              faults=["fast_descent"], descent_s=2.2))
        expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)
        page.evaluate("document.fonts.ready")
        faces = page.evaluate("""[...document.fonts].map(f => ({family: f.family.replace(/["']/g, ""),
                                                                weight: f.weight, status: f.status}))""")
        for family in SHIPPED_FONTS:
            assert any(f["family"] == family and f["status"] == "loaded" for f in faces), (family, faces)
            assert page.evaluate(f"document.fonts.check('700 1em \"{family}\"')"), family
        loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        for name in [n for files in SHIPPED_FONTS.values() for n in files]:
            assert f"{server.url}/static/fonts/{name}" in loaded, (name, loaded)
        first_family = "e => getComputedStyle(e).fontFamily.split(',')[0].replace(/[\"']/g, '').trim()"
        for selector, family in [("#latest-cue", "Roboto"), ("#station-name", "Roboto"),
                                 ("#latest-score", "Roboto Condensed"), ("#rep-count", "Roboto Condensed")]:
            assert page.locator(selector).evaluate(first_family) == family, selector


def test_every_character_of_the_screen_is_in_the_fonts_it_ships():
    """A glyph the subset lacks would come from the kiosk's own fonts, different on every kiosk:
    rebuild the fonts with it (server/fonts/build.py TEXT_RANGES) or draw it another way."""
    ttlib = pytest.importorskip("fontTools.ttLib", reason="fonttools is not installed (dev extra)")
    pytest.importorskip("brotli", reason="brotli is not installed (dev extra)")
    server_dir = Path(__file__).resolve().parent.parent / "server"
    used = {ch for f in ("templates/wall.html", "static/wall.js", "static/wall.css")
            for ch in (server_dir / f).read_text(encoding="utf-8") if ord(ch) > 0x7E}
    assert {"—", "°", "…", "·", "–"} <= used
    for name in [n for files in SHIPPED_FONTS.values() for n in files]:
        cmap = ttlib.TTFont(server_dir / "static" / "fonts" / name).getBestCmap()
        assert sorted(ch for ch in used | set("0123456789") if ord(ch) not in cmap) == [], name


def test_long_text_fits_and_a_floor_below_zero_reads_to_the_mat(gym, browser):
    server, stations = gym
    mat = stations["Mat 6"]
    long_cue = ("Press your lower back into the mat before you lower your legs: squish the grape, "
                "breathe out; stop where your back lifts")
    assert len(long_cue) == 120  # the longest cue the API takes
    with wall(browser, server, mat) as land, wall(browser, server, mat, PORTRAIT) as port:
        post(server, mat, mat_event("lying", "m6"),
             rep_event("m6", 1, score=88, cue="Great control, keep it up", descent_s=4.1, end_range_deg=-5.0))
        for page in (land, port):
            expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)
            expect(page.locator("#floor-label")).to_have_text("to the mat")
            expect(page.locator("#depth-value")).to_have_text("22°")

        # The longest cue with an arched back's numbers under it: smaller, but all of it, readable.
        post(server, mat, rep_event("m6", 2, score=41, cue=long_cue, faults=["back_arched"], descent_s=3.1,
                                    back_lift_cm=3.12, back_onset_deg=28.0, end_range_deg=-5.0))
        for page, name in ((land, "landscape"), (port, "portrait")):
            cue = page.locator("#latest-cue")
            expect(cue).to_have_text(long_cue, timeout=2000)
            assert all_shown(cue), f"the long cue is cut off ({name})"
            assert px(cue) >= 0.025 * 1080, f"the long cue is unreadably small ({name}): {px(cue)} px"
            expect(page.locator("#latest-back")).to_have_text("Back lifted 3.1 cm from legs at 28°")
            expect(page.locator("#floor-label")).to_have_text("to the mat")
            screenshot(page, f"wall-set-long-cue-{name}")
        # Turning a screen re-fits it.
        land.set_viewport_size(PORTRAIT)
        assert all_shown(land.locator("#latest-cue")), "the long cue is cut off after turning the screen"
        land.set_viewport_size(LANDSCAPE)
        assert all_shown(land.locator("#latest-cue")), "the long cue is cut off after turning it back"

        # The set is closed: the summary says "to the mat" too, in its box.
        post(server, mat, set_event("m6", 1, 2, 64.5, -5.0))
        for page, name in ((land, "landscape"), (port, "portrait")):
            expect(page.locator("#summary-title")).to_have_text("Set 1 done", timeout=2000)
            floor = page.locator("#summary-floor")
            expect(floor).to_have_text("to the mat")
            assert all_shown(floor), f"the summary's floor is cut off ({name})"
            box, cell = floor.bounding_box(), page.locator(".stat").nth(2).bounding_box()
            assert box and cell, name
            assert cell["x"] <= box["x"] and box["x"] + box["width"] <= cell["x"] + cell["width"], name
            screenshot(page, f"wall-rest-to-the-mat-{name}")
            assert not page.evaluate("document.scrollingElement.scrollHeight > innerHeight")


def test_at_the_bar_the_screen_speaks_of_hanging_raises_and_shows_their_height(gym, browser):
    server, stations = gym
    mat = stations["Bar 1"]
    with wall(browser, server, mat) as page:
        post(server, mat, mat_event("hanging", "b1"))
        ready = page.locator("#ready")
        expect(ready).to_contain_text("Hang still: no swinging", timeout=2000)
        expect(ready).not_to_contain_text("mat")
        post(server, mat, rep_event("b1", 1, score=65, variant="hanging",
                                    cue="Bring your legs up to hip height", faults=["short_top"],
                                    top_angle_deg=58.0, bottom_angle_deg=3.0, descent_s=0.9,
                                    end_range_deg=None))
        expect(page.locator("#rep-count")).to_have_text("1", timeout=2000)
        expect(page.locator("#latest-cue")).to_have_text("Bring your legs up to hip height")
        expect(page.locator("#depth-label")).to_have_text("Highest point")
        expect(page.locator("#depth-value")).to_have_text("58°")
        expect(page.locator("#tempo-note")).to_have_text("not scored for this move")
        expect(page.locator("#tiles li").nth(0)).to_contain_text("Too low")
        expect(page.locator("#latest-good")).to_have_text("no swing")
        screenshot(page, "wall-set-hanging-landscape")


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
