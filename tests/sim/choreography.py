"""The member's whole session as joint-angle tracks over time, with the ground-truth timings.

Walk in → get down (stand, squat, sit, lie back) → set-up → blocks (sets / hollow hold) with rests →
cool-down → sit up, stand, then, for a session with hanging sets, walk to the bar beside the feet end of
the mat, reach up and hang, do the sets (dropping to stand between them) → walk out. Legs are driven as
elevation; a per-leg `floor_w` weight makes the elevation relative to floor contact (w = 1: 0 means the
foot is on the floor whatever the knee does, so a knee can be drawn up with the foot sliding on the mat)
or absolute (w = 0: standing, hanging, straight-leg reps). Hanging, the whole body turns about the bar by
the `swing` channel (a swing under the bar), plus a lean back that grows as the legs come up (the body's
balance point stays under the bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tests.sim.body import (
    ANKLE_Z_STANDING,
    HEAD_Z_LYING,
    HIP_Z_LYING,
    SHOULDER_Z_LYING,
    Anthropometry,
    Pose,
    gait,
)
from tests.sim.profiles import Fn, Track, move_duration, ramp_unit, smooth_noise
from tests.sim.spec import NON_REPS, STRAIGHT_LEG, RepSpec, SessionSpec, SetSpec
from tests.sim.truth import FidgetTruth

CHANNELS = ("pel_u", "pel_z", "yaw", "lumbar", "thorax", "neck", "head_yaw",
            "w0", "w1", "e0", "e1", "k0", "k1", "au0", "au1", "ak0", "ak1", "swing", "hang")
WALK_SPEED = 1.1  # m/s, the member's own walk
LEGS: dict[str, tuple[int, ...]] = {"both": (0, 1), "left": (0,), "right": (1,)}


@dataclass(slots=True)
class RepTiming:
    """Construction times of one rep; the angles are measured later on the dense kinematics."""

    spec: RepSpec
    start_t: float
    bottom_t: float  # arrival at the lowest point
    leave_bottom_t: float
    end_t: float
    legs: tuple[int, ...]


@dataclass(slots=True)
class BlockTiming:
    spec: SetSpec
    start_t: float
    end_t: float
    reps: list[RepTiming] = field(default_factory=list)


class Choreography:
    """Builds every channel's track for the session at construction; `pose(t)` evaluates them."""

    def __init__(self, spec: SessionSpec, body: Anthropometry, rng: np.random.Generator) -> None:
        self.spec, self.body, self.rng = spec, body, rng
        self.blocks: list[BlockTiming] = []
        # Lying on the mat (None: no mat blocks, the member came for the bar only).
        self.lie_down_t: float | None = None
        self.get_up_t: float | None = None
        self.holds: list[tuple[float, float]] = []  # (reached, released) of each hollow hold
        self.fidgets: list[FidgetTruth] = []
        b = body
        # Lying rest posture: joint heights from body thickness; the lower back curves up a little.
        self.rest: dict[str, float] = {
            "pel_u": 0.0, "pel_z": HIP_Z_LYING, "yaw": 0.0, "lumbar": 178.0, "head_yaw": 0.0,
            "w0": 1.0, "w1": 1.0, "e0": 0.0, "e1": 0.0,
            "k0": float(rng.uniform(174, 179)), "k1": float(rng.uniform(174, 179)),
            "ak0": float(rng.uniform(155, 175)), "ak1": float(rng.uniform(155, 175)),
        }
        lumbar_z = HIP_Z_LYING + b.lumbar * math.sin(math.radians(180 - self.rest["lumbar"]))
        self.rest["thorax"] = 180.0 + math.degrees(math.asin((lumbar_z - SHOULDER_Z_LYING) / b.thorax))
        self.rest["neck"] = 180.0 - math.degrees(math.asin((HEAD_Z_LYING - SHOULDER_Z_LYING) / b.neck))
        arm_down = -math.degrees(math.asin((SHOULDER_Z_LYING - 0.035) / b.upper_arm))
        self.rest["au0"] = self.rest["au1"] = arm_down
        self.stand_z = b.standing_hip_z()
        # Where the feet are planted while sitting down with the knees up.
        self.feet_u = 0.50 * b.stature / 1.75 + 0.05
        self.sit_z = 0.10
        self.standing: dict[str, float] = {
            "pel_u": self.feet_u, "pel_z": self.stand_z, "lumbar": 90.0, "thorax": 90.0, "neck": 92.0,
            "head_yaw": 0.0, "w0": 0.0, "w1": 0.0, "e0": -90.0, "e1": -90.0, "k0": 178.0, "k1": 178.0,
            "au0": -90.0, "au1": -90.0, "ak0": 165.0, "ak1": 165.0, "swing": 0.0, "hang": 0.0,
        }
        self.tracks: dict[str, Track] = {}
        # The bar (u, z of the hands holding it) and the hanging pelvis height, for hanging sets.
        self.bar_uz = (0.0, 0.0)
        self.hang: dict[str, float] = {}
        if spec.bar is not None:
            self._place_bar()
        self._noise = {name: smooth_noise(rng, f) for name, f in
                       (("tremor0", (5, 9)), ("tremor1", (5, 9)), ("sway0", (0.2, 0.8)),
                        ("sway1", (0.2, 0.8)), ("breath", (0.2, 0.35)), ("head", (0.1, 0.4)))}
        self._build()

    # ----------------------------------------------------------------------------------------- helpers
    def _sync(self) -> float:
        t = max(tr.t for tr in self.tracks.values())
        for tr in self.tracks.values():
            tr.hold_until(t)
        return t

    def _move(self, targets: dict[str, float], duration: float) -> float:
        """Move several channels together with smooth S-curves (after syncing); return the end time."""
        t0 = self._sync()
        for name, v in targets.items():
            self.tracks[name].move_to(v, duration)
        for tr in self.tracks.values():
            tr.hold_until(t0 + duration)
        return t0 + duration

    def _u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    # ------------------------------------------------------------------------------------------ phases
    def _walk(self, u_from: float, u_to: float) -> None:
        """Walk along the mat axis from u_from to u_to, then settle into standing."""
        # The body's yaw already faces the walking direction (set at the start, or after standing up).
        direction = 1.0 if u_to > u_from else -1.0
        t0 = self._sync()
        duration = abs(u_to - u_from) / WALK_SPEED
        phase0 = self._u(0, 2 * math.pi)
        body = self.body

        def channel(name: str, idx: int | None) -> Fn:
            def fn(t: np.ndarray) -> np.ndarray:
                g = gait(body, t, t0, 0.0, WALK_SPEED, phase0)
                if name == "pel_u":
                    return u_from + direction * (g["pel_u"])
                return g[name] if idx is None else g[name][:, idx]
            return fn

        sources = {"pel_u": ("pel_u", None), "pel_z": ("pel_z", None), "e0": ("leg_e", 0), "e1": ("leg_e", 1),
                   "k0": ("leg_k", 0), "k1": ("leg_k", 1), "au0": ("arm_u", 0), "au1": ("arm_u", 1)}
        # Step off: ease from standing into the gait's first values so the channels stay continuous.
        step_in = 0.4
        t0 += step_in
        fns = {name: channel(src, idx) for name, (src, idx) in sources.items()}
        for name, fn in fns.items():
            self.tracks[name].move_to(float(fn(np.array([t0]))[0]), step_in)
        for name, fn in fns.items():
            self.tracks[name].add(duration, fn, float(fn(np.array([t0 + duration]))[0]))
        self._move({k: v for k, v in self.standing.items() if k not in ("pel_u", "head_yaw")}
                   | {"pel_u": u_to}, 0.6)

    def _get_down(self) -> None:
        """Stand → squat → sit with the feet planted (leg angles by inverse kinematics) → lie back."""
        squat = {"lumbar": 62.0, "thorax": 55.0, "neck": 70.0, "au0": -20.0, "au1": -20.0,
                 "ak0": 160.0, "ak1": 160.0}
        sit = {"lumbar": 108.0, "thorax": 100.0, "neck": 95.0, "au0": -40.0, "au1": -40.0}
        self._planted(squat, (self.feet_u - 0.22, 0.55 * self.stand_z), self._u(1.0, 1.6))
        self._planted(sit, (0.0, self.sit_z), self._u(0.8, 1.4))
        lie = {k: self.rest[k] for k in self.rest if k not in ("yaw", "pel_u")}
        self._move(lie, self._u(1.5, 2.2))

    def _get_up(self) -> None:
        """Lie → sit (knees drawn up, feet planted) → squat → stand, the reverse of getting down."""
        b, feet_u = self.body, self.feet_u
        e_sit, k_sit = b.leg_ik(np.array([0.0]), np.array([self.sit_z]), feet_u, ANKLE_Z_STANDING)
        sit = {"pel_z": self.sit_z, "lumbar": 108.0, "thorax": 100.0, "neck": 95.0, "au0": -40.0,
               "au1": -40.0, "head_yaw": 0.0, "w0": 0.0, "w1": 0.0, "e0": float(e_sit[0]),
               "e1": float(e_sit[0]), "k0": float(k_sit[0]), "k1": float(k_sit[0])}
        self._move(sit, self._u(1.5, 2.2))
        squat = {"lumbar": 62.0, "thorax": 55.0, "neck": 70.0, "au0": -20.0, "au1": -20.0}
        stand = {k: self.standing[k] for k in ("lumbar", "thorax", "neck", "au0", "au1", "ak0", "ak1")}
        self._planted(squat, (feet_u - 0.22, 0.55 * self.stand_z), self._u(0.9, 1.4))
        self._planted(stand, (feet_u, self.stand_z), self._u(1.0, 1.6))

    def _planted(self, targets: dict[str, float], pelvis: tuple[float, float], duration: float) -> None:
        """Move the pelvis and trunk while the feet stay planted (legs by inverse kinematics)."""
        t0 = self._sync()
        pu, pz = self.tracks["pel_u"], self.tracks["pel_z"]
        pu.move_to(pelvis[0], duration)
        pz.move_to(pelvis[1], duration)
        body, feet_u = self.body, self.feet_u
        for j, name in enumerate(("e", "k")):
            def fn(t: np.ndarray, j: int = j) -> np.ndarray:
                return body.leg_ik(pu(t), pz(t), feet_u, ANKLE_Z_STANDING)[j]
            end = float(fn(np.array([t0 + duration]))[0])
            for side in (0, 1):
                self.tracks[f"{name}{side}"].add(duration, fn, end)
        for name, v in targets.items():
            self.tracks[name].move_to(v, duration)

    def _rest(self, duration: float, fidgets: bool) -> None:
        """Lie still, with small non-rep movements at the member's fidget rate."""
        t_end = self._sync() + duration
        if not fidgets or (self.spec.fidgets_per_min <= 0 and not self.spec.non_reps_per_rest):
            self._sync_to(t_end)
            return
        t = self._sync() + self._u(1.0, 5.0)
        for _ in range(self.spec.non_reps_per_rest):
            kind = str(self.rng.choice(NON_REPS))
            moves = self._non_rep_moves(kind)
            length = sum(d for _, d in moves)
            if t + length > t_end - 6.0:
                break
            self._perform(kind, moves, t)
            t += length + self._u(2.0, 5.0)
        if duration > 25 and self.rng.random() < 0.3:
            self._sync_to(t)
            bend = {"k0": self._u(70, 95), "k1": self._u(70, 95)}
            start = t
            self._move(bend, self._u(1.0, 1.8))
            self._sync_to(t + self._u(8, duration - 12))
            t = self._move({"k0": self.rest["k0"], "k1": self.rest["k1"]}, self._u(1.0, 1.8))
            self.fidgets.append(FidgetTruth("knees_up", start, t))
            t += self._u(1, 3)
        if self.spec.fidgets_per_min <= 0:
            self._sync_to(t_end)
            return
        mean_gap = 60.0 / self.spec.fidgets_per_min
        while True:
            kind = str(self.rng.choice(["knee_draw", "leg_lift", "hip_shift", "arm", "head_turn"]))
            moves = self._fidget_moves(kind)
            length = sum(d for _, d in moves)
            if t + length > t_end - 1.0:
                break
            self._perform(kind, moves, t)
            t += length + float(self.rng.exponential(mean_gap))
        self._sync_to(t_end)

    def _perform(self, kind: str, moves: list[tuple[dict[str, float], float]], t: float) -> None:
        """Make the moves one after another from time t, and record them in the truth as `kind`."""
        self._sync_to(t)
        for targets, d in moves:
            self._move(targets, d)
        self.fidgets.append(FidgetTruth(kind, t, t + sum(d for _, d in moves)))

    def _sync_to(self, t: float) -> None:
        for tr in self.tracks.values():
            tr.hold_until(t)

    def _non_rep_moves(self, kind: str) -> list[tuple[dict[str, float], float]]:
        """(targets, seconds) of one movement that is no rep, from lying flat back to it."""
        rest, side = self.rest, int(self.rng.integers(2))
        back = {k: rest[k] for k in ("pel_z", "lumbar", "thorax", "neck", "w0", "w1", "e0", "e1", "k0", "k1",
                                     "au0", "au1", "ak0", "ak1")}
        if kind == "hamstring_stretch":
            # One straight leg raised slowly and held up, pulled closer now and then; the other rests.
            e, k = f"e{side}", f"k{side}"
            up = self._u(75, 105)
            moves = [({e: up, f"w{side}": 0.0, k: self._u(168, 178), f"au{side}": self._u(55, 75),
                       f"ak{side}": self._u(150, 175)}, self._u(2.0, 4.0))]
            for _ in range(int(self.rng.integers(1, 4))):
                moves += [({e: up + self._u(4, 10)}, self._u(1.5, 3.0)), ({e: up}, self._u(1.5, 3.0))]
            return [*moves, ({}, self._u(2.0, 8.0)), (back, self._u(2.0, 4.0))]
        if kind == "knee_hug":
            knee = self._u(40, 60)
            hug = {"w0": 0.0, "w1": 0.0, "k0": knee, "k1": knee,
                   "e0": self._u(125, 140) - float(self.body.thigh_offset(knee)),
                   "e1": self._u(125, 140) - float(self.body.thigh_offset(knee)),
                   "thorax": rest["thorax"] - self._u(10, 25), "au0": self._u(30, 50), "au1": self._u(30, 50),
                   "ak0": self._u(70, 100), "ak1": self._u(70, 100)}
            return [(hug, self._u(1.2, 2.2)), ({}, self._u(3.0, 10.0)), (back, self._u(1.2, 2.2))]
        if kind == "sit_up":
            b, feet_u = self.body, 0.8 * self.feet_u
            e_sit, k_sit = b.leg_ik(np.array([0.0]), np.array([self.sit_z]), feet_u, ANKLE_Z_STANDING)
            sit = {"pel_z": self.sit_z, "lumbar": 105.0, "thorax": 100.0, "neck": 95.0, "w0": 0.0, "w1": 0.0,
                   "e0": float(e_sit[0]), "e1": float(e_sit[0]), "k0": float(k_sit[0]), "k1": float(k_sit[0]),
                   "au0": -40.0, "au1": -40.0}
            drink = {f"au{side}": self._u(60, 80), f"ak{side}": self._u(30, 50)}
            return [(sit, self._u(1.5, 2.5)), (drink, self._u(0.8, 1.2)), ({}, self._u(2.0, 6.0)),
                    ({f"au{side}": -40.0, f"ak{side}": 160.0}, self._u(0.8, 1.2)), (back, self._u(1.5, 2.5))]
        # Crunches: knees bent with the feet flat, shoulders curled off the mat and back, a few times.
        knee = self._u(80, 95)
        bent = {"k0": knee, "k1": knee, "au0": self._u(40, 70), "au1": self._u(40, 70)}
        moves = [(bent, self._u(1.0, 1.6))]
        for _ in range(int(self.rng.integers(2, 6))):
            moves += [({"thorax": rest["thorax"] - self._u(25, 40), "neck": rest["neck"] - self._u(20, 35)},
                       self._u(0.7, 1.2)),
                      ({"thorax": rest["thorax"], "neck": rest["neck"]}, self._u(0.7, 1.2))]
        return [*moves, (back, self._u(1.0, 1.6))]

    def _fidget_moves(self, kind: str) -> list[tuple[dict[str, float], float]]:
        side = int(self.rng.integers(2))
        rest = self.rest
        if kind == "knee_draw":
            k = f"k{side}"
            return [({k: self._u(60, 95)}, self._u(0.8, 1.5)), ({}, self._u(0.5, 3.0)),
                    ({k: rest[k]}, self._u(0.8, 1.5))]
        if kind == "leg_lift":
            e = f"e{side}"
            return [({e: self._u(8, 18)}, self._u(1.0, 1.8)), ({}, self._u(0.0, 1.0)),
                    ({e: 0.0}, self._u(1.0, 1.8))]
        if kind == "hip_shift":
            u = float(np.clip(self.tracks["pel_u"].value + self._u(-0.05, 0.05), -0.1, 0.1))
            return [({"pel_z": HIP_Z_LYING + self._u(0.02, 0.05), "pel_u": u}, self._u(0.5, 0.9)),
                    ({"pel_z": HIP_Z_LYING}, self._u(0.5, 0.9))]
        if kind == "arm":
            a = f"au{side}"
            return [({a: self._u(30, 100), f"ak{side}": self._u(120, 175)}, self._u(0.8, 1.5)),
                    ({}, self._u(0.0, 2.0)),
                    ({a: rest[a], f"ak{side}": rest[f"ak{side}"]}, self._u(0.8, 1.5))]
        turn = self._u(20, 50) * (1 if side else -1)
        return [({"head_yaw": turn, "neck": rest["neck"] - self._u(0, 15)}, self._u(0.6, 1.2)),
                ({}, self._u(0.5, 3.0)), ({"head_yaw": 0.0, "neck": rest["neck"]}, self._u(0.6, 1.2))]

    # --------------------------------------------------------------------------------------- exercise
    def _hollow(self, s: SetSpec) -> None:
        rest = self.rest
        start = self._sync()
        thorax = rest["thorax"] - s.hollow_shoulder_deg
        hollow = {"thorax": thorax, "neck": thorax - self._u(5, 15), "w0": 0.0, "w1": 0.0,
                  "e0": s.hollow_leg_deg + self._u(-1, 1), "e1": s.hollow_leg_deg + self._u(-1, 1),
                  "k0": s.knee_top_deg, "k1": s.knee_top_deg, "au0": self._u(3, 12), "au1": self._u(3, 12)}
        held = self._move(hollow, s.lift_s)
        self._sync_to(held + s.hold_s)
        release = {k: rest[k] for k in ("thorax", "neck", "w0", "w1", "e0", "e1", "k0", "k1", "au0", "au1")}
        end = self._move(release, s.lower_s)
        self.blocks.append(BlockTiming(s, start, end))
        self.holds.append((held, held + s.hold_s))

    def _rep_set(self, s: SetSpec) -> None:
        rest = self.rest
        straight = s.variant in STRAIGHT_LEG
        first = s.reps[0]
        if s.variant == "single_leg":
            # Bend the support knee with the foot flat before the first lift.
            support = 1 if first.moving_leg == "left" else 0
            self._move({f"k{support}": s.support_knee_deg}, self._u(0.8, 1.3))
            self._sync_to(self._sync() + self._u(0.3, 1.0))
        start = self._sync()
        if s.start == "floor":
            block = BlockTiming(s, start, 0.0)
            for i, rep in enumerate(s.reps):
                if i:
                    self._sync_to(self._sync() + rep.bottom_pause_s)
                block.reps.append(self._floor_rep(s, rep, LEGS[rep.moving_leg]))
            block.end_t = self._sync()
            self._move({"k0": rest["k0"], "k1": rest["k1"]}, self._u(0.6, 1.0))
            self.blocks.append(block)
            return
        # Initial lift (not a rep). Straight legs switch to absolute elevation on the way up.
        if straight:
            moving = LEGS[first.moving_leg]
            offs = self._asym(s, moving)
            lift = {f"e{i}": first.top_deg + offs[i] for i in moving} | {f"w{i}": 0.0 for i in moving}
            lift |= {f"k{i}": s.knee_top_deg for i in moving}
        else:
            top = first.top_deg - self._floor_e(s.tabletop_knee_deg)
            lift = {"e0": top, "e1": top, "k0": s.tabletop_knee_deg, "k1": s.tabletop_knee_deg}
        self._move(lift, s.lift_s)
        block = BlockTiming(s, start, 0.0)
        for i, rep in enumerate(s.reps):
            self._sync_to(self._sync() + rep.top_pause_s + (0.3 if i == 0 else 0.0))
            nxt = s.reps[i + 1].top_deg if i + 1 < len(s.reps) else rep.top_deg
            block.reps.append(self._rep(s, rep, nxt, LEGS[rep.moving_leg]))
        self._sync_to(self._sync() + self._u(0.3, 1.5))
        # Lower to the floor (not a rep) and relax the knees.
        down = {"e0": 0.0, "e1": 0.0, "w0": 1.0, "w1": 1.0, "k0": rest["k0"], "k1": rest["k1"]}
        block.end_t = self._move(down, s.lower_s)
        self.blocks.append(block)

    def _floor_rep(self, s: SetSpec, rep: RepSpec, legs: tuple[int, ...]) -> RepTiming:
        """One rep from the floor: raise from the mat to the top (maybe swinging past it), pause, lower
        back onto the mat. Timings are stored as for a hanging raise (see `_hang_rep`)."""
        offs = self._asym(s, legs)
        start = self._sync()
        r0, r1 = rep.ascent_ramps
        if rep.momentum_kind == "overshoot":
            r1 = 0.0
        t_up = move_duration(rep.top_deg, rep.ascent_peak_dps, r0, r1)
        for i in legs:
            self.tracks[f"e{i}"].move_to(rep.top_deg + offs[i], t_up, r0, r1)
            self.tracks[f"w{i}"].move_to(0.0, min(0.3, t_up / 3))
            # Knees bend on the way up (knees_bent: most at the top) and straighten again on the way down.
            self.tracks[f"k{i}"].move_to(rep.knee_min_deg, t_up)
        top_t = start + t_up
        if rep.momentum_kind == "overshoot":
            zeta = -math.log(rep.overshoot_decay) / (2 * math.pi)
            x = math.atan(1 / zeta)
            amp = rep.overshoot_deg / (math.exp(-zeta * x) * math.sin(x))
            omega = 2 * math.pi * self._u(0.6, 1.2)
            t_osc = max(2, math.ceil(math.log(amp / 0.3) / (zeta * math.pi))) * math.pi / omega
            for i in legs:
                tp = rep.top_deg + offs[i]
                self.tracks[f"e{i}"].add(t_osc, lambda t, t1=top_t, tp=tp: tp + amp * np.exp(
                    -zeta * omega * (t - t1)) * np.sin(omega * (t - t1)), tp)
        leave_top = self._sync() + rep.top_pause_s
        self._sync_to(leave_top)
        for i in legs:
            self.tracks[f"e{i}"].move_to(0.0, rep.descent_s, *rep.descent_ramps)
            self.tracks[f"k{i}"].move_to(s.knee_top_deg, rep.descent_s)
        end = leave_top + rep.descent_s
        self._sync_to(end)
        for i in legs:
            self.tracks[f"w{i}"].move_to(1.0, 0.2)
        return RepTiming(rep, start, top_t, leave_top, end, legs)

    def _asym(self, s: SetSpec, moving: tuple[int, ...]) -> dict[int, float]:
        if len(moving) == 2:
            return {0: s.leg_asym_deg / 2, 1: -s.leg_asym_deg / 2}
        return {moving[0]: 0.0}

    def _floor_e(self, knee: float) -> float:
        return float(self.body.floor_elevation(knee))

    def _rep(self, s: SetSpec, rep: RepSpec, next_top: float, legs: tuple[int, ...]) -> RepTiming:
        """One rep on the moving leg(s): descent, bottom (pause or rebound), ascent (maybe overshoot)."""
        straight = s.variant in STRAIGHT_LEG
        offs = self._asym(s, legs)
        # Heel taps are driven relative to floor contact (w = 1), straight legs in absolute elevation.
        floor_off = 0.0 if straight else self._floor_e(s.tabletop_knee_deg)
        top_next = next_top - floor_off
        if straight:
            bottom = rep.bottom_deg
            low = bottom - rep.rebound_deg
        else:
            # The heel taps the floor; a rebound bounces off it from a little above.
            bottom = rep.rebound_deg
            low = 0.0
        start = self._sync()
        e_tracks = [self.tracks[f"e{i}"] for i in legs]
        k_tracks = [self.tracks[f"k{i}"] for i in legs]
        r0, r1 = rep.descent_ramps
        if rep.momentum_kind == "rebound":
            # A bounce: the legs are let go over the last part of the lowering, drop into the bottom at
            # rebound speed, dip below it and spring straight back out (SPEC: "bouncing out of the
            # bottom"), instead of slowing to a stop. Leaving the top → lowest point takes descent_s.
            d = bottom - low
            dist = e_tracks[0].value - offs[legs[0]] - bottom
            v_arr = rep.rebound_speed_dps
            for _ in range(4):  # the dip's length depends on the arrival speed and vice versa
                t_dip = math.pi * d / v_arr
                t_b = rep.descent_s - t_dip / 2
                t_acc = min(0.3, t_b / 3)
                v1 = (dist - v_arr * t_acc / 2) / (t_b - r0 / 2 - t_acc / 2)
                if v1 > v_arr:  # a fast lowering already arrives at bounce speed
                    t_acc, v1 = 0.0, dist / (t_b - r0 / 2)
                    v_arr = v1
            grid = np.linspace(0.0, t_b, 2000)
            speed = np.full_like(grid, v1)
            ramp = grid < r0
            speed[ramp] = v1 * 0.5 * (1 - np.cos(math.pi * grid[ramp] / r0))
            blend = grid > t_b - t_acc
            if t_acc > 0:
                w = (grid[blend] - (t_b - t_acc)) / t_acc
                speed[blend] = v1 + (v_arr - v1) * 0.5 * (1 - np.cos(math.pi * w))
            travelled = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(grid))])
            travelled *= dist / travelled[-1]
            for i, et in zip(legs, e_tracks, strict=True):
                t0, v0 = et.t, et.value
                et.add(t_b, lambda t, t0=t0, v0=v0: v0 - np.interp(t - t0, grid, travelled), bottom + offs[i])
                t1, b = et.t, bottom + offs[i]
                et.add(t_dip, lambda t, t1=t1, b=b: b - d * np.sin(math.pi * (t - t1) / t_dip), b)
            bottom_t = start + t_b + t_dip / 2
            leave_bottom = bottom_t
            a0 = 0.0
        else:
            for i, et in zip(legs, e_tracks, strict=True):
                et.move_to(bottom + offs[i], rep.descent_s, r0, r1)
            bottom_t = start + rep.descent_s
            leave_bottom = bottom_t + rep.bottom_pause_s
            for et in e_tracks:
                et.hold_until(leave_bottom)
            a0 = rep.ascent_ramps[0]
            if rep.momentum_kind is None and rep.bottom_pause_s == 0.0:
                # A controlled turnaround without a pause still eases out of the bottom; only a bounce
                # (above) leaves it at speed.
                a0 = max(a0, 0.45)
        # Knees bend towards the bottom and straighten on the way up.
        k_top = s.knee_top_deg
        for kt in k_tracks:
            kt.move_to(rep.knee_min_deg, bottom_t - start)
            kt.hold_until(leave_bottom)
        a1 = 0.0 if rep.momentum_kind == "overshoot" else rep.ascent_ramps[1]
        asc_from = max(et.t for et in e_tracks)
        for et in e_tracks:
            et.hold_until(asc_from)
        if rep.momentum_kind == "overshoot":
            # Damped oscillation about the top; the arrival speed is continuous with the ascent.
            zeta = -math.log(rep.overshoot_decay) / (2 * math.pi)
            x = math.atan(1 / zeta)
            amp = rep.overshoot_deg / (math.exp(-zeta * x) * math.sin(x))
            omega = 2 * math.pi * self._u(0.6, 1.2)
            speed = amp * omega
            n_half = max(2, math.ceil(math.log(amp / 0.3) / (zeta * math.pi)))
            t_osc = n_half * math.pi / omega
        else:
            speed = rep.ascent_peak_dps
        # A short fast return has no room for long ramps; shrink them so the peak speed is still reached.
        shrink = min(1.0, abs(top_next - bottom) / speed / max(a0 + a1, 1e-9))
        a0, a1 = a0 * shrink, a1 * shrink
        t_asc = move_duration(top_next - bottom, speed, a0, a1)
        for i, et in zip(legs, e_tracks, strict=True):
            et.move_to(top_next + offs[i], t_asc, a0, a1)
            if rep.momentum_kind == "overshoot":
                t1, tp = et.t, top_next + offs[i]
                et.add(t_osc, lambda t, t1=t1, tp=tp: tp + amp * np.exp(-zeta * omega * (t - t1))
                       * np.sin(omega * (t - t1)), tp)
        end_t = asc_from + t_asc
        for kt in k_tracks:
            kt.hold_until(asc_from)
            kt.move_to(k_top, t_asc)
        return RepTiming(rep, start, bottom_t, leave_bottom, end_t, legs)

    # ------------------------------------------------------------------------------------------ the bar
    def _place_bar(self) -> None:
        """Where the bar is and how the member hangs from it: arms straight up, feet clear of the floor."""
        bar, b = self.spec.bar, self.body
        assert bar is not None
        arm_deg = self._u(86, 92)
        knee = 176.0
        pel_z = ANKLE_Z_STANDING + bar.clearance_m + float(b.hip_ankle(knee))
        pel_u = self.feet_u + bar.beyond_feet_m
        reach = b.upper_arm + b.forearm
        self.bar_uz = (pel_u + reach * math.cos(math.radians(arm_deg)),
                       pel_z + b.lumbar + b.thorax + reach * math.sin(math.radians(arm_deg)))
        self.hang = {"pel_u": pel_u, "pel_z": pel_z, "lumbar": 90.0, "thorax": 90.0, "neck": self._u(88, 96),
                     "w0": 0.0, "w1": 0.0, "e0": -90.0, "e1": -90.0, "k0": knee, "k1": knee,
                     "au0": arm_deg, "au1": arm_deg, "ak0": 178.0, "ak1": 178.0, "hang": 1.0}

    def _hang_set(self, s: SetSpec) -> None:
        """Reach up, hang, the set's raises from the hang, let go and stand under the bar."""
        self._move({"au0": self.hang["au0"], "au1": self.hang["au1"], "ak0": 178.0, "ak1": 178.0},
                   self._u(0.5, 0.9))
        start = self._move(self.hang | {"k0": s.knee_top_deg, "k1": s.knee_top_deg}, s.lift_s)
        self._sync_to(start + self._u(0.8, 2.0))
        block = BlockTiming(s, start, 0.0)
        for rep in s.reps:
            block.reps.append(self._hang_rep(s, rep))
        block.end_t = self._sync()
        stand = {k: self.standing[k] for k in ("pel_z", "lumbar", "thorax", "neck", "e0", "e1", "k0", "k1",
                                               "au0", "au1", "ak0", "ak1")}
        self._move(stand | {"hang": 0.0}, s.lower_s)
        self.blocks.append(block)

    def _hang_rep(self, s: SetSpec, rep: RepSpec) -> RepTiming:
        """Raise from the hang to the top, lower back, hang still a moment. Timings are stored as a floor
        rep's: start = lift-off, "bottom" = arrival at the top, "leave bottom" = leaving it."""
        start = self._sync()
        r0, r1 = rep.ascent_ramps
        t_up = move_duration(rep.top_deg - rep.bottom_deg, rep.ascent_peak_dps, r0, r1)
        for i in (0, 1):
            self.tracks[f"e{i}"].move_to(-90.0 + rep.top_deg, t_up, r0, r1)
            self.tracks[f"k{i}"].move_to(rep.knee_min_deg, t_up)
        top_t = self._sync()
        leave_top = top_t + rep.top_pause_s
        self._sync_to(leave_top)
        for i in (0, 1):
            self.tracks[f"e{i}"].move_to(-90.0 + rep.bottom_deg, rep.descent_s, *rep.descent_ramps)
            self.tracks[f"k{i}"].move_to(s.knee_top_deg, rep.descent_s)
        end = self.tracks["e0"].t
        if rep.swing_deg > 0:
            # A swing under the bar: it builds up over the raise, carries on through the rep and is
            # stopped on the way down; the body then hangs still.
            amp, period, dur = rep.swing_deg, rep.swing_period_s, end - start

            def swing(t: np.ndarray, t0: float = start) -> np.ndarray:
                env = ramp_unit(t - t0, 0.15 * period, 0.07 * period, 0.07 * period) \
                    * (1.0 - ramp_unit(t - t0 - dur + 0.2 * period, 0.2 * period, 0.1 * period, 0.1 * period))
                return amp * env * np.sin(2 * math.pi * (t - t0) / period)

            self.tracks["swing"].add(dur, swing, 0.0)
        self._sync_to(end + rep.bottom_pause_s)
        return RepTiming(rep, start, top_t, leave_top, end, (0, 1))

    # ----------------------------------------------------------------------------------------- session
    def _build(self) -> None:
        spec = self.spec
        half_view = 0.5 * self.body.stature / spec.camera.fill + 1.0
        enter_feet = spec.enter_from == "feet"
        u_in = self.feet_u + half_view + 0.6 if enter_feet else -half_view - 0.6
        start = dict(self.standing) | {"pel_u": u_in, "yaw": 180.0 if enter_feet else 0.0}
        self.tracks = {name: Track(start[name]) for name in CHANNELS}
        self._sync_to(spec.lead_in_s)
        mat = [b for b in spec.blocks if b.variant != "hanging"]
        at_bar = [b for b in spec.blocks if b.variant == "hanging"]
        u_out = max(self.feet_u, self.bar_uz[0]) + half_view + 0.6
        if mat:
            self._walk(u_in, self.feet_u)
            if enter_feet:
                self._move({"yaw": 0.0}, self._u(0.8, 1.3))
            self._get_down()
            self.lie_down_t = self._sync()
            self._rest(spec.setup_s, fidgets=False)
            for i, block in enumerate(mat):
                if block.variant == "hollow_hold":
                    self._hollow(block)
                else:
                    self._rep_set(block)
                if i < len(spec.rests_s):
                    self._rest(spec.rests_s[i], fidgets=True)
            self._rest(spec.cooldown_s, fidgets=True)
            # The legs must come together before sitting up, whatever the last fidget left.
            self._move({k: self.rest[k] for k in ("pel_u", "pel_z", "e0", "e1", "k0", "k1", "head_yaw")}, 0.6)
            self.get_up_t = self._sync()
            self._get_up()
            u_in = self.feet_u
        if at_bar:
            assert spec.bar is not None, "hanging sets need a bar"
            self._walk(u_in, self.bar_uz[0])
            if u_in > self.bar_uz[0]:
                self._move({"yaw": 0.0}, self._u(0.8, 1.3))  # face the same way as on the mat
            for i, block in enumerate(at_bar):
                self._hang_set(block)
                if i < len(spec.bar.rest_s):
                    self._sync_to(self._sync() + spec.bar.rest_s[i])
            u_in = self.bar_uz[0]
        self._walk(u_in, u_out)
        self.end_t = self._sync() + spec.tail_s

    def _turn(self, swing: np.ndarray, hang: np.ndarray, leg_e: np.ndarray) -> np.ndarray:
        """Degrees the hanging body is turned about the bar: its swing, and the lean back that keeps its
        balance point under the bar as the legs (leg_e, before the turn) come up."""
        if self.spec.bar is None:
            return np.zeros_like(swing)
        legs_up = np.clip((leg_e.mean(axis=1) + 90.0) / 90.0, 0.0, 1.3)
        return swing - hang * self.spec.bar.lean_deg * legs_up

    def hang_elevation(self, t: np.ndarray, legs: tuple[int, ...]) -> np.ndarray:
        """Mean elevation of the given legs from the line the body hangs along (hands → hips), at sorted
        times: the body's swing and lean turn the legs with it and do not change it."""
        pose = self.pose(t)
        turn = self._turn(self.tracks["swing"](t), self.tracks["hang"](t), pose.leg_e)
        return pose.leg_e[:, list(legs)].mean(axis=1) - turn + 90.0

    def leg_angles(self, t: np.ndarray, legs: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(mean elevation, smallest knee angle) of the given legs at sorted times."""
        pose = self.pose(t)
        return pose.leg_e[:, list(legs)].mean(axis=1), pose.leg_k[:, list(legs)].min(axis=1)

    def pose(self, t: np.ndarray) -> Pose:
        """Channels at sorted times, with tremor, sway and breathing added to the driven motion."""
        ch = {name: tr(t) for name, tr in self.tracks.items()}
        b = self.body
        lying = np.clip((180.0 - np.abs(ch["lumbar"] - 180.0) - 90.0) / 80.0, 0.0, 1.0)
        thorax = ch["thorax"] + 0.35 * lying * self._noise["breath"](t)
        neck = ch["neck"] + 0.4 * lying * self._noise["head"](t)
        leg_e, leg_k = np.empty((t.size, 2)), np.empty((t.size, 2))
        for side in (0, 1):
            k = ch[f"k{side}"]
            w = ch[f"w{side}"]
            fe = b.floor_elevation(k)
            e = ch[f"e{side}"] + w * fe
            # A leg held off the floor trembles and sways a little; one resting on the mat does not.
            off_floor = np.clip((e - fe) / 8.0, 0.0, 1.0) * lying
            e = e + off_floor * (0.12 * self._noise[f"tremor{side}"](t) + 0.4 * self._noise[f"sway{side}"](t))
            leg_e[:, side] = e
            leg_k[:, side] = np.minimum(k + off_floor * 0.3 * self._noise[f"sway{side}"](t + 3.0), 180.0)
        arm_u = np.stack([ch["au0"], ch["au1"]], axis=1)
        lumbar, pel_u, pel_z = ch["lumbar"], ch["pel_u"], ch["pel_z"]
        hang = ch["hang"]
        if hang.any():
            # The whole body turns about the hands on the bar: every segment direction by the same angle,
            # the pelvis on a circle round the bar.
            turn = self._turn(ch["swing"], hang, leg_e)
            lumbar, thorax, neck = lumbar + turn, thorax + turn, neck + turn
            leg_e = leg_e + turn[:, None]
            arm_u = arm_u + turn[:, None]
            bu, bz = self.bar_uz
            c, sn = np.cos(np.radians(turn)), np.sin(np.radians(turn))
            du, dz = pel_u - bu, pel_z - bz
            pel_u, pel_z = bu + c * du - sn * dz, bz + sn * du + c * dz
        return Pose(pel_u=pel_u, pel_z=pel_z, yaw=ch["yaw"], lumbar=lumbar, thorax=thorax,
                    neck=neck, head_yaw=ch["head_yaw"], leg_e=leg_e, leg_k=leg_k, arm_u=arm_u,
                    arm_k=np.stack([ch["ak0"], ch["ak1"]], axis=1))
