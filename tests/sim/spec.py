"""Everything a simulated session is made of, fixed by a seed: `SessionSpec` and its parts.

Fault parameters are sampled away from the SPEC.md rule thresholds so every label is unambiguous:
  fast_descent  descent 0.8–2.5 s        (rule < 3.0 s; good reps 3.5–5.5 s)
  momentum      rebound, ascent ≥ 200°/s, or an overshoot of 10–25° that oscillates
                (rule 150°/s; good reps ≤ ~100°/s with no rebound and no overshoot)
  knees_bent    smallest knee 112–138°    (rule < 150°; good reps 162–178°)
  short_top     top 40–62°                (rule < 70°; good reps 80–95°)

Hanging from a bar (`hanging`, opt-in: `random_session_spec(..., hanging=True)`), elevations are from the
hanging vertical (SPEC.md):
  momentum      the whole body swinging under the bar, 20–30° each way, or a raise at ≥ 220°/s
                (rule: swing ≥ 25° peak to peak, or 150°/s; good reps lean back ≤ 10° and rise at ≤ 110°/s)
  short_top     top 40–62°                (rule < 70°; good reps 80–115°)
Its knee-raise sets bend the knees on the way up (knees are not judged hanging).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tests.sim.body import Anthropometry

REP_VARIANTS: tuple[str, ...] = ("double_leg", "single_leg", "heel_tap")
STRAIGHT_LEG: tuple[str, ...] = ("double_leg", "single_leg")
FAULTS: tuple[str, ...] = ("fast_descent", "momentum", "knees_bent", "short_top")
FAULTS_BY_VARIANT: dict[str, tuple[str, ...]] = {
    "double_leg": FAULTS,
    "single_leg": FAULTS,
    "heel_tap": ("momentum",),
    "hanging": ("momentum", "short_top"),
}
MOMENTUM_KINDS: tuple[str, ...] = ("rebound", "fast_return", "overshoot")
HANGING_MOMENTUM_KINDS: tuple[str, ...] = ("swing", "fast_return")
# What members do on a mat between sets that is no rep (SPEC.md), drawn with `non_reps=True`:
# a hamstring stretch (one straight leg held up, pulled towards the face), hugging the knees to the chest,
# sitting up (to drink) and lying back, a few crunches.
NON_REPS: tuple[str, ...] = ("hamstring_stretch", "knee_hug", "sit_up", "crunches")
RESOLUTIONS: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080), (1768, 994))


@dataclass(slots=True)
class RepSpec:
    faults: tuple[str, ...]
    moving_leg: str  # "both" | "left" | "right"
    top_deg: float  # elevation at the top before this rep's descent
    bottom_deg: float  # straight legs: elevation at the bottom; heel_tap: ignored (the heel taps the floor)
    descent_s: float  # leaving the top → lowest point
    descent_ramps: tuple[float, float]  # cosine speed-up / slow-down, s
    ascent_peak_dps: float
    ascent_ramps: tuple[float, float]
    bottom_pause_s: float
    top_pause_s: float  # still at the top before this rep's descent
    knee_min_deg: float  # smallest knee angle of the moving leg(s)
    momentum_kind: str | None = None
    overshoot_deg: float = 0.0  # peak past the top
    overshoot_decay: float = 0.2  # amplitude ratio per oscillation cycle
    rebound_deg: float = 0.0  # dip below the bottom before springing back
    rebound_speed_dps: float = 0.0  # speed the legs drop into the bottom and bounce out of it
    swing_deg: float = 0.0  # hanging: amplitude of the whole body's swing under the bar (each way)
    swing_period_s: float = 2.2


@dataclass(slots=True)
class SetSpec:
    variant: str  # a REP_VARIANTS name or "hollow_hold"
    reps: list[RepSpec] = field(default_factory=list)
    knee_top_deg: float = 176.0  # knee angle of the straight-ish legs at the top
    lift_s: float = 2.0  # initial lift from the floor (not a rep)
    lower_s: float = 2.0  # final lowering to the floor (not a rep)
    leg_asym_deg: float = 0.0  # double_leg: one leg a little higher than the other
    support_knee_deg: float = 85.0  # single_leg: the bent support leg
    tabletop_thigh_deg: float = 90.0  # heel_tap
    tabletop_knee_deg: float = 90.0  # heel_tap
    hold_s: float = 0.0  # hollow_hold
    hollow_shoulder_deg: float = 18.0
    hollow_leg_deg: float = 25.0
    knee_raise: bool = False  # hanging: knees drawn up (bent) rather than straight legs raised
    # "top": the guide's way, legs raised once, then lowered and raised back per rep; "floor": as many
    # members do, each rep raised from the mat and lowered back onto it (a straight-leg set only).
    start: str = "top"


@dataclass(slots=True)
class BarSpec:
    """The pull-up bar beside the mat, for sessions with hanging sets."""

    beyond_feet_m: float  # how far past the feet end of the mat it stands
    clearance_m: float  # hanging feet above the floor
    lean_deg: float  # strict reps still tilt the body back by up to this as the legs come up
    rest_s: list[float] = field(default_factory=list)  # standing under the bar between hanging sets


@dataclass(slots=True)
class CameraSpec:
    facing: str  # "left" | "right": where the head is in the image
    width: int
    height: int
    fps: float
    lens_height_m: float
    distance_m: float
    tilt_deg: float
    fill: float  # share of the image width the lying body covers
    pitch_wish_deg: float  # downward pitch used when the body still fits the frame with it
    x_offset_m: float  # lens position along the mat relative to the body centre
    azimuth_deg: float = 0.0  # turned round the mat from square-on: positive towards the member's feet


@dataclass(slots=True)
class NoiseSpec:
    jitter_px: float  # near-side keypoint sigma at this resolution
    outlier_rate: float  # per keypoint per frame
    member_drop_rate: float  # per frame chance a burst of "member not detected" starts
    frame_drop_rate: float  # per frame chance a burst of empty frames starts
    drop_burst_mean: float  # frames
    gaps: list[tuple[float, float]]  # (position as a fraction of the session, length s) with no frames


@dataclass(slots=True)
class BystanderSpec:
    start_frac: float  # when they start walking in from outside the frame, as a share of the session
    direction: float  # +1 walks towards image-right
    speed_mps: float
    depth_m: float  # behind the member's sagittal plane
    stature_m: float


@dataclass(slots=True)
class SessionSpec:
    seed: int
    stature_m: float
    camera: CameraSpec
    noise: NoiseSpec
    calibrated: bool
    lead_in_s: float  # empty mat before the member walks in
    tail_s: float  # empty mat after they leave
    enter_from: str  # "feet" | "head": end of the mat the member walks in from
    setup_s: float  # lying still, back flat, before the first block
    blocks: list[SetSpec]  # sets and hollow holds in order
    rests_s: list[float]  # between blocks
    cooldown_s: float  # lying after the last block, before sitting up
    bystanders: list[BystanderSpec]
    fidgets_per_min: float
    bar: BarSpec | None = None  # set when some blocks are hanging sets (done after the ones on the mat)
    # Movements on the mat between sets that are no reps (NON_REPS), this many per rest at most.
    non_reps_per_rest: int = 0


def _ramps(rng: np.random.Generator, duration: float, lo: float = 0.2,
           hi: float = 0.6) -> tuple[float, float]:
    cap = 0.4 * duration
    return (min(float(rng.uniform(lo, hi)), cap), min(float(rng.uniform(lo, hi)), cap))


def tabletop_elevation(body: Anthropometry, thigh_deg: float, knee_deg: float) -> float:
    """Hip→ankle elevation of a leg in tabletop (thigh angle from the floor, knee angle)."""
    return thigh_deg - float(body.thigh_offset(knee_deg))


def make_rep(rng: np.random.Generator, variant: str, faults: tuple[str, ...], *, moving_leg: str,
             knee_top_deg: float, top_deg: float | None = None) -> RepSpec:
    """Sample one rep's parameters with the given faults (names must be valid for the variant).

    top_deg is passed for heel_tap (the tabletop elevation); straight-leg tops are sampled here.
    """
    bad = set(faults) - set(FAULTS_BY_VARIANT[variant])
    if bad:
        raise ValueError(f"faults {sorted(bad)} are not defined for {variant}")
    straight = variant in STRAIGHT_LEG
    if straight:
        top = float(rng.uniform(40, 62) if "short_top" in faults else rng.uniform(80, 95))
        # Depth is the member's own end range; a short top still leaves room to lower. Every rep covers
        # at least 30°, fidgets at most 18°: the two never meet halfway.
        bottom = float(rng.uniform(0, min(45.0, top - 30.0)))
        descent = float(rng.uniform(0.8, 2.5) if "fast_descent" in faults else rng.uniform(3.5, 5.5))
        knee_min = float(rng.uniform(112, 138) if "knees_bent" in faults
                         else rng.uniform(162, max(162.5, min(178.0, knee_top_deg))))
    else:
        assert top_deg is not None, "heel_tap needs the tabletop elevation"
        top, bottom = top_deg + float(rng.normal(0, 1.0)), 0.0
        descent = float(rng.uniform(1.0, 2.0))
        knee_min = knee_top_deg
    kind = str(rng.choice(MOMENTUM_KINDS)) if "momentum" in faults else None
    ascent_peak = float(rng.uniform(35, 95) if straight else rng.uniform(30, 85))
    ascent_ramps = _ramps(rng, 1.0)
    rep = RepSpec(
        faults=tuple(sorted(faults)), moving_leg=moving_leg, top_deg=top, bottom_deg=bottom,
        descent_s=descent, descent_ramps=_ramps(rng, descent), ascent_peak_dps=ascent_peak,
        ascent_ramps=ascent_ramps,
        bottom_pause_s=float(rng.uniform(0.8, 3.0)) if rng.random() < 0.35 else 0.0,
        top_pause_s=float(rng.uniform(0.0, 2.0)), knee_min_deg=knee_min, momentum_kind=kind)
    if kind == "rebound":
        rep.bottom_pause_s = 0.0
        rep.rebound_deg = float(rng.uniform(3, 8))
        rep.rebound_speed_dps = float(rng.uniform(70, 110))
        rep.ascent_peak_dps = float(rng.uniform(90, 140))
    elif kind == "fast_return":
        rep.ascent_peak_dps = float(rng.uniform(220, 320))
        rep.ascent_ramps = (float(rng.uniform(0.06, 0.12)), float(rng.uniform(0.06, 0.12)))
    elif kind == "overshoot":
        rep.overshoot_deg = float(rng.uniform(10, 25))
        rep.overshoot_decay = float(rng.uniform(0.1, 0.3))
    return rep


def make_hang_rep(rng: np.random.Generator, faults: tuple[str, ...], knee_raise: bool,
                  knee_top_deg: float) -> RepSpec:
    """One hanging raise: from the hang up to the top and back down, elevations from the vertical."""
    bad = set(faults) - set(FAULTS_BY_VARIANT["hanging"])
    if bad:
        raise ValueError(f"faults {sorted(bad)} are not defined for hanging")
    kind = str(rng.choice(HANGING_MOMENTUM_KINDS)) if "momentum" in faults else None
    rep = RepSpec(
        faults=tuple(sorted(faults)), moving_leg="both",
        top_deg=float(rng.uniform(40, 62) if "short_top" in faults else rng.uniform(80, 115)),
        bottom_deg=float(rng.uniform(0, 6)), descent_s=float(rng.uniform(1.0, 3.0)),
        descent_ramps=(0.0, 0.0), ascent_peak_dps=float(rng.uniform(45, 110)), ascent_ramps=_ramps(rng, 1.0),
        bottom_pause_s=float(rng.uniform(0.6, 2.5)), top_pause_s=float(rng.uniform(0.0, 0.8)),
        knee_min_deg=float(rng.uniform(60, 100)) if knee_raise else float(rng.uniform(160, knee_top_deg)),
        momentum_kind=kind)
    rep.descent_ramps = _ramps(rng, rep.descent_s)
    if kind == "swing":
        rep.swing_deg = float(rng.uniform(20, 30))
        rep.swing_period_s = float(rng.uniform(1.8, 2.6))
    elif kind == "fast_return":
        rep.ascent_peak_dps = float(rng.uniform(220, 320))
        rep.ascent_ramps = (float(rng.uniform(0.06, 0.12)), float(rng.uniform(0.06, 0.12)))
    return rep


def _from_the_floor(s: SetSpec, rng: np.random.Generator) -> None:
    """Make a straight-leg set one done from the floor: each rep leaves the mat, rises to its top, pauses
    briefly and is lowered back onto the mat, where the legs rest a moment before the next."""
    s.start = "floor"
    for rep in s.reps:
        rep.bottom_deg = 0.0
        rep.top_pause_s = float(rng.uniform(0.0, 1.2))
        rep.bottom_pause_s = float(rng.uniform(0.4, 2.5))
        if rep.momentum_kind == "rebound":
            rep.momentum_kind = "fast_return"
            rep.rebound_deg = rep.rebound_speed_dps = 0.0
            rep.ascent_peak_dps = float(rng.uniform(220, 320))
            rep.ascent_ramps = (float(rng.uniform(0.06, 0.12)), float(rng.uniform(0.06, 0.12)))


def _make_hang_set(rng: np.random.Generator, n_reps: int, fault_rate: float,
                   force_faults: tuple[str, ...]) -> SetSpec:
    s = SetSpec(variant="hanging", knee_top_deg=float(rng.uniform(170, 178)),
                knee_raise=bool(rng.random() < 0.4), lift_s=float(rng.uniform(1.0, 2.5)),
                lower_s=float(rng.uniform(0.8, 1.5)))
    allowed = FAULTS_BY_VARIANT["hanging"]
    for _ in range(n_reps):
        faults = tuple(f for f in allowed if f in force_faults or rng.random() < fault_rate)
        s.reps.append(make_hang_rep(rng, faults, s.knee_raise, s.knee_top_deg))
    return s


def _make_set(rng: np.random.Generator, variant: str, body: Anthropometry, n_reps: int, fault_rate: float,
              force_faults: tuple[str, ...], facing: str) -> SetSpec:
    s = SetSpec(variant=variant, knee_top_deg=float(rng.uniform(172, 179)),
                lift_s=float(rng.uniform(1.5, 3.0)), lower_s=float(rng.uniform(1.5, 3.0)))
    if variant == "double_leg":
        s.leg_asym_deg = float(rng.uniform(-2, 2))
    elif variant == "single_leg":
        s.support_knee_deg = float(rng.uniform(70, 95))
    elif variant == "heel_tap":
        s.tabletop_thigh_deg = float(rng.uniform(85, 95))
        s.tabletop_knee_deg = float(rng.uniform(85, 95))
        s.knee_top_deg = s.tabletop_knee_deg
    # The moving leg of single_leg is the near or the far one; which of left/right that is depends on
    # the facing (head left: the person's left side is the far side).
    far = "left" if facing == "left" else "right"
    near = "right" if far == "left" else "left"
    single_side = far if rng.random() < 0.5 else near
    heel_first = int(rng.integers(2))
    for i in range(n_reps):
        allowed = FAULTS_BY_VARIANT[variant]
        faults = tuple(f for f in allowed if f in force_faults or rng.random() < fault_rate)
        if variant == "double_leg":
            leg = "both"
        elif variant == "single_leg":
            leg = single_side
        else:
            leg = ("left", "right")[(i + heel_first) % 2]
        top = (tabletop_elevation(body, s.tabletop_thigh_deg, s.tabletop_knee_deg)
               if variant == "heel_tap" else None)
        s.reps.append(make_rep(rng, variant, faults, moving_leg=leg, knee_top_deg=s.knee_top_deg,
                               top_deg=top))
    if variant in STRAIGHT_LEG:
        # A rep returns to the next rep's top, which may be a short one: keep the bottom well below both.
        for rep, nxt in zip(s.reps[:-1], s.reps[1:], strict=True):
            limit = min(45.0, nxt.top_deg - 25.0)
            if rep.bottom_deg > limit:
                rep.bottom_deg = float(rng.uniform(0, limit))
    return s


def random_session_spec(seed: int, *, variants: list[str] | None = None, fault_rate: float = 0.35,
                        bystanders: bool = True, hollow_hold: bool | None = None, n_sets: int | None = None,
                        reps_per_set: int | None = None, force_faults: tuple[str, ...] = (),
                        calibrated: bool | None = None, facing: str | None = None,
                        fps: float | None = None, resolution: tuple[int, int] | None = None,
                        fidgets: bool = True, hanging: bool = False, non_reps: bool = False,
                        floor_sets: bool = False, off_side: bool = False) -> SessionSpec:
    """A random but fully determined session. Keyword arguments pin parts of it for a crafted test.

    variants: the exercise pool the sets are drawn from (default all of REP_VARIANTS).
    force_faults: faults put on every rep where the variant allows them (with fault_rate=0 only those).
    hanging: the member also (or only) does hanging raises at the bar beside the mat. Drawn from a
    generator of its own, so the rest of the seed's session is the same with or without it.
    non_reps: between sets, the member also does things on the mat that are no reps (NON_REPS).
    floor_sets: half the straight-leg sets are done from the floor, each rep raised from the mat and
    lowered back onto it (momentum there is a fast raise or a swing past the top: no bottom to bounce).
    off_side: the camera is not square to the mat at mat height but turned 15–50° round it towards the
    feet or the head and raised to 0.5–1.6 m, looking down at the member, as a camera on a gym's wall or
    shelf may be. Drawn from a generator of its own, like hanging.
    """
    rng = np.random.default_rng(seed)
    pool = list(variants) if variants else list(REP_VARIANTS)
    unknown = set(pool) - set(REP_VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {REP_VARIANTS}")
    stature = float(rng.uniform(1.50, 1.95))
    body = Anthropometry(stature)
    width, height = resolution or RESOLUTIONS[int(rng.integers(len(RESOLUTIONS)))]
    cam = CameraSpec(
        facing=facing or ("left" if rng.random() < 0.5 else "right"),
        width=width, height=height,
        fps=fps or float(rng.choice([10.0, 12.0, 15.0, 20.0, 24.0, 25.0, 30.0])),
        lens_height_m=float(rng.uniform(0.20, 0.50)), distance_m=float(rng.uniform(2.0, 3.0)),
        tilt_deg=float(rng.uniform(0, 4) * rng.choice([-1, 1])), fill=float(rng.uniform(0.5, 0.8)),
        pitch_wish_deg=float(rng.uniform(0.5, 4.0)), x_offset_m=float(rng.uniform(-0.15, 0.15)))
    if off_side:
        view_rng = np.random.default_rng([seed, 6])
        lens = float(view_rng.uniform(0.5, 1.6))
        cam.azimuth_deg = float(view_rng.uniform(15, 50) * view_rng.choice([-1, 1]))
        cam.lens_height_m = lens
        look_down = math.degrees(math.atan2(lens - 0.3, cam.distance_m))
        cam.pitch_wish_deg = look_down + float(view_rng.uniform(-3, 3))
    scale = width / 1280
    noise = NoiseSpec(
        jitter_px=float(rng.uniform(1, 3)) * scale, outlier_rate=float(rng.uniform(0.002, 0.01)),
        member_drop_rate=float(rng.uniform(0.002, 0.01)), frame_drop_rate=float(rng.uniform(0.0, 0.004)),
        drop_burst_mean=float(rng.uniform(2, 8)),
        gaps=[(float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.3, 1.5)))
              for _ in range(int(rng.choice([0, 0, 1, 2])))])

    n = n_sets or int(rng.integers(1, 4))
    blocks = [_make_set(rng, str(rng.choice(pool)), body, reps_per_set or int(rng.integers(3, 16)),
                        fault_rate, force_faults, cam.facing) for _ in range(n)]
    if hollow_hold if hollow_hold is not None else rng.random() < 0.4:
        hold = SetSpec(variant="hollow_hold", hold_s=float(rng.uniform(15, 40)),
                       hollow_shoulder_deg=float(rng.uniform(10, 25)),
                       hollow_leg_deg=float(rng.uniform(15, 35)),
                       lift_s=float(rng.uniform(1.0, 2.0)), lower_s=float(rng.uniform(1.0, 2.0)),
                       knee_top_deg=float(rng.uniform(172, 179)))
        # The guide puts the hold in the warm-up; some members do it at the end instead.
        blocks.insert(0 if rng.random() < 0.6 else len(blocks), hold)

    walkers = []
    if bystanders:
        for _ in range(int(rng.integers(0, 4))):
            walkers.append(BystanderSpec(
                start_frac=float(rng.uniform(0, 1)),
                direction=float(rng.choice([-1.0, 1.0])), speed_mps=float(rng.uniform(1.0, 1.5)),
                depth_m=float(rng.uniform(1.5, 4.0)), stature_m=float(rng.uniform(1.55, 1.95))))
    if floor_sets:
        floor_rng = np.random.default_rng([seed, 5])
        for block in blocks:
            if block.variant in STRAIGHT_LEG and floor_rng.random() < 0.5:
                _from_the_floor(block, floor_rng)
    bar, mat_only, hang_blocks = None, len(blocks), []
    if hanging:
        bar_rng = np.random.default_rng([seed, 3])
        n_hang = int(bar_rng.integers(1, 4))
        if bar_rng.random() < 0.4:
            mat_only = 0  # came for the bar only
        hang_blocks = [_make_hang_set(bar_rng, reps_per_set or int(bar_rng.integers(3, 12)), fault_rate,
                                      force_faults) for _ in range(n_hang)]
        bar = BarSpec(beyond_feet_m=float(bar_rng.uniform(0.6, 1.2)),
                      clearance_m=float(bar_rng.uniform(0.1, 0.3)), lean_deg=float(bar_rng.uniform(2, 8)),
                      rest_s=[float(bar_rng.uniform(15, 60)) for _ in range(n_hang - 1)])
    return SessionSpec(
        seed=seed, stature_m=stature, camera=cam, noise=noise,
        calibrated=bool(rng.random() < 0.5) if calibrated is None else calibrated,
        lead_in_s=float(rng.uniform(1, 6)) if rng.random() < 0.5 else 0.0,
        tail_s=float(rng.uniform(1, 6)) if rng.random() < 0.5 else 0.0,
        enter_from="feet" if rng.random() < 0.6 else "head", setup_s=float(rng.uniform(3, 8)),
        blocks=blocks[:mat_only] + hang_blocks,
        rests_s=[float(rng.uniform(20, 90)) for _ in range(len(blocks) - 1)][:max(0, mat_only - 1)],
        cooldown_s=float(rng.uniform(2, 10)), bystanders=walkers,
        fidgets_per_min=float(rng.uniform(1, 4)) if fidgets else 0.0, bar=bar,
        non_reps_per_rest=int(np.random.default_rng([seed, 4]).integers(1, 3)) if non_reps else 0)
