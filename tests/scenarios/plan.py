"""What happens in one scenario session, drawn from a seed: `SessionPlan` and its parts.

The plan is pure data (no motion yet): choreography.py turns it into joint-angle tracks. Everything the
harness checks coverage of is visible here, so a test can draw many plans cheaply.

Behaviours drawn per session (probabilities are the defaults of `random_plan`):
- 1–3 sets of 3–12 reps, variant double_leg / single_leg / heel_tap drawn per set (members switch
  variant between sets without telling anyone), and a hollow hold in 35 % of sessions;
- straight-leg sets started from the top as the guide teaches (raise to vertical — not a rep — then
  reps of lowering → bottom → raising) or from the floor as many members do (each rep: raise from the
  mat, lower back to it, rest on the mat 0.3–2 s), half and half; heel taps alternate legs from tabletop;
- top-start reps go down to the member's own end range (floor to ~45°), some pause 1–3 s at the bottom;
  some raises stop at 45–60° (a partial return), which makes the next rep a short_top one;
- rests of 4–90 s between blocks (a third of them 4–9 s), lying with the legs flat or the knees up,
  with fidgets (small leg shifts, a knee drawn up and put back, arm moves, head turns, hip shifts);
- single-leg members switch legs mid-set in 60 % of the sets of 5 reps or more;
- sessions open with the member walking in, or already lying on the mat mid-set (legs at the top, or
  lying flat between floor-start reps);
- 0–3 bystanders walking past behind the mat.

Fault parameters keep clear of the SPEC.md rule thresholds, so every label is unambiguous (the values
are the ground truth's own measurements, see measure.py):
  fast_descent  lowering 0.8–2.4 s             (rule < 3.0 s; good 3.5–5.5 s)
  momentum      a rebound out of the bottom, a raise peaking at 230–330°/s, or an overshoot of
                10–25° past the top that oscillates  (rule 150°/s; good raises peak at 35–100°/s)
  knees_bent    smallest knee 110–138°          (rule < 150°; good ≥ 162°)
  short_top     top 35–62°                      (rule < 70°; good ≥ 80°)
heel_tap is judged on momentum only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.scenarios.camera import CameraPlan
from tests.scenarios.pose_errors import ErrorModel, draw_error_model

VARIANTS: tuple[str, ...] = ("double_leg", "single_leg", "heel_tap")
STRAIGHT: tuple[str, ...] = ("double_leg", "single_leg")
FAULTS: tuple[str, ...] = ("fast_descent", "momentum", "knees_bent", "short_top")
FAULTS_BY_VARIANT: dict[str, tuple[str, ...]] = {
    "double_leg": FAULTS, "single_leg": FAULTS, "heel_tap": ("momentum",)}
RESOLUTIONS: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080), (800, 600))
FPS_CHOICES: tuple[float, ...] = (15.0, 20.0, 24.0, 25.0, 30.0, 60.0)
FPS_WEIGHTS: tuple[float, ...] = (0.22, 0.16, 0.16, 0.16, 0.25, 0.05)
FIDGETS: tuple[str, ...] = ("leg_shift", "knee_draw", "arm", "head_turn", "hip_shift")
MAX_SESSION_S = 200.0


@dataclass(slots=True)
class RepPlan:
    faults: tuple[str, ...]
    moving_leg: str  # "both" | "left" | "right"
    top_deg: float  # top-start / heel tap: the elevation the rep leaves; floor-start: the top it reaches
    return_deg: float  # top-start / heel tap: where the raise ends (the next rep's top); floor-start: unused
    bottom_deg: float  # top-start straight legs: the lowest elevation; floor-start and heel taps: the floor
    descent_s: float  # the lowering, as the ground truth measures it (leaving the top → lowest point)
    raise_peak_dps: float  # peak elevation speed of the raise
    knee_min_deg: float  # the moving leg's smallest knee angle in the rep
    bottom_pause_s: float = 0.0  # top-start: still at the bottom
    top_pause_s: float = 0.0  # top-start: still at the top before the lowering; floor-start: at the top
    mat_rest_s: float = 0.0  # floor-start: lying on the mat before the raise
    momentum_kind: str | None = None  # "rebound" | "fast_return" | "overshoot"
    overshoot_deg: float = 0.0
    overshoot_decay: float = 0.3  # amplitude ratio from one swing to the next
    overshoot_swing_s: float = 0.45
    rebound_drop_deg: float = 0.0  # the last part of the lowering is dropped, fast, into a bounce
    rebound_drop_s: float = 0.0
    leg_lag_s: float = 0.0  # double_leg: the second leg follows this late
    partial_return: bool = False  # top-start: the raise stops well short of vertical


@dataclass(slots=True)
class SetPlan:
    variant: str  # a VARIANTS name or "hollow_hold"
    start: str = "top"  # "top" | "floor" (heel taps and holds: "top")
    reps: list[RepPlan] = field(default_factory=list)
    already_started: bool = False  # the session opens in this set, mid-set
    knee_top_deg: float = 176.0  # straight legs' knee between reps
    lift_s: float = 2.0  # initial raise to the top (not a rep)
    lower_s: float = 2.0  # final lowering to the mat (not a rep)
    top_hold_s: float = 1.0  # at the top after the initial raise
    end_hold_s: float = 0.5  # at the top before the final lowering
    leg_asym_deg: float = 0.0  # double_leg: one leg a little higher
    support_knee_deg: float = 85.0  # single_leg: the bent support leg, foot flat
    switch_after: tuple[int, ...] = ()  # single_leg: reps after which the member switches legs
    switch_overlap: bool = False  # the new leg starts up while the old one is still coming down
    tabletop_thigh_deg: float = 90.0
    tabletop_knee_deg: float = 90.0
    tap_knee_deg: float = 95.0  # the tapping leg's knee opens a little on the way down
    hold_s: float = 0.0  # hollow_hold
    hollow_shoulder_deg: float = 18.0
    hollow_leg_deg: float = 25.0


@dataclass(slots=True)
class FidgetPlan:
    kind: str  # a FIDGETS name
    at_s: float  # after the rest began
    side: int  # 0 left, 1 right
    amount: float  # leg_shift: degrees (< 15); knee_draw: knee angle; arm: arm angle; head_turn: degrees
    move_s: float
    hold_s: float


@dataclass(slots=True)
class RestPlan:
    duration_s: float
    knees_up: bool = False  # rests with the knees bent, feet flat
    fidgets: list[FidgetPlan] = field(default_factory=list)


@dataclass(slots=True)
class BystanderPlan:
    start_frac: float  # when they enter, as a share of the session
    direction: float  # +1 walks towards +X
    speed_mps: float
    depth_m: float  # behind the member's sagittal plane
    stature_m: float
    pause_s: float  # some stop for a moment on the way (never on the mat)


@dataclass(slots=True)
class SessionPlan:
    seed: int
    stature_m: float
    camera: CameraPlan
    errors: ErrorModel
    calibrated: bool  # the floor line is given in the trace header
    opening: str  # "walk_in" | "mid_set_top" | "mid_set_floor"
    enter_from: str  # "head" | "feet": which end of the mat the member walks in from
    leave_to: str
    lead_in_s: float
    setup: RestPlan  # lying before the first block
    blocks: list[SetPlan]
    rests: list[RestPlan]  # between blocks
    cooldown: RestPlan
    tail_s: float
    bystanders: list[BystanderPlan]

    @property
    def sets(self) -> list[SetPlan]:
        return [b for b in self.blocks if b.variant != "hollow_hold"]


def _u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def _momentum_kind(rng: np.random.Generator, start: str) -> str:
    # From the floor there is no bottom turnaround inside a rep to bounce out of.
    kinds = ("rebound", "fast_return", "overshoot") if start == "top" else ("fast_return", "overshoot")
    return str(rng.choice(kinds))


def make_rep(rng: np.random.Generator, variant: str, start: str, faults: tuple[str, ...], moving_leg: str,
             knee_top: float, end_range: float) -> RepPlan:
    """One rep's parameters; tops and returns are linked up by the set (a partial return)."""
    straight = variant in STRAIGHT
    if straight:
        top = _u(rng, 35, 62) if "short_top" in faults else _u(rng, 80, 95)
        descent = _u(rng, 0.8, 2.4) if "fast_descent" in faults else _u(rng, 3.5, 5.5)
        knee_min = _u(rng, 110, 138) if "knees_bent" in faults else _u(rng, 162, max(162.5, knee_top))
        bottom = float(np.clip(end_range + rng.normal(0, 3), 0, 45)) if start == "top" else 0.0
    else:
        top, descent, knee_min, bottom = 0.0, _u(rng, 1.0, 2.0), 0.0, 0.0
    rep = RepPlan(faults=tuple(sorted(faults)), moving_leg=moving_leg, top_deg=top, return_deg=top,
                  bottom_deg=bottom, descent_s=descent, raise_peak_dps=_u(rng, 35, 100),
                  knee_min_deg=knee_min)
    if start == "floor":
        rep.top_pause_s = _u(rng, 0.0, 1.5)
        rep.mat_rest_s = _u(rng, 0.3, 2.0)
    else:
        rep.top_pause_s = _u(rng, 0.0, 2.0)
        if straight and rng.random() < 0.3:
            rep.bottom_pause_s = _u(rng, 1.0, 3.0)
        elif not straight:
            rep.bottom_pause_s = _u(rng, 0.0, 0.3)
    if "momentum" in faults:
        rep.momentum_kind = _momentum_kind(rng, start)
        if rep.momentum_kind == "rebound":
            rep.bottom_pause_s = 0.0
            rep.rebound_drop_deg = _u(rng, 24, 32)
            rep.rebound_drop_s = _u(rng, 0.22, 0.28)
            rep.raise_peak_dps = _u(rng, 130, 170)
            if straight:
                rep.bottom_deg = max(rep.bottom_deg, _u(rng, 8, 20))
        elif rep.momentum_kind == "fast_return":
            rep.raise_peak_dps = _u(rng, 230, 330)
        else:
            rep.overshoot_deg = _u(rng, 10, 25)
            rep.overshoot_decay = _u(rng, 0.15, 0.4)
            rep.overshoot_swing_s = _u(rng, 0.35, 0.6)
            rep.raise_peak_dps = _u(rng, 90, 140)
    if moving_leg == "both":
        rep.leg_lag_s = _u(rng, 0.0, 0.08)
    return rep


def make_set(rng: np.random.Generator, variant: str, start: str, n_reps: int, fault_rate: float,
             force_faults: tuple[str, ...], facing: str) -> SetPlan:
    s = SetPlan(variant=variant, start=start, knee_top_deg=_u(rng, 168, 179), lift_s=_u(rng, 1.5, 3.0),
                lower_s=_u(rng, 1.5, 3.5), top_hold_s=_u(rng, 0.5, 3.0), end_hold_s=_u(rng, 0.3, 1.5))
    end_range = _u(rng, 0, 45)
    far = "left" if facing == "left" else "right"
    near = "right" if far == "left" else "left"
    if variant == "double_leg":
        s.leg_asym_deg = _u(rng, -3, 3)
    elif variant == "single_leg":
        s.support_knee_deg = _u(rng, 70, 95)
        if n_reps >= 5 and rng.random() < 0.6:
            s.switch_after = (int(rng.integers(2, n_reps - 2)),)
            s.switch_overlap = bool(rng.random() < 0.5)
    elif variant == "heel_tap":
        s.tabletop_thigh_deg, s.tabletop_knee_deg = _u(rng, 85, 95), _u(rng, 85, 95)
        s.tap_knee_deg = s.tabletop_knee_deg + _u(rng, 0, 20)
        s.knee_top_deg = s.tabletop_knee_deg
    single_side = far if rng.random() < 0.5 else near
    heel_first = int(rng.integers(2))
    allowed = FAULTS_BY_VARIANT[variant]
    for i in range(n_reps):
        if variant == "double_leg":
            leg = "both"
        elif variant == "single_leg":
            switched = sum(1 for k in s.switch_after if i > k) % 2
            leg = single_side if not switched else ("left" if single_side == "right" else "right")
        else:
            leg = ("left", "right")[(i + heel_first) % 2]
        # Top-start short tops come from partial returns (drawn below); floor-start ones are drawn here.
        drawable = [f for f in allowed if not (f == "short_top" and start == "top")]
        faults = tuple(f for f in drawable if f in force_faults or rng.random() < fault_rate)
        s.reps.append(make_rep(rng, variant, start, faults, leg, s.knee_top_deg, end_range))
    if variant in STRAIGHT and start == "top":
        _link_tops(rng, s, fault_rate, force_faults)
    return s


def _link_tops(rng: np.random.Generator, s: SetPlan, fault_rate: float,
               force_faults: tuple[str, ...]) -> None:
    """Each rep's raise ends at the next rep's top. A raise that stops at 45–60° is a partial return and
    makes the next rep short_top; the initial raise may stop short too (a first rep with a short top)."""
    for i, rep in enumerate(s.reps):
        switching = i - 1 in s.switch_after  # a fresh leg raised after a switch goes all the way up
        if (rng.random() < fault_rate or "short_top" in force_faults) and not switching:
            rep.top_deg = _u(rng, 45, 60) if i > 0 else _u(rng, 38, 60)
            rep.faults = tuple(sorted({*rep.faults, "short_top"}))
            if i > 0:
                s.reps[i - 1].partial_return = True
    for i, rep in enumerate(s.reps):
        nxt = s.reps[i + 1] if i + 1 < len(s.reps) else None
        if nxt is not None and i not in s.switch_after:
            rep.return_deg = nxt.top_deg
        else:
            rep.return_deg = _u(rng, 80, 95)
        # Every rep covers at least 30° both ways; fidgets cover at most 15°: the two never meet.
        limit = min(rep.top_deg, rep.return_deg) - 30.0
        if rep.bottom_deg > limit:
            rep.bottom_deg = max(0.0, limit - _u(rng, 0, 5))
        if rep.momentum_kind == "rebound":
            # The bounce needs room: a lowering of 15° or more before a drop of the planned size.
            rep.bottom_deg = max(6.0, min(rep.bottom_deg, limit, rep.top_deg - rep.rebound_drop_deg - 15.0))
            room = rep.top_deg - rep.bottom_deg - 15.0
            if room < 22.0:  # a short top leaves no room to drop into a bounce: swing back up instead
                rep.momentum_kind, rep.rebound_drop_deg, rep.rebound_drop_s = "fast_return", 0.0, 0.0
                rep.raise_peak_dps = _u(rng, 230, 330)
                rep.bottom_deg = max(0.0, limit - _u(rng, 0, 5))
            else:
                rep.rebound_drop_deg = min(rep.rebound_drop_deg, room)


def make_hold(rng: np.random.Generator) -> SetPlan:
    return SetPlan(variant="hollow_hold", hold_s=_u(rng, 15, 40), hollow_shoulder_deg=_u(rng, 12, 25),
                   hollow_leg_deg=_u(rng, 15, 35), lift_s=_u(rng, 1.0, 2.0), lower_s=_u(rng, 1.0, 2.0),
                   knee_top_deg=_u(rng, 170, 179))


def make_rest(rng: np.random.Generator, duration: float, fidget_rate_per_min: float) -> RestPlan:
    rest = RestPlan(duration_s=duration, knees_up=bool(duration > 12 and rng.random() < 0.3))
    t = _u(rng, 1.5, 4.0)
    while fidget_rate_per_min > 0:
        kind = str(rng.choice(FIDGETS))
        side = int(rng.integers(2))
        if kind == "leg_shift":
            f = FidgetPlan(kind, t, side, _u(rng, 5, 13), _u(rng, 0.6, 1.4), _u(rng, 0.0, 1.0))
        elif kind == "knee_draw":
            f = FidgetPlan(kind, t, side, _u(rng, 60, 100), _u(rng, 1.5, 3.0), _u(rng, 0.5, 4.0))
        elif kind == "arm":
            f = FidgetPlan(kind, t, side, _u(rng, 40, 160), _u(rng, 0.7, 1.5), _u(rng, 0.0, 3.0))
        elif kind == "head_turn":
            f = FidgetPlan(kind, t, side, _u(rng, 20, 60), _u(rng, 0.5, 1.2), _u(rng, 0.5, 3.0))
        else:
            f = FidgetPlan(kind, t, side, _u(rng, 0.02, 0.05), _u(rng, 0.5, 0.9), 0.0)
        end = t + 2 * f.move_s + f.hold_s
        if end > duration - 2.5:
            break
        rest.fidgets.append(f)
        t = end + float(rng.exponential(60.0 / fidget_rate_per_min)) + 0.5
    return rest


def _rest_length(rng: np.random.Generator) -> float:
    r = rng.random()
    if r < 0.33:
        return _u(rng, 4, 9)
    if r < 0.63:
        return _u(rng, 10, 30)
    return _u(rng, 30, 90)


def _set_seconds(s: SetPlan) -> float:
    """Rough length of a block, for keeping the session within MAX_SESSION_S."""
    if s.variant == "hollow_hold":
        return s.hold_s + s.lift_s + s.lower_s
    per_rep = [r.descent_s + 1.875 * 70 / r.raise_peak_dps + r.bottom_pause_s + r.top_pause_s + r.mat_rest_s
               for r in s.reps]
    return sum(per_rep) + s.lift_s + s.lower_s + s.top_hold_s + 3.0 * len(s.switch_after) + 2.0


def random_plan(seed: int, *, variants: list[str] | None = None, fault_rate: float = 0.14,
                force_faults: tuple[str, ...] = (), n_sets: int | None = None,
                reps_per_set: int | None = None,
                start: str | None = None, opening: str | None = None, hollow_hold: bool | None = None,
                bystanders: bool = True, calibrated: bool | None = None, facing: str | None = None,
                fps: float | None = None, resolution: tuple[int, int] | None = None,
                errors: ErrorModel | None = None, fidgets: bool = True) -> SessionPlan:
    """A random but fully determined session; keyword arguments pin parts of it for crafted tests.

    start: "top" | "floor" for every straight-leg set; opening: "walk_in" | "mid_set_top" | "mid_set_floor";
    errors: a fixed pose-model error model (e.g. pose_errors.PERFECT) instead of a drawn one.
    """
    # Separate streams for the camera, the pose model and the session, so pinning one part (a crafted
    # test, or PERFECT errors for a comparison) leaves the others as the seed drew them.
    rng_cam, rng_err, rng = (np.random.default_rng([seed, 7, k]) for k in (1, 2, 3))
    pool = list(variants) if variants else list(VARIANTS)
    unknown = set(pool) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    stature = _u(rng, 1.50, 1.98)
    r = rng_cam
    drawn_size = RESOLUTIONS[int(r.integers(len(RESOLUTIONS)))]
    drawn_facing = "left" if r.random() < 0.5 else "right"
    drawn_fps = float(r.choice(FPS_CHOICES, p=FPS_WEIGHTS))
    width, height = resolution or drawn_size
    # Zoomed in on a wide image, the feet of legs held high leave the top (camera.frame_camera).
    crop_draw, crop_deg = r.random(), _u(r, 74, 86)
    crop = crop_deg if width / height > 1.5 and crop_draw < 0.35 else None
    cam = CameraPlan(
        facing=facing or drawn_facing, width=width, height=height, fps=fps or drawn_fps,
        lens_height_m=_u(r, 0.20, 0.50), distance_m=_u(r, 2.0, 3.0), yaw_deg=_u(r, -6, 6),
        roll_deg=_u(r, -4, 4), fill=_u(r, 0.5, 0.8),
        floor_row=_u(r, 0.86, 0.93) if crop else _u(r, 0.72, 0.9),
        x_offset=0.0 if crop else _u(r, -0.06, 0.06), k1=_u(r, -0.06, 0.0), crop_feet_deg=crop,
        time_jitter_s=_u(r, 0.0, 0.004), skip_rate=_u(r, 0.0, 0.002))
    drawn_errors = draw_error_model(rng_err)
    error_model = errors if errors is not None else drawn_errors
    facing_ = cam.facing

    if opening is None:
        r = rng.random()
        opening = "walk_in" if r < 0.7 else "mid_set_top" if r < 0.85 else "mid_set_floor"
    n = n_sets or int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.3]))
    blocks: list[SetPlan] = []
    for i in range(n):
        variant = str(rng.choice(pool, p=_variant_weights(pool)))
        how = start or ("top" if rng.random() < 0.5 else "floor")
        if i == 0 and opening != "walk_in":
            variant = variant if variant in STRAIGHT else "double_leg"
            how = "top" if opening == "mid_set_top" else "floor"
        if variant == "heel_tap":
            how = "top"
        count = reps_per_set or int(rng.integers(3, 13 if how == "top" else 11))
        blocks.append(make_set(rng, variant, how, count, fault_rate, force_faults, facing_))
    if opening != "walk_in":
        blocks[0].already_started = True
    with_hold = hollow_hold if hollow_hold is not None else rng.random() < 0.35
    if with_hold:
        first_ok = opening == "walk_in"
        blocks.insert(0 if first_ok and rng.random() < 0.6 else len(blocks), make_hold(rng))
    rate = _u(rng, 1.0, 4.0) if fidgets else 0.0
    rests = [make_rest(rng, _rest_length(rng), rate) for _ in range(len(blocks) - 1)]

    walk_in = opening == "walk_in"
    plan = SessionPlan(
        seed=seed, stature_m=stature, camera=cam, errors=error_model,
        calibrated=bool(rng_cam.random() < 0.5) if calibrated is None else calibrated, opening=opening,
        enter_from="feet" if rng.random() < 0.6 else "head",
        leave_to="feet" if rng.random() < 0.5 else "head",
        lead_in_s=_u(rng, 0.5, 4.0) if walk_in else 0.0,
        setup=make_rest(rng, _u(rng, 3, 7), rate * 0.5) if walk_in else RestPlan(0.0),
        blocks=blocks, rests=rests, cooldown=make_rest(rng, _u(rng, 3, 10), rate), tail_s=_u(rng, 0.0, 3.0),
        bystanders=[])
    _fit_length(rng, plan)
    if bystanders:
        for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
            plan.bystanders.append(BystanderPlan(
                start_frac=_u(rng, 0.0, 0.95), direction=float(rng.choice([-1.0, 1.0])),
                speed_mps=_u(rng, 0.9, 1.5), depth_m=_u(rng, 1.5, 4.0), stature_m=_u(rng, 1.55, 1.95),
                pause_s=_u(rng, 1.5, 5.0) if rng.random() < 0.2 else 0.0))
    return plan


def _variant_weights(pool: list[str]) -> list[float]:
    base = {"double_leg": 0.45, "single_leg": 0.3, "heel_tap": 0.25}
    w = np.array([base[v] for v in pool])
    return list(w / w.sum())


def _fit_length(rng: np.random.Generator, plan: SessionPlan) -> None:
    """Trim long rests, then reps, until the session fits in MAX_SESSION_S (the harness's budget)."""
    overhead = 28.0 if plan.opening == "walk_in" else 12.0

    def total() -> float:
        return (overhead + plan.lead_in_s + plan.setup.duration_s + plan.cooldown.duration_s
                + sum(_set_seconds(b) for b in plan.blocks) + sum(r.duration_s for r in plan.rests))

    for rest in sorted(plan.rests, key=lambda r: -r.duration_s):
        excess = total() - MAX_SESSION_S
        if excess <= 0:
            return
        if rest.duration_s > 30:
            new = max(30.0, rest.duration_s - excess)
            rest.duration_s = new
            rest.fidgets = [f for f in rest.fidgets if f.at_s + 2 * f.move_s + f.hold_s < new - 2.5]
    while total() > MAX_SESSION_S:
        longest = max(plan.sets, key=lambda s: len(s.reps))
        if len(longest.reps) <= 3:
            break
        longest.reps.pop()
        kept = tuple(k for k in longest.switch_after if k < len(longest.reps) - 1)
        if kept != longest.switch_after:
            # The switch went with the trimmed reps: the member keeps working the first leg.
            longest.switch_after = kept
            for r in longest.reps:
                r.moving_leg = longest.reps[0].moving_leg
        last = longest.reps[-1]
        if longest.start == "top" and longest.variant in STRAIGHT:
            if last.partial_return:
                last.return_deg = max(last.return_deg, _u(rng, 80, 95))
            last.partial_return = False
