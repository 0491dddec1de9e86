"""The member as a solid: a trunk with real cross-sections and the lumbar arch under it, tapered capsule
limbs, an ellipsoid head, the guide's arm placements; drawn far to near.

Trunk, body-local (u along the body, l lateral, z up): stations s along the trunk axis from the hip centre
(the lumbar segment, then the thorax). Each station has a back distance (axis → back surface), a front
distance (axis → abdomen or chest) and a half-width. A lateral slice at a share q of the half-width is a
flat profile parallel to the sagittal plane, rounded towards the flank but flat-bottomed, so a body lying
flat touches the mat over most of its width, as soft tissue does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from edge.people import KP
from tests.sim.body import HIP_Z_LYING, Anthropometry, Pose, forward_kinematics
from tests.sim.render_draw import Prim, View, capsule_outlines
from tests.sim.render_look import Clothes, Look
from tests.sim.render_scene import shade

# Trunk profile of a 1.75 m person, by station: height of the front surface above the mat when lying,
# and half-width (pelvis end, hip joint, belly, waist, lower ribs, chest, shoulder joint, shoulder end).
_KNOT_S = np.array([-0.07, 0.0, 0.08, 0.17, 0.26, 0.36, 0.45, 0.50, 0.56])
_KNOT_TOP = np.array([0.15, 0.175, 0.185, 0.19, 0.20, 0.215, 0.21, 0.18, 0.14])
_KNOT_HALF_W = np.array([0.15, 0.17, 0.155, 0.145, 0.145, 0.16, 0.17, 0.175, 0.15])
SLICES = (-0.92, -0.6, -0.25, 0.0, 0.25, 0.6, 0.92)
_SINK = 0.003  # the rest pose presses the back this far into the mat, so lying flat leaves no gap
# Limb radii (m) at the proximal and distal end, 1.75 m person of typical build.
_RADII = {"thigh": (0.075, 0.055), "shank": (0.05, 0.038), "foot": (0.04, 0.03), "neck": (0.05, 0.05),
          "upper_arm": (0.045, 0.037), "forearm": (0.035, 0.028), "hand": (0.03, 0.025)}


def smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bell(s: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.sin(math.pi * np.clip((s - a) / (b - a), 0.0, 1.0)) ** 2


def trunk_axis(s: np.ndarray, pose: Pose, lumbar_len: float) -> tuple[np.ndarray, np.ndarray]:
    """Axis points and anterior unit vectors (N, S, 2) in the body's (u, z) plane, before yaw."""
    al, at = np.radians(pose.lumbar)[:, None], np.radians(pose.thorax)[:, None]
    pu, pz = pose.pel_u[:, None], pose.pel_z[:, None]
    on_lumbar = s[None, :] <= lumbar_len
    ju, jz = pu + lumbar_len * np.cos(al), pz + lumbar_len * np.sin(al)
    cu = np.where(on_lumbar, pu + s * np.cos(al), ju + (s - lumbar_len) * np.cos(at))
    cz = np.where(on_lumbar, pz + s * np.sin(al), jz + (s - lumbar_len) * np.sin(at))
    # Anterior = the segment direction turned a quarter towards the front; blended over the junction.
    w = smoothstep((s - lumbar_len + 0.04) / 0.08)
    au = (1 - w) * np.sin(al) + w * np.sin(at)
    az = -((1 - w) * np.cos(al) + w * np.cos(at))
    norm = np.hypot(au, az)
    return np.stack([cu, cz], axis=-1), np.stack([au / norm, az / norm], axis=-1)


@dataclass(frozen=True, slots=True)
class Trunk:
    lumbar_len: float
    s: np.ndarray  # (S,) stations, m from the hip centre towards the shoulders
    back: np.ndarray  # (S,) axis → back surface
    front: np.ndarray  # (S,) axis → front surface (breathing and arch excluded)
    half_width: np.ndarray
    bump: np.ndarray  # (S,) shape of the lumbar lift, 1 at the apex
    belly: np.ndarray  # (S,) where breathing moves the front surface
    apex: int  # station index of the lumbar apex
    waist: int  # station index of the waistband (clothes change colour)
    mat_top: float
    abdomen_k: float

    def at(self, s: np.ndarray) -> tuple[np.ndarray, ...]:
        """(back, front, half_width, bump, belly) at arbitrary stations."""
        return tuple(np.interp(s, self.s, a) for a in (self.back, self.front, self.half_width, self.bump,
                                                       self.belly))

    def surfaces(self, s: np.ndarray, c: np.ndarray, ant: np.ndarray, q: float | np.ndarray, lift: np.ndarray,
                 breath: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top and bottom (N, S, 3) body-local points of the slice at lateral share q (before yaw); with one
        frame and Q shares, (Q, S, 3)."""
        back, front, half_width, bump, belly = self.at(s)
        share = np.reshape(q, (-1, 1))  # several slices of one frame broadcast like frames
        cb = (1 - np.abs(share) ** 6) ** (1 / 6)
        ct = (1 - np.abs(share) ** 2.2) ** (1 / 2.2)
        bottom = c - ant * (back * cb)[..., None]
        # The mat holds the back up; the arch then lifts the underside and, a little less, the abdomen.
        bz = np.maximum(bottom[..., 1], self.mat_top) + lift[:, None] * bump
        top = c + ant * (front * ct + breath[:, None] * belly * ct)[..., None]
        tz = top[..., 1] + self.abdomen_k * lift[:, None] * bump
        lat = np.broadcast_to(share * half_width, bz.shape)
        return (np.stack([top[..., 0], lat, tz], axis=-1), np.stack([bottom[..., 0], lat, bz], axis=-1))


def make_trunk(body: Anthropometry, look: Look, rest_lumbar: float, rest_thorax: float,
               mat_top: float) -> Trunk:
    h, sc = body.stature, body.stature / 1.75
    length = body.lumbar + body.thorax
    lo, hi = -0.07 * sc, length + 0.06 * sc
    apex, waist = 0.095 * h, 0.06 * h  # the lumbar span runs 0.03–0.16 H (5–28 cm at 1.75 m)
    s = np.unique(np.concatenate([np.linspace(lo, hi, 20), [apex, waist]]))
    rest = Pose(pel_u=np.zeros(1), pel_z=np.full(1, HIP_Z_LYING), yaw=np.zeros(1),
                lumbar=np.full(1, rest_lumbar), thorax=np.full(1, rest_thorax), neck=np.zeros(1),
                head_yaw=np.zeros(1), leg_e=np.zeros((1, 2)), leg_k=np.zeros((1, 2)), arm_u=np.zeros((1, 2)),
                arm_k=np.zeros((1, 2)))
    c, ant = trunk_axis(s, rest, body.lumbar)
    cz, az = c[0, :, 1], ant[0, :, 1]
    # Rounded ends: the buttocks below the hip joint and the shoulders above the shoulder joint.
    ends = np.where(s < 0, s / lo, np.where(s > length, (s - length) / (hi - length), 0.0))
    taper = np.sqrt(np.clip(1 - ends**2, 0.0, 1.0))
    top = (np.interp(s, _KNOT_S * sc, _KNOT_TOP) * sc * look.build_thickness
           + look.belly_m * _bell(s, 0.0, 0.30 * sc))
    return Trunk(
        lumbar_len=body.lumbar, s=s, back=(cz - mat_top + _SINK) / az * taper,
        front=(mat_top + top - cz) / az * taper,
        half_width=np.interp(s, _KNOT_S * sc, _KNOT_HALF_W) * sc * look.build_width,
        bump=_bell(s, 0.03 * h, 0.16 * h), belly=_bell(s, 0.0, 0.30 * sc),
        apex=int(np.searchsorted(s, apex)), waist=int(np.searchsorted(s, waist)), mat_top=mat_top,
        abdomen_k=look.abdomen_k)


def yawed(local: np.ndarray, pel_u: np.ndarray, yaw_deg: np.ndarray) -> np.ndarray:
    """Turn (N, ..., 3) body-local points about the vertical through the pelvis, as forward_kinematics."""
    shape = (-1,) + (1,) * (local.ndim - 2)
    r = np.radians(yaw_deg).reshape(shape)
    du, dl = local[..., 0] - pel_u.reshape(shape), local[..., 1]
    out = local.copy()
    out[..., 0] = pel_u.reshape(shape) + du * np.cos(r) - dl * np.sin(r)
    out[..., 1] = du * np.sin(r) + dl * np.cos(r)
    return out


def _placed_arms(kind: str, trunk: Trunk, body: Anthropometry, pose: Pose, lift: np.ndarray,
                 breath: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elbow and wrist (N, 2, 3) of both arms (left, right) in a lying placement, before yaw."""
    h, sc = body.stature, body.stature / 1.75
    n = pose.pel_u.size
    if kind == "chest":
        # Elbows out on the mat beside the chest, hands resting on the belly: the lumbar flank stays clear.
        s_e, s_w = 0.30 * sc, 0.26 * sc
    else:
        # Upper arms along the flanks, forearms reaching in under the buttocks.
        s_e, s_w = 0.111 * h, -0.02 * h
    st = np.array([s_e, s_w])
    c, ant = trunk_axis(st, pose, trunk.lumbar_len)
    back, _, half_width, _, _ = trunk.at(st)
    elbow_h = -back[0] + 0.043 * sc
    elbow_l = 0.36 * sc if kind == "chest" else half_width[0] + 0.03 * sc
    elbow = c[:, 0] + ant[:, 0] * elbow_h
    if kind == "chest":
        q = min(0.14 * sc / half_width[1], 0.85)  # a narrow waist keeps the hand on the belly
        top, _ = trunk.surfaces(st[1:], c[:, 1:], ant[:, 1:], q, lift, breath)
        wrist_uz = top[:, 0, [0, 2]] + ant[:, 1] * 0.025 * sc
        wrist_l = q * half_width[1]
    else:
        wrist_uz = c[:, 1] + ant[:, 1] * (-back[1] + 0.023 * sc)
        wrist_l = 0.08 * sc
    out_e, out_w = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side, sign in ((0, 1.0), (1, -1.0)):
        out_e[:, side] = np.stack([elbow[:, 0], np.full(n, sign * elbow_l), elbow[:, 1]], axis=1)
        out_w[:, side] = np.stack([wrist_uz[:, 0], np.full(n, sign * wrist_l), wrist_uz[:, 1]], axis=1)
    return out_e, out_w


@dataclass(slots=True)
class MemberTrack:
    """The member at every frame: joints (arms as placed), trunk state, and the true lumbar lift."""

    body: Anthropometry
    trunk: Trunk
    pose: Pose
    local: np.ndarray  # (N, 17, 3) body-local joints, yaw applied
    lift: np.ndarray  # (N,) lumbar lift from the arch model, m
    breath: np.ndarray  # (N,) abdomen breathing offset, m
    lift_cm: np.ndarray  # (N,) height of the lumbar apex underside above the mat; nan when not lying


def track_member(body: Anthropometry, look: Look, rest: dict[str, float], pose: Pose, t: np.ndarray,
                 lift: np.ndarray, mat_top: float) -> MemberTrack:
    trunk = make_trunk(body, look, rest["lumbar"], rest["thorax"], mat_top)
    local = forward_kinematics(body, pose)
    breath = look.breath_cm / 100 * np.sin(2 * math.pi * look.breath_hz * t)
    if look.arms != "sides":
        # The placement holds while lying with the arm at rest; an arm the simulator moves (a fidget, the
        # hollow hold's reach) follows the simulator, so keypoints and picture always agree.
        lying = smoothstep((pose.lumbar - 150.0) / 25.0)
        still = 1 - smoothstep((np.abs(pose.arm_u - np.array([rest["au0"], rest["au1"]])) - 2.0) / 10.0)
        weight = (lying[:, None] * still)[..., None]
        elbow, wrist = (yawed(p, pose.pel_u, pose.yaw)
                        for p in _placed_arms(look.arms, trunk, body, pose, lift, breath))
        for side, name in enumerate(("left", "right")):
            for joint, target in ((f"{name}_elbow", elbow), (f"{name}_wrist", wrist)):
                k = KP[joint]
                local[:, k] += weight[:, side] * (target[:, side] - local[:, k])
    c, ant = trunk_axis(trunk.s[trunk.apex:trunk.apex + 1], pose, trunk.lumbar_len)
    under = np.maximum(c[:, 0, 1] - ant[:, 0, 1] * trunk.back[trunk.apex], mat_top)
    lying_flat = np.abs(pose.lumbar - 180.0) < 12.0
    lift_cm = np.where(lying_flat, (under - mat_top + lift) * 100, np.nan)
    return MemberTrack(body=body, trunk=trunk, pose=pose, local=local, lift=lift, breath=breath,
                       lift_cm=lift_cm)


def _limb_prims(ends: np.ndarray, y: np.ndarray, z: np.ndarray, radii: np.ndarray,
               colours: list[tuple[float, float, float]], focal: float) -> list[Prim]:
    """Projected limb segments (ends (K, 2, 2), world Y and optical depth (K, 2), radii (K, 2) m). A segment
    that crosses the body laterally is cut into pieces that each sort at their own depth (an arm reaching
    over the belly is partly in front of the trunk, partly behind its near flank)."""
    pieces = np.clip(np.ceil(np.abs(y[:, 1] - y[:, 0]) / 0.04), 1, 4).astype(int)
    seg = np.repeat(np.arange(len(colours)), pieces)
    j = np.concatenate([np.arange(n) for n in pieces])
    t0, t1 = j / pieces[seg], (j + 1) / pieces[seg]

    def lerp(v: np.ndarray, t: np.ndarray) -> np.ndarray:
        return v[seg, 0] + (v[seg, 1] - v[seg, 0]) * t

    r_px = [lerp(radii, t) * focal / lerp(z, t) for t in (t0, t1)]
    p = [ends[seg, 0] + (ends[seg, 1] - ends[seg, 0]) * t[:, None] for t in (t0, t1)]
    outlines = capsule_outlines(p[0], p[1], r_px[0], r_px[1])
    depth = lerp(y, (t0 + t1) / 2)
    return [Prim(float(depth[k]), "convex", outlines[k], colours[seg[k]]) for k in range(seg.size)]


_HEAD = (((-0.02, 0.012), (0.118, 0.095)), ((0.015, -0.005), (0.11, 0.1)))  # hair, face: offset, axes


def _head_points(local: np.ndarray, scale: float, forward: np.ndarray) -> np.ndarray:
    """(6, 3): centre, superior and anterior axis ends of the hair and the face ellipsoids."""
    centre = (local[KP["left_ear"]] + local[KP["right_ear"]]) / 2
    neck = centre - (local[KP["left_shoulder"]] + local[KP["right_shoulder"]]) / 2
    sup = neck / np.linalg.norm(neck)
    # Anterior: superior turned a quarter towards the front within the body's sagittal plane.
    ant = sup[2] * forward - float(sup @ forward) * np.array([0.0, 0.0, 1.0])
    out = []
    for offset, axes in _HEAD:
        c = centre + scale * (offset[0] * ant + offset[1] * sup)
        out += [c, c + scale * axes[0] * sup, c + scale * axes[1] * ant]
    return np.array(out)


def _head(px: np.ndarray, y: np.ndarray, clothes: Clothes) -> list[Prim]:
    out = []
    for k, colour in enumerate((clothes.hair, clothes.skin)):
        c, v_sup, v_ant = px[3 * k], px[3 * k + 1] - px[3 * k], px[3 * k + 2] - px[3 * k]
        angle = math.degrees(math.atan2(v_sup[1], v_sup[0]))
        # The face sorts just after the hair, at the same depth.
        axes = [np.hypot(*v_sup), np.hypot(*v_ant)]
        out.append(Prim(float(y[3 * k]) - 1e-4 * k, "ellipse", np.stack([c, axes]), shade(colour, 1.0),
                        angle))
    return out


def member_prims(track: MemberTrack, i: int, view: View, look: Look) -> list[Prim]:
    body, trunk, p, clothes = track.body, track.trunk, track.pose, look.clothes
    sc = body.stature / 1.75
    frame = Pose(**{f.name: getattr(p, f.name)[i:i + 1] for f in dataclasses.fields(Pose)})
    c, ant = trunk_axis(trunk.s, frame, trunk.lumbar_len)
    top, bottom = trunk.surfaces(trunk.s, c, ant, np.array(SLICES), track.lift[i:i + 1],
                                 track.breath[i:i + 1])
    trunk_pts = yawed(np.concatenate([top, bottom], axis=1)[None], frame.pel_u, frame.yaw)[0]

    joints = track.local[i]
    girth = sc * look.build_width
    yaw = math.radians(float(frame.yaw[0]))
    forward = np.array([math.cos(yaw), math.sin(yaw), 0.0])  # where the body faces, body-local
    far_side = view.place.to_world(joints)[:, 1] > 0
    sleeve = clothes.top if clothes.long_sleeves else clothes.skin
    legs = clothes.bottom if clothes.long_legs else clothes.skin
    segments: list[tuple[np.ndarray, np.ndarray, tuple[float, float], tuple[float, float, float]]] = []
    for name in ("left", "right"):
        j = {part: joints[KP[f"{name}_{part}"]] for part in ("shoulder", "elbow", "wrist", "hip", "knee",
                                                           "ankle")}
        dim = 0.8 if far_side[KP[f"{name}_hip"]] else 1.0  # the far side is in the body's shadow
        fore = j["wrist"] - j["elbow"]
        hand_end = j["wrist"] + fore / max(np.linalg.norm(fore), 1e-6) * 0.085 * sc
        shank = j["ankle"] - j["knee"]
        a_h, a_z = float(shank @ forward), float(shank[2])
        toes = (-a_z * forward + np.array([0.0, 0.0, a_h])) / max(math.hypot(a_h, a_z), 1e-6)
        for a, b, part, colour in (
                (j["hip"], j["knee"], "thigh", clothes.bottom), (j["knee"], j["ankle"], "shank", legs),
                (j["ankle"] - 0.04 * sc * toes, j["ankle"] + 0.15 * sc * toes, "foot", clothes.shoes),
                (j["shoulder"], j["elbow"], "upper_arm", clothes.top),
                (j["elbow"], j["wrist"], "forearm", sleeve),
                (j["wrist"], hand_end, "hand", clothes.skin)):
            r0, r1 = _RADII[part]
            segments.append((a, b, (r0 * girth, r1 * girth), shade(colour, dim)))
    shoulders = (joints[KP["left_shoulder"]] + joints[KP["right_shoulder"]]) / 2
    head = (joints[KP["left_ear"]] + joints[KP["right_ear"]]) / 2
    r = _RADII["neck"][0] * girth
    segments.append((shoulders, head, (r, r), shade(clothes.skin, 0.9)))

    # One projection for the whole member: per-segment calls would cost more than the drawing.
    ends = np.array([e for a, b, _, _ in segments for e in (a, b)])
    px, y, z = view.project(np.concatenate([trunk_pts.reshape(-1, 3), ends,
                                            _head_points(joints, sc, forward)]))
    n_q, n = len(SLICES), trunk.s.size
    prims: list[Prim] = []
    k = trunk.waist
    for qi, q in enumerate(SLICES):
        top_px = px[qi * n:(qi + 1) * n]
        bot_px = px[(n_q + qi) * n:(n_q + qi + 1) * n]
        dim = 0.66 + 0.34 * (1 - abs(q)) ** 0.7  # flanks turn away from the light
        depth = float(y[qi * n:(qi + 1) * n].mean())
        for lo, hi, colour in ((0, k, clothes.bottom), (k, n - 1, clothes.top)):
            ring = np.concatenate([top_px[lo:hi + 1], bot_px[lo:hi + 1][::-1]])
            prims.append(Prim(depth, "poly", ring, shade(colour, dim)))
    base, m = 2 * n_q * n, len(segments)
    limbs = slice(base, base + 2 * m)
    prims += _limb_prims(px[limbs].reshape(m, 2, 2), y[limbs].reshape(m, 2), z[limbs].reshape(m, 2),
                         np.array([r for _, _, r, _ in segments]), [c for _, _, _, c in segments],
                         view.cam.focal_px)
    head_at = base + 2 * m
    prims += _head(px[head_at:], y[head_at:], clothes)
    return prims
