"""Rendering test bench: side-view BGR frames of a simulated leg-lift session, with the lumbar arch
(`back_arched`) as ground truth, for measuring a vision estimate of the gap under the lower back.

    rs = render_session(7)                 # the simulator's session for seed 7, 1280×720
    img = rs.frame(120)                    # H×W×3 uint8 BGR, deterministic per (seed, i)
    rs.people(120), rs.lift_cm(120), rs.reps, rs.floor_line, rs.px_per_cm_at_body

CLI: python -m tests.sim.render --seed 7 [--out s7.mp4] [--png-every 30] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.people import KP, Person, PoseFrame
from tests.sim.body import HIP_Z_LYING, Anthropometry
from tests.sim.camera import Placement
from tests.sim.choreography import Choreography
from tests.sim.render_arch import ArchPlan, RenderedHold, RenderedRep, plan_arches
from tests.sim.render_draw import View, bystander_prims
from tests.sim.render_look import ExtraWalker, Look, sample_look
from tests.sim.render_member import MemberTrack, member_prims, track_member
from tests.sim.render_scene import Box, Scene, build_scene
from tests.sim.simulate import SimResult, _camera, _lying_extent, simulate
from tests.sim.spec import BystanderSpec, SessionSpec, random_session_spec

_ARM_JOINTS = [KP[n] for n in ("left_elbow", "right_elbow", "left_wrist", "right_wrist")]
_NOISE_PAD = 32  # the noise bank is this much larger than a frame; each frame takes a shifted crop


@dataclass(slots=True)
class RenderedSession:
    """A simulated session that renders its frames on demand, with the arch truth per frame and per rep."""

    sim: SimResult  # the simulated session (arm keypoints moved to the rendered arm placement)
    look: Look
    width: int
    height: int
    fps: float
    times: np.ndarray  # (N,) the frames' t, s
    reps: list[RenderedRep]
    holds: list[RenderedHold]
    floor_line: tuple[tuple[float, float], tuple[float, float]]  # near mat-top edge under the body, px
    mat_region: tuple[float, float, float, float]  # x1, y1, x2, y2 px: the mat and the body, legs up
    px_per_cm_at_body: float  # along the mat, in the body's sagittal plane at the lumbar apex
    lead_in_frames: int  # leading frames with no member pixel: the empty mat
    light_changes_t: list[float]  # times of sudden exposure steps, s
    _scene: Scene = field(repr=False)
    _track: MemberTrack = field(repr=False)
    _view: View = field(repr=False)
    _member_in_view: np.ndarray = field(repr=False)
    _elevation: np.ndarray = field(repr=False)
    _gain: np.ndarray = field(repr=False)
    _noise: tuple[np.ndarray, np.ndarray] | None = field(repr=False)
    _noise_at: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return self.times.size

    def people(self, i: int) -> PoseFrame:
        """The pose model's detections in frame i (member and bystanders, noisy)."""
        return self.sim.frames[i]

    def lift_cm(self, i: int) -> float:
        """True height of the lumbar underside above the mat at its apex, cm; nan when not lying."""
        return float(self._track.lift_cm[i])

    def elevation(self, i: int) -> float | None:
        """True elevation (deg) of the moving leg(s) in frame i; None outside the rep sets."""
        e = self._elevation[i]
        return None if math.isnan(e) else float(e)

    def frame(self, i: int, *, member: bool = True, bystanders: bool = True) -> np.ndarray:
        """Frame i as H×W×3 uint8 BGR. With member/bystanders off: the same frame (light, noise) without
        them, i.e. exactly what a perfect background model would predict."""
        scene, gain = self._scene, float(self._gain[i])
        # Exposure scales the scene as it is copied, and every colour drawn on it.
        exposure = np.clip(np.arange(256) * gain, 0, 255).astype(np.uint8)
        img = cv2.LUT(scene.image, exposure)
        if bystanders:
            self._draw_bystanders(img, i, gain, exposure)
        if member and self._member_in_view[i]:
            prims = member_prims(self._track, i, self._view, self.look)
            for p in sorted(prims, key=lambda p: -p.depth):
                p.draw(img, gain * scene.light_at(*p.centre()))
        img = cv2.GaussianBlur(img, (5, 5), self.look.blur_sigma * self.width / 1280)
        if self._noise is not None:
            dy, dx = self._noise_at[i]
            h, w = self.height, self.width
            img = cv2.subtract(cv2.add(img, self._noise[0][dy:dy + h, dx:dx + w]),
                               self._noise[1][dy:dy + h, dx:dx + w])
        return img

    def _draw_bystanders(self, img: np.ndarray, i: int, gain: float, exposure: np.ndarray) -> None:
        figures = self.sim.bystander_keypoints[i]
        if not figures:
            return
        t = self.times[i]
        # The simulator lists the walkers in view in its own order; their truth gives who is who.
        active = [k for k, b in enumerate(self.sim.truth.bystanders)
                  if b.start_t - 1e-3 <= t <= b.end_t + 1e-3]
        ids = active if len(active) == len(figures) else list(range(len(figures)))
        wardrobe = self.look.bystander_clothes
        lo, hi = np.array([self.width, self.height], float), np.zeros(2)
        for kp, k in zip(figures, ids, strict=True):
            for p in bystander_prims(kp, wardrobe[k % len(wardrobe)]):
                p.draw(img, gain * self._scene.light_at(*p.centre()))
            lo, hi = np.minimum(lo, kp.min(0)), np.maximum(hi, kp.max(0))
        # Furniture and the mat in front of the walkers hide them again.
        pad = 0.4 * (hi[1] - lo[1]) + 10
        x0, y0 = (int(max(v - pad, 0)) for v in lo)
        x1, y1 = int(min(hi[0] + pad, self.width)), int(min(hi[1] + pad, self.height))
        if x1 > x0 and y1 > y0:
            mask = self._scene.front_mask[y0:y1, x0:x1]
            img[y0:y1, x0:x1][mask] = cv2.LUT(self._scene.image[y0:y1, x0:x1], exposure)[mask]


def _with_walker(spec: SessionSpec, walker: ExtraWalker) -> SessionSpec:
    """Add the Look's extra bystander so that they come into view during one of the rep sets."""
    body = Anthropometry(spec.stature_m)
    chore = Choreography(spec, body, np.random.default_rng([spec.seed, 1]))  # as simulate() builds it
    sets = [b for b in chore.blocks if b.spec.variant != "hollow_hold"]
    if not sets:
        return spec
    block = sets[min(int(walker.set_pick * len(sets)), len(sets) - 1)]
    seen = block.start_t + walker.at * (block.end_t - block.start_t)
    # simulate() starts a walker 1 m outside the view at their depth.
    start = (seen - 1.0 / walker.speed_mps) / chore.end_t
    extra = BystanderSpec(start_frac=start, direction=walker.direction, speed_mps=walker.speed_mps,
                          depth_m=walker.depth_m, stature_m=walker.stature_m)
    return dataclasses.replace(spec, bystanders=[*spec.bystanders, extra])


def _patch_arm_keypoints(sim: SimResult, px: np.ndarray) -> None:
    """Move the member's elbow and wrist keypoints to the rendered arms, keeping each detection's noise."""
    tol = 40.0 * sim.spec.camera.width / 1280
    w, h = sim.spec.camera.width, sim.spec.camera.height
    for i, old in enumerate(sim.truth.member_keypoints):
        if old is None:
            continue
        delta = px[i, _ARM_JOINTS] - old[_ARM_JOINTS]
        if np.abs(delta).max() <= 1e-6:
            continue
        sim.truth.member_keypoints[i] = px[i].copy()
        people = list(sim.frames[i].people)
        if not people:
            continue
        dist = [float(np.median(np.hypot(*(p.keypoints[:, :2] - old).T))) for p in people]
        j = int(np.argmin(dist))
        if dist[j] > tol:
            continue
        kp = people[j].keypoints.copy()
        kp[_ARM_JOINTS, :2] += delta
        kp[:, 0] = np.clip(kp[:, 0], 0, w - 1)
        kp[:, 1] = np.clip(kp[:, 1], 0, h - 1)
        people[j] = Person(score=people[j].score, bbox=people[j].bbox, keypoints=kp.astype(np.float32))
        sim.frames[i] = PoseFrame(t=sim.frames[i].t, people=tuple(people))


def _elevations(plan: ArchPlan, chore: Choreography, times: np.ndarray) -> np.ndarray:
    out = np.full(times.size, np.nan)
    i = 0
    for block in chore.blocks:
        if block.spec.variant == "hollow_hold":
            continue
        reps_legs = plan.legs[i:i + len(block.reps)]
        i += len(block.reps)
        sel = np.flatnonzero((times >= block.start_t) & (times <= block.end_t))
        ends = np.array([r.end_t for r in block.reps])
        # Before and between reps the legs belong to the rep that comes next; after the last, to it.
        which = np.minimum(np.searchsorted(ends, times[sel]), len(ends) - 1)
        for k, legs in enumerate(reps_legs):
            idx = sel[which == k]
            if idx.size:
                out[idx] = chore.leg_angles(times[idx], legs)[0]
    return out


def render_session(seed: int, *, width: int = 1280, height: int = 720, fps: float | None = None,
                   look: Look | None = None, arch_share: float = 0.5) -> RenderedSession:
    """Simulate `random_session_spec(seed)` at the given size (and fps) with the Look's camera height, and
    set up the rendering of its frames. Every random draw is seeded by `seed`."""
    look = look or sample_look(seed)
    spec = random_session_spec(seed)
    c = spec.camera
    spec = dataclasses.replace(
        spec, camera=dataclasses.replace(c, width=width, height=height, fps=fps or c.fps,
                                         lens_height_m=look.lens_height_m),
        # Keypoint jitter is specified in pixels at the spec's own resolution.
        noise=dataclasses.replace(spec.noise, jitter_px=spec.noise.jitter_px * width / c.width))
    if look.extra_walker is not None:
        spec = _with_walker(spec, look.extra_walker)
    sim = simulate(spec)
    chore, body = sim.choreography, sim.choreography.body
    place = Placement(0.0, 0.0, 1.0 if spec.camera.facing == "left" else -1.0)
    cam = _camera(spec, body, place, chore.bar_uz)
    view = View.of(cam, place)
    times = np.array([f.t for f in sim.frames])
    plan = plan_arches(chore, sim.truth, np.random.default_rng([seed, 102]), arch_share)
    mat_top = look.mat_thickness_m
    track = track_member(body, look, chore.rest, chore.pose(times), times, plan.lift_cm(times) / 100, mat_top)
    joints_px = cam.project(place.to_world(track.local))
    if look.arms != "sides":
        _patch_arm_keypoints(sim, joints_px)

    head, heel = _lying_extent(body)
    length, width_m = look.mat_length_m, look.mat_width_m
    mx = place.sign * (head + heel) / 2 + look.mat_shift_m[0]
    my = look.mat_shift_m[1]
    mat = Box((mx - length / 2, my - width_m / 2, 0.0), (mx + length / 2, my + width_m / 2, mat_top),
              look.mat)
    scene = build_scene(look, cam, mat, [b.depth_m for b in sim.truth.bystanders])

    ends = cam.project(np.array([[place.sign * u, mat.lo[1], mat_top] for u in (head, heel)]))
    (x0, y0), (x1, y1) = ends[np.argsort(ends[:, 0])]
    top = HIP_Z_LYING + float(body.hip_ankle(178.0)) + 0.15
    corners = np.array([[x, y, z] for x in (mat.lo[0], mat.hi[0], place.sign * head, place.sign * heel)
                        for y in (mat.lo[1], mat.hi[1]) for z in (0.0, top)])
    box = cam.project(corners)
    region = (max(float(box[:, 0].min()), 0.0), max(float(box[:, 1].min()), 0.0),
              min(float(box[:, 0].max()), width - 1.0), min(float(box[:, 1].max()), height - 1.0))
    apex = track.trunk.s[track.trunk.apex]
    ruler = view.project(np.array([[-apex - 0.005, 0.0, mat_top], [-apex + 0.005, 0.0, mat_top]]))[0]
    px_per_cm = float(np.hypot(*(ruler[1] - ruler[0])))

    # The member is drawn only where some of it can reach into the image (limbs and trunk are thick).
    margin = 0.4 * cam.focal_px / cam.distance
    lo, hi = joints_px.min(axis=1), joints_px.max(axis=1)
    in_view = ((hi[:, 0] > -margin) & (lo[:, 0] < width + margin)
               & (hi[:, 1] > -margin) & (lo[:, 1] < height + margin))
    lead_in = int(np.argmax(in_view)) if in_view.any() else times.size

    steps = [(frac * chore.end_t, factor) for frac, factor in look.light_steps]
    gain = np.full(times.size, look.gain)
    for at, factor in steps:
        gain[times >= at] *= factor
    amp, period = look.drift
    gain *= 1 + amp * np.sin(2 * math.pi * times / period)
    noise = None
    if look.noise_sigma > 0.05:
        bank = np.random.default_rng([seed, 103]).normal(
            0.0, look.noise_sigma, size=(height + _NOISE_PAD, width + _NOISE_PAD, 3)).astype(np.float32)
        noise = (np.clip(bank, 0, 255).astype(np.uint8), np.clip(-bank, 0, 255).astype(np.uint8))
    noise_at = np.random.default_rng([seed, 104]).integers(0, _NOISE_PAD + 1, size=(times.size, 2))

    return RenderedSession(
        sim=sim, look=look, width=width, height=height, fps=spec.camera.fps, times=times, reps=plan.reps,
        holds=plan.holds, floor_line=((float(x0), float(y0)), (float(x1), float(y1))),
        mat_region=region, px_per_cm_at_body=px_per_cm, lead_in_frames=lead_in,
        light_changes_t=[at for at, _ in steps], _scene=scene, _track=track, _view=view,
        _member_in_view=in_view, _elevation=_elevations(plan, chore, times), _gain=gain, _noise=noise,
        _noise_at=noise_at)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.sim.render",
                                 description="Render a simulated leg-lift session as side-view frames.")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", help="video file to write (mp4v)")
    ap.add_argument("--png-every", type=int, default=0, help="also write every K-th frame as PNG")
    ap.add_argument("--png-dir", help="PNG folder (default artifacts/render/seed<N>)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float)
    ap.add_argument("--arch-share", type=float, default=0.5)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    rs = render_session(args.seed, width=w, height=h, fps=args.fps, arch_share=args.arch_share)
    lk = rs.look
    print(f"seed {args.seed}: {len(rs)} frames at {rs.fps:g} fps, {w}x{h}, background {lk.background}, "
          f"arms {lk.arms}, lens {lk.lens_height_m:.2f} m, gain {lk.gain:.2f}, noise {lk.noise_sigma:.1f}, "
          f"{rs.px_per_cm_at_body:.2f} px/cm, empty lead-in {rs.lead_in_frames} frames")
    for k, r in enumerate(rs.reps):
        onset = "flat" if r.onset_deg is None else f"onset {r.onset_deg:5.1f}°"
        print(f"rep {k:3d} {r.variant:10s} {r.start_t:7.2f}–{r.end_t:7.2f} s  top {r.top_deg:5.1f}°  "
              f"bottom {r.bottom_deg:5.1f}°  lift {r.lift_cm:4.2f} cm  {onset}")
    for hold in rs.holds:
        print(f"hold {hold.start_t:7.2f}–{hold.end_t:7.2f} s  lift {hold.lift_cm:4.2f} cm  "
              f"flat {hold.flat_s:5.1f} s")
    png_dir = Path(args.png_dir or f"artifacts/render/seed{args.seed}")
    if args.png_every > 0:
        png_dir.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(rs), args.png_every):
            cv2.imwrite(str(png_dir / f"f{i:05d}.png"), rs.frame(i))
    if args.out:
        writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), rs.fps, (w, h))
        if not writer.isOpened():
            raise SystemExit(f"cannot open {args.out} for writing")
        # A video has no timestamps: through the simulator's frame gaps the last frame repeats (a stalled
        # camera), so frame k of the video is at k / fps on the session's clock.
        ticks = np.arange(round(rs.times[-1] * rs.fps) + 1) / rs.fps
        shown = np.searchsorted(rs.times, ticks + 1e-6, side="right") - 1
        img = None
        for k, i in enumerate(shown):
            if k == 0 or i != shown[k - 1]:
                img = rs.frame(int(i))
            writer.write(img)
        writer.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
