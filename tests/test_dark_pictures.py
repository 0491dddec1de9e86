"""Dark and changing pictures and the lower back's measurement (edge/analysis/back.py): black frames, fades
from and to black, a covered lens, the lights stepping or changing unevenly. The measurement pauses (no
profile, never a lift that is not there), never raises, and comes back by itself when the picture does: at
once when the room is the same, after learning it again when it is not.

On the drawn scene of tests/test_back.py (a trunk lying on a mat in front of a wall), with the real
BackMeter; `tests/test_dark_video.py` runs such pictures through `matcoach analyze` and a station."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest

from edge.analysis.back import RELEARN_S, BackMeter, BackProfile, flat_profile, rise_cm
from edge.analysis.config import BackConfig
from tests import test_back
from tests.test_back import TRUNK_PX, member

FPS = 30
PX_PER_CM = TRUNK_PX / (0.288 * 170)
ARCHED_CM = 1.2  # the default `back_arched_cm`: a reading at or over it would call a rep arched


@lru_cache(maxsize=8)
def scene(light: float = 1.0) -> np.ndarray:
    """The empty mat in a light (drawn once: the meter only reads its frames)."""
    img = test_back.scene(light)
    img.flags.writeable = False
    return img


@lru_cache(maxsize=8)
def body(light: float = 1.0, lift_px: int = 0) -> np.ndarray:
    """The member lying on the mat in a light, the lower back lifted by `lift_px`."""
    img = test_back.lying(test_back.scene(light), lift_px)
    img.flags.writeable = False
    return img


class Clock:
    """Frame times at FPS, running forward across the scenes of a test."""

    def __init__(self) -> None:
        self.i = 0

    def __call__(self) -> float:
        self.i += 1
        return self.i / FPS


def learnt(clock: Clock, light: float = 1.0) -> BackMeter:
    """A meter that has seen the mat empty for a second, learning every frame."""
    m = BackMeter(BackConfig(model_every=1))
    for _ in range(FPS):
        m.measure(clock(), scene(light), None, [])
    return m


def flat_back(m: BackMeter, clock: Clock, light: float = 1.0) -> BackProfile:
    base = flat_profile([m.measure(clock(), body(light), member(), []) for _ in range(10)])
    assert base is not None
    return base


def reads(m: BackMeter, clock: Clock, base: BackProfile, img: np.ndarray, frames: int = 5
          ) -> list[float | None]:
    """The lift read over `base` on `frames` frames of `img` with the member detected on it."""
    out = []
    for _ in range(frames):
        p = m.measure(clock(), img, member(), [])
        out.append(None if p is None else rise_cm(p, base))
    return out


def uniform(value: int | tuple[int, int, int]) -> np.ndarray:
    return np.full_like(scene(), value)


# Who the pose model and the tracker report while the picture is dark: nobody; nobody, with the tracker
# still holding the member's last keypoints (passed as someone else, never learnt as empty scene); or the
# member, still detected.
WHO = {"nobody": (None, []), "held": (None, [member()]), "member": (member(), [])}


@pytest.mark.parametrize("who", sorted(WHO))
def test_the_lights_going_off_after_the_room_was_learnt_pause_the_reading_and_it_resumes(who):
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)
    dark, others = WHO[who]
    for _ in range(3 * FPS):  # three seconds of black: longer than any wait for learning or relearning
        assert m.measure(clock(), uniform(0), dark, others) is None
    after = reads(m, clock, base, body())
    assert all(r is not None and abs(r) < 0.3 for r in after)
    assert m.scene.relearned == 0  # the same room came back: nothing to learn again
    lifted = reads(m, clock, base, body(1.0, round(3.0 * PX_PER_CM)))
    assert all(r == pytest.approx(3.0, abs=0.35) for r in lifted)


@pytest.mark.parametrize("cover", ["black", "dark grey", "grey", "white", "grey with sensor noise"])
def test_a_covered_lens_is_unread_and_never_learnt_as_the_room(cover):
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)
    rng = np.random.default_rng(3)
    for _ in range(3 * FPS):
        if cover == "grey with sensor noise":
            img = np.clip(rng.normal(128, 3, scene().shape), 0, 255).astype(np.uint8)
        else:
            img = uniform({"black": 0, "dark grey": 20, "grey": 128, "white": 255}[cover])
        # The member is still held (or even detected) while the lens is covered, and nobody after.
        assert m.measure(clock(), img, member(), []) is None
        assert m.measure(clock(), img, None, []) is None
    assert m.scene.relearned == 0
    after = reads(m, clock, base, body())
    assert all(r is not None and abs(r) < 0.3 for r in after)


def test_a_fade_to_black_and_back_while_lying_flat_never_reads_as_a_lift():
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)
    fade = [*np.linspace(1, 0, 2 * FPS), *np.zeros(FPS), *np.linspace(0, 1, 2 * FPS)]
    got = [reads(m, clock, base, body(k), frames=1)[0] for k in fade]
    assert all(r is None or abs(r) < ARCHED_CM / 2 for r in got), got
    assert all(r is None for r, k in zip(got, fade, strict=True) if k < 0.3)  # too dark: paused
    assert reads(m, clock, base, body())[-1] == pytest.approx(0, abs=0.3)


def title_card() -> np.ndarray:
    """A video's opening title: a few white lines of text on black."""
    img = uniform(0)
    for y in range(300, 420, 40):
        cv2.putText(img, "MATCOACH LEG LIFTS", (300, y), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 5)
    return img


@pytest.mark.parametrize("title", [False, True])
def test_a_video_that_fades_in_from_black_learns_the_room_in_its_light_not_in_the_dark(title):
    """(A title on black, then) black, then a fade in to the empty mat, then the member lies down: nothing
    raises, and the lift reads as on a meter that only ever saw the room lit. With the title, the first
    empty scene was the title's: the black after it is the lights going off."""
    clock = Clock()
    m = BackMeter(BackConfig(model_every=1))
    for _ in range(FPS if title else 0):
        assert m.measure(clock(), title_card(), None, []) is None
    for k in [*np.zeros(FPS), *np.linspace(0, 1, 2 * FPS), *np.ones(FPS)]:
        assert m.measure(clock(), scene(k), None, []) is None
    base = flat_back(m, clock)
    assert np.isfinite(base.top).all() and np.isfinite(base.under).all()
    assert all(abs(r) < 0.3 for r in reads(m, clock, base, body()))  # type: ignore[arg-type]
    lifted = reads(m, clock, base, body(1.0, round(3.0 * PX_PER_CM)))
    assert all(r == pytest.approx(3.0, abs=0.35) for r in lifted)


@pytest.mark.parametrize(("before", "after"), [(1.0, 0.25), (0.3, 1.0)])
def test_an_exposure_step_beyond_what_a_gain_follows_has_the_room_learnt_again(before, after):
    """The room's light steps far (lamps switched, the camera's exposure jumping): the member lying there
    is no longer read, never as arched, and once the mat is empty the room is learnt again in its new light
    and the next member is read in it."""
    clock = Clock()
    m = learnt(clock, before)
    base = flat_back(m, clock, before)
    stepped = reads(m, clock, base, body(after), frames=int(3 * RELEARN_S * FPS))
    assert all(r is None for r in stepped)
    for _ in range(2 * FPS):  # the member gets up and leaves; the mat is empty
        assert m.measure(clock(), scene(after), None, []) is None
    assert m.scene.relearned == 1
    base = flat_back(m, clock, after)
    assert all(abs(r) < 0.3 for r in reads(m, clock, base, body(after)))  # type: ignore[arg-type]
    lifted = reads(m, clock, base, body(after, round(3.0 * PX_PER_CM)))
    assert all(r == pytest.approx(3.0, abs=0.35) for r in lifted)


def test_exposure_steps_a_gain_follows_keep_reading_even_where_the_brightest_parts_saturate():
    """x2 turns the wall white (255 in every channel): the gain is read on what is not saturated, and the
    model's prediction saturates as the camera does, so the wall is not taken for body."""
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)
    for light in (0.6, 1.5, 2.0, 1.0):
        got = reads(m, clock, base, body(light))
        assert all(r is not None and abs(r) < 0.3 for r in got), (light, got)
    assert m.scene.relearned == 0


def test_light_that_changes_unevenly_is_not_followed_by_a_gain_and_the_room_is_learnt_again():
    """One bank of lamps goes off: the left half of the room darkens, the right half stays. No single gain
    predicts that room, so nothing is read in it until it has been learnt again."""
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)

    def half_lit(img: np.ndarray) -> np.ndarray:
        img = img.copy()
        img[:, : img.shape[1] // 2] = cv2.convertScaleAbs(img[:, : img.shape[1] // 2], alpha=0.35)
        return img

    assert all(r is None for r in reads(m, clock, base, half_lit(body()), frames=FPS))
    for _ in range(int((RELEARN_S + 1) * FPS)):
        m.measure(clock(), half_lit(scene()), None, [])
    assert m.scene.relearned == 1
    base = flat_profile([m.measure(clock(), half_lit(body()), member(), []) for _ in range(10)])
    assert base is not None
    assert all(r is not None and abs(r) < 0.3 for r in reads(m, clock, base, half_lit(body())))


def test_the_room_is_not_learnt_again_while_the_picture_is_only_dark():
    """Hours of a dark gym are no reason to forget the lit room: when the lights come back, so does the
    reading, at once."""
    clock = Clock()
    m = learnt(clock)
    base = flat_back(m, clock)
    for i in range(int(10 * RELEARN_S * FPS)):  # a few grey levels: a camera's noise in the dark
        held = [member()] if i < 5 * RELEARN_S * FPS else []  # the tracker holds the member, then lets go
        assert m.measure(clock(), uniform(3), None, held) is None
    assert reads(m, clock, base, body(), frames=1)[0] == pytest.approx(0, abs=0.3)
    assert m.scene.relearned == 0


def test_a_camera_that_comes_back_in_another_size_has_the_room_learnt_again():
    """The capture thread reopens a camera that went away; it may come back in another mode. Its frames
    are not compared with a model of the old ones (nor blended into it)."""
    clock = Clock()
    m = learnt(clock)
    flat_back(m, clock)
    other = cv2.resize(scene(), (960, 540), interpolation=cv2.INTER_AREA)
    for _ in range(FPS):
        assert m.measure(clock(), other, None, []) is None
    assert m.scene.relearned == 1
    assert m.scene.background is not None and m.scene.background.shape[:2] == (540, 960)
    for _ in range(FPS):  # and back in the first size, the mat empty: learnt again once more, then read
        assert m.measure(clock(), scene(), None, []) is None
    assert m.scene.relearned == 2
    base = flat_back(m, clock)
    assert reads(m, clock, base, body())[-1] == pytest.approx(0, abs=0.3)
