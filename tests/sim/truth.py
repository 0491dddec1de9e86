"""Ground truth of a simulated session, measured on the noise-free kinematics."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass(slots=True)
class RepTruth:
    start_t: float  # the legs leave the top
    end_t: float  # back at the top (first arrival; an overshoot's oscillation is not part of the rep)
    descent_s: float  # leaving the top → arriving at the lowest point
    ascent_s: float  # leaving the bottom → arriving at the top
    bottom_pause_s: float
    top_angle_deg: float  # leg elevation at the top before the descent
    bottom_angle_deg: float  # lowest leg elevation of the rep
    min_knee_angle_deg: float  # smallest knee angle of the moving leg(s) during the rep
    faults: list[str]  # sorted fault names (SPEC.md)
    moving_leg: str  # "both" | "left" | "right"
    peak_ascent_speed_dps: float  # fastest leg elevation speed on the way up, overshoot excluded
    overshoot_deg: float  # highest elevation after end_t (before the next descent) above the end_t value
    momentum_kind: str | None  # "rebound" | "fast_return" | "overshoot" when momentum is a fault
    # The member was detected in a frame near the lowest point. A rep whose turnaround fell entirely
    # into a detection dropout or a frame gap cannot be seen by any analysis of the trace.
    bottom_seen: bool = True


@dataclass(slots=True)
class SetTruth:
    variant: str
    start_t: float  # the initial lift begins
    end_t: float  # the legs are back on the floor
    reps: list[RepTruth]


@dataclass(slots=True)
class HoldTruth:
    variant: str
    start_t: float  # the hollow position is reached
    end_t: float  # the release begins
    duration_s: float


@dataclass(slots=True)
class PresenceTruth:
    enter_t: float  # first frame with the member in view
    lie_down_t: float | None  # lying flat after getting down (None: came for the bar only)
    get_up_t: float | None  # starts to sit up
    leave_t: float  # last frame with the member in view


@dataclass(slots=True)
class FidgetTruth:
    # knee_draw | leg_lift | hip_shift | arm | head_turn | knees_up, or a movement that is no rep
    # (tests.sim.spec.NON_REPS): hamstring_stretch | knee_hug | sit_up | crunches
    kind: str
    start_t: float
    end_t: float


@dataclass(slots=True)
class BystanderTruth:
    start_t: float  # first frame in view
    end_t: float  # last frame in view
    depth_m: float  # behind the member's sagittal plane
    speed_mps: float


@dataclass(slots=True)
class CameraTruth:
    facing: str  # side of the image the member's head is on: "left" | "right"
    tilt_deg: float
    fps: float
    width: int
    height: int
    floor_line: list[list[float]]  # two pixel points on the floor line under the sagittal plane
    lens_height_m: float
    distance_m: float
    pitch_deg: float
    focal_px: float
    azimuth_deg: float = 0.0  # turned round the mat towards the member's feet (+) or head


@dataclass(slots=True)
class Truth:
    seed: int
    sets: list[SetTruth]
    holds: list[HoldTruth]
    presence: list[PresenceTruth]
    camera: CameraTruth
    fidgets: list[FidgetTruth] = field(default_factory=list)
    bystanders: list[BystanderTruth] = field(default_factory=list)
    # Per trace frame: the member's noise-free (17, 2) pixel keypoints, None when not in view.
    member_keypoints: list[np.ndarray | None] = field(default_factory=list)

    def to_dict(self) -> dict:
        # Field by field: asdict() would deep-copy thousands of keypoint arrays.
        return {
            "seed": self.seed,
            "sets": [asdict(s) for s in self.sets],
            "holds": [asdict(h) for h in self.holds],
            "presence": [asdict(p) for p in self.presence],
            "camera": asdict(self.camera),
            "fidgets": [asdict(f) for f in self.fidgets],
            "bystanders": [asdict(b) for b in self.bystanders],
            "member_keypoints": [None if k is None else np.round(k, 2).tolist()
                                 for k in self.member_keypoints],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @property
    def reps(self) -> list[RepTruth]:
        return [r for s in self.sets for r in s.reps]
