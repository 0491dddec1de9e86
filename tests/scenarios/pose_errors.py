"""What a YOLO-style pose model makes of a person lying on a mat seen from the side: structured errors.

Real pose models are not true keypoints plus white noise. On a lying body filmed side-on they are
mostly right, and wrong in recognisable ways, each modelled here (all magnitudes are fields of
`ErrorModel`; `draw_error_model` draws one per session from the ranges in brackets; lengths are in
units of the person's torso length in the image, so they hold at any resolution and distance):

- **Jitter**, correlated from frame to frame (AR(1), ρ [0.3, 0.7]) with σ [0.004, 0.012] torso on the
  near side and `far_jitter_factor` [1.5, 2.2] times that on the far side, plus `speed_jitter`
  [0.08, 0.2] × the keypoint's own motion per frame (motion blur: fast legs are placed less precisely).
- **Hip bias**: the hip keypoints sit towards the waist on a lying body, `hip_bias` [0, 0.06] torso
  along the hip→shoulder line, for the whole session.
- **Misplaced knees** while a leg points near vertical (elevation over `knee_slip_min_elev_deg`, 60°):
  runs of [0.2, 1.2] s, starting at `knee_slip_rate` [0.05, 0.35] per second of such frames, in which the
  knee keypoint is pulled sideways off the hip→ankle line by [0.08, 0.25] × the thigh's length in the
  image (a knee angle of ~150–170° on a straight leg) — with its confidence as high as ever.
- **Feet out of the frame**: keypoints outside the image are either clamped to its border with a low
  confidence [0.02, 0.12] or dropped (0, 0, 0), per session (`offscreen_mode`). The camera framing
  (camera.py) crops the ankles of legs held near vertical in some sessions.
- **Left/right exchanges** of whole legs (hip, knee, ankle) for 1–5 frames, starting on `leg_swap_rate`
  [0.002, 0.012] of frames, and of the whole body on `body_swap_rate` [0, 0.004].
- **Far leg on the near leg**: while the far leg is partly hidden behind the near one (knees and ankles
  within 0.8 torso in the image), its keypoints put on the near leg (with a small offset and confidence
  [0.3, 0.6]) for [0.3, 2] s, starting `far_on_near_rate` [0.005, 0.04] per second.
- **Keypoint dropouts**: one keypoint's confidence falls under 0.1 for 1–8 frames, starting on
  `dropout_rate` [0.002, 0.008] of keypoint-frames (twice as often on the far side).
- **Outliers**: a keypoint thrown [0.1, 0.4] torso away with middling confidence, `outlier_rate`
  [0.0005, 0.003] of keypoint-frames.
- **Missed detections in bursts**: the person is not detected for a geometric number of frames (mean
  `miss_burst_mean` [2, 8]), bursts starting on `miss_rate` [0.002, 0.008] of frames; the scene-level
  empty frames (every person missed) are applied by session.py with `empty_rate` [0, 0.003].

Confidences: near-side keypoints [0.72, 0.97] by keypoint, far-side [0.25, 0.65], the far-side face
[0.1, 0.4]; all lower by up to 0.15 when the keypoint moves fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.people import KP

LEFT = [i for i, n in enumerate(KP) if n.startswith("left_")]
RIGHT = [i for i, n in enumerate(KP) if n.startswith("right_")]
LEG = {0: [KP["left_hip"], KP["left_knee"], KP["left_ankle"]],
       1: [KP["right_hip"], KP["right_knee"], KP["right_ankle"]]}
FACE = [KP["nose"], KP["left_eye"], KP["right_eye"], KP["left_ear"], KP["right_ear"]]
# The far leg counts as partly hidden behind the near one while its knee and ankle are this close to
# the near leg's (torso lengths, in the image).
FAR_HIDDEN_TORSOS = 0.8


@dataclass(frozen=True, slots=True)
class ErrorModel:
    jitter: float = 0.008
    jitter_corr: float = 0.5
    far_jitter_factor: float = 1.8
    speed_jitter: float = 0.12
    hip_bias: float = 0.03
    knee_slip_rate: float = 0.2
    knee_slip_min_elev_deg: float = 60.0
    knee_slip_frac: tuple[float, float] = (0.08, 0.25)
    knee_slip_s: tuple[float, float] = (0.2, 1.2)
    offscreen_mode: str = "clamp"  # "clamp" | "drop"
    leg_swap_rate: float = 0.006
    body_swap_rate: float = 0.002
    far_on_near_rate: float = 0.02
    far_on_near_s: tuple[float, float] = (0.3, 2.0)
    dropout_rate: float = 0.004
    outlier_rate: float = 0.0015
    miss_rate: float = 0.004
    miss_burst_mean: float = 4.0
    empty_rate: float = 0.001


# A pose model that is always right: for checks of the generator's own geometry.
PERFECT = ErrorModel(jitter=0.0, speed_jitter=0.0, hip_bias=0.0, knee_slip_rate=0.0, leg_swap_rate=0.0,
                     body_swap_rate=0.0, far_on_near_rate=0.0, dropout_rate=0.0, outlier_rate=0.0,
                     miss_rate=0.0, empty_rate=0.0)


def draw_error_model(rng: np.random.Generator) -> ErrorModel:
    return ErrorModel(
        jitter=float(rng.uniform(0.004, 0.012)), jitter_corr=float(rng.uniform(0.3, 0.7)),
        far_jitter_factor=float(rng.uniform(1.5, 2.2)), speed_jitter=float(rng.uniform(0.08, 0.2)),
        hip_bias=float(rng.uniform(0.0, 0.06)), knee_slip_rate=float(rng.uniform(0.05, 0.35)),
        offscreen_mode="clamp" if rng.random() < 0.6 else "drop",
        leg_swap_rate=float(rng.uniform(0.002, 0.012)), body_swap_rate=float(rng.uniform(0.0, 0.004)),
        far_on_near_rate=float(rng.uniform(0.005, 0.04)), dropout_rate=float(rng.uniform(0.002, 0.008)),
        outlier_rate=float(rng.uniform(0.0005, 0.003)), miss_rate=float(rng.uniform(0.002, 0.008)),
        miss_burst_mean=float(rng.uniform(2.0, 8.0)), empty_rate=float(rng.uniform(0.0, 0.003)))


def runs(rng: np.random.Generator, n: int, start_p: np.ndarray | float,
         length: tuple[int, int]) -> list[slice]:
    """Non-overlapping runs over n frames: each frame starts one with probability start_p (scalar or
    per frame) unless a run is under way; lengths uniform in [length[0], length[1]] frames."""
    p = np.broadcast_to(np.asarray(start_p, dtype=float), (n,))
    starts = np.flatnonzero(rng.random(n) < p)
    out: list[slice] = []
    free_from = 0
    for s in starts:
        if s < free_from:
            continue
        ln = int(rng.integers(length[0], length[1] + 1))
        out.append(slice(int(s), min(n, int(s) + ln)))
        free_from = s + ln
    return out


def burst_mask(rng: np.random.Generator, n: int, rate: float, mean_len: float) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for s in np.flatnonzero(rng.random(n) < rate):
        out[s:s + int(rng.geometric(1.0 / mean_len))] = True
    return out


@dataclass(frozen=True, slots=True)
class Observed:
    keypoints: np.ndarray  # (N, 17, 3) x, y, conf
    detected: np.ndarray  # (N,) the model found the person in this frame
    score: np.ndarray  # (N,)
    bbox: np.ndarray  # (N, 4)


def observe(rng: np.random.Generator, px: np.ndarray, near_left: np.ndarray, leg_elevation: np.ndarray | None,
            em: ErrorModel, fps: float, width: int, height: int) -> Observed:
    """The pose model's output for one person over N consecutive frames.

    px: (N, 17, 2) true pixels; near_left: (N,) the person's left side faces the camera; leg_elevation:
    (N, 2) true hip→ankle elevation of each leg (None for people who are not lying: no knee slips).
    """
    n = px.shape[0]
    xy = px.astype(float).copy()
    sh_mid = (px[:, KP["left_shoulder"]] + px[:, KP["right_shoulder"]]) / 2
    hip_mid = (px[:, KP["left_hip"]] + px[:, KP["right_hip"]]) / 2
    torso = np.maximum(np.linalg.norm(sh_mid - hip_mid, axis=1), 5.0)
    scale = float(np.median(torso))

    far = np.zeros((n, 17), dtype=bool)
    far[:, LEFT] = ~near_left[:, None]
    far[:, RIGHT] = near_left[:, None]
    near_base = rng.uniform(0.72, 0.97, size=17)
    far_base = rng.uniform(0.25, 0.65, size=17)
    far_base[FACE] = rng.uniform(0.1, 0.4, size=len(FACE))
    conf = np.where(far, far_base[None, :], near_base[None, :]) + rng.normal(0, 0.04, size=(n, 17))

    # Hip bias: towards the waist, along the hip→shoulder line.
    up = (sh_mid - hip_mid) / torso[:, None]
    for h in (KP["left_hip"], KP["right_hip"]):
        xy[:, h] += em.hip_bias * torso[:, None] * up

    if leg_elevation is not None and em.knee_slip_rate > 0:
        for side in (0, 1):
            hip, knee, ankle = LEG[side]
            high = leg_elevation[:, side] > em.knee_slip_min_elev_deg
            lo, hi = (max(1, round(s * fps)) for s in em.knee_slip_s)
            for r in runs(rng, n, np.where(high, em.knee_slip_rate / fps, 0.0), (lo, hi)):
                line = xy[r, ankle] - xy[r, hip]
                normal = np.stack([-line[:, 1], line[:, 0]], axis=1)
                normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
                thigh_px = np.linalg.norm(px[r, knee] - px[r, hip], axis=1, keepdims=True)
                frac = rng.uniform(*em.knee_slip_frac) * rng.choice([-1.0, 1.0])
                xy[r, knee] += frac * thigh_px * normal

    if em.far_on_near_rate > 0:
        # Only where the far leg is partly hidden behind the near one: a far leg raised clear of the
        # near leg is plain to see.
        ankles = np.linalg.norm(px[:, KP["left_ankle"]] - px[:, KP["right_ankle"]], axis=1)
        knees = np.linalg.norm(px[:, KP["left_knee"]] - px[:, KP["right_knee"]], axis=1)
        hidden = np.maximum(ankles, knees) < FAR_HIDDEN_TORSOS * torso
        lo, hi = (max(1, round(s * fps)) for s in em.far_on_near_s)
        for r in runs(rng, n, np.where(hidden, em.far_on_near_rate / fps, 0.0), (lo, hi)):
            for j in range(r.start, r.stop):
                if not hidden[j]:
                    break
                near_leg, far_leg = (LEG[0], LEG[1]) if near_left[j] else (LEG[1], LEG[0])
                xy[j, far_leg] = xy[j, near_leg] + rng.normal(0, 0.02 * scale, size=(3, 2))
                conf[j, far_leg] = rng.uniform(0.3, 0.6, size=3)

    swapped = np.arange(17)
    swapped[LEFT], swapped[RIGHT] = RIGHT, LEFT
    legs_swapped = np.arange(17)
    legs_swapped[LEG[0]], legs_swapped[LEG[1]] = LEG[1], LEG[0]
    for rate, order in ((em.leg_swap_rate, legs_swapped), (em.body_swap_rate, swapped)):
        if rate > 0:
            for r in runs(rng, n, rate, (1, 5)):
                xy[r] = xy[r][:, order]
                conf[r] = conf[r][:, order]

    # Jitter: AR(1) over frames, larger on the far side and for fast-moving keypoints.
    speed = np.zeros((n, 17))
    if n > 1:
        speed[1:] = np.linalg.norm(np.diff(px, axis=0), axis=2)
        speed[0] = speed[1]
    sigma = em.jitter * torso[:, None] * np.where(far, em.far_jitter_factor, 1.0) + em.speed_jitter * speed
    if np.any(sigma > 0):
        white = rng.normal(0, 1, size=(n, 17, 2))
        eps = np.empty_like(white)
        eps[0] = white[0]
        rho = em.jitter_corr
        k = np.sqrt(1 - rho * rho)
        for i in range(1, n):
            eps[i] = rho * eps[i - 1] + k * white[i]
        xy += sigma[..., None] * eps
    conf -= 0.15 * np.clip(speed / (0.15 * scale), 0.0, 1.0)

    outlier = rng.random((n, 17)) < em.outlier_rate
    m = int(outlier.sum())
    if m:
        angle = rng.uniform(0, 2 * np.pi, size=m)
        dist = rng.uniform(0.1, 0.4, size=m) * scale
        xy[outlier] += np.stack([np.cos(angle), np.sin(angle)], axis=1) * dist[:, None]
        conf[outlier] = rng.uniform(0.3, 0.6, size=m)

    if em.dropout_rate > 0:
        for j in range(17):
            p = np.where(far[:, j], 2 * em.dropout_rate, em.dropout_rate)
            for r in runs(rng, n, p, (1, 8)):
                conf[r, j] = rng.uniform(0.0, 0.1, size=r.stop - r.start)

    conf = np.clip(conf, 0.0, 0.99)
    outside = (xy[..., 0] < 0) | (xy[..., 0] > width - 1) | (xy[..., 1] < 0) | (xy[..., 1] > height - 1)
    if em.offscreen_mode == "drop":
        xy[outside] = 0.0
        conf[outside] = 0.0
    else:
        conf[outside] = rng.uniform(0.02, 0.12, size=int(outside.sum()))
        xy[..., 0] = np.clip(xy[..., 0], 0, width - 1)
        xy[..., 1] = np.clip(xy[..., 1], 0, height - 1)
    kps = np.concatenate([xy, conf[..., None]], axis=2)

    # The box a detector draws covers the body, a little beyond its keypoints (head top, heels).
    seen = (conf > 0.3) & ~outside
    seen[~seen.any(axis=1)] = True
    pts = np.where(seen[..., None], xy, np.nan)
    lo, hi = np.nanmin(pts, axis=1), np.nanmax(pts, axis=1)
    margin = 0.12 * torso[:, None] + 0.05 * (hi - lo)
    bbox = np.concatenate([lo - margin, hi + margin], axis=1)
    bbox[:, [0, 2]] = np.clip(bbox[:, [0, 2]], 0, width - 1)
    bbox[:, [1, 3]] = np.clip(bbox[:, [1, 3]], 0, height - 1)
    share_seen = seen.mean(axis=1)
    score = np.clip(0.3 + 0.65 * share_seen + rng.normal(0, 0.03, size=n), 0.05, 0.98)
    detected = ~burst_mask(rng, n, em.miss_rate, em.miss_burst_mean)
    # A person with almost nothing inside the image is not detected at all.
    detected &= (~outside).sum(axis=1) >= 6
    return Observed(keypoints=kps, detected=detected, score=score, bbox=bbox)
