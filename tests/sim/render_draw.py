"""Filled shapes in pixels for the people in a frame, the camera view of the member's body frame, and the
bystanders as flat figures drawn from their 2-D keypoints."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.people import KP
from tests.sim.camera import Camera, Placement
from tests.sim.render_look import BGR, Clothes
from tests.sim.render_scene import SHIFT, shade, to_fixed


@dataclass(slots=True)
class Prim:
    """One filled shape in pixels, drawn in order of depth (world Y, far first)."""

    depth: float
    kind: str  # "poly" | "convex" | "ellipse"
    pts: np.ndarray  # polygon (K, 2); ellipse: centre and semi-axes (2, 2)
    colour: tuple[float, float, float]
    angle: float = 0.0  # ellipse rotation, deg

    def draw(self, img: np.ndarray, light: float) -> None:
        c = (self.colour[0] * light, self.colour[1] * light, self.colour[2] * light)
        if self.kind == "convex":
            cv2.fillConvexPoly(img, to_fixed(self.pts), c, cv2.LINE_8, SHIFT)
        elif self.kind == "poly":
            cv2.fillPoly(img, [to_fixed(self.pts)], c, cv2.LINE_8, SHIFT)
        else:
            centre, axes = to_fixed(self.pts)
            cv2.ellipse(img, (int(centre[0]), int(centre[1])), (max(int(axes[0]), 1), max(int(axes[1]), 1)),
                        self.angle, 0, 360, c, -1, cv2.LINE_8, SHIFT)

    def centre(self) -> np.ndarray:
        return self.pts[0] if self.kind == "ellipse" else self.pts.mean(axis=0)


_ARC = np.linspace(-math.pi / 2, math.pi / 2, 7)


def capsule_outlines(p0: np.ndarray, p1: np.ndarray, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
    """(K, 14, 2) convex outlines of K tapered capsules (2-D ends and end radii in pixels)."""
    d = p1 - p0
    theta = np.arctan2(d[:, 1], d[:, 0])[:, None]
    a1, a0 = theta + _ARC, theta + math.pi + _ARC
    cap1 = p1[:, None] + r1[:, None, None] * np.stack([np.cos(a1), np.sin(a1)], axis=-1)
    cap0 = p0[:, None] + r0[:, None, None] * np.stack([np.cos(a0), np.sin(a0)], axis=-1)
    return np.concatenate([cap1, cap0], axis=1)


@dataclass(frozen=True, slots=True)
class View:
    """The simulator's camera and the member's placement: body-local points to pixels and depths."""

    cam: Camera
    place: Placement
    fwd: np.ndarray
    origin: np.ndarray

    @staticmethod
    def of(cam: Camera, place: Placement) -> View:
        return View(cam, place, cam._axes()[2], np.array([cam.x, -cam.distance, cam.height]))

    def project(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Body-local points → (pixels, world Y, depth along the optical axis)."""
        world = self.place.to_world(local)
        return self.cam.project(world), world[..., 1], (world - self.origin) @ self.fwd


def bystander_prims(kp: np.ndarray, clothes: Clothes) -> list[Prim]:
    """A walker behind the mat as a flat figure from its 2-D keypoints, scaled by its own torso length."""
    shoulders, hips = kp[[KP["left_shoulder"], KP["right_shoulder"]]].mean(0), kp[
        [KP["left_hip"], KP["right_hip"]]].mean(0)
    m = float(np.hypot(*(shoulders - hips))) / (0.288 * 1.75)
    ears = kp[[KP["left_ear"], KP["right_ear"]]].mean(0)
    facing = 1.0 if kp[KP["nose"], 0] > ears[0] else -1.0
    # Walking towards image-right puts the person's left side away from the camera.
    far, near = ("left", "right") if facing > 0 else ("right", "left")
    legs = clothes.bottom if clothes.long_legs else clothes.skin
    sleeve = clothes.top if clothes.long_sleeves else clothes.skin

    def cap(a: np.ndarray, b: np.ndarray, r: tuple[float, float], colour: BGR, dim: float) -> Prim:
        outline = capsule_outlines(a[None], b[None], np.array([r[0] * m]), np.array([r[1] * m]))[0]
        return Prim(0.0, "convex", outline, shade(colour, dim))

    def limbs(side: str, dim: float) -> list[Prim]:
        j = {p: kp[KP[f"{side}_{p}"]] for p in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
        foot = j["ankle"] + np.array([facing * 0.15 * m, 0.02 * m])
        return [cap(j["hip"], j["knee"], (0.07, 0.055), clothes.bottom, dim),
                cap(j["knee"], j["ankle"], (0.05, 0.04), legs, dim),
                cap(j["ankle"], foot, (0.035, 0.03), clothes.shoes, dim),
                cap(j["shoulder"], j["elbow"], (0.045, 0.037), clothes.top, dim),
                cap(j["elbow"], j["wrist"], (0.035, 0.028), sleeve, dim)]

    waist = hips + 0.25 * (shoulders - hips)
    head = np.stack([ears + np.array([-facing * 0.01 * m, -0.03 * m]), [0.11 * m, 0.11 * m]])
    face = np.stack([ears + np.array([facing * 0.02 * m, 0.0]), [0.1 * m, 0.1 * m]])
    return [*limbs(far, 0.8),
            cap(waist, hips, (0.12, 0.12), clothes.bottom, 1.0),
            cap(shoulders, waist, (0.13, 0.12), clothes.top, 1.0),
            cap(shoulders, ears, (0.05, 0.05), clothes.skin, 0.9),
            Prim(0.0, "ellipse", head, shade(clothes.hair, 1.0)),
            Prim(0.0, "ellipse", face, shade(clothes.skin, 1.0)),
            *limbs(near, 1.0)]
