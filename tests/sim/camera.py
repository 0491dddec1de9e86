"""Pinhole camera beside the mat, and the placement of the body in the world.

World frame: X along the mat (image-right for an untilted camera), Y away from the camera (depth),
Z up. The body's sagittal plane is Y = 0; the camera stands at Y = -distance, or, turned by an azimuth
about the vertical through (x, 0), that far from it towards one end of the mat and looking back at it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Camera:
    x: float  # lens position along the mat (with an azimuth: the point it turns about), m
    distance: float  # from the body's sagittal plane (with an azimuth: from that point), m
    height: float  # lens above the floor, m
    pitch_deg: float  # positive = looking down
    roll_deg: float  # image tilt about the optical axis
    focal_px: float
    width: int
    height_px: int
    azimuth_deg: float = 0.0  # 0: square to the mat; positive: moved round towards +X, looking back

    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, a = math.radians(self.pitch_deg), math.radians(self.azimuth_deg)
        fwd = np.array([-math.sin(a) * math.cos(p), math.cos(a) * math.cos(p), -math.sin(p)])
        right = np.array([math.cos(a), math.sin(a), 0.0])
        down = np.cross(fwd, right)
        r = math.radians(self.roll_deg)
        # Roll turns the sensor about the optical axis.
        right_r = math.cos(r) * right + math.sin(r) * down
        down_r = -math.sin(r) * right + math.cos(r) * down
        return right_r, down_r, fwd

    def project(self, world: np.ndarray) -> np.ndarray:
        """(..., 3) world points → (..., 2) pixels (x right, y down)."""
        right, down, fwd = self._axes()
        a = math.radians(self.azimuth_deg)
        lens = np.array([self.x + self.distance * math.sin(a), -self.distance * math.cos(a), self.height])
        rel = world - lens
        zc = np.maximum(rel @ fwd, 1e-3)
        return np.stack([self.focal_px * (rel @ right) / zc + self.width / 2,
                         self.focal_px * (rel @ down) / zc + self.height_px / 2], axis=-1)

    def half_width_at(self, depth_from_camera: float) -> float:
        """Half the width of the field of view (m) at a given depth."""
        return self.width / 2 / self.focal_px * depth_from_camera


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a body-local frame sits in the world: origin on the floor and which way +u points."""

    x0: float
    y0: float
    sign: float  # +1: +u is world +X; -1: the body is turned round (rotation by 180° about Z)

    def to_world(self, local: np.ndarray) -> np.ndarray:
        out = np.empty_like(local)
        out[..., 0] = self.x0 + self.sign * local[..., 0]
        out[..., 1] = self.y0 + self.sign * local[..., 1]
        out[..., 2] = local[..., 2]
        return out
