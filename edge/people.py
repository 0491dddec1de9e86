"""What the pose stage sees in one frame: people as COCO-17 keypoints, in image pixels.

These dataclasses are the boundary between the pose stage (or a trace replay) and everything
downstream; nothing after this point ever touches pixels of the frame itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# COCO-17 keypoint order, as produced by YOLO pose models and stored in trace v1.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KP = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Index pairs (left, right) for the joints the form rules use.
SHOULDERS = (KP["left_shoulder"], KP["right_shoulder"])
HIPS = (KP["left_hip"], KP["right_hip"])
KNEES = (KP["left_knee"], KP["right_knee"])
ANKLES = (KP["left_ankle"], KP["right_ankle"])
WRISTS = (KP["left_wrist"], KP["right_wrist"])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes: whether two detections are one person."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Person:
    """One detected person.

    bbox: (4,) float array x1, y1, x2, y2 in pixels.
    keypoints: (17, 3) float array of x, y, confidence in pixels, COCO-17 order.
    """

    score: float
    bbox: np.ndarray
    keypoints: np.ndarray

    def __post_init__(self) -> None:
        if self.bbox.shape != (4,):
            raise ValueError(f"bbox must have 4 numbers, got shape {self.bbox.shape}")
        if self.keypoints.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must be 17 × (x, y, conf), got shape {self.keypoints.shape}")


@dataclass(frozen=True, slots=True)
class PoseFrame:
    """All people found in one frame at time t (seconds on the source's clock)."""

    t: float
    people: tuple[Person, ...]
