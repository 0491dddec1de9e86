"""Run a SessionPlan: choreography → body → camera → pose-model errors → trace frames + ground truth."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.people import KP, Person, PoseFrame
from edge.trace import TraceHeader, TraceWriter, make_header
from tests.scenarios.body import Member, draw_member, forward, to_world
from tests.scenarios.camera import Camera, frame_camera
from tests.scenarios.choreography import Choreography, RepWindow, add_walk
from tests.scenarios.measure import TRUTH_HZ, floor_rep_events, peak_speed, top_rep_events
from tests.scenarios.minjerk import Channel
from tests.scenarios.plan import BystanderPlan, SessionPlan, random_plan
from tests.scenarios.pose_errors import Observed, burst_mask, observe
from tests.sim.truth import (
    BystanderTruth,
    CameraTruth,
    HoldTruth,
    PresenceTruth,
    RepTruth,
    SetTruth,
    Truth,
)

# A rep counts as seen when the frames with the member detected cover this share of its range of motion.
_SEEN_SHARE = 2 / 3
_MIN_VISIBLE_KEYPOINTS = 6


@dataclass(slots=True)
class Scenario:
    plan: SessionPlan
    header: TraceHeader
    frames: list[PoseFrame]
    truth: Truth
    choreography: Choreography  # the noise-free motion, for checks at any instant
    camera: Camera
    member: Member

    def write(self, trace_path: str | Path, truth_path: str | Path | None = None) -> None:
        with Path(trace_path).open("w", encoding="utf-8") as fh:
            writer = TraceWriter(fh, self.header)
            for frame in self.frames:
                writer.write(frame)
        if truth_path is not None:
            self.truth.write(truth_path)


def generate(seed: int, **plan_kw: object) -> Scenario:
    """The scenario session of a seed (keyword arguments pin parts of the plan, see random_plan)."""
    return build(random_plan(seed, **plan_kw))  # type: ignore[arg-type]


def _near_left(world: np.ndarray) -> np.ndarray:
    """(N,) the person's left side is nearer the camera (smaller Y) than the right."""
    left = world[:, KP["left_hip"], 1] + world[:, KP["left_shoulder"], 1]
    right = world[:, KP["right_hip"], 1] + world[:, KP["right_shoulder"], 1]
    return left < right


def _in_view(px: np.ndarray, w: int, h: int) -> np.ndarray:
    inside = (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)
    return inside.sum(axis=1) >= _MIN_VISIBLE_KEYPOINTS


def _frame_times(rng: np.random.Generator, end_t: float, fps: float, jitter: float,
                 skip_rate: float) -> np.ndarray:
    t = np.arange(int(end_t * fps) + 1) / fps
    t = t + rng.normal(0, jitter, size=t.size)
    keep = ~burst_mask(rng, t.size, skip_rate, 4.0)
    t = np.maximum.accumulate(t[keep])
    return t[np.concatenate([[True], np.diff(t) > 1e-4])]


def _person(obs: Observed, i: int) -> Person:
    return Person(score=float(obs.score[i]), bbox=obs.bbox[i].astype(np.float32),
                  keypoints=obs.keypoints[i].astype(np.float32))


def _bystander(plan: BystanderPlan, cam: Camera, t: np.ndarray, session_s: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, BystanderTruth] | None:
    """(frame indices, (n, 17, 3) world keypoints, truth) of one person walking past behind the mat."""
    body = draw_member(rng, plan.stature_m)
    depth_from_cam = float(-cam.position[1]) + plan.depth_m
    half = cam.half_width_at(depth_from_cam) + 1.0
    stand = {"root_u": 0.0, "root_z": body.standing_hip_z(), "yaw": 0.0, "trunk_lo": 88.0, "trunk_hi": 90.0,
             "head": 92.0, "head_turn": 0.0, "arm0": -88.0, "arm1": -88.0, "elbow0": 165.0, "elbow1": 165.0,
             "thigh0": -88.5, "thigh1": -88.5, "knee0": 177.0, "knee1": 177.0}
    ch = {k: Channel(v) for k, v in stand.items()}
    t0 = plan.start_frac * session_s
    phase = float(rng.uniform(0, 2 * math.pi))
    if plan.pause_s > 0:
        tm = add_walk(ch, t0, half, plan.speed_mps, plan.stature_m, phase)
        t1 = add_walk(ch, tm + plan.pause_s, 2 * half, plan.speed_mps, plan.stature_m, phase)
    else:
        t1 = add_walk(ch, t0, 2 * half, plan.speed_mps, plan.stature_m, phase)
    sel = np.flatnonzero((t >= t0) & (t <= t1))
    if sel.size == 0:
        return None
    pose = {k: c(t[sel]) for k, c in ch.items()}
    local = forward(body, pose)
    heading = 0.0 if plan.direction > 0 else 180.0
    origin = (float(cam.position[0]) - plan.direction * half, plan.depth_m)
    world = to_world(local, pose["root_u"], pose["root_z"], heading, pose["yaw"], origin)
    truth = BystanderTruth(round(float(t[sel[0]]), 4), round(float(t[sel[-1]]), 4), round(plan.depth_m, 3),
                           round(plan.speed_mps, 3))
    return sel, world, truth


def build(plan: SessionPlan) -> Scenario:
    """Deterministic for a plan: every random draw comes from generators seeded by plan.seed."""
    member = draw_member(np.random.default_rng([plan.seed, 11]), plan.stature_m)
    chore = Choreography(plan, member, np.random.default_rng([plan.seed, 12]))
    rng = np.random.default_rng([plan.seed, 13])
    c = plan.camera
    heading = 0.0 if c.facing == "left" else 180.0
    sign = math.cos(math.radians(heading))
    # The lying body's ends as the camera frames it: the ears and the ankles, with a little room.
    head_u = -(member.trunk + member.head + 0.05)
    feet_u = member.leg + 0.04
    cam = frame_camera(c, (sign * head_u, sign * feet_u), 0.0, member.hip_z, member.leg, member.hip_half)
    w, h = c.width, c.height

    t = _frame_times(rng, chore.end_t, c.fps, c.time_jitter_s, c.skip_rate)
    n = t.size
    pose = chore.evaluate(t)
    world = to_world(forward(member, pose), pose["root_u"], pose["root_z"], heading, pose["yaw"], (0.0, 0.0))
    px = cam.project(world)
    in_view = _in_view(px, w, h)
    elev = np.stack([chore.elevation(chore.ch, t, (i,), noisy=True) for i in (0, 1)], axis=1)
    lying = pose["trunk_lo"] > 150.0
    obs = observe(rng, px, _near_left(world), np.where(lying[:, None], elev, 0.0), plan.errors, c.fps, w, h)
    member_seen = in_view & obs.detected

    people: list[list[Person]] = [[] for _ in range(n)]
    for i in np.flatnonzero(member_seen):
        people[i].append(_person(obs, i))
    by_truth = []
    for b in plan.bystanders:
        got = _bystander(b, cam, t, chore.end_t, rng)
        if got is None:
            continue
        sel, bworld, btruth = got
        bpx = cam.project(bworld)
        visible = _in_view(bpx, w, h)
        if not visible.any():
            continue
        bobs = observe(rng, bpx, _near_left(bworld), None, plan.errors, c.fps, w, h)
        for j in np.flatnonzero(visible & bobs.detected):
            people[sel[j]].append(_person(bobs, j))
        by_truth.append(btruth)
    empty = burst_mask(rng, n, plan.errors.empty_rate, plan.errors.miss_burst_mean)
    frames = []
    for i in range(n):
        ppl = [] if empty[i] else people[i]
        order = rng.permutation(len(ppl))
        frames.append(PoseFrame(t=float(t[i]), people=tuple(ppl[j] for j in order)))

    ends = cam.project(np.array([[sign * head_u, 0.0, 0.0], [sign * feet_u, 0.0, 0.0]]))
    ends = ends[np.argsort(ends[:, 0])]
    floor_line = [[round(float(x), 2), round(float(y), 2)] for x, y in ends]
    extra: dict[str, object] = {"station": "scenarios", "scenario_seed": plan.seed}
    if plan.calibrated:
        extra["floor_line"] = tuple(tuple(p) for p in floor_line)
    header = make_header(c.fps, w, h, **extra)

    seen_t = t[member_seen & ~empty]
    shown = t[in_view]
    presence = [PresenceTruth(enter_t=round(float(shown[0]), 4), lie_down_t=round(chore.lie_down_t, 4),
                              get_up_t=round(chore.get_up_t, 4), leave_t=round(float(shown[-1]), 4))]
    sets = []
    for b in chore.blocks:
        if b.plan.variant == "hollow_hold":
            continue
        reps = [measure_rep(chore, r, seen_t) for r in b.reps]
        sets.append(SetTruth(b.plan.variant, round(b.start_t, 4), round(b.end_t, 4), reps))
    holds = [HoldTruth("hollow_hold", round(a, 4), round(z, 4), round(z - a, 4)) for a, z in chore.holds]
    pitch = math.degrees(math.asin(-float(cam.forward[2])))
    truth = Truth(
        seed=plan.seed, sets=sets, holds=holds, presence=presence,
        camera=CameraTruth(facing=c.facing, tilt_deg=round(c.roll_deg, 3), fps=c.fps, width=w, height=h,
                           floor_line=floor_line, lens_height_m=round(c.lens_height_m, 3),
                           distance_m=round(c.distance_m, 3), pitch_deg=round(pitch, 3),
                           focal_px=round(cam.focal_px, 2)),
        fidgets=[dataclasses.replace(f, start_t=round(f.start_t, 4), end_t=round(f.end_t, 4))
                 for f in chore.fidgets],
        bystanders=by_truth,
        member_keypoints=[px[i].copy() if in_view[i] else None for i in range(n)])
    return Scenario(plan=plan, header=header, frames=frames, truth=truth, choreography=chore, camera=cam,
                    member=member)


def measure_rep(chore: Choreography, r: RepWindow, seen_t: np.ndarray) -> RepTruth:
    """One rep's truth on the dense noise-free motion (see measure.py for the event rule)."""
    t = np.arange(r.t0 - 0.05, r.t1 + 0.05, 1.0 / TRUTH_HZ)
    e, knee = chore.leg_angles(t, r.legs, noisy=False)
    p = r.plan
    if r.kind == "floor":
        fe = floor_rep_events(t, e, r.t0, r.t1, r.top_settled_t)
        start, end = fe.start, fe.end
        descent, ascent, pause = fe.end - fe.leave_top, fe.top_arrive - fe.start, 0.0
        top, bottom = fe.top, fe.rest
        raise_from, raise_to = fe.start, fe.top_arrive
        overshoot = fe.peak - fe.top
    else:
        te = top_rep_events(t, e, r.t0, r.t1)
        start, end = te.start, te.end
        descent, ascent, pause = te.bottom - te.start, te.end - te.leave_bottom, te.leave_bottom - te.bottom
        top, bottom = te.top, te.low
        raise_from, raise_to = te.leave_bottom, te.end
        after = (t >= te.end) & (t <= r.t1)
        overshoot = float(e[after].max()) - te.settled if after.any() else 0.0
    during = (t >= start) & (t <= end)
    return RepTruth(
        start_t=round(start, 4), end_t=round(end, 4), descent_s=round(descent, 4), ascent_s=round(ascent, 4),
        bottom_pause_s=round(pause, 4), top_angle_deg=round(top, 3), bottom_angle_deg=round(bottom, 3),
        min_knee_angle_deg=round(float(knee[during].min()), 3), faults=sorted(p.faults),
        moving_leg=p.moving_leg,
        peak_ascent_speed_dps=round(peak_speed(t, e, raise_from, raise_to), 2),
        overshoot_deg=round(max(0.0, overshoot), 3), momentum_kind=p.momentum_kind,
        bottom_seen=_range_seen(chore, r, seen_t, float(e[during].max()), float(e[during].min())))


def _range_seen(chore: Choreography, r: RepWindow, seen_t: np.ndarray, high: float, low: float) -> bool:
    """Whether the frames with the member detected show most of the rep's range of motion (a rep whose
    turnaround fell wholly into a run of missed detections cannot be seen by any analysis)."""
    during = seen_t[(seen_t >= r.t0) & (seen_t <= r.t1)]
    if during.size == 0:
        return False
    e, _ = chore.leg_angles(during, r.legs, noisy=False)
    return float(e.max() - e.min()) >= _SEEN_SHARE * (high - low)
