"""An articulated human in 3-D: anthropometric segment lengths, sagittal joint angles → COCO-17 points.

Body-local frame: u runs along the body's long axis when lying (towards the feet), l is lateral (towards
the person's left), z is up from the floor. Every limb moves in a plane parallel to the sagittal plane,
which is all a side-view leg-lift needs. Segment directions are absolute angles in the (u, z) plane,
degrees from +u towards +z: lying flat the legs point along 0° and the trunk along 180°; standing the
trunk is at 90° and the legs at -90°. A yaw about the vertical through the pelvis turns the whole body
(walking the other way, turning round before sitting down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge.people import KP

# Heights of joint centres above the floor when lying supine (body thickness), metres.
HIP_Z_LYING = 0.09
SHOULDER_Z_LYING = 0.08
HEAD_Z_LYING = 0.10  # ear line: the back of the skull rests on the mat
ANKLE_Z_FLOOR = 0.075  # ankle centre when the heel or the sole is on the floor
ANKLE_Z_STANDING = 0.08


@dataclass(frozen=True, slots=True)
class Anthropometry:
    """Segment lengths (m) from stature H with Winter / Drillis-Contini ratios."""

    stature: float

    @property
    def thigh(self) -> float:
        return 0.245 * self.stature

    @property
    def shank(self) -> float:
        return 0.246 * self.stature

    @property
    def lumbar(self) -> float:
        # Hip→shoulder is 0.288 H; split at the thoraco-lumbar junction so the shoulders can curl up
        # (hollow hold) while the lower back stays on the mat.
        return 0.10 * self.stature

    @property
    def thorax(self) -> float:
        return 0.188 * self.stature

    @property
    def neck(self) -> float:
        # Shoulder line to ear line (ear at ~0.936 H, shoulder at ~0.818 H).
        return 0.118 * self.stature

    @property
    def upper_arm(self) -> float:
        return 0.186 * self.stature

    @property
    def forearm(self) -> float:
        return 0.146 * self.stature

    @property
    def hip_half_width(self) -> float:
        # Hip breadth is 0.191 H; the hip joint centres sit at ~60 % of it.
        return 0.5 * 0.6 * 0.191 * self.stature

    @property
    def shoulder_half_width(self) -> float:
        # Shoulder breadth is 0.259 H; the shoulder joint centres sit at ~85 % of it.
        return 0.5 * 0.85 * 0.259 * self.stature

    def hip_ankle(self, knee_deg: np.ndarray | float) -> np.ndarray:
        """Hip→ankle distance for a knee angle (180 = straight)."""
        a, b = self.thigh, self.shank
        return np.sqrt(a * a + b * b - 2 * a * b * np.cos(np.radians(knee_deg)))

    def thigh_offset(self, knee_deg: np.ndarray | float) -> np.ndarray:
        """Angle (deg) between the hip→ankle line and the thigh; the knee bends towards the front."""
        d = self.hip_ankle(knee_deg)
        s = np.clip(self.shank * np.sin(np.radians(knee_deg)) / np.maximum(d, 1e-9), -1.0, 1.0)
        return np.degrees(np.arcsin(s))

    def floor_elevation(self, knee_deg: np.ndarray | float, foot_z: float = ANKLE_Z_FLOOR) -> np.ndarray:
        """Leg elevation (deg) at which the foot of a lying person touches the floor."""
        return np.degrees(np.arcsin((foot_z - HIP_Z_LYING) / self.hip_ankle(knee_deg)))

    def standing_hip_z(self) -> float:
        return ANKLE_Z_STANDING + float(self.hip_ankle(178.0))

    def leg_ik(self, hip_u: np.ndarray, hip_z: np.ndarray, foot_u: float,
               foot_z: float) -> tuple[np.ndarray, np.ndarray]:
        """(elevation, knee angle) that put the ankle at a planted foot position."""
        du, dz = foot_u - hip_u, foot_z - hip_z
        d = np.minimum(np.hypot(du, dz), 0.999 * (self.thigh + self.shank))
        a, b = self.thigh, self.shank
        knee = np.degrees(np.arccos(np.clip((a * a + b * b - d * d) / (2 * a * b), -1.0, 1.0)))
        return np.degrees(np.arctan2(dz, du)), knee


@dataclass(slots=True)
class Pose:
    """Joint-angle channels over N instants. Arrays with a trailing 2 are (left, right)."""

    pel_u: np.ndarray  # (N,) hip-centre position along the body axis, m
    pel_z: np.ndarray  # (N,) hip-centre height, m
    yaw: np.ndarray  # (N,) deg about the vertical through the pelvis
    lumbar: np.ndarray  # (N,) deg, hip centre → thoraco-lumbar point
    thorax: np.ndarray  # (N,) deg, → shoulder centre
    neck: np.ndarray  # (N,) deg, shoulder centre → ear line
    head_yaw: np.ndarray  # (N,) deg, head turned to the person's left (+) or right
    leg_e: np.ndarray  # (N, 2) deg, hip→ankle line elevation
    leg_k: np.ndarray  # (N, 2) deg, knee angle (180 straight)
    arm_u: np.ndarray  # (N, 2) deg, upper-arm direction
    arm_k: np.ndarray  # (N, 2) deg, elbow angle (180 straight)


def _dir(angle_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.radians(angle_deg)
    return np.cos(r), np.sin(r)


def forward_kinematics(body: Anthropometry, pose: Pose) -> np.ndarray:
    """COCO-17 joint positions (N, 17, 3) in the body-local frame (u, l, z), yaw applied."""
    n = pose.pel_u.shape[0]
    out = np.zeros((n, 17, 3))
    pu, pz = pose.pel_u, pose.pel_z

    lu, lz = _dir(pose.lumbar)
    tu, tz = _dir(pose.thorax)
    su = pu + body.lumbar * lu + body.thorax * tu
    sz = pz + body.lumbar * lz + body.thorax * tz

    for side, sign in ((0, 1.0), (1, -1.0)):  # left is +l
        name = ("left", "right")[side]
        # Legs: thigh = elevation + offset puts the knee in front; the shank folds back behind it.
        e, k = pose.leg_e[:, side], pose.leg_k[:, side]
        thigh = e + body.thigh_offset(k)
        shank = thigh - (180.0 - k)
        cu, cz = _dir(thigh)
        ku, kz = pu + body.thigh * cu, pz + body.thigh * cz
        cu, cz = _dir(shank)
        out[:, KP[f"{name}_hip"]] = np.stack([pu, np.full(n, sign * body.hip_half_width), pz], axis=1)
        out[:, KP[f"{name}_knee"]] = np.stack([ku, np.full(n, sign * body.hip_half_width), kz], axis=1)
        out[:, KP[f"{name}_ankle"]] = np.stack(
            [ku + body.shank * cu, np.full(n, sign * body.hip_half_width), kz + body.shank * cz], axis=1)
        # Arms: elbow flexion swings the forearm towards the front of the body.
        lat = np.full(n, sign * (body.shoulder_half_width + 0.02))
        cu, cz = _dir(pose.arm_u[:, side])
        eu, ez = su + body.upper_arm * cu, sz + body.upper_arm * cz
        cu, cz = _dir(pose.arm_u[:, side] + (180.0 - pose.arm_k[:, side]))
        shoulder_l = np.full(n, sign * body.shoulder_half_width)
        out[:, KP[f"{name}_shoulder"]] = np.stack([su, shoulder_l, sz], axis=1)
        out[:, KP[f"{name}_elbow"]] = np.stack([eu, lat, ez], axis=1)
        out[:, KP[f"{name}_wrist"]] = np.stack([eu + body.forearm * cu, lat, ez + body.forearm * cz], axis=1)

    # Head: superior axis along the neck, anterior axis a quarter turn towards the front.
    nu, nz = _dir(pose.neck)
    hu, hz = su + body.neck * nu, sz + body.neck * nz
    au, az = _dir(pose.neck - 90.0)
    yaw = np.radians(pose.head_yaw)
    cy, sy = np.cos(yaw), np.sin(yaw)
    scale = body.stature / 1.75
    # (anterior, superior, lateral) offsets of the face points from the ear-line centre, metres.
    face = {
        "nose": (0.105, -0.01, 0.0),
        "left_eye": (0.085, 0.03, 0.033),
        "right_eye": (0.085, 0.03, -0.033),
        "left_ear": (0.0, 0.0, 0.075),
        "right_ear": (0.0, 0.0, -0.075),
    }
    for name, (fa, fs, fl) in face.items():
        fa, fs, fl = fa * scale, fs * scale, fl * scale
        # Turning the head rotates the anterior/lateral offsets about the superior (neck) axis.
        a_rot = fa * cy - fl * sy
        l_rot = fa * sy + fl * cy
        out[:, KP[name]] = np.stack(
            [hu + a_rot * au + fs * nu, l_rot, hz + a_rot * az + fs * nz], axis=1)

    # Whole-body yaw about the vertical through the pelvis.
    ry = np.radians(pose.yaw)[:, None]
    du = out[:, :, 0] - pu[:, None]
    dl = out[:, :, 1]
    out[:, :, 0] = pu[:, None] + du * np.cos(ry) - dl * np.sin(ry)
    out[:, :, 1] = du * np.sin(ry) + dl * np.cos(ry)
    return out


def gait(body: Anthropometry, t: np.ndarray, t0: float, u0: float, speed: float,
         phase0: float) -> dict[str, np.ndarray]:
    """Walking channels (body-local, facing +u before yaw): pelvis path, leg and arm swing.

    Stride length ~0.8 H; the hip swings ±22°, the knee flexes up to ~60° in swing and a little at
    heel strike, the arms swing against the legs, and the pelvis bobs twice per stride.
    """
    stride = 0.8 * body.stature
    phase = 2 * math.pi * speed / stride * (t - t0) + phase0
    out: dict[str, np.ndarray] = {
        "pel_u": u0 + speed * (t - t0),
        "pel_z": body.standing_hip_z() - 0.02 + 0.015 * np.cos(2 * phase),
    }
    leg_e, leg_k, arm_u = [], [], []
    for side in (0, 1):
        ph = phase + side * math.pi
        thigh = -90.0 + 22.0 * np.sin(ph)
        flex = (5.0 + 55.0 * np.clip(np.cos(ph - 0.4), 0, None) ** 2
                + 10.0 * np.clip(-np.cos(ph), 0, None) ** 4)
        k = 180.0 - flex
        # Convert thigh angle + knee to the hip→ankle elevation used by the body model.
        cu, cz = _dir(thigh)
        su, sz = _dir(thigh - flex)
        leg_e.append(np.degrees(np.arctan2(body.thigh * cz + body.shank * sz,
                                           body.thigh * cu + body.shank * su)))
        leg_k.append(k)
        arm_u.append(-90.0 - 15.0 * np.sin(ph))
    out["leg_e"] = np.stack(leg_e, axis=1)
    out["leg_k"] = np.stack(leg_k, axis=1)
    out["arm_u"] = np.stack(arm_u, axis=1)
    return out
