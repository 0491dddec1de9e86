"""How far one pose stage's output is from a reference (the 640 fp32 model on the whole frame):
people it missed, and keypoint error in units of the person's torso length. Used by the pipeline
benchmark and by the model measurements in `models/`."""

from __future__ import annotations

import numpy as np

from edge.people import HIPS, SHOULDERS, Person, iou

# A reference person counts when the 640 model is this sure; below it, missing them is no loss.
PERSON_SCORE = 0.5
KP_CONF = 0.5
MATCH_IOU = 0.5


def torso(p: Person) -> float | None:
    k = p.keypoints
    if min(k[j, 2] for j in (*SHOULDERS, *HIPS)) <= KP_CONF:
        return None
    return float(np.linalg.norm(k[list(SHOULDERS), :2].mean(0) - k[list(HIPS), :2].mean(0)))


def compare(reference: list[Person], found: list[Person]) -> tuple[int, list[float]]:
    """(reference people missed, per-keypoint errors over torso length of the matched ones)."""
    missed, errors = 0, []
    for ref in reference:
        match = max(found, key=lambda p: iou(ref.bbox, p.bbox), default=None)
        if match is None or iou(ref.bbox, match.bbox) < MATCH_IOU:
            missed += 1
            continue
        length = torso(ref)
        if not length:
            continue
        both = (ref.keypoints[:, 2] > KP_CONF) & (match.keypoints[:, 2] > KP_CONF)
        d = np.linalg.norm(ref.keypoints[both, :2] - match.keypoints[both, :2], axis=1) / length
        errors.extend(d.tolist())
    return missed, errors
