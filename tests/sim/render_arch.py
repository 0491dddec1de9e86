"""The `back_arched` truth of a rendered session: a lumbar arch per rep and per hollow hold, and the lift
it puts under the lower back over time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tests.sim.choreography import Choreography
from tests.sim.render_member import smoothstep
from tests.sim.spec import STRAIGHT_LEG
from tests.sim.truth import Truth

FLAT_CM = 0.4  # a back pressed flat still lifts this much at most (soft tissue, pelvis tilt)
_HOLD_HZ = 100.0  # sampling of a hold's lift to measure its flat seconds


@dataclass(frozen=True, slots=True)
class Arch:
    lift_cm: float  # largest lumbar lift of the rep
    onset_deg: float | None  # leg elevation at which the back starts to lift on the way down; None: flat


@dataclass(frozen=True, slots=True)
class RenderedRep:
    start_t: float
    end_t: float
    bottom_t: float  # arrival at the lowest elevation
    variant: str
    moving_leg: str
    lift_cm: float  # largest lumbar lift during the rep
    onset_deg: float | None  # None: a flat rep
    bottom_deg: float
    top_deg: float


@dataclass(frozen=True, slots=True)
class RenderedHold:
    start_t: float  # hollow position reached
    end_t: float  # release begins
    flat_s: float  # seconds of the hold with the lift under 1 cm
    lift_cm: float  # largest lift during the hold
    arched: tuple[float, float] | None  # the arched stretch (start, end) s; None: flat hold


def sample_arch(rng: np.random.Generator, variant: str, top_deg: float, bottom_deg: float,
                arch_share: float) -> Arch:
    if variant in STRAIGHT_LEG and rng.random() < arch_share:
        onset = float(rng.uniform(bottom_deg + 10.0, min(top_deg - 10.0, 60.0)))
        return Arch(lift_cm=float(rng.uniform(2.0, 5.0)), onset_deg=onset)
    return Arch(lift_cm=float(rng.uniform(0.0, FLAT_CM)), onset_deg=None)


def _hold_lift(t: np.ndarray, lift_cm: float, start: float, end: float) -> np.ndarray:
    ramp = min(1.0, (end - start) / 4)
    return lift_cm * smoothstep((t - start) / ramp) * smoothstep((end - t) / ramp)


@dataclass(slots=True)
class ArchPlan:
    reps: list[RenderedRep]
    holds: list[RenderedHold]
    legs: list[tuple[int, ...]]  # moving legs of each rep
    chore: Choreography

    def lift_cm(self, t: np.ndarray) -> np.ndarray:
        """Lumbar lift (cm) of the arch model at sorted times.

        In a rep the lift follows the legs' pull on the pelvis, which goes as cos(elevation): 0 while
        the legs are above the onset (the abs hold that much), then growing in proportion to the pull
        beyond it, to the rep's lift at its lowest elevation, and back the same way on the way up. A
        flat rep keeps its physiological lift, growing over the whole range from the top.
        """
        out = np.zeros(t.size)
        for rep, legs in zip(self.reps, self.legs, strict=True):
            sel = (t >= rep.start_t) & (t <= rep.end_t)
            if not sel.any():
                continue
            elev = self.chore.leg_angles(t[sel], legs)[0]
            onset = rep.top_deg if rep.onset_deg is None else rep.onset_deg
            pull = np.cos(np.radians(elev)) - math.cos(math.radians(onset))
            span = max(math.cos(math.radians(rep.bottom_deg)) - math.cos(math.radians(onset)), 1e-3)
            out[sel] = rep.lift_cm * np.clip(pull / span, 0.0, 1.0)
        for hold in self.holds:
            start, end = hold.arched or (hold.start_t, hold.end_t)
            sel = (t >= start) & (t <= end)
            out[sel] = _hold_lift(t[sel], hold.lift_cm, start, end)
        return out


def plan_arches(chore: Choreography, truth: Truth, rng: np.random.Generator, arch_share: float) -> ArchPlan:
    reps, legs = [], []
    rep_blocks = [b for b in chore.blocks if b.spec.variant != "hollow_hold"]
    for block, st in zip(rep_blocks, truth.sets, strict=True):
        for timing, rt in zip(block.reps, st.reps, strict=True):
            arch = sample_arch(rng, st.variant, rt.top_angle_deg, rt.bottom_angle_deg, arch_share)
            reps.append(RenderedRep(start_t=rt.start_t, end_t=rt.end_t, bottom_t=timing.bottom_t,
                                    variant=st.variant, moving_leg=rt.moving_leg, lift_cm=arch.lift_cm,
                                    onset_deg=arch.onset_deg, bottom_deg=rt.bottom_angle_deg,
                                    top_deg=rt.top_angle_deg))
            legs.append(timing.legs)
    holds = []
    for start, end in chore.holds:
        span = end - start
        if rng.random() < arch_share:
            lift = float(rng.uniform(1.5, 4.0))
            length = float(rng.uniform(0.3, 0.6)) * span
            a = start + (span - length) / 2 + float(rng.uniform(-0.1, 0.1)) * (span - length)
            arched: tuple[float, float] | None = (a, a + length)
        else:
            lift, arched = float(rng.uniform(0.0, FLAT_CM)), None
        a, z = arched or (start, end)
        grid = np.linspace(start, end, max(2, int(span * _HOLD_HZ) + 1))
        flat = float(np.mean(_hold_lift(grid, lift, a, z) < 1.0)) * span
        holds.append(RenderedHold(start_t=start, end_t=end, flat_s=flat, lift_cm=lift, arched=arched))
    return ArchPlan(reps=reps, holds=holds, legs=legs, chore=chore)
