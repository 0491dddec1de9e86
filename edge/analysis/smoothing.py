"""One-Euro smoothing of pose keypoints (Casiez, Roussel & Vogel, CHI 2012).

A low-pass filter whose cutoff rises with speed: a still body is smoothed hard (keypoint jitter would
otherwise show up as fake leg movement), a moving leg is followed with little lag (lag would shift the
measured turnaround and shorten the measured descent). The filter runs on all 17 keypoints at once and
uses each keypoint's 2-D speed, so a leg moving diagonally is treated like one moving along an axis.

The pose model's confidence gates every update: a keypoint it is unsure of (typically the far-side
limb, hidden behind the near one in the side view) is held where it was last seen instead of being
dragged towards a guess, and is flagged with its low confidence. A keypoint missing for longer than
`reinit_after_s` starts again from its next observation, since the held position is stale by then.

A pose model now and then exchanges a person's left and right (the side view is where it is least sure
which is which): for a frame or a few, the left leg's points sit on the right leg. Filtered as they
come, the two legs' tracks would jump across and back, which reads as a leg swinging down and up again:
a phantom rep. So each limb group (head, arms, legs) of an observation is taken the way round that lies
closer to where the track is heading. Measured on 30 simulated sessions (`tests/accuracy.py`) with such
exchanges starting on 2% of frames: sets counted exactly fell from 97% to 32% without this.

Where the person went unseen for a moment (0.5–2 s), the first observation after would set the tracks
afresh as it comes, and an exchange the model made there would stay for as long as the legs are apart: a
single-leg member's raised leg taken for the resting one reads as a rep of each. So a group coming back is
put the way round the model's confidences say (the far side is the one it is less sure of), and where they
do not tell, the way round that fits where its points were last seen.

Where the far leg is partly hidden behind the near one, the model also puts it on the near leg for a
moment (the near leg then reads as both): taken as it comes, the far leg would follow the near one
through its rep and jump back, a phantom rep of the far leg inside the near leg's. So a leg whose points
land on the other leg's, far from where its own track is, is taken as unseen for that frame: its track
holds where it was. Where both legs really move together (a double-leg lift in profile) their tracks are
together too, and nothing is dropped.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edge.people import HIPS, KP, NUM_KEYPOINTS, SHOULDERS


class SmoothingConfig(BaseModel):
    """One-Euro parameters, tuned for a 720p side view at 15–30 fps (body length ~ 600–900 px)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Cutoff (Hz) while a keypoint is still: lower means less jitter but slower to start following.
    min_cutoff: float = Field(0.5, gt=0)
    # Cutoff increase per pixel/second of speed: higher means less lag on a moving leg, more jitter.
    beta: float = Field(0.015, ge=0)
    # Cutoff (Hz) of the speed estimate that drives the adaptive cutoff.
    d_cutoff: float = Field(0.5, gt=0)
    # A keypoint unseen for longer than this restarts from its next observation instead of gliding
    # there from where it was held.
    reinit_after_s: float = Field(0.5, gt=0)


# Left/right pairs by limb group: a model exchanges a whole limb (or the whole body), not single points.
_GROUPS = tuple(
    np.array([KP[f"left_{name}"] for name in names] + [KP[f"right_{name}"] for name in names])
    for names in (("eye", "ear"), ("shoulder", "elbow", "wrist"), ("hip", "knee", "ankle")))
# A group is exchanged back only when that fits the track this much better: where both legs lie
# together (a double-leg lift in profile) either way round fits, and the labels are left alone.
SWAP_MARGIN = 0.5
# Which way round a limb group is, is judged against where its points were last seen for this long, well
# past `reinit_after_s`: after the person went unseen for a second, the positions are too stale to glide
# from, but still tell a raised leg from one on the mat, and taking the first observation as it comes
# would keep an exchange the model made there for as long as the legs stay apart.
IDENTITY_MEMORY_S = 2.0
# Seen from the side, the far limb is the one the model is less sure of, whichever way it labels it: where
# the two sides' usual confidences differ by this much, and this frame's do too, that tells which way
# round a group comes back after the person went unseen. Positions cannot, where both legs moved in the
# gap (a heel tap's legs pass each other), and there the confidence still does.
SIDE_CONF_GAP = 0.2
# Weight of each frame in a keypoint's usual confidence (an exponential mean over about 10 frames).
_CONF_MEAN_RATE = 0.1
# One leg read twice: its hip, knee and ankle each this close to the other leg's (torso lengths), while
# at least one of them is this far from where its own track was heading. A far leg truly moving onto the
# near one is followed by its track (a frame's step of a fast leg is about 0.1 torso at 15 fps).
_ONE_LEG_READ_TWICE = 0.1
_OFF_ITS_TRACK = 0.25
_LEGS = _GROUPS[2]


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
    """Smoothing factor of an exponential filter with the given cutoff for a step of dt seconds."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Confidence-aware One-Euro filter over the (x, y) of 17 keypoints, with variable time steps.

    `update` takes a (17, 3) array of x, y, confidence and returns the smoothed (17, 3) array. The
    confidence column of the result is the observation's own, so a held keypoint (below min_conf)
    stays flagged as not really seen and downstream code can skip it.
    """

    def __init__(self, config: SmoothingConfig | None = None, min_conf: float = 0.3) -> None:
        self.config = config or SmoothingConfig()
        self.min_conf = min_conf
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next observation of each keypoint is taken as is."""
        self._x = np.zeros((NUM_KEYPOINTS, 2))
        self._dx = np.zeros((NUM_KEYPOINTS, 2))
        self._conf = np.zeros(NUM_KEYPOINTS)
        self._usual_conf: np.ndarray | None = None
        self._seen_t = -math.inf  # when the person was last observed at all
        # Time each keypoint was last updated; -inf marks a keypoint never seen (or forgotten).
        self._last_t = np.full(NUM_KEYPOINTS, -np.inf)

    @property
    def estimate(self) -> np.ndarray:
        """The current (17, 3) estimate: smoothed x, y and the confidences of the last observation."""
        return np.column_stack([self._x, self._conf])

    def _same_way_round(self, t: float, obs: np.ndarray) -> np.ndarray:
        """`obs`, with left and right exchanged in each limb group where that fits the track far better."""
        gap, recent, ahead = self._heading(t)
        tracked = gap <= IDENTITY_MEMORY_S
        # Only where the whole person was unseen: a limb the model stays unsure of for a while (a lying
        # body's far leg often is) is no limb coming back, and its guessed points tell nothing.
        back = t - self._seen_t > self.config.reinit_after_s
        out = obs.copy()
        for group in _GROUPS:
            half = len(group) // 2
            swapped = np.concatenate([group[half:], group[:half]])
            if back:
                exchange = self._comes_back_exchanged(group, swapped, obs, ahead, tracked)
            else:
                exchange = self._fits_exchanged(group, swapped, obs, ahead, recent)
            if exchange:
                out[group] = obs[swapped]
        return out

    def _heading(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point: the time since it was last seen, whether that is recent, and where it should be by
        now. A moving leg's filtered track trails the leg, and where two legs pass each other the trailing
        track can lie nearer the other leg's point. A point unseen for longer is looked for where it was:
        its speed then says little of where it went."""
        gap = t - self._last_t
        recent = gap <= self.config.reinit_after_s
        return gap, recent, self._x + self._dx * np.where(recent, gap, 0.0)[:, None]

    def _fits_exchanged(self, group: np.ndarray, swapped: np.ndarray, obs: np.ndarray, ahead: np.ndarray,
                        recent: np.ndarray) -> bool:
        """Whether the group fits the track far better exchanged, each way round judged by the points it
        would move (those the track holds and the model is sure of in that labelling), on average. Not by
        the points sure both ways round alone: where the model exchanged the legs and is as unsure as ever
        of the far leg, now under the near leg's name, those are the hips alone, where the legs meet, and
        the near leg's sure points, under the far leg's name, would carry its track off for good."""
        mine = recent[group] & (obs[group, 2] >= self.min_conf)
        theirs = recent[group] & (obs[swapped, 2] >= self.min_conf)
        if not (mine.any() and theirs.any()):
            return False
        as_is = np.linalg.norm(obs[group, :2][mine] - ahead[group][mine], axis=1).mean()
        exchanged = np.linalg.norm(obs[swapped, :2][theirs] - ahead[group][theirs], axis=1).mean()
        return bool(exchanged < SWAP_MARGIN * as_is)

    def _comes_back_exchanged(self, group: np.ndarray, swapped: np.ndarray, obs: np.ndarray,
                              ahead: np.ndarray, tracked: np.ndarray) -> bool:
        """The whole group comes back after the person went unseen: its first observation sets the track
        for good. Which side is the far one tells, where it can; otherwise every point the model placed
        is asked where it lies, sure of it or not."""
        side = self._far_side(group, obs)
        if side is not None:
            return side
        sure = tracked[group] & tracked[swapped]
        if not sure.any():
            return False
        track = ahead[group][sure]
        as_is = np.linalg.norm(obs[group, :2][sure] - track, axis=1).sum()
        exchanged = np.linalg.norm(obs[swapped, :2][sure] - track, axis=1).sum()
        return bool(exchanged < SWAP_MARGIN * as_is)

    def _far_side(self, group: np.ndarray, obs: np.ndarray) -> bool | None:
        """Whether `obs` has the group's sides exchanged, by which side the model is less sure of; None
        where the confidences do not tell."""
        if self._usual_conf is None:
            return None
        half = len(group) // 2
        usual = self._usual_conf[group[:half]].mean() - self._usual_conf[group[half:]].mean()
        now = obs[group[:half], 2].mean() - obs[group[half:], 2].mean()
        if min(abs(usual), abs(now)) < SIDE_CONF_GAP:
            return None
        return bool(usual * now < 0)

    def _one_leg_read_twice(self, t: float, obs: np.ndarray) -> np.ndarray:
        """`obs`, with a leg put on the other leg's points taken as unseen (confidence 0)."""
        torso = float(np.hypot(*(self._x[list(SHOULDERS)].mean(axis=0) - self._x[list(HIPS)].mean(axis=0))))
        gap, _, ahead = self._heading(t)
        if (torso <= 0 or not (gap[_LEGS] <= IDENTITY_MEMORY_S).all() or t - self._seen_t > IDENTITY_MEMORY_S
                or not (obs[_LEGS, 2] >= self.min_conf).all()):
            return obs
        half = len(_LEGS) // 2
        sides = (_LEGS[:half], _LEGS[half:])
        if np.linalg.norm(obs[sides[0], :2] - obs[sides[1], :2], axis=1).max() > _ONE_LEG_READ_TWICE * torso:
            return obs
        off = [np.linalg.norm(obs[side, :2] - ahead[side], axis=1).max() / torso for side in sides]
        for side, other in ((0, 1), (1, 0)):
            # The leg that left its track for the other's, the other staying on its own.
            if off[side] > _OFF_ITS_TRACK and off[other] <= _OFF_ITS_TRACK:
                out = obs.copy()
                out[sides[side], 2] = 0.0
                return out
        return obs

    def update(self, t: float, keypoints: np.ndarray) -> np.ndarray:
        """Feed one observation taken at time t (seconds) and return the smoothed keypoints."""
        obs = self._same_way_round(t, np.asarray(keypoints, dtype=np.float64))
        obs = self._one_leg_read_twice(t, obs)
        self._seen_t = max(self._seen_t, t)
        xy, conf = obs[:, :2], obs[:, 2]
        seen = conf >= self.min_conf
        gap = t - self._last_t
        fresh = seen & (gap > self.config.reinit_after_s)
        # A repeated or out-of-order timestamp has no time step to filter over: the estimate stands.
        step = seen & ~fresh & (gap > 0)

        self._x[fresh] = xy[fresh]
        self._dx[fresh] = 0.0

        if step.any():
            dt = gap[step][:, None]
            x_prev = self._x[step]
            dx = (xy[step] - x_prev) / dt
            dx_hat = self._dx[step] + _alpha(self.config.d_cutoff, dt) * (dx - self._dx[step])
            speed = np.hypot(dx_hat[:, 0], dx_hat[:, 1])[:, None]
            cutoff = self.config.min_cutoff + self.config.beta * speed
            self._x[step] = x_prev + _alpha(cutoff, dt) * (xy[step] - x_prev)
            self._dx[step] = dx_hat

        updated = fresh | step
        self._last_t[updated] = t
        # Unseen keypoints report this frame's low confidence at their held position; one never seen
        # at all has no held position, so the raw guess is passed through, still flagged by its conf.
        self._conf = conf.copy()
        if self._usual_conf is None:
            self._usual_conf = conf.copy()
        else:
            self._usual_conf += _CONF_MEAN_RATE * (conf - self._usual_conf)
        never = ~seen & np.isneginf(self._last_t)
        self._x[never] = xy[never]
        return self.estimate
