"""A SessionPlan → the member's joint angles over time, as minimum-jerk moves between postures.

Channels (degrees unless said): root_u, root_z (pelvis centre, m), yaw, trunk_lo (pelvis → thoraco-
lumbar junction), trunk_hi (→ shoulders), head (shoulders → ears), head_turn, arm0/1, elbow0/1,
thigh0/1, knee0/1 and plant0/1. Index 0 is the person's left.

A leg is either free (its thigh channel is the thigh's angle above the floor) or planted (plant = 1:
the foot is on the floor and the thigh follows the knee, as when a knee is drawn up with the foot
sliding on the mat, or the support leg of a single-leg lift stands bent). plant blends between the two
over the first part of a lift off the mat and the last part of a lowering onto it.

Every rep is built in a scratch copy first, measured with the ground truth's own rule (measure.py) and
its timing corrected, so the descent the truth reports is the one the plan asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tests.scenarios.body import Member
from tests.scenarios.measure import floor_rep_events, top_rep_events
from tests.scenarios.minjerk import (
    PEAK_SPEED_FACTOR,
    Channel,
    Wave,
    duration_for_peak_speed,
    profile,
    profile_speed,
    smooth_noise,
)
from tests.scenarios.plan import STRAIGHT, FidgetPlan, RepPlan, RestPlan, SessionPlan, SetPlan
from tests.sim.truth import FidgetTruth

CHANNELS = ("root_u", "root_z", "yaw", "trunk_lo", "trunk_hi", "head", "head_turn", "arm0", "arm1",
            "elbow0", "elbow1", "thigh0", "thigh1", "knee0", "knee1", "plant0", "plant1")
LEGS: dict[str, tuple[int, ...]] = {"both": (0, 1), "left": (0,), "right": (1,)}
WALK_SPEED = (0.9, 1.3)  # m/s, the member's own walk
_SCRATCH_HZ = 400.0


@dataclass(slots=True)
class RepWindow:
    """Where one rep's moves lie; measure.py finds its events inside."""

    plan: RepPlan
    kind: str  # "top" (top-start and heel taps) | "floor"
    legs: tuple[int, ...]
    t0: float  # first move of the rep begins
    t1: float  # last move (and any oscillation) has ended
    top_settled_t: float  # floor-start: the raise (and its oscillation) has ended


@dataclass(slots=True)
class BlockWindow:
    plan: SetPlan
    start_t: float
    end_t: float
    reps: list[RepWindow] = field(default_factory=list)


class Choreography:
    """Builds every channel for the whole session at construction; `evaluate(t)` reads them."""

    def __init__(self, plan: SessionPlan, member: Member, rng: np.random.Generator) -> None:
        self.plan, self.m, self.rng = plan, member, rng
        self.blocks: list[BlockWindow] = []
        self.holds: list[tuple[float, float]] = []
        self.fidgets: list[FidgetTruth] = []
        self.lie_down_t = 0.0
        self.get_up_t = 0.0
        m = member
        # Lying posture from the member's thickness: the segments slope between the joints' heights.
        self.rest: dict[str, float] = {
            "root_u": 0.0, "root_z": m.hip_z, "yaw": 0.0,
            "trunk_lo": 180.0 + math.degrees(math.asin((m.hip_z - m.back_z) / m.lumbar)),
            "trunk_hi": 180.0 + math.degrees(math.asin((m.back_z - m.shoulder_z) / m.thorax)),
            "head": 180.0 - math.degrees(math.asin((m.ear_z - m.shoulder_z) / m.head)),
            "head_turn": 0.0,
            "arm0": -math.degrees(math.asin((m.shoulder_z - m.elbow_z) / m.upper_arm)),
            "elbow0": self._u(160, 178), "elbow1": self._u(160, 178),
            "knee0": self._u(170, 179), "knee1": self._u(170, 179), "plant0": 1.0, "plant1": 1.0,
        }
        self.rest["arm1"] = self.rest["arm0"]
        for i in (0, 1):
            self.rest[f"thigh{i}"] = float(m.planted_thigh(self.rest[f"knee{i}"]))
        self.noise = {k: smooth_noise(rng, band) for k, band in
                      (("tremor0", (6, 11)), ("tremor1", (6, 11)), ("sway0", (0.2, 0.9)),
                       ("sway1", (0.2, 0.9)), ("breath", (0.2, 0.35)), ("head", (0.1, 0.5)))}
        self.tremor_deg = self._u(0.08, 0.25)
        self.sway_deg = self._u(0.2, 0.8)
        self.t = 0.0
        self.ch: dict[str, Channel] = {}
        self._build()

    # ------------------------------------------------------------------------------------------ basics
    def _u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def _go(self, targets: dict[str, float], duration: float, t0: float | None = None) -> float:
        """Move channels to targets together, from t0 (default: now); the cursor moves to the end."""
        start = self.t if t0 is None else t0
        for name, value in targets.items():
            self.ch[name].move_to(value, start, duration)
        self.t = max(self.t, start + duration)
        return start + duration

    def _wait(self, duration: float) -> float:
        self.t += max(0.0, duration)
        return self.t

    def _free_leg(self, i: int, elevation: float, knee: float, duration: float, t0: float) -> None:
        """Leg i to a hip→ankle elevation and knee angle, lifting it off the floor if it was planted."""
        ch = self.ch
        if ch[f"plant{i}"].target > 0.0:
            ch[f"thigh{i}"].set_now(float(self.m.planted_thigh(ch[f"knee{i}"].target)), t0)
            ch[f"plant{i}"].move_to(0.0, t0, 0.3 * duration)
        ch[f"thigh{i}"].move_to(float(self.m.thigh_for(elevation, knee)), t0, duration)
        ch[f"knee{i}"].move_to(knee, t0, duration)

    def _plant_leg(self, i: int, knee: float, duration: float, t0: float) -> None:
        """Leg i down until the foot is on the floor, ending at this knee angle (and staying planted)."""
        ch = self.ch
        ch[f"thigh{i}"].move_to(float(self.m.planted_thigh(knee)), t0, duration)
        ch[f"knee{i}"].move_to(knee, t0, duration)
        if ch[f"plant{i}"].target < 1.0:
            ch[f"plant{i}"].move_to(1.0, t0 + 0.6 * duration, 0.4 * duration)

    def elevation(self, chans: dict[str, Channel], t: np.ndarray, legs: tuple[int, ...],
                  noisy: bool = False) -> np.ndarray:
        """Mean hip→ankle elevation of the legs (in the body's plane) at sorted times t."""
        vals = [self._leg_elevation(chans, t, i, noisy) for i in legs]
        return np.mean(vals, axis=0)

    def _effective_thigh(self, chans: dict[str, Channel], t: np.ndarray, i: int, noisy: bool) -> np.ndarray:
        knee, plant = chans[f"knee{i}"](t), np.clip(chans[f"plant{i}"](t), 0.0, 1.0)
        thigh = (1 - plant) * chans[f"thigh{i}"](t) + plant * self.m.planted_thigh(knee, chans["root_z"](t))
        if noisy:
            # A leg held off the floor trembles and sways; one resting on it does not.
            shake = self.tremor_deg * self.noise[f"tremor{i}"](t) + self.sway_deg * self.noise[f"sway{i}"](t)
            thigh = thigh + (1 - plant) * shake * self._lying(chans, t)
        return thigh

    def _leg_elevation(self, chans: dict[str, Channel], t: np.ndarray, i: int, noisy: bool) -> np.ndarray:
        thigh = self._effective_thigh(chans, t, i, noisy)
        return thigh - self.m.thigh_over_line(chans[f"knee{i}"](t))

    def _lying(self, chans: dict[str, Channel], t: np.ndarray) -> np.ndarray:
        return np.clip((chans["trunk_lo"](t) - 120.0) / 50.0, 0.0, 1.0)

    def evaluate(self, t: np.ndarray, noisy: bool = True) -> dict[str, np.ndarray]:
        """Pose arrays for body.forward (effective thighs, breathing and tremor included when noisy)."""
        out = {name: self.ch[name](t) for name in CHANNELS if not name.startswith(("thigh", "plant"))}
        for i in (0, 1):
            out[f"thigh{i}"] = self._effective_thigh(self.ch, t, i, noisy)
        if noisy:
            lying = self._lying(self.ch, t)
            out["trunk_hi"] = out["trunk_hi"] + 0.3 * lying * self.noise["breath"](t)
            out["head"] = out["head"] + 0.8 * lying * self.noise["head"](t)
        return out

    def leg_angles(self, t: np.ndarray, legs: tuple[int, ...], noisy: bool) -> tuple[np.ndarray, np.ndarray]:
        """(mean elevation, smallest knee angle) of the legs at sorted times."""
        elev = self.elevation(self.ch, t, legs, noisy)
        knee = np.min([self.ch[f"knee{i}"](t) for i in legs], axis=0)
        return elev, knee

    # ---------------------------------------------------------------------------------- getting about
    def _standing(self) -> dict[str, float]:
        m = self.m
        return {"root_z": m.standing_hip_z(), "trunk_lo": 88.0, "trunk_hi": 90.0, "head": 93.0,
                "head_turn": 0.0, "arm0": -88.0, "arm1": -88.0, "elbow0": 168.0, "elbow1": 168.0,
                "thigh0": -90.0 + 1.5, "thigh1": -90.0 + 1.5, "knee0": 177.0, "knee1": 177.0,
                "plant0": 0.0, "plant1": 0.0}

    def _reach(self, hip: tuple[float, float], ankle: tuple[float, float]) -> tuple[float, float]:
        """(thigh, knee) that put the ankle at a point from the hip, knee forward/up."""
        m = self.m
        du, dz = ankle[0] - hip[0], ankle[1] - hip[1]
        d = min(math.hypot(du, dz), m.leg - 1e-3)
        cos_k = (m.thigh**2 + m.shank**2 - d * d) / (2 * m.thigh * m.shank)
        knee = math.degrees(math.acos(max(-1.0, min(1.0, cos_k))))
        return math.degrees(math.atan2(dz, du)) + float(m.thigh_over_line(knee)), knee

    def _legs_to(self, hip: tuple[float, float], ankle: tuple[float, float]) -> dict[str, float]:
        thigh, knee = self._reach(hip, ankle)
        return {"thigh0": thigh, "thigh1": thigh, "knee0": knee, "knee1": knee}

    def _walk(self, u_to: float) -> None:
        speed, phase = self._u(*WALK_SPEED), self._u(0, 2 * math.pi)
        self.t = add_walk(self.ch, self.t, u_to, speed, self.m.stature, phase)

    def _get_down_postures(self) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
        """Stand, squat and sit postures that keep the feet where they will be when sitting."""
        m = self.m
        sit_hip = (0.0, m.hip_z + 0.02)
        sit_knee = self._u(80, 100)
        sit_thigh = float(m.planted_thigh(sit_knee, sit_hip[1]))
        shank = sit_thigh - (180.0 - sit_knee)
        feet_u = m.thigh * math.cos(math.radians(sit_thigh)) + m.shank * math.cos(math.radians(shank))
        feet = (feet_u, m.ankle_z)
        squat_hip = (feet_u - 0.22 * m.stature / 1.75, 0.5 * m.standing_hip_z())
        stand_hip = (feet_u - 0.03, m.standing_hip_z())
        stand = self._standing() | {"root_u": stand_hip[0]} | self._legs_to(stand_hip, feet)
        squat = {"root_u": squat_hip[0], "root_z": squat_hip[1], "trunk_lo": 60.0, "trunk_hi": 55.0,
                 "head": 70.0, "arm0": -30.0, "arm1": -30.0} | self._legs_to(squat_hip, feet)
        sit = {"root_u": sit_hip[0], "root_z": sit_hip[1], "trunk_lo": 105.0, "trunk_hi": 100.0, "head": 95.0,
               "arm0": -60.0, "arm1": -60.0, "thigh0": sit_thigh, "thigh1": sit_thigh, "knee0": sit_knee,
               "knee1": sit_knee}
        return stand, squat, sit

    def _get_down(self) -> None:
        _, squat, sit = self._get_down_postures()
        self._go(squat, self._u(1.0, 1.6))
        self._go(sit, self._u(0.9, 1.4))
        # Sitting with the feet flat, the legs are now planted: the constraint holds the feet on the floor.
        self.ch["plant0"].set_now(1.0, self.t)
        self.ch["plant1"].set_now(1.0, self.t)
        lie = {k: v for k, v in self.rest.items() if not k.startswith(("thigh", "plant"))}
        self._go(lie, self._u(1.5, 2.3))

    def _get_up(self) -> None:
        stand, squat, sit = self._get_down_postures()
        bend = {k: sit[k] for k in ("knee0", "knee1", "thigh0", "thigh1")}
        self._go(bend, self._u(1.0, 1.5))
        self._go({k: v for k, v in sit.items() if not k.startswith(("thigh", "knee"))}, self._u(1.5, 2.2))
        self.ch["plant0"].set_now(0.0, self.t)
        self.ch["plant1"].set_now(0.0, self.t)
        self._go(squat, self._u(0.9, 1.4))
        self._go({k: v for k, v in stand.items() if k != "root_u"} | {"root_u": squat["root_u"] + 0.1},
                 self._u(1.0, 1.6))

    # --------------------------------------------------------------------------------------- resting
    def _rest(self, rest: RestPlan, prepare_s: float = 0.0) -> None:
        """Lie between blocks: legs down and relaxed, planned fidgets, `prepare_s` left at the end."""
        start = self.t
        end = start + rest.duration_s
        relax = min(1.5, max(0.6, 0.3 * rest.duration_s))
        targets = {k: self.rest[k] for k in ("trunk_lo", "trunk_hi", "head", "head_turn", "arm0", "arm1",
                                              "elbow0", "elbow1", "root_u", "root_z")}
        self._go(targets, relax, start)
        for i in (0, 1):
            knee = self._u(70, 95) if rest.knees_up else self.rest[f"knee{i}"]
            if self.ch[f"plant{i}"].target < 1.0:
                self._plant_leg(i, knee, relax, start)
            else:
                self.ch[f"thigh{i}"].move_to(float(self.m.planted_thigh(knee)), start, relax)
                self.ch[f"knee{i}"].move_to(knee, start, relax)
        self.t = start + relax
        for f in rest.fidgets:
            f_start = start + max(f.at_s, relax + 0.2)
            if f_start + 2 * f.move_s + f.hold_s > end - prepare_s - 1.0:
                break
            self.t = f_start
            self._fidget(f)
        if rest.knees_up:
            # Legs out again before the next block.
            t_out = max(self.t, end - prepare_s - 1.6)
            for i in (0, 1):
                self.ch[f"knee{i}"].move_to(self.rest[f"knee{i}"], t_out, 1.2)
                self.ch[f"thigh{i}"].move_to(self.rest[f"thigh{i}"], t_out, 1.2)
        self.t = max(self.t, end - prepare_s)

    def _fidget(self, f: FidgetPlan) -> None:
        start = self.t
        s = f.side
        if f.kind == "leg_shift":
            knee = self.ch[f"knee{s}"].target
            floor = float(self.m.floor_elevation(knee))
            self._free_leg(s, floor + f.amount, knee, f.move_s, start)
            self._wait(f.move_s + f.hold_s)
            self._plant_leg(s, knee, f.move_s, self.t)
            self._wait(f.move_s)
        elif f.kind == "knee_draw":
            knee = self.ch[f"knee{s}"].target
            self.ch[f"knee{s}"].move_to(f.amount, start, f.move_s)
            self.ch[f"thigh{s}"].move_to(float(self.m.planted_thigh(f.amount)), start, f.move_s)
            self._wait(f.move_s + f.hold_s)
            self.ch[f"knee{s}"].move_to(knee, self.t, f.move_s)
            self.ch[f"thigh{s}"].move_to(float(self.m.planted_thigh(knee)), self.t, f.move_s)
            self._wait(f.move_s)
        elif f.kind == "arm":
            arm, elbow = self.ch[f"arm{s}"].target, self.ch[f"elbow{s}"].target
            self._go({f"arm{s}": f.amount, f"elbow{s}": self._u(90, 175)}, f.move_s)
            self._wait(f.hold_s)
            self._go({f"arm{s}": arm, f"elbow{s}": elbow}, f.move_s)
        elif f.kind == "head_turn":
            sign = 1.0 if s else -1.0
            self._go({"head_turn": sign * f.amount, "head": self.rest["head"] - self._u(0, 20)}, f.move_s)
            self._wait(f.hold_s)
            self._go({"head_turn": 0.0, "head": self.rest["head"]}, f.move_s)
        else:
            self._go({"root_z": self.m.hip_z + f.amount,
                      "root_u": self.rest["root_u"] + self._u(-0.04, 0.04)}, f.move_s)
            self._go({"root_z": self.m.hip_z}, f.move_s)
        self.fidgets.append(FidgetTruth(f.kind, start, self.t))

    # ---------------------------------------------------------------------------------------- blocks
    def _hollow(self, s: SetPlan) -> None:
        start = self.t
        raise_deg = s.hollow_shoulder_deg
        hollow = {"trunk_hi": self.rest["trunk_hi"] - raise_deg,
                  "head": self.rest["trunk_hi"] - raise_deg - self._u(8, 20),
                  "arm0": self._u(3, 15), "arm1": self._u(3, 15), "elbow0": 172.0, "elbow1": 172.0}
        for i in (0, 1):
            self._free_leg(i, s.hollow_leg_deg + self._u(-1.5, 1.5), s.knee_top_deg, s.lift_s, start)
        held = self._go(hollow, s.lift_s, start)
        self._wait(s.hold_s)
        release = self.t
        for i in (0, 1):
            self._plant_leg(i, self.rest[f"knee{i}"], s.lower_s, release)
        back = {k: self.rest[k] for k in ("trunk_hi", "head", "arm0", "arm1", "elbow0", "elbow1")}
        end = self._go(back, s.lower_s, release)
        self.holds.append((held, release))
        self.blocks.append(BlockWindow(s, start, end))

    def _prepare_s(self, s: SetPlan) -> float:
        """Seconds a block needs before its start for setting up (the support knee of single_leg)."""
        return 1.6 if s.variant == "single_leg" else 0.0

    def _prepare(self, s: SetPlan) -> None:
        if s.variant == "single_leg":
            support = 1 - LEGS[s.reps[0].moving_leg][0]
            self._bend_planted(support, s.support_knee_deg, 1.1, self.t)
            self._wait(1.6)

    def _bend_planted(self, i: int, knee: float, duration: float, t0: float) -> None:
        self.ch[f"knee{i}"].move_to(knee, t0, duration)
        self.ch[f"thigh{i}"].move_to(float(self.m.planted_thigh(knee)), t0, duration)

    def _asym(self, s: SetPlan, legs: tuple[int, ...]) -> dict[int, float]:
        if len(legs) == 2:
            return {0: s.leg_asym_deg / 2, 1: -s.leg_asym_deg / 2}
        return {legs[0]: 0.0}

    def _top_set(self, s: SetPlan) -> None:
        legs = LEGS[s.reps[0].moving_leg]
        offs = self._asym(s, legs)
        if s.already_started:
            start = 0.0
            self._wait(s.top_hold_s)
        else:
            start = self.t
            for i in legs:
                self._free_leg(i, s.reps[0].top_deg + offs[i], s.knee_top_deg, s.lift_s, start)
            self.t = start + s.lift_s
            self._wait(s.top_hold_s)
        block = BlockWindow(s, start, 0.0)
        for i, rep in enumerate(s.reps):
            if i > 0:
                self._wait(rep.top_pause_s)
            legs = LEGS[rep.moving_leg]
            block.reps.append(self._commit_rep(s, rep, "top", legs))
            if i in s.switch_after:
                self._switch_top(s, rep, s.reps[i + 1])
        self._wait(s.end_hold_s)
        legs = LEGS[s.reps[-1].moving_leg]
        for i in legs:
            self._plant_leg(i, self.rest[f"knee{i}"], s.lower_s, self.t)
        block.end_t = self._wait(s.lower_s)
        self.blocks.append(block)

    def _switch_top(self, s: SetPlan, done: RepPlan, nxt: RepPlan) -> None:
        """Single leg from the top: set the working leg down bent, then raise the other (not reps)."""
        old, new = LEGS[done.moving_leg][0], LEGS[nxt.moving_leg][0]
        self._wait(self._u(0.3, 1.2))
        down_s, up_s = self._u(1.5, 2.5), self._u(1.5, 2.5)
        t_down = self.t
        self._plant_leg(old, s.support_knee_deg, down_s, t_down)
        t_up = t_down + (0.5 * down_s if s.switch_overlap else down_s + self._u(0.3, 1.2))
        self._free_leg(new, nxt.top_deg, s.knee_top_deg, up_s, t_up)
        self.t = max(t_down + down_s, t_up + up_s)
        self._wait(self._u(0.5, 1.5))

    def _floor_set(self, s: SetPlan) -> None:
        block = BlockWindow(s, 0.0 if s.already_started else -1.0, 0.0)
        for i, rep in enumerate(s.reps):
            self._wait(rep.mat_rest_s if i > 0 or not s.already_started else self._u(0.5, 3.0))
            w = self._commit_rep(s, rep, "floor", LEGS[rep.moving_leg])
            if block.start_t < 0:
                block.start_t = w.t0
            block.reps.append(w)
            if i in s.switch_after:
                self._switch_floor(s, rep, s.reps[i + 1])
        block.end_t = block.reps[-1].t1
        self.blocks.append(block)

    def _switch_floor(self, s: SetPlan, done: RepPlan, nxt: RepPlan) -> None:
        """Single leg from the floor: the working leg bends to support, the support leg straightens."""
        old, new = LEGS[done.moving_leg][0], LEGS[nxt.moving_leg][0]
        self._wait(self._u(0.3, 1.0))
        d1, d2 = self._u(1.2, 2.2), self._u(1.2, 2.2)
        t1 = self.t
        self._bend_planted(old, s.support_knee_deg, d1, t1)
        t2 = t1 + (0.4 * d1 if s.switch_overlap else d1 + self._u(0.2, 0.8))
        self._bend_planted(new, self.rest[f"knee{new}"], d2, t2)
        self.t = max(t1 + d1, t2 + d2)

    def _heel_set(self, s: SetPlan) -> None:
        start = self.t
        for i in (0, 1):
            self._bend_planted(i, s.tabletop_knee_deg + 10, 1.2, start)
        self.t = start + 1.2
        stagger = self._u(0.0, 0.8)
        for k, i in enumerate((0, 1)):
            e = float(s.tabletop_thigh_deg - self.m.thigh_over_line(s.tabletop_knee_deg))
            self._free_leg(i, e, s.tabletop_knee_deg, s.lift_s, self.t + k * stagger)
        self.t += s.lift_s + stagger
        self._wait(s.top_hold_s)
        block = BlockWindow(s, start, 0.0)
        for i, rep in enumerate(s.reps):
            if i > 0:
                self._wait(rep.top_pause_s)
            block.reps.append(self._commit_rep(s, rep, "heel", LEGS[rep.moving_leg]))
        self._wait(s.end_hold_s)
        for i in (0, 1):
            self._plant_leg(i, s.tabletop_knee_deg + 10, s.lower_s, self.t)
        block.end_t = self._wait(s.lower_s)
        self.blocks.append(block)

    # ------------------------------------------------------------------------------------------ reps
    def _commit_rep(self, s: SetPlan, rep: RepPlan, kind: str, legs: tuple[int, ...]) -> RepWindow:
        """Build the rep in scratch channels, correct its lowering time, then add it for real."""
        names = [f"{c}{i}" for i in legs for c in ("thigh", "knee", "plant")] + ["root_z"]
        # A minimum-jerk lowering covers its middle ~80 % between leaving and arriving (measure.py).
        lowering = rep.descent_s / 0.8 if rep.momentum_kind != "rebound" else rep.descent_s
        for _ in range(6):
            scratch = {n: Channel(self.ch[n].target) for n in names}
            w = self._build_rep(scratch, s, rep, kind, legs, lowering)
            t = np.arange(w.t0 - 0.05, w.t1 + 0.3, 1.0 / _SCRATCH_HZ)
            e = self.elevation(scratch, t, legs)
            if kind == "floor":
                ev = floor_rep_events(t, e, w.t0, w.t1, w.top_settled_t)
                got = ev.end - ev.leave_top
            else:
                ev = top_rep_events(t, e, w.t0, w.t1)
                got = ev.bottom - ev.start
            if abs(got - rep.descent_s) < 0.01:
                break
            # Bounded: the rep's shape is fixed by the plan, only its pace is being found.
            lowering = float(np.clip(lowering * rep.descent_s / max(got, 0.05), 0.2, 3.0 * rep.descent_s))
        for n in names:
            for mv in scratch[n].moves:
                self.ch[n].add(mv.delta, mv.t0, mv.duration)
        self.t = w.t1
        return w

    def _build_rep(self, ch: dict[str, Channel], s: SetPlan, rep: RepPlan, kind: str, legs: tuple[int, ...],
                   lowering_s: float) -> RepWindow:
        t0 = self.t
        offs = self._asym(s, legs)
        lag = {i: (rep.leg_lag_s if k == 1 else 0.0) for k, i in enumerate(legs)}
        if kind == "floor":
            return self._build_floor_rep(ch, s, rep, legs, offs, lag, t0, lowering_s)
        straight = s.variant in STRAIGHT
        if straight:
            bottom, knee_bottom, knee_top = rep.bottom_deg, rep.knee_min_deg, s.knee_top_deg
            top_next = rep.return_deg
        else:
            knee_bottom, knee_top = s.tap_knee_deg, s.tabletop_knee_deg
            bottom = float(self.m.floor_elevation(knee_bottom))
            top_next = float(s.tabletop_thigh_deg - self.m.thigh_over_line(knee_top))
            offs = {i: 0.0 for i in legs}
        end = t0
        if rep.momentum_kind == "rebound":
            # A lowering handed over, without stopping, to a quick drop that springs straight back up out
            # of the bottom, then the raise: four overlapping submovements (a bounce is a drop and a spring
            # of about the same size, the second starting before the first has ended).
            drop, td = rep.rebound_drop_deg, rep.rebound_drop_s
            dip = 2.0 if straight else -0.5  # heel taps bounce off the floor instead of dipping under
            main = max(0.4, lowering_s)
            for i in legs:
                a = t0 + lag[i]
                mid_knee = knee_bottom + 0.3 * (ch[f"knee{i}"].target - knee_bottom)
                ch[f"thigh{i}"].move_to(float(self.m.thigh_for(bottom + drop + offs[i], mid_knee)), a, main)
                ch[f"knee{i}"].move_to(knee_bottom, a, main + 0.5 * td)
                drop_t = a + main - 1.5 * td
                dropped = float(self.m.thigh_for(bottom - dip + offs[i], knee_bottom))
                ch[f"thigh{i}"].move_to(dropped, drop_t, td)
                spring_t = drop_t + 0.6 * td
                sprung = bottom - dip + 0.8 * drop
                ch[f"thigh{i}"].move_to(float(self.m.thigh_for(sprung + offs[i], knee_bottom)), spring_t, td)
                up_t = spring_t + 0.5 * td
                up_s = duration_for_peak_speed(top_next - sprung, rep.raise_peak_dps)
                ch[f"thigh{i}"].move_to(float(self.m.thigh_for(top_next + offs[i], knee_top)), up_t, up_s)
                ch[f"knee{i}"].move_to(knee_top, up_t, up_s)
                end = max(end, up_t + up_s)
            return RepWindow(rep, "top", legs, t0, end, end)
        for i in legs:
            a = t0 + lag[i]
            ch[f"thigh{i}"].move_to(float(self.m.thigh_for(bottom + offs[i], knee_bottom)), a, lowering_s)
            ch[f"knee{i}"].move_to(knee_bottom, a, lowering_s)
            end = max(end, a + lowering_s)
        up_t = t0 + lowering_s + rep.bottom_pause_s
        end = self._raise(ch, rep, legs, offs, lag, up_t, top_next, bottom, knee_top)
        return RepWindow(rep, "top", legs, t0, end, end)

    def _raise(self, ch: dict[str, Channel], rep: RepPlan, legs: tuple[int, ...], offs: dict[int, float],
               lag: dict[int, float], t_up: float, top: float, low: float, knee_top: float) -> float:
        """The raise to `top` (with an oscillating overshoot for that momentum kind); returns its end."""
        end = t_up
        for i in legs:
            a = t_up + lag[i]
            if rep.momentum_kind == "overshoot":
                peak = top + rep.overshoot_deg
                up_s = duration_for_peak_speed(peak - low, rep.raise_peak_dps)
                ch[f"thigh{i}"].move_to(float(self.m.thigh_for(peak + offs[i], knee_top)), a, up_s)
                ch[f"knee{i}"].move_to(knee_top, a, up_s)
                # Swings back and forth about the top, each smaller, overlapping so the legs never stop.
                amp, sign, t = rep.overshoot_deg, -1.0, a + 0.85 * up_s
                while amp > 0.8:
                    amp *= rep.overshoot_decay
                    ch[f"thigh{i}"].move_to(float(self.m.thigh_for(top + sign * amp + offs[i], knee_top)), t,
                                            rep.overshoot_swing_s)
                    t += 0.8 * rep.overshoot_swing_s
                    sign = -sign
                settled = float(self.m.thigh_for(top + offs[i], knee_top))
                ch[f"thigh{i}"].move_to(settled, t, rep.overshoot_swing_s)
                end = max(end, t + rep.overshoot_swing_s)
            else:
                up_s = max(0.2, duration_for_peak_speed(top - low, rep.raise_peak_dps))
                ch[f"thigh{i}"].move_to(float(self.m.thigh_for(top + offs[i], knee_top)), a, up_s)
                ch[f"knee{i}"].move_to(knee_top, a, up_s)
                end = max(end, a + up_s)
        return end

    def _build_floor_rep(self, ch: dict[str, Channel], s: SetPlan, rep: RepPlan, legs: tuple[int, ...],
                         offs: dict[int, float], lag: dict[int, float], t0: float,
                         lowering_s: float) -> RepWindow:
        knee_up = rep.knee_min_deg if "knees_bent" in rep.faults else s.knee_top_deg
        low = float(self.m.floor_elevation(self.rest["knee0"]))
        for i in legs:
            a = t0 + lag[i]
            # Lift off: hand the thigh over from the floor constraint to the free channel.
            ch[f"thigh{i}"].set_now(float(self.m.planted_thigh(ch[f"knee{i}"].target)), a)
            raise_s = max(0.4, duration_for_peak_speed(rep.top_deg, rep.raise_peak_dps))
            ch[f"plant{i}"].move_to(0.0, a, 0.25 * raise_s)
        top_end = self._raise(ch, rep, legs, offs, lag, t0, rep.top_deg, low, knee_up)
        down = top_end + rep.top_pause_s
        end = down
        for i in legs:
            a = down + lag[i]
            knee = self.rest[f"knee{i}"]
            ch[f"thigh{i}"].move_to(float(self.m.planted_thigh(knee)), a, lowering_s)
            ch[f"knee{i}"].move_to(knee, a, lowering_s)
            ch[f"plant{i}"].move_to(1.0, a + 0.65 * lowering_s, 0.35 * lowering_s)
            end = max(end, a + lowering_s)
        return RepWindow(rep, "floor", legs, t0, end, top_end)

    # --------------------------------------------------------------------------------------- session
    def _initial_posture(self) -> dict[str, float]:
        plan = self.plan
        if plan.opening == "walk_in":
            stand, _, _ = self._get_down_postures()
            half_view = 0.5 * self.m.stature / plan.camera.fill + 1.5
            u0 = stand["root_u"] + half_view + 1.0 if plan.enter_from == "feet" else -half_view - 1.0
            return stand | {"root_u": u0, "yaw": 180.0 if plan.enter_from == "feet" else 0.0}
        posture = dict(self.rest)
        first = plan.blocks[0]
        legs = LEGS[first.reps[0].moving_leg]
        if first.variant == "single_leg":
            support = 1 - legs[0]
            posture[f"knee{support}"] = first.support_knee_deg
            posture[f"thigh{support}"] = float(self.m.planted_thigh(first.support_knee_deg))
        if plan.opening == "mid_set_top":
            offs = self._asym(first, legs)
            for i in legs:
                posture[f"plant{i}"] = 0.0
                posture[f"knee{i}"] = first.knee_top_deg
                top = first.reps[0].top_deg + offs[i]
                posture[f"thigh{i}"] = float(self.m.thigh_for(top, first.knee_top_deg))
        return posture

    def _build(self) -> None:
        plan = self.plan
        self.ch = {name: Channel(v) for name, v in self._initial_posture().items()}
        if plan.opening == "walk_in":
            stand, _, _ = self._get_down_postures()
            self._wait(plan.lead_in_s)
            self._walk(stand["root_u"])
            if plan.enter_from == "feet":
                self._go({"yaw": 0.0}, self._u(0.8, 1.3))
            self._get_down()
            self.lie_down_t = self.t
            self._rest(plan.setup, self._prepare_s(plan.blocks[0]))
        for k, block in enumerate(plan.blocks):
            if not block.already_started:
                self._prepare(block)
            if block.variant == "hollow_hold":
                self._hollow(block)
            elif block.variant == "heel_tap":
                self._heel_set(block)
            elif block.start == "top":
                self._top_set(block)
            else:
                self._floor_set(block)
            if k < len(plan.rests):
                self._rest(plan.rests[k], self._prepare_s(plan.blocks[k + 1]))
        self._rest(plan.cooldown)
        self.get_up_t = self.t
        self._get_up()
        stand, _, _ = self._get_down_postures()
        half_view = 0.5 * self.m.stature / plan.camera.fill + 1.5
        if plan.leave_to == "feet":
            self._walk(stand["root_u"] + half_view + 1.0)
        else:
            self._go({"yaw": 180.0}, self._u(0.8, 1.3))
            self._walk(-half_view - 1.0)
        self.end_t = self.t + plan.tail_s


def add_walk(ch: dict[str, Channel], t0: float, u_to: float, speed: float, stature: float,
             phase0: float) -> float:
    """Walk along the body's u axis to u_to from t0; returns the arrival time.

    The pelvis makes one minimum-jerk move; the legs and arms swing with a gait phase that follows the
    distance covered (so the feet roughly keep pace with the ground) and an amplitude that follows the
    speed (so the walk starts and ends standing).
    """
    u_from = ch["root_u"].target
    dist = abs(u_to - u_from)
    if dist < 1e-3:
        return t0
    duration = 1.6 * dist / speed  # a minimum-jerk move averages 1/1.6 of its peak speed... roughly
    ch["root_u"].move_to(u_to, t0, duration)
    stride = 0.8 * stature

    def progress(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tau = (t - t0) / duration
        phase = 2 * math.pi * profile(tau) * dist / stride + phase0
        return phase, np.clip(profile_speed(tau) / PEAK_SPEED_FACTOR * 1.6, 0.0, 1.0)

    def swing(amp: float, shift: float, squared: bool = False) -> Wave:
        def fn(t: np.ndarray) -> np.ndarray:
            phase, env = progress(t)
            s = np.sin(phase + shift)
            return amp * env * (np.clip(s, 0.0, None) ** 2 if squared else s)
        return fn

    for i in (0, 1):
        ch[f"thigh{i}"].add_wave(t0, t0 + duration, swing(24.0, i * math.pi))
        ch[f"knee{i}"].add_wave(t0, t0 + duration, swing(-45.0, i * math.pi + 1.2, squared=True))
        ch[f"arm{i}"].add_wave(t0, t0 + duration, swing(-16.0, i * math.pi))

    def bob(t: np.ndarray) -> np.ndarray:
        phase, env = progress(t)
        return -0.025 * env * np.abs(np.cos(phase))

    ch["root_z"].add_wave(t0, t0 + duration, bob)
    return t0 + duration
