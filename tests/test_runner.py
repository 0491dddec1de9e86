"""Where the pose model looks: crops around the people followed, the whole frame when someone may be
missing. Fake pose backends stand in for the models (what they return is scripted); the frames and the
motion check are real images."""

from __future__ import annotations

import numpy as np

from edge.people import Person
from edge.runner import CropRunner


def person(x1: float, y1: float, x2: float, y2: float) -> Person:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = (x1 + x2) / 2, (y1 + y2) / 2, 0.9
    return Person(0.9, np.array([x1, y1, x2, y2], float), kp)


class Fake:
    input_size = (320, 320)

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def infer(self, image, roi=None):
        self.calls.append(roi)
        return list(self.answer(roi))


MEMBER = person(400, 400, 900, 560)
WALKER = person(50, 100, 150, 400)


def frame(walker_at: int | None = None) -> np.ndarray:
    img = np.full((720, 1280, 3), 90, np.uint8)
    img[400:560, 400:900] = 200  # the member, lying still
    if walker_at is not None:
        img[100:400, walker_at:walker_at + 100] = 30
    return img


def test_the_member_is_followed_in_a_crop_and_the_whole_frame_is_scanned_only_when_needed():
    scan = Fake(lambda roi: [MEMBER])
    crop = Fake(lambda roi: [MEMBER])
    runner = CropRunner(crop, scan, scan_every_s=2.0)
    for i in range(30):
        assert runner.infer(i / 30, frame()) == [MEMBER]
    assert len(scan.calls) == 1 and len(crop.calls) == 29  # found once, then followed
    assert all(roi is not None for roi in crop.calls)
    runner.infer(2.1, frame())
    assert len(scan.calls) == 2  # the periodic backstop


def test_motion_outside_the_crops_makes_the_next_call_a_scan():
    scan = Fake(lambda roi: [MEMBER])
    crop = Fake(lambda roi: [MEMBER])
    runner = CropRunner(crop, scan, scan_every_s=60.0)
    for i in range(5):
        runner.infer(i / 30, frame())
    assert len(scan.calls) == 1
    runner.infer(5 / 30, frame(walker_at=40))  # someone walks on at the edge
    assert len(scan.calls) == 2


def test_a_person_lost_in_their_crop_is_looked_for_everywhere_next_frame():
    scan = Fake(lambda roi: [MEMBER])
    found = {"crop": True}
    crop = Fake(lambda roi: [MEMBER] if found["crop"] else [])
    runner = CropRunner(crop, scan, scan_every_s=60.0)
    runner.infer(0.0, frame())
    runner.infer(0.03, frame())
    found["crop"] = False
    assert runner.infer(0.06, frame()) == []
    assert runner.infer(0.1, frame()) == [MEMBER] and len(scan.calls) == 2


def test_two_people_get_a_crop_each_and_the_larger_comes_first():
    scan = Fake(lambda roi: [WALKER, MEMBER])
    crop = Fake(lambda roi: [MEMBER] if roi[0] > 200 else [WALKER])
    runner = CropRunner(crop, scan, scan_every_s=60.0)
    assert runner.infer(0.0, frame()) == [MEMBER, WALKER]
    assert runner.infer(0.03, frame()) == [MEMBER, WALKER]
    assert len(crop.calls) == 2
