"""A pinhole camera with a little barrel distortion, standing beside the mat at mat height.

World frame: X along the mat, Y away from the camera (the member's sagittal plane is Y = 0), Z up from
the floor. The camera stands at Y = -distance, 20–50 cm above the floor, and is never set up perfectly:
it is turned a few degrees off square to the mat (yaw), pitched to frame the body, and rolled (a tilted
image). Framing is what a member setting up a phone or a technician mounting a station does: the whole
lying body across most of the width, the floor near the bottom of the image; in some sessions the top
of the image is low enough that feet held near vertical leave it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Camera:
    position: np.ndarray  # (3,) world
    right: np.ndarray  # (3,) unit: image x
    down: np.ndarray  # (3,) unit: image y
    forward: np.ndarray  # (3,) unit: optical axis
    focal_px: float
    width: int
    height: int
    k1: float  # radial distortion on the radius normalised to the half diagonal (negative: barrel)

    @classmethod
    def looking(cls, position: tuple[float, float, float], yaw_deg: float, pitch_deg: float, roll_deg: float,
                focal_px: float, width: int, height: int, k1: float) -> Camera:
        """yaw turns the optical axis from +Y towards +X, pitch tilts it down, roll turns the image."""
        y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
        forward = np.array([math.sin(y) * math.cos(p), math.cos(y) * math.cos(p), -math.sin(p)])
        right0 = np.array([math.cos(y), -math.sin(y), 0.0])
        down0 = np.cross(forward, right0)
        right = math.cos(r) * right0 + math.sin(r) * down0
        down = -math.sin(r) * right0 + math.cos(r) * down0
        return cls(np.asarray(position, dtype=float), right, down, forward, focal_px, width, height, k1)

    def project(self, world: np.ndarray) -> np.ndarray:
        """(..., 3) world points → (..., 2) pixels (x right, y down)."""
        rel = np.asarray(world, dtype=float) - self.position
        zc = np.maximum(rel @ self.forward, 1e-3)
        xn, yn = (rel @ self.right) / zc, (rel @ self.down) / zc
        half_diag = math.hypot(self.width, self.height) / 2 / self.focal_px
        factor = 1.0 + self.k1 * (xn * xn + yn * yn) / (half_diag * half_diag)
        return np.stack([self.focal_px * xn * factor + self.width / 2,
                         self.focal_px * yn * factor + self.height / 2], axis=-1)

    def half_width_at(self, depth: float) -> float:
        """Half the field of view's width (m) at a distance along the optical axis."""
        return self.width / 2 / self.focal_px * depth


@dataclass(frozen=True, slots=True)
class CameraPlan:
    """How one session's camera is set up (drawn in plan.py)."""

    facing: str  # "left" | "right": the side of the image the member's head is on
    width: int
    height: int
    fps: float
    lens_height_m: float
    distance_m: float
    yaw_deg: float
    roll_deg: float
    fill: float  # share of the image width the lying body covers
    floor_row: float  # wished row of the floor line, as a share of the height from the top
    x_offset: float  # body centre's offset from the image centre, share of the width
    k1: float
    crop_feet_deg: float | None  # feet of legs above this elevation leave the top of the image
    time_jitter_s: float  # frame timestamps wobble this much (sd)
    skip_rate: float  # per frame, the camera drops a run of 2–8 frames


def frame_camera(plan: CameraPlan, body_x: tuple[float, float], hip_x: float, hip_z: float, leg: float,
                 hip_half: float) -> Camera:
    """The camera for a lying body spanning world X body_x (head end, feet end), hips at (hip_x, hip_z).

    The pitch puts the floor under the body at the wished row. The focal length follows the wished fill,
    shortened until legs held vertical fit; with crop_feet_deg it is lengthened instead (zoomed in, as
    far as the lying body still fits the width) until the feet of legs raised that high reach the top.
    """
    x_lo, x_hi = sorted(body_x)
    length = x_hi - x_lo
    d, h = plan.distance_m, plan.lens_height_m
    # A camera turned by yaw looks at d·tan(yaw) along the mat: aim it at the body (plus the offset).
    cam_x = (x_lo + x_hi) / 2 - plan.x_offset * length / plan.fill - d * math.tan(math.radians(plan.yaw_deg))
    direction = 1.0 if body_x[1] > body_x[0] else -1.0

    def camera(focal: float) -> Camera:
        below = math.atan2(h, d) - math.atan((plan.floor_row - 0.5) * plan.height / focal)
        return Camera.looking((cam_x, -d, h), plan.yaw_deg, math.degrees(below), plan.roll_deg, focal,
                              plan.width, plan.height, plan.k1)

    def foot_row(cam: Camera, elevation_deg: float) -> float:
        e = math.radians(elevation_deg)
        foot = [hip_x + direction * leg * math.cos(e), -hip_half, hip_z + leg * math.sin(e)]
        return float(cam.project(np.array([foot]))[0, 1])

    def fits_width(cam: Camera) -> bool:
        ends = cam.project(np.array([[x_lo, 0.0, 0.0], [x_hi, 0.0, 0.0]]))
        return bool(ends[:, 0].min() >= 0.005 * plan.width and ends[:, 0].max() <= 0.995 * plan.width)

    focal = plan.fill * plan.width * d / length
    if plan.crop_feet_deg is None:
        cam = camera(focal)
        while (foot_row(cam, 90.0) < 0.03 * plan.height or not fits_width(cam)) and focal > 50:
            focal *= 0.97
            cam = camera(focal)
        return cam
    lo, hi = focal, focal
    while fits_width(camera(hi * 1.03)) and hi < 4 * focal:
        hi *= 1.03
    if foot_row(camera(hi), plan.crop_feet_deg) > 0:
        return camera(hi)  # even zoomed in that far the feet stay inside: as close as the framing allows
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if foot_row(camera(mid), plan.crop_feet_deg) > 0 else (lo, mid)
    return camera(hi)
