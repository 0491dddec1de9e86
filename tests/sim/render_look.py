"""What a rendered session looks like (`Look`): room, mat, clothes, body build, lighting, camera height and
sensor, sampled per session so the vision stage meets every condition a gym throws at it."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

BGR = tuple[int, int, int]
BACKGROUNDS: tuple[str, ...] = ("plain", "gym", "cluttered")
ARMS: tuple[str, ...] = ("sides", "under_glutes", "chest")
FLOOR_PATTERNS: tuple[str, ...] = ("plain", "planks", "tiles", "rubber")
# Fitzpatrick-like range, light to dark (RGB).
_SKIN_RGB = ((255, 224, 196), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 51, 23))
_HAIR_RGB = ((20, 16, 14), (60, 40, 25), (110, 75, 40), (200, 170, 110), (150, 150, 150))


@dataclass(frozen=True, slots=True)
class Clothes:
    top: BGR
    bottom: BGR
    skin: BGR
    hair: BGR
    shoes: BGR
    long_sleeves: bool
    long_legs: bool  # leggings / track pants rather than shorts


@dataclass(frozen=True, slots=True)
class ExtraWalker:
    """One more person crossing behind the mat while a set is going on."""

    set_pick: float  # which rep set, as a share of the list of sets
    at: float  # when they come into view, as a share of that set
    direction: float  # +1 walks towards world +X
    speed_mps: float
    depth_m: float  # behind the member's sagittal plane (the simulator may push it further back)
    stature_m: float


@dataclass(frozen=True, slots=True)
class Look:
    background: str  # BACKGROUNDS
    wall: BGR
    floor: BGR
    floor_pattern: str  # FLOOR_PATTERNS
    mat: BGR
    mat_length_m: float
    mat_width_m: float
    mat_thickness_m: float
    mat_shift_m: tuple[float, float]  # mat centre relative to the lying body: along the mat, away from camera
    wall_depth_m: float  # behind the sagittal plane; pushed back behind the farthest bystander
    lens_height_m: float  # replaces the spec's before simulating, so keypoints and picture agree
    arms: str  # ARMS: where the member puts the hands while lying
    clothes: Clothes
    bystander_clothes: tuple[Clothes, ...]  # cycled over the bystanders
    build_width: float  # trunk and limb girth relative to a typical build
    build_thickness: float  # trunk depth (floor to belly) relative to a typical build
    belly_m: float  # extra abdomen height
    abdomen_k: float  # share of the lumbar lift that the abdomen top follows
    breath_cm: float  # abdomen top amplitude (±)
    breath_hz: float
    gain: float  # overall exposure
    gradient: tuple[float, float]  # relative gain change across the image: (left→right, top→bottom)
    light_steps: tuple[tuple[float, float], ...]  # (time as a share of the session, gain factor from then on)
    drift: tuple[float, float]  # slow exposure drift: relative amplitude, period s
    noise_sigma: float  # sensor noise, grey levels
    blur_sigma: float  # lens softness, px at 1280 wide
    extra_walker: ExtraWalker | None
    props_seed: int  # furniture and clutter placement


def _hsv(h: float, s: float, v: float) -> BGR:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(b * 255), round(g * 255), round(r * 255)


def random_colour(rng: np.random.Generator, kind: str | None = None) -> BGR:
    """A colour of a kind ("dark", "light", "saturated", "mid"), or of any kind."""
    if kind is None:
        kind = str(rng.choice(["dark", "light", "saturated", "mid"], p=[0.3, 0.25, 0.3, 0.15]))
    h = float(rng.uniform())
    if kind == "dark":
        return _hsv(h, rng.uniform(0.0, 0.5), rng.uniform(0.07, 0.25))
    if kind == "light":
        return _hsv(h, rng.uniform(0.0, 0.2), rng.uniform(0.75, 0.95))
    if kind == "saturated":
        return _hsv(h, rng.uniform(0.65, 1.0), rng.uniform(0.45, 0.9))
    return _hsv(h, rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.7))


def _close_to(rng: np.random.Generator, c: BGR) -> BGR:
    b, g, r = (int(np.clip(v + rng.integers(-14, 15), 0, 255)) for v in c)
    return b, g, r


def _rgb(c: tuple[int, int, int]) -> BGR:
    return c[2], c[1], c[0]


def sample_clothes(rng: np.random.Generator, camouflage: tuple[BGR, ...] = ()) -> Clothes:
    """Random outfit; with camouflage colours given, a 10 % chance that the top or the bottom nearly
    matches one of them (the wall or the mat)."""
    top, bottom = random_colour(rng), random_colour(rng)
    if camouflage and rng.random() < 0.1:
        twin = _close_to(rng, camouflage[int(rng.integers(len(camouflage)))])
        top, bottom = (twin, bottom) if rng.random() < 0.5 else (top, twin)
    shoes = random_colour(rng, str(rng.choice(["dark", "light", "mid"])))
    return Clothes(top=top, bottom=bottom, skin=_rgb(_SKIN_RGB[int(rng.integers(len(_SKIN_RGB)))]),
                   hair=_rgb(_HAIR_RGB[int(rng.integers(len(_HAIR_RGB)))]), shoes=shoes,
                   long_sleeves=bool(rng.random() < 0.35), long_legs=bool(rng.random() < 0.6))


def sample_look(seed: int) -> Look:
    """A random Look, fully determined by the session seed (independent of the simulator's own draws)."""
    rng = np.random.default_rng([seed, 101])
    background = str(rng.choice(BACKGROUNDS, p=[0.3, 0.4, 0.3]))
    if rng.random() < 0.8:
        wall = _hsv(rng.uniform(), rng.uniform(0.0, 0.25), rng.uniform(0.55, 0.92))
    else:
        wall = random_colour(rng, str(rng.choice(["saturated", "dark", "mid"])))
    pattern = str(rng.choice(FLOOR_PATTERNS))
    if pattern == "planks":
        floor = _hsv(rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.7), rng.uniform(0.35, 0.75))
    elif pattern == "rubber":
        floor = _hsv(rng.uniform(), rng.uniform(0.0, 0.15), rng.uniform(0.1, 0.35))
    else:
        floor = _hsv(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.85))
    mat = random_colour(rng, str(rng.choice(["saturated", "dark", "mid"], p=[0.5, 0.3, 0.2])))
    vertical = rng.random() < 0.5
    slope = float(rng.uniform(0.1, 0.3) * rng.choice([-1, 1]))
    steps: tuple[tuple[float, float], ...] = ()
    if rng.random() < 0.35:
        steps = tuple(sorted((float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.7, 1.3)))
                             for _ in range(int(rng.integers(1, 3)))))
    walker = None
    if rng.random() < 0.3:
        walker = ExtraWalker(set_pick=float(rng.uniform()), at=float(rng.uniform(0.1, 0.7)),
                             direction=float(rng.choice([-1.0, 1.0])), speed_mps=float(rng.uniform(1.0, 1.5)),
                             depth_m=float(rng.uniform(1.5, 4.0)), stature_m=float(rng.uniform(1.55, 1.95)))
    return Look(
        background=background, wall=wall, floor=floor, floor_pattern=pattern, mat=mat,
        mat_length_m=float(rng.uniform(1.7, 1.9)), mat_width_m=float(rng.uniform(0.55, 0.65)),
        mat_thickness_m=float(rng.uniform(0.01, 0.015)),
        mat_shift_m=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.04, 0.04))),
        wall_depth_m=float(rng.uniform(3.0, 7.0)), lens_height_m=float(rng.uniform(0.05, 0.6)),
        arms=str(rng.choice(ARMS)), clothes=sample_clothes(rng, (wall, mat)),
        bystander_clothes=tuple(sample_clothes(rng) for _ in range(6)),
        build_width=float(rng.uniform(0.9, 1.12)), build_thickness=float(rng.uniform(0.9, 1.12)),
        belly_m=float(rng.uniform(0.0, 0.03)), abdomen_k=float(rng.uniform(0.7, 1.0)),
        breath_cm=float(rng.uniform(0.3, 0.8)), breath_hz=float(rng.uniform(0.2, 0.35)),
        gain=float(rng.uniform(0.6, 1.3)), gradient=(0.0, slope) if vertical else (slope, 0.0),
        light_steps=steps,
        drift=(float(rng.uniform(0.0, 0.08)), float(rng.uniform(20.0, 120.0))),
        noise_sigma=float(rng.uniform(0.0, 6.0)), blur_sigma=float(rng.uniform(0.6, 1.3)),
        extra_walker=walker, props_seed=int(rng.integers(2**31)))
