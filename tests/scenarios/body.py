"""A planar (sagittal) body: per-member anthropometry, and joint angles → COCO-17 points in 3-D.

Segment lengths are fractions of stature from Drillis & Contini (1966), as tabulated in Winter's
*Biomechanics and Motor Control of Human Movement* (ch. 4), with joint-centre separations and lying
body thickness from general anthropometric surveys. Each member scales every entry by their own factor
(about ±3.5 %), plus a shared leg factor (long legs or a long trunk), and has their own soft-tissue
thickness, so two members of one stature still differ in proportions.

Body-local frame: u along the body's long axis (towards the feet when lying), l towards the person's
left, z up from the floor. Segment angles are absolute, degrees from +u towards +z: lying flat the legs
point at ~0° and the trunk at ~180°; standing the trunk is at ~90° and the legs at ~-90°. All joints
flex in the (u, z) plane; l only separates the left and right joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.people import KP

# Fractions of stature H (Drillis & Contini; Winter table 4.1 and fig. 4.1).
SEGMENT_TABLE: dict[str, float] = {
    "thigh": 0.245,  # hip joint → knee joint (0.530 H − 0.285 H)
    "shank": 0.246,  # knee joint → ankle joint (0.285 H − 0.039 H)
    "trunk": 0.288,  # hip joint → shoulder joint (0.818 H − 0.530 H)
    "head": 0.120,  # shoulder line → ear line
    "upper_arm": 0.186,
    "forearm": 0.146,
    "hip_separation": 0.098,  # between the hip joint centres
    "shoulder_separation": 0.215,  # between the shoulder joint centres (~0.83 of biacromial 0.259 H)
    "ear_separation": 0.086,
    "eye_separation": 0.036,
    "nose_forward": 0.057,  # nose tip ahead of the ear line
    "eye_forward": 0.046,
    "eye_up": 0.012,  # eyes above the nose-ear line, along the head axis
}
# Share of the trunk below the thoraco-lumbar junction: the shoulders curl up from there in a hollow hold
# while the lower back stays on the mat.
LUMBAR_SHARE = 0.36


@dataclass(frozen=True, slots=True)
class Member:
    """One person's segment lengths (m) and lying thickness (m)."""

    stature: float
    thigh: float
    shank: float
    trunk: float
    head: float
    upper_arm: float
    forearm: float
    hip_half: float
    shoulder_half: float
    ear_half: float
    eye_half: float
    nose_forward: float
    eye_forward: float
    eye_up: float
    hip_z: float  # hip joint centres above the floor when lying
    back_z: float  # thoraco-lumbar junction above the floor
    shoulder_z: float
    ear_z: float
    ankle_z: float  # ankle joint centre when the heel (or the sole) is on the floor
    elbow_z: float

    @property
    def lumbar(self) -> float:
        return LUMBAR_SHARE * self.trunk

    @property
    def thorax(self) -> float:
        return (1.0 - LUMBAR_SHARE) * self.trunk

    @property
    def leg(self) -> float:
        return self.thigh + self.shank

    def hip_ankle(self, knee_deg: np.ndarray | float) -> np.ndarray:
        """Hip→ankle distance at a knee angle (180 = straight)."""
        a, b = self.thigh, self.shank
        return np.sqrt(a * a + b * b - 2 * a * b * np.cos(np.radians(knee_deg)))

    def thigh_over_line(self, knee_deg: np.ndarray | float) -> np.ndarray:
        """Degrees the thigh points above the hip→ankle line at a knee angle (0 when straight)."""
        d = self.hip_ankle(knee_deg)
        cos_a = (self.thigh**2 + d * d - self.shank**2) / (2 * self.thigh * d)
        return np.degrees(np.arccos(np.clip(cos_a, -1.0, 1.0)))

    def thigh_for(self, elevation_deg: np.ndarray | float, knee_deg: np.ndarray | float) -> np.ndarray:
        """Thigh angle that puts the hip→ankle line at `elevation_deg` with this knee angle."""
        return np.asarray(elevation_deg) + self.thigh_over_line(knee_deg)

    def floor_elevation(self, knee_deg: np.ndarray | float,
                        hip_z: np.ndarray | float | None = None) -> np.ndarray:
        """Hip→ankle elevation with the foot on the floor (heel or sole) at this knee angle."""
        hz = self.hip_z if hip_z is None else hip_z
        ratio = (self.ankle_z - np.asarray(hz)) / self.hip_ankle(knee_deg)
        return np.degrees(np.arcsin(np.clip(ratio, -1.0, 1.0)))

    def planted_thigh(self, knee_deg: np.ndarray | float,
                      hip_z: np.ndarray | float | None = None) -> np.ndarray:
        """Thigh angle with the foot on the floor, knee up (the only solution a lying person uses)."""
        return self.floor_elevation(knee_deg, hip_z) + self.thigh_over_line(knee_deg)

    def standing_hip_z(self) -> float:
        return self.ankle_z + self.hip_ankle(177.0).item()


def draw_member(rng: np.random.Generator, stature: float) -> Member:
    """A member of this stature with their own proportions and thickness."""
    legs = float(np.clip(rng.normal(1.0, 0.025), 0.94, 1.06))

    def seg(name: str, sd: float = 0.035, factor: float = 1.0) -> float:
        return SEGMENT_TABLE[name] * stature * factor * float(np.clip(rng.normal(1.0, sd), 0.92, 1.08))

    girth = float(rng.uniform(0.85, 1.25))  # soft tissue under the back and buttocks
    hip_z = 0.095 * girth
    return Member(
        stature=stature,
        thigh=seg("thigh", 0.025, legs), shank=seg("shank", 0.025, legs),
        trunk=seg("trunk", 0.03, 1.0 / legs**0.5), head=seg("head"),
        upper_arm=seg("upper_arm"), forearm=seg("forearm"),
        hip_half=seg("hip_separation", 0.05) / 2, shoulder_half=seg("shoulder_separation", 0.05) / 2,
        ear_half=seg("ear_separation", 0.04) / 2, eye_half=seg("eye_separation", 0.04) / 2,
        nose_forward=seg("nose_forward", 0.05), eye_forward=seg("eye_forward", 0.05),
        eye_up=seg("eye_up", 0.05),
        hip_z=hip_z, back_z=hip_z - float(rng.uniform(0.0, 0.02)),
        shoulder_z=0.075 * girth ** 0.5, ear_z=float(rng.uniform(0.085, 0.11)),
        ankle_z=float(rng.uniform(0.055, 0.075)), elbow_z=float(rng.uniform(0.035, 0.05)),
    )


def _dir(deg: np.ndarray) -> np.ndarray:
    r = np.radians(deg)
    return np.stack([np.cos(r), np.zeros_like(r), np.sin(r)], axis=-1)


LATERAL = np.array([0.0, 1.0, 0.0])


def forward(m: Member, p: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 17, 3) body-local (u, l, z) keypoints from pose arrays of length N.

    p holds root_u, root_z, trunk_lo, trunk_hi, head, head_turn, arm0/1, elbow0/1 and the legs' effective
    thigh0/1 and knee0/1 (index 0 is the person's left). Yaw is applied later, in the world transform.
    """
    n = p["root_u"].shape[0]
    out = np.zeros((n, 17, 3))
    root = np.stack([p["root_u"], np.zeros(n), p["root_z"]], axis=-1)
    back = root + m.lumbar * _dir(p["trunk_lo"])
    sh = back + m.thorax * _dir(p["trunk_hi"])
    ear = sh + m.head * _dir(p["head"])
    axis = _dir(p["head"])
    anterior = _dir(p["head"] - 90.0)
    turn = np.radians(p["head_turn"])[:, None]
    # Turning the face towards the person's left swings the anterior direction towards +l.
    face = np.cos(turn) * anterior + np.sin(turn) * LATERAL
    side = np.cos(turn) * LATERAL - np.sin(turn) * anterior
    out[:, KP["nose"]] = ear + m.nose_forward * face
    for name, sign in (("left", 1.0), ("right", -1.0)):
        out[:, KP[f"{name}_eye"]] = ear + m.eye_forward * face + m.eye_up * axis + sign * m.eye_half * side
        out[:, KP[f"{name}_ear"]] = ear + sign * m.ear_half * side
    for i, name in enumerate(("left", "right")):
        sign = 1.0 if i == 0 else -1.0
        s = sh + sign * m.shoulder_half * LATERAL
        e = s + m.upper_arm * _dir(p[f"arm{i}"])
        w = e + m.forearm * _dir(p[f"arm{i}"] + (180.0 - p[f"elbow{i}"]))
        h = root + sign * m.hip_half * LATERAL
        k = h + m.thigh * _dir(p[f"thigh{i}"])
        a = k + m.shank * _dir(p[f"thigh{i}"] - (180.0 - p[f"knee{i}"]))
        out[:, KP[f"{name}_shoulder"]], out[:, KP[f"{name}_elbow"]], out[:, KP[f"{name}_wrist"]] = s, e, w
        out[:, KP[f"{name}_hip"]], out[:, KP[f"{name}_knee"]], out[:, KP[f"{name}_ankle"]] = h, k, a
    return out


def to_world(local: np.ndarray, root_u: np.ndarray, root_z: np.ndarray, heading_deg: float,
             yaw_deg: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Body-local points → world (X along the mat, Y away from the camera, Z up).

    heading 0 puts +u on world +X (the head of a lying member on image-left); yaw turns the body about
    the vertical through the pelvis (turning round while standing).
    """
    rel = local.copy()
    rel[..., 0] -= root_u[:, None]
    rel[..., 2] -= root_z[:, None]
    yaw = np.radians(heading_deg + yaw_deg)[:, None]
    head = math.radians(heading_deg)
    out = np.empty_like(local)
    along = root_u[:, None]
    out[..., 0] = origin[0] + math.cos(head) * along + np.cos(yaw) * rel[..., 0] - np.sin(yaw) * rel[..., 1]
    out[..., 1] = origin[1] + math.sin(head) * along + np.sin(yaw) * rel[..., 0] + np.cos(yaw) * rel[..., 1]
    out[..., 2] = root_z[:, None] + rel[..., 2]
    return out
