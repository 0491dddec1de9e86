"""Where the pose model looks on each live frame.

The measured operating point (models/README.md): the small int8 model on a crop around each person
seen on the previous frame is about 5× faster than the 640 model on the whole frame, while shrinking
the whole frame instead misses people. A crop can only follow people already found, so the whole frame
is scanned with the baseline model when:
- no one is being followed;
- a followed person was not found in their crop (lost, or hidden by glare): look everywhere again;
- something moves outside the crops (a tiny frame difference, ~0.1 ms): someone may be walking on;
- `scan_every_s` has passed, as a backstop for whoever arrives without moving much.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.people import Person
from edge.pose import PoseBackend, Roi, crop_around, expand_to_aspect
from edge.pose_check import iou

# Motion is looked for on a frame this wide (keeps it cheap and ignores sensor noise and small sway).
MOTION_WIDTH = 96
# A pixel of that small frame "moved" when its grey level changes by this much between frames...
MOTION_LEVEL = 25
# ...and a scan is due when this share of the pixels outside the crops moved.
MOTION_SHARE = 0.002


class CropRunner:
    def __init__(self, crop: PoseBackend, scan: PoseBackend, scan_every_s: float = 2.0,
                 max_followed: int = 3) -> None:
        self.crop = crop
        self.scan = scan
        self.scan_every_s = scan_every_s
        self.max_followed = max_followed
        self._seen: list[Person] = []
        self._last_scan: float | None = None
        self._rescan = False
        self._small: np.ndarray | None = None
        self.calls = {"crop": 0, "scan": 0}

    def _moved_outside(self, image: np.ndarray, rois: list[Roi]) -> bool:
        h, w = image.shape[:2]
        scale = MOTION_WIDTH / w
        # Every n-th pixel first: averaging the whole 1280×720 frame down would cost 2 ms, this 0.1 ms.
        step = max(1, w // (2 * MOTION_WIDTH))
        small = cv2.cvtColor(cv2.resize(image[::step, ::step], (MOTION_WIDTH, max(1, round(h * scale))),
                                        interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        previous, self._small = self._small, small
        if previous is None:
            return False
        moved = cv2.absdiff(small, previous) > MOTION_LEVEL
        for x1, y1, x2, y2 in rois:
            moved[int(y1 * scale):int(np.ceil(y2 * scale)), int(x1 * scale):int(np.ceil(x2 * scale))] = False
        return moved.mean() > MOTION_SHARE

    def infer(self, t: float, image: np.ndarray) -> list[Person]:
        size = getattr(self.crop, "input_size", (320, 320))
        rois = [expand_to_aspect(crop_around(s.bbox, image.shape), size[0] / size[1], image.shape)
                for s in self._seen]
        moved = self._moved_outside(image, rois)
        due = self._last_scan is None or t - self._last_scan >= self.scan_every_s or t < self._last_scan
        if not self._seen or due or moved or self._rescan:
            self._last_scan = t
            self._rescan = False
            self.calls["scan"] += 1
            people = self.scan.infer(image)
        else:
            people = []
            for seed, roi in zip(self._seen, rois, strict=True):
                self.calls["crop"] += 1
                found = self.crop.infer(image, roi)
                if not found:
                    self._rescan = True
                    continue
                # A crop shows its person in full; anyone else in it is cut off and has a crop of their own.
                best = max(found, key=lambda p: iou(p.bbox, seed.bbox))
                if all(iou(best.bbox, q.bbox) < 0.7 for q in people):  # two seeds, one person
                    people.append(best)
        # Largest first: the member lying on the mat is the biggest box; bystanders far behind are small.
        people.sort(key=lambda p: -(p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]))
        self._seen = people[: self.max_followed]
        return people
