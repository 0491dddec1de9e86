"""Run a SessionSpec: kinematics → camera → observation model → trace frames + ground truth."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.people import PoseFrame
from edge.trace import TraceHeader, TraceWriter, make_header
from tests.sim.body import HIP_Z_LYING, Anthropometry, Pose, forward_kinematics, gait
from tests.sim.camera import Camera, Placement
from tests.sim.choreography import LEGS, Choreography, RepTiming
from tests.sim.observe import bursts, make_person, near_left, observe_person, visible
from tests.sim.spec import SessionSpec
from tests.sim.truth import (
    BystanderTruth,
    CameraTruth,
    HoldTruth,
    PresenceTruth,
    RepTruth,
    SetTruth,
    Truth,
)

_TRUTH_HZ = 200.0  # dense sampling of the noise-free kinematics for the measured truth
# A rep counts as visible when the detected frames miss at most this share of its range at the bottom.
_UNSEEN_SHARE = 1 / 3


@dataclass(slots=True)
class SimResult:
    spec: SessionSpec
    header: TraceHeader
    frames: list[PoseFrame]
    truth: Truth
    # Per frame: noise-free (17, 2) pixels of each bystander in view (not part of the truth JSON).
    bystander_keypoints: list[list[np.ndarray]]
    choreography: Choreography  # the noise-free kinematics, for checks at any instant

    def leg_angles(self, t: np.ndarray, moving_leg: str) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free (elevation, knee angle) of the moving leg(s) at sorted times: elevation is the
        mean over the legs, the knee the smaller one."""
        return self.choreography.leg_angles(t, LEGS[moving_leg])

    def write(self, trace_path: str | Path, truth_path: str | Path | None = None) -> None:
        with Path(trace_path).open("w", encoding="utf-8") as fh:
            writer = TraceWriter(fh, self.header)
            for frame in self.frames:
                writer.write(frame)
        if truth_path is not None:
            self.truth.write(truth_path)


def _lying_extent(body: Anthropometry) -> tuple[float, float]:
    """Body-local u of the top of the head and of the heels when lying flat."""
    head = -(body.lumbar + body.thorax + body.neck + 0.1 * body.stature / 1.75)
    heel = float(body.hip_ankle(178.0)) + 0.05
    return head, heel


def _camera(spec: SessionSpec, body: Anthropometry, place: Placement, bar_uz: tuple[float, float]) -> Camera:
    c = spec.camera
    head, heel = _lying_extent(body)
    length = heel - head
    focal = c.fill * c.width * c.distance_m / length
    # Vertical framing: the floor under the body and the ankles of legs held vertical must both fit,
    # with room for the near-side limbs, which are closer to the lens and so project larger.
    lo, hi = -0.10, HIP_Z_LYING + float(body.hip_ankle(176.0)) + 0.15
    if spec.bar is not None:
        # The station sees the bar beside the mat too: the hands on it and the legs raised in front.
        heel = max(heel, bar_uz[0] + float(body.hip_ankle(176.0)) + 0.1)
        length = heel - head
        focal = min(focal, 0.95 * c.width * c.distance_m / length)
        hi = bar_uz[1] + 0.15
    half = c.height / 2 / focal * c.distance_m
    if hi - lo > 1.9 * half:
        focal *= 1.9 * half / (hi - lo)  # widen the view rather than crop the legs
        half = c.height / 2 / focal * c.distance_m
    # Look slightly down when the framing allows it; a low lens has to tilt up a little instead.
    wish = c.lens_height_m - c.distance_m * math.tan(math.radians(c.pitch_wish_deg))
    aim = min(max(wish, hi - half), lo + half)
    pitch = math.degrees(math.atan2(c.lens_height_m - aim, c.distance_m))
    centre_x = place.sign * (head + heel) / 2
    return Camera(x=centre_x + c.x_offset_m, distance=c.distance_m, height=c.lens_height_m, pitch_deg=pitch,
                  roll_deg=c.tilt_deg, focal_px=focal, width=c.width, height_px=c.height,
                  azimuth_deg=place.sign * c.azimuth_deg)


def _measure_rep(chore: Choreography, r: RepTiming, settle_until: float, seen_t: np.ndarray) -> RepTruth:
    """Angles of one rep on the dense noise-free kinematics; settle_until bounds the overshoot search;
    seen_t are the times of the frames in which the member was detected."""
    t = np.append(np.arange(r.start_t, r.end_t, 1.0 / _TRUTH_HZ), r.end_t)
    elev, knee = chore.leg_angles(t, r.legs)
    up = t >= r.leave_bottom_t
    speed = np.gradient(elev, t)
    after = np.append(np.arange(r.end_t, settle_until, 1.0 / _TRUTH_HZ), settle_until)
    overshoot = float(chore.leg_angles(after, r.legs)[0].max()) - float(elev[-1])
    s = r.spec
    return RepTruth(
        start_t=round(r.start_t, 4), end_t=round(r.end_t, 4), descent_s=round(r.bottom_t - r.start_t, 4),
        ascent_s=round(r.end_t - r.leave_bottom_t, 4), bottom_pause_s=round(r.leave_bottom_t - r.bottom_t, 4),
        top_angle_deg=round(float(elev[0]), 3), bottom_angle_deg=round(float(elev.min()), 3),
        min_knee_angle_deg=round(float(knee.min()), 3), faults=sorted(s.faults), moving_leg=s.moving_leg,
        peak_ascent_speed_dps=round(float(speed[up].max()), 2), overshoot_deg=round(overshoot, 3),
        momentum_kind=s.momentum_kind,
        bottom_seen=_bottom_seen(chore, r, seen_t, float(elev[0]), float(elev.min())))


def _measure_raise(chore: Choreography, r: RepTiming, seen_t: np.ndarray, hanging: bool) -> RepTruth:
    """A rep from the bottom (raised from the mat, or from the hang, and lowered back) on the dense
    noise-free kinematics; hanging, elevation is from the line the body hangs along. r holds the timings
    of Choreography._floor_rep / _hang_rep: start = lift-off, bottom_t = at the top, leave_bottom_t =
    leaving it, end = back down."""
    def elevation(t: np.ndarray) -> np.ndarray:
        return chore.hang_elevation(t, r.legs) if hanging else chore.leg_angles(t, r.legs)[0]

    t = np.append(np.arange(r.start_t, r.end_t, 1.0 / _TRUTH_HZ), r.end_t)
    knee = chore.leg_angles(t, r.legs)[1]
    elev = elevation(t)
    up = t <= r.bottom_t
    speed = np.gradient(elev, t)
    s = r.spec
    during = seen_t[(seen_t >= r.start_t) & (seen_t <= r.end_t)]
    top, low = float(elev.max()), float(elev[0])
    highest_seen = float(elevation(during).max()) if during.size else low
    return RepTruth(
        start_t=round(r.start_t, 4), end_t=round(r.end_t, 4), descent_s=round(r.end_t - r.leave_bottom_t, 4),
        ascent_s=round(r.bottom_t - r.start_t, 4), bottom_pause_s=0.0,
        top_angle_deg=round(s.top_deg, 3), bottom_angle_deg=round(float(elev.min()), 3),
        min_knee_angle_deg=round(float(knee.min()), 3), faults=sorted(s.faults), moving_leg=s.moving_leg,
        peak_ascent_speed_dps=round(float(speed[up].max()), 2),
        overshoot_deg=round(max(0.0, top - s.top_deg), 3),
        momentum_kind=s.momentum_kind, bottom_seen=highest_seen >= top - _UNSEEN_SHARE * (top - low))


def _bottom_seen(chore: Choreography, r: RepTiming, seen_t: np.ndarray, top: float, bottom: float) -> bool:
    """Whether the frames with the member detected show most of the rep's range of motion."""
    during = seen_t[(seen_t >= r.start_t) & (seen_t <= r.end_t)]
    if during.size == 0:
        return False
    lowest_seen = float(chore.leg_angles(during, r.legs)[0].min())
    return lowest_seen <= bottom + _UNSEEN_SHARE * (top - bottom)


def _standing_pose(n: int, g: dict[str, np.ndarray]) -> Pose:
    def full(v: float) -> np.ndarray:
        return np.full(n, v)
    return Pose(pel_u=g["pel_u"], pel_z=g["pel_z"], yaw=full(0.0), lumbar=full(88.0), thorax=full(90.0),
                neck=full(92.0), head_yaw=full(0.0), leg_e=g["leg_e"], leg_k=g["leg_k"], arm_u=g["arm_u"],
                arm_k=np.full((n, 2), 165.0))


def simulate(spec: SessionSpec) -> SimResult:
    """Deterministic for a spec: every random draw comes from generators seeded by spec.seed."""
    body = Anthropometry(spec.stature_m)
    chore = Choreography(spec, body, np.random.default_rng([spec.seed, 1]))
    noise_rng = np.random.default_rng([spec.seed, 2])
    c = spec.camera
    place = Placement(0.0, 0.0, 1.0 if c.facing == "left" else -1.0)
    cam = _camera(spec, body, place, chore.bar_uz)
    w, h = c.width, c.height

    t = np.arange(int(chore.end_t * c.fps) + 1) / c.fps
    keep = np.ones(t.size, dtype=bool)
    for frac, length in spec.noise.gaps:
        g0 = frac * chore.end_t
        keep &= ~((t >= g0) & (t < g0 + length))
    t = t[keep]
    n = t.size

    member_world = place.to_world(forward_kinematics(body, chore.pose(t)))
    member_px = cam.project(member_world)
    member_in_view = visible(member_px, w, h)
    m_kps, m_score, m_bbox = observe_person(noise_rng, member_px, near_left(member_world), spec.noise, w, h)
    member_missed = bursts(noise_rng, n, spec.noise.member_drop_rate, spec.noise.drop_burst_mean)
    frame_empty = bursts(noise_rng, n, spec.noise.frame_drop_rate, spec.noise.drop_burst_mean)

    people: list[list] = [[] for _ in range(n)]
    for i in np.flatnonzero(member_in_view & ~member_missed):
        people[i].append(make_person(m_kps[i], m_score[i], m_bbox[i]))

    by_truth: list[BystanderTruth] = []
    by_px: list[list[np.ndarray]] = [[] for _ in range(n)]
    scale = w / 1280
    for b in spec.bystanders:
        bbody = Anthropometry(b.stature_m)
        # Far enough behind that standing ankles project above the member's hips, with a margin.
        angle_hips = (c.lens_height_m - HIP_Z_LYING) / c.distance_m - 25 * scale / cam.focal_px
        depth = max(b.depth_m, (c.lens_height_m - 0.07) / max(angle_hips, 1e-3) - c.distance_m)
        half = cam.half_width_at(c.distance_m + depth) + 1.0
        t0 = b.start_frac * chore.end_t
        t1 = t0 + 2 * half / b.speed_mps
        sel = np.flatnonzero((t >= t0) & (t <= t1))
        if sel.size == 0:
            continue
        bplace = Placement(cam.x - b.direction * half, depth, b.direction)
        g = gait(bbody, t[sel], t0, 0.0, b.speed_mps, float(noise_rng.uniform(0, 2 * math.pi)))
        bworld = bplace.to_world(forward_kinematics(bbody, _standing_pose(sel.size, g)))
        bpx = cam.project(bworld)
        b_in = visible(bpx, w, h)
        if not b_in.any():
            continue
        kps, score, bbox = observe_person(noise_rng, bpx, near_left(bworld), spec.noise, w, h)
        for j in np.flatnonzero(b_in):
            i = sel[j]
            by_px[i].append(bpx[j])
            people[i].append(make_person(kps[j], score[j], bbox[j]))
        seen_t = t[sel[b_in]]
        by_truth.append(BystanderTruth(round(float(seen_t[0]), 4), round(float(seen_t[-1]), 4),
                                       round(depth, 3), round(b.speed_mps, 3)))

    frames = []
    for i in range(n):
        ppl = [] if frame_empty[i] else people[i]
        order = noise_rng.permutation(len(ppl))
        frames.append(PoseFrame(t=float(t[i]), people=tuple(ppl[j] for j in order)))

    head, heel = _lying_extent(body)
    ends = cam.project(place.to_world(np.array([[head, 0.0, 0.0], [heel, 0.0, 0.0]])))
    ends = ends[np.argsort(ends[:, 0])]
    floor_line = [[round(float(x), 2), round(float(y), 2)] for x, y in ends]
    extra: dict[str, object] = {"station": "sim", "sim_seed": spec.seed}
    if spec.calibrated:
        extra["floor_line"] = tuple(tuple(p) for p in floor_line)
    header = make_header(c.fps, w, h, **extra)

    seen = t[member_in_view]

    def r4(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    presence = [PresenceTruth(enter_t=round(float(seen[0]), 4), lie_down_t=r4(chore.lie_down_t),
                              get_up_t=r4(chore.get_up_t), leave_t=round(float(seen[-1]), 4))]
    detected_t = t[member_in_view & ~member_missed & ~frame_empty]
    sets = []
    for b in chore.blocks:
        if b.spec.variant == "hollow_hold":
            continue
        if b.spec.variant == "hanging" or b.spec.start == "floor":
            hanging = b.spec.variant == "hanging"
            sets.append(SetTruth(b.spec.variant, round(b.start_t, 4), round(b.end_t, 4),
                                 [_measure_raise(chore, r, detected_t, hanging) for r in b.reps]))
            continue
        # An overshoot settles before the next descent (or the final lowering) begins.
        ends = [r.start_t for r in b.reps[1:]] + [b.end_t - b.spec.lower_s]
        sets.append(SetTruth(b.spec.variant, round(b.start_t, 4), round(b.end_t, 4),
                             [_measure_rep(chore, r, e, detected_t)
                              for r, e in zip(b.reps, ends, strict=True)]))
    holds = [HoldTruth("hollow_hold", round(a, 4), round(z, 4), round(z - a, 4)) for a, z in chore.holds]
    truth = Truth(
        seed=spec.seed, sets=sets, holds=holds, presence=presence,
        camera=CameraTruth(facing=c.facing, tilt_deg=round(c.tilt_deg, 3), fps=c.fps, width=w, height=h,
                           floor_line=floor_line, lens_height_m=round(c.lens_height_m, 3),
                           distance_m=round(c.distance_m, 3), pitch_deg=round(cam.pitch_deg, 3),
                           focal_px=round(cam.focal_px, 2), azimuth_deg=round(c.azimuth_deg, 3)),
        fidgets=[dataclasses.replace(f, start_t=round(f.start_t, 4), end_t=round(f.end_t, 4))
                 for f in chore.fidgets],
        bystanders=by_truth,
        member_keypoints=[member_px[i].copy() if member_in_view[i] else None for i in range(n)])
    return SimResult(spec=spec, header=header, frames=frames, truth=truth, bystander_keypoints=by_px,
                     choreography=chore)
