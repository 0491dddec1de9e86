"""The static part of a rendered frame (floor, back wall, furniture, the mat) and the lighting gradient.

Drawn once per session: the floor and the wall by casting one ray per pixel, the furniture and the mat
as 3-D boxes and discs projected with the simulator's camera, far to near.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tests.sim.camera import Camera
from tests.sim.render_look import BGR, Look, random_colour

SHIFT = 4  # sub-pixel bits for cv2 drawing, so slow motion does not step pixel by pixel
_ONE = 1 << SHIFT


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in the world (X along the mat, Y away from the camera, Z up)."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    colour: BGR


@dataclass(frozen=True, slots=True)
class Disc:
    """Vertical disc facing the camera (weight plates, dumbbell heads, balls)."""

    centre: tuple[float, float, float]
    radius: float
    colour: BGR


Shape = Box | Disc


@dataclass(slots=True)
class Scene:
    image: np.ndarray  # (H, W, 3) uint8: the lit static scene before exposure, lens blur and noise
    front_mask: np.ndarray  # (H, W) bool: the mat and furniture standing in front of every bystander
    gradient: tuple[float, float]

    def light_at(self, x: float, y: float) -> float:
        h, w = self.image.shape[:2]
        return 1.0 + self.gradient[0] * (x / w - 0.5) + self.gradient[1] * (y / h - 0.5)


def to_fixed(px: np.ndarray) -> np.ndarray:
    """Pixels → cv2 fixed-point coordinates; far off-image points are clamped so they cannot overflow."""
    return (np.clip(px, -1e5, 1e5) * _ONE + 0.5).astype(np.int32)


def shade(colour: BGR, f: float) -> tuple[float, float, float]:
    return colour[0] * f, colour[1] * f, colour[2] * f


def draw_box(img: np.ndarray, cam: Camera, box: Box, mask: np.ndarray | None = None) -> None:
    (x0, y0, z0), (x1, y1, z1) = box.lo, box.hi
    faces = [([(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)], 0.85)]
    if cam.height > z1:
        faces.append(([(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)], 1.0))
    elif cam.height < z0:
        faces.append(([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)], 0.55))
    if cam.x < x0:
        faces.append(([(x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1)], 0.7))
    elif cam.x > x1:
        faces.append(([(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)], 0.7))
    for corners, f in faces:
        pts = to_fixed(cam.project(np.array(corners)))
        cv2.fillConvexPoly(img, pts, shade(box.colour, f), cv2.LINE_8, SHIFT)
        if mask is not None:
            cv2.fillConvexPoly(mask, pts, 255, cv2.LINE_8, SHIFT)


def _depth(cam: Camera, p: np.ndarray) -> float:
    pitch = math.radians(cam.pitch_deg)
    return float((p[1] + cam.distance) * math.cos(pitch) - (p[2] - cam.height) * math.sin(pitch))


def draw_disc(img: np.ndarray, cam: Camera, disc: Disc, mask: np.ndarray | None = None) -> None:
    c = np.array(disc.centre)
    centre = tuple(int(v) for v in to_fixed(cam.project(c)))
    r = round(disc.radius * cam.focal_px / _depth(cam, c) * _ONE)
    cv2.circle(img, centre, r, shade(disc.colour, 0.9), -1, cv2.LINE_8, SHIFT)
    if mask is not None:
        cv2.circle(mask, centre, r, 255, -1, cv2.LINE_8, SHIFT)


def _draw(img: np.ndarray, cam: Camera, shape: Shape, mask: np.ndarray | None = None) -> None:
    if isinstance(shape, Box):
        draw_box(img, cam, shape, mask)
    else:
        draw_disc(img, cam, shape, mask)


def _seam(coord: np.ndarray, period: float, width: float, foot: np.ndarray) -> np.ndarray:
    """Coverage (0–1) of seam lines every `period` m; lines thinner than a pixel fade instead of aliasing."""
    dist = np.abs(((coord / period + 0.5) % 1.0) - 0.5) * period
    return (dist < np.maximum(width, foot) / 2) * np.minimum(1.0, width / foot)


def _hash(k: np.ndarray) -> np.ndarray:
    return (np.sin(k * 12.9898 + 4.1) * 43758.5453) % 1.0 - 0.5


def _floor_and_wall(look: Look, cam: Camera, wall_y: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32: floor and back wall seen through every pixel."""
    right, down, fwd = cam._axes()
    w, h, f = cam.width, cam.height_px, cam.focal_px
    u = ((np.arange(w) - w / 2) / f).astype(np.float32)
    v = ((np.arange(h) - h / 2) / f).astype(np.float32)
    d = (fwd.astype(np.float32) + u[None, :, None] * right.astype(np.float32)
         + v[:, None, None] * down.astype(np.float32))
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    oy = -cam.distance
    t_floor = np.where(dz < -1e-6, cam.height / np.maximum(-dz, 1e-6), np.inf)
    t_wall = np.where(dy > 1e-6, (wall_y - oy) / np.maximum(dy, 1e-6), np.inf)
    on_floor = t_floor < t_wall
    t = np.minimum(t_floor, t_wall)
    x, y, z = cam.x + t * dx, oy + t * dy, cam.height + t * dz
    foot = t * np.linalg.norm(d, axis=-1) / f  # metres per pixel where the ray lands

    floor_shade = 1.0 + 0.04 * np.sin(0.9 * x + 1.7) * np.sin(0.7 * y + 0.3)
    pattern = look.floor_pattern
    if pattern == "planks":
        board = float(rng.uniform(0.1, 0.2))
        k = np.floor(y / board)
        floor_shade = floor_shade * (1.0 + 0.16 * _hash(k))
        length = float(rng.uniform(1.2, 2.4))
        seams = np.maximum(_seam(y, board, 0.004, foot),
                           _seam(x + _hash(k + 7.0) * length, length, 0.004, foot))
        floor_shade = floor_shade * (1.0 - 0.3 * seams)
    elif pattern in ("tiles", "rubber"):
        tile = float(rng.uniform(0.3, 0.6)) if pattern == "tiles" else 1.0
        seams = np.maximum(_seam(x, tile, 0.006, foot), _seam(y, tile, 0.006, foot))
        floor_shade = floor_shade * (1.0 + (0.25 if rng.random() < 0.5 else -0.3) * seams)
    floor = floor_shade[..., None] * np.array(look.floor, np.float32)

    wall_shade = 1.0 + 0.03 * np.sin(0.6 * x + 2.0) * np.cos(0.8 * z)
    wall = wall_shade[..., None] * np.array(look.wall, np.float32)
    base_h = float(rng.uniform(0.06, 0.15))
    base = random_colour(rng, "light" if rng.random() < 0.5 else "dark")
    wall = np.where((z < base_h)[..., None], np.array(base, np.float32), wall)
    if look.background == "gym" and rng.random() < 0.5:
        band = (z > 1.0) & (z < float(rng.uniform(1.15, 1.4)))
        wall = np.where(band[..., None], np.array(random_colour(rng, "saturated"), np.float32), wall)
    img = np.where(on_floor[..., None], floor, wall)
    grain = 5.0 if pattern == "rubber" else float(rng.uniform(1.0, 3.0))
    return img + rng.normal(0.0, grain, size=(h, w, 1)).astype(np.float32)


def _view_x(cam: Camera, y: float, rng: np.random.Generator, width: float) -> float:
    half = cam.half_width_at(cam.distance + y)
    return float(rng.uniform(cam.x - half - width / 2, cam.x + half - width / 2))


def _gym(rng: np.random.Generator, cam: Camera, wall_y: float, near: tuple[float, float],
         far_from: float) -> list[Shape]:
    """A mirror strip, a squat rack with a loaded bar, a bench and a dumbbell rack."""
    out: list[Shape] = []
    metal = random_colour(rng, "dark")
    if rng.random() < 0.6:
        x = _view_x(cam, wall_y, rng, 3.0)
        far_x = x + float(rng.uniform(2, 4))
        out.append(Box((x, wall_y - 0.01, 0.35), (far_x, wall_y, 2.0), (200, 195, 185)))
    rack_y = max(far_from + 0.1, wall_y - float(rng.uniform(0.5, 1.0)))
    x = _view_x(cam, rack_y, rng, 1.3)
    for px in (x, x + 1.2):
        out.append(Box((px, rack_y, 0.0), (px + 0.07, rack_y + 0.07, 2.2), metal))
    out.append(Box((x, rack_y, 2.1), (x + 1.27, rack_y + 0.07, 2.17), metal))
    out.append(Box((x - 0.45, rack_y - 0.05, 1.34), (x + 1.72, rack_y - 0.02, 1.37), (150, 150, 150)))
    plate = random_colour(rng, str(rng.choice(["dark", "saturated"])))
    out += [Disc((px, rack_y - 0.07, 1.355), 0.225, plate) for px in (x - 0.3, x + 1.57)]
    bench_y = float(rng.uniform(near[0], near[1] - 0.3)) if near[1] - near[0] > 0.3 else wall_y - 0.65
    x = _view_x(cam, bench_y, rng, 1.1)
    out.append(Box((x, bench_y, 0.38), (x + 1.1, bench_y + 0.3, 0.46), random_colour(rng)))
    for lx in (x + 0.08, x + 0.97):
        out.append(Box((lx, bench_y + 0.05, 0.0), (lx + 0.05, bench_y + 0.25, 0.38), metal))
    dumbbells_y = wall_y - 0.55
    x = _view_x(cam, dumbbells_y, rng, 1.6)
    out.append(Box((x, dumbbells_y, 0.0), (x + 1.6, dumbbells_y + 0.5, 0.6), metal))
    heads = random_colour(rng, str(rng.choice(["dark", "saturated", "mid"])))
    out += [Disc((x + 0.12 + 0.17 * j, dumbbells_y - 0.02, 0.66), 0.06, heads) for j in range(9)]
    return out


def _cluttered(rng: np.random.Generator, cam: Camera, wall_y: float, near: tuple[float, float],
               far_from: float) -> list[Shape]:
    """Boxes of every size and colour, balls on the floor, posters on the wall."""
    out: list[Shape] = []
    for _ in range(int(rng.integers(14, 28))):
        low = rng.random() < 0.4 and near[1] - near[0] > 0.2
        if low:  # kit lying just behind the mat, about as high as a body lying on it
            depth, height = float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.05, 0.4))
            y = float(rng.uniform(near[0], max(near[0], near[1] - depth)))
            width = float(rng.uniform(0.1, 0.8))
        else:
            depth, height = float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.3, 2.0))
            y = max(far_from, float(rng.uniform(far_from, wall_y - depth - 0.05)))
            width = float(rng.uniform(0.2, 1.2))
        x = _view_x(cam, y, rng, width)
        out.append(Box((x, y, 0.0), (x + width, y + depth, height), random_colour(rng)))
    for _ in range(int(rng.integers(2, 7))):
        r = float(rng.uniform(0.1, 0.33))
        if rng.random() < 0.5 and near[1] - near[0] > 2 * r:
            y = float(rng.uniform(near[0] + r, near[1] - r))
        else:
            y = max(far_from + r, float(rng.uniform(far_from + r, wall_y - r)))
        out.append(Disc((_view_x(cam, y, rng, 0.0), y, r), r, random_colour(rng)))
    for _ in range(int(rng.integers(2, 7))):
        x, z = _view_x(cam, wall_y, rng, 0.8), float(rng.uniform(0.6, 1.8))
        out.append(Box((x, wall_y - 0.01, z), (x + float(rng.uniform(0.4, 1.2)), wall_y, z + float(
            rng.uniform(0.4, 1.0))), random_colour(rng)))
    return out


def _front_y(shape: Shape) -> float:
    return shape.lo[1] if isinstance(shape, Box) else shape.centre[1] - shape.radius


def build_scene(look: Look, cam: Camera, mat: Box, bystander_depths: list[float]) -> Scene:
    """Static scene for one session. Furniture keeps clear of the band the bystanders walk in, so it is
    either behind all of them (drawn before them) or in front of all of them (re-drawn over them)."""
    rng = np.random.default_rng([look.props_seed])
    far_from = max(bystander_depths) + 0.3 if bystander_depths else mat.hi[1] + 0.3
    wall_y = max(look.wall_depth_m, far_from + 0.7)
    near_end = min(bystander_depths) - 0.2 if bystander_depths else wall_y - 0.3
    near = (mat.hi[1] + 0.1, min(near_end, mat.hi[1] + 1.3))
    img = np.clip(_floor_and_wall(look, cam, wall_y, rng), 0, 255).astype(np.uint8)
    if look.background == "gym":
        shapes = _gym(rng, cam, wall_y, near, far_from)
    elif look.background == "cluttered":
        shapes = _cluttered(rng, cam, wall_y, near, far_from)
    else:
        shapes = []
    shapes.sort(key=_front_y, reverse=True)
    mask = np.zeros(img.shape[:2], np.uint8)
    for s in shapes:
        in_front = _front_y(s) < near[1]
        _draw(img, cam, s, mask if in_front else None)
    draw_box(img, cam, mat, mask)
    h, w = img.shape[:2]
    gx, gy = look.gradient
    light = (1.0 + gx * (np.arange(w, dtype=np.float32)[None, :] / w - 0.5)
             + gy * (np.arange(h, dtype=np.float32)[:, None] / h - 0.5))
    lit = np.clip(img * light[..., None], 0, 255).astype(np.uint8)
    return Scene(image=lit, front_mask=mask > 0, gradient=look.gradient)
