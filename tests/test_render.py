"""The rendering test bench (tests/sim/render.py): deterministic frames, an empty mat in the lead-in, a
lumbar gap that really shows under an arched back and not under a flat one, and the arch truth."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from edge.people import KP
from tests.sim import RenderedSession, render_session, sample_look
from tests.sim.render_arch import FLAT_CM

SEED = 1  # starts with double-leg reps, the member's head on the image left
HOLD_SEED = 3  # has a hollow hold
HIPS = [KP["left_hip"], KP["right_hip"]]
SHOULDERS = [KP["left_shoulder"], KP["right_shoulder"]]
# Stations along the trunk as shares of hip → shoulder (0.288 H): buttocks on the mat, lumbar apex, belly.
BUTTOCKS, APEX, BELLY = 0.02 / 0.288, 0.095 / 0.288, 0.086 / 0.288


@cache
def low_chest(arch_share: float) -> RenderedSession:
    """Hands on the chest and a low lens: the view under the lower back is open."""
    look = dataclasses.replace(sample_look(SEED), arms="chest", lens_height_m=0.12)
    return render_session(SEED, look=look, arch_share=arch_share)


def _frame_at(rs: RenderedSession, t: float) -> int:
    return int(np.argmin(np.abs(rs.times - t)))


def _member_mask(rs: RenderedSession, i: int) -> np.ndarray:
    # Same light and noise without the people: every pixel that differs is the member's.
    return np.any(rs.frame(i) != rs.frame(i, member=False, bystanders=False), axis=2)


def _column(rs: RenderedSession, i: int, share: float) -> int:
    """Image column of a station along the trunk, from the noise-free hip and shoulder keypoints."""
    kp = rs.sim.truth.member_keypoints[i]
    hip, shoulder = kp[HIPS].mean(0), kp[SHOULDERS].mean(0)
    return round(hip[0] + share * (shoulder[0] - hip[0]))


def _floor_y(rs: RenderedSession, x: float) -> float:
    (x0, y0), (x1, y1) = rs.floor_line
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _gap_px(rs: RenderedSession, i: int, mask: np.ndarray, share: float) -> float:
    """Rows between the floor line and the lowest member pixel in the column of a trunk station."""
    x = _column(rs, i, share)
    floor = _floor_y(rs, x)
    return floor - float(np.flatnonzero(mask[:int(floor), x]).max())


def _first_straight_rep_bottom(rs: RenderedSession) -> tuple[int, int]:
    k = next(k for k, r in enumerate(rs.reps) if r.variant in ("double_leg", "single_leg"))
    return k, _frame_at(rs, rs.reps[k].bottom_t)


def test_frames_are_deterministic_per_seed_and_index() -> None:
    a, b = render_session(2, width=640, height=360), render_session(2, width=640, height=360)
    picks = (0, len(a) // 3, len(a) // 2)
    for i in picks:
        img = a.frame(i)
        assert img.shape == (360, 640, 3) and img.dtype == np.uint8
        assert np.array_equal(img, b.frame(i))
        assert np.array_equal(img, a.frame(i))
    assert not np.array_equal(a.frame(picks[1]), a.frame(picks[1] + 1))


def test_lead_in_shows_the_empty_mat() -> None:
    rs = render_session(HOLD_SEED)
    assert rs.sim.spec.lead_in_s > 1.0
    assert rs.lead_in_frames >= int(np.sum(rs.times < rs.sim.spec.lead_in_s))
    # Even when told the member is in view, nothing of them reaches the image before they walk in.
    forced = dataclasses.replace(rs, _member_in_view=np.ones(len(rs), dtype=bool))
    for i in range(0, rs.lead_in_frames, 7):
        assert np.array_equal(forced.frame(i, bystanders=False), rs.frame(i, member=False, bystanders=False))
    first = rs.lead_in_frames
    assert not np.array_equal(forced.frame(first + 10, bystanders=False),
                              rs.frame(first + 10, member=False, bystanders=False))


def test_the_background_shows_under_an_arched_lower_back_not_under_a_flat_one() -> None:
    arched, flat = low_chest(1.0), low_chest(0.0)
    k, i = _first_straight_rep_bottom(arched)
    rep = arched.reps[k]
    assert rep.onset_deg is not None and flat.reps[k].onset_deg is None
    assert rep.lift_cm >= 2.0 and abs(arched.lift_cm(i) - rep.lift_cm) < 0.2 * rep.lift_cm

    mask_a, mask_f = _member_mask(arched, i), _member_mask(flat, i)
    apex_a, contact_a = _gap_px(arched, i, mask_a, APEX), _gap_px(arched, i, mask_a, BUTTOCKS)
    apex_f, contact_f = _gap_px(flat, i, mask_f, APEX), _gap_px(flat, i, mask_f, BUTTOCKS)
    lift_px = rep.lift_cm * arched.px_per_cm_at_body
    assert apex_a - contact_a >= 0.6 * lift_px
    assert abs(apex_f - contact_f) <= 2.5 + FLAT_CM * flat.px_per_cm_at_body
    # Rows that show the scene behind through the arch are covered by the body when the back is flat.
    x = _column(arched, i, APEX)
    floor = _floor_y(arched, x)
    rows = np.arange(round(floor - apex_a) + 2, round(floor - max(contact_a, contact_f)) - 2)
    assert rows.size >= 4
    assert not mask_a[rows, x].any()
    assert mask_f[rows, x].mean() > 0.9


def test_lift_is_zero_above_onset_and_largest_at_the_bottom() -> None:
    rs = low_chest(1.0)
    arched = [r for r in rs.reps if r.onset_deg is not None]
    assert arched
    for rep in arched:
        idx = np.flatnonzero((rs.times >= rep.start_t) & (rs.times <= rep.end_t))
        lift = np.array([rs.lift_cm(i) for i in idx])
        elev = np.array([rs.elevation(i) for i in idx])
        assert np.all(lift[elev >= rep.onset_deg] == 0.0)
        assert lift.max() <= rep.lift_cm + 1e-9
        assert rs.lift_cm(_frame_at(rs, rep.bottom_t)) >= 0.85 * rep.lift_cm
        assert 2.0 <= rep.lift_cm <= 5.0 and rep.bottom_deg + 10 <= rep.onset_deg <= min(rep.top_deg - 10, 60)


def test_breathing_moves_the_abdomen_but_never_counts_as_a_lift() -> None:
    look = dataclasses.replace(sample_look(SEED), arms="chest", lens_height_m=0.4, breath_cm=0.8,
                               breath_hz=0.3)
    rs = render_session(SEED, look=look, arch_share=0.0)
    chore = rs.sim.choreography
    first_block = chore.blocks[0].start_t
    setup = np.flatnonzero((rs.times > chore.lie_down_t + 0.5) & (rs.times < first_block))
    assert rs.times[setup[-1]] - rs.times[setup[0]] > 1 / look.breath_hz
    tops = []
    for i in setup[::2]:
        assert rs.lift_cm(i) == 0.0
        tops.append(int(np.flatnonzero(_member_mask(rs, i)[:, _column(rs, i, BELLY)]).min()))
    assert max(tops) - min(tops) >= 0.8 * rs.px_per_cm_at_body
    for rep in rs.reps:
        idx = np.flatnonzero((rs.times >= rep.start_t) & (rs.times <= rep.end_t))
        assert rep.onset_deg is None and rep.lift_cm <= FLAT_CM
        assert max(rs.lift_cm(i) for i in idx) <= rep.lift_cm + 1e-9


def test_keypoints_sit_on_the_drawn_body_with_the_arm_placement() -> None:
    rs = low_chest(1.0)
    _, i = _first_straight_rep_bottom(rs)
    mask = _member_mask(rs, i)
    kp = rs.sim.truth.member_keypoints[i]
    near = ["shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
    for name in [f"{side}_{j}" for side in ("left", "right") for j in near]:
        x, y = np.round(kp[KP[name]]).astype(int)
        assert mask[y - 3:y + 4, x - 3:x + 4].any(), name
    # Hands on the chest: the wrists are up on the trunk, not down on the mat beside the hips.
    for side in ("left", "right"):
        assert kp[KP[f"{side}_wrist"], 1] < kp[HIPS, 1].mean() - 5 * rs.px_per_cm_at_body
    member = min(rs.people(i).people, key=lambda p: float(np.abs(p.keypoints[:, :2] - kp).mean()))
    assert np.median(np.hypot(*(member.keypoints[:, :2] - kp).T)) < 10


def test_hollow_hold_arch_truth() -> None:
    rs = render_session(HOLD_SEED, width=640, height=360, arch_share=1.0)
    (hold,) = rs.holds
    assert hold.arched is not None and 1.5 <= hold.lift_cm <= 4.0
    a, z = hold.arched
    assert 0.3 - 1e-9 <= (z - a) / (hold.end_t - hold.start_t) <= 0.6 + 1e-9
    idx = np.flatnonzero((rs.times >= hold.start_t) & (rs.times <= hold.end_t))
    lift = np.array([rs.lift_cm(i) for i in idx])
    assert abs(lift.max() - hold.lift_cm) < 0.05
    assert np.all(lift[(rs.times[idx] < a) | (rs.times[idx] > z)] == 0.0)
    assert abs(np.mean(lift < 1.0) * (hold.end_t - hold.start_t) - hold.flat_s) < 3 / rs.fps + 0.05
