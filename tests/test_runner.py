"""Where the pose model looks: crops around the people followed, sized to them, and wider looks when
someone may be missing. Fake pose backends stand in for the models (what they return is scripted by the
region they are shown); the frames and the motion check are real images. The real model on the real
clip is measured by `matcoach bench` (tests/test_bench.py)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from edge.people import HIPS, SHOULDERS, Person
from edge.pixels import cores
from edge.pixels.pose import PoseError
from edge.pixels.runner import PERSON_PX, CropRunner, plan_crops, upright_turn


def person(x1: float, y1: float, x2: float, y2: float) -> Person:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = (x1 + x2) / 2, (y1 + y2) / 2, 0.9
    return Person(0.9, np.array([x1, y1, x2, y2], float), kp)


class Fake:
    """A pose backend answering by the region it is shown (None: the whole frame)."""

    name = "fake"

    def __init__(self, answer, dynamic: bool = True, input_size=(320, 320)):
        self.answer = answer
        self.dynamic = dynamic
        self.input_size = input_size
        self.calls: list[tuple] = []
        self.turns: list[int] = []

    def prepare(self, image, roi=None, size=None, turn=0):
        self.turns.append(turn)
        return (roi, size or self.input_size)

    def run(self, prepared):
        self.calls.append(prepared)
        return list(self.answer(prepared[0]))

    def finish(self, prepared, output):
        return output

    def infer(self, image, roi=None, size=None, turn=0):
        prepared = self.prepare(image, roi, size, turn)
        return self.finish(prepared, self.run(prepared))


MEMBER = person(400, 400, 900, 560)
WALKER = person(50, 100, 150, 400)


def inside(roi, p: Person) -> bool:
    return roi is None or (roi[0] <= p.bbox[0] and roi[1] <= p.bbox[1] and roi[2] >= p.bbox[2]
                           and roi[3] >= p.bbox[3])


def seen_by(*people: Person):
    """A model that finds whoever lies wholly inside the region it is shown."""
    return lambda roi: [p for p in people if inside(roi, p)]


def frame(walker_at: int | None = None, light: int = 90) -> np.ndarray:
    img = np.full((720, 1280, 3), light, np.uint8)
    img[400:560, 400:900] = 200  # the member, lying still
    if walker_at is not None:
        img[100:400, walker_at:walker_at + 100] = 30
    return img


def test_the_member_is_followed_in_a_crop_and_the_whole_frame_is_scanned_only_when_needed():
    model = Fake(seen_by(MEMBER))
    runner = CropRunner(model, model, scan_every_s=2.0)
    for i in range(30):
        assert runner.infer(i / 30, frame()) == [MEMBER]
    assert runner.calls == {"scan": 1, "crop": 29, "motion": 0}  # found once, then followed
    assert model.calls[0][0] is None and all(roi is not None for roi, _ in model.calls[1:])
    runner.infer(2.1, frame())
    assert runner.calls["scan"] == 2  # the periodic backstop


def test_a_crop_shows_the_person_at_a_fixed_size_whatever_their_size_in_the_frame():
    for scale in (1.0, 0.5):
        big = person(400, 400, 400 + 500 * scale, 400 + 160 * scale)
        (crop,) = plan_crops([big], (720, 1280, 3))
        roi_w = crop.roi[2] - crop.roi[0]
        shown = 500 * scale * crop.size[0] / roi_w  # the person's longer side in model pixels
        assert PERSON_PX * 0.95 <= shown <= PERSON_PX * 1.2
        assert inside(crop.roi, big)
        assert all(side % 32 == 0 for side in crop.size)


def test_people_side_by_side_share_a_crop_and_people_far_apart_do_not():
    a, near, far = person(400, 300, 500, 600), person(520, 300, 620, 600), person(1100, 300, 1200, 600)
    assert len(plan_crops([a, near], (720, 1280, 3))) == 1
    assert len(plan_crops([a, far], (720, 1280, 3))) == 2


def test_motion_outside_the_crops_is_looked_at_with_a_crop_and_a_lighting_change_with_a_scan():
    model = Fake(seen_by(MEMBER, WALKER))
    runner = CropRunner(model, Fake(seen_by(MEMBER)), scan_every_s=60.0)
    for i in range(5):
        runner.infer(i / 30, frame())
    assert runner.calls == {"scan": 1, "crop": 4, "motion": 0}
    # Someone walks on at the edge: the crop around what moved finds them, and they are followed.
    assert runner.infer(5 / 30, frame(walker_at=40)) == [MEMBER, WALKER]
    assert runner.calls["motion"] == 1 and runner.calls["scan"] == 1
    assert runner.infer(6 / 30, frame(walker_at=40)) == [MEMBER, WALKER]
    assert runner.calls["motion"] == 1 and runner.calls["scan"] == 1  # followed in crops now
    # The lights go down: most of the frame changes, so the whole frame is looked at again.
    runner.infer(7 / 30, frame(walker_at=40, light=40))
    assert runner.calls["scan"] == 2


def test_a_person_lost_in_their_crop_is_looked_for_everywhere_next_frame():
    found = {"crop": True}
    crop = Fake(lambda roi: [MEMBER] if found["crop"] else [])
    runner = CropRunner(crop, Fake(seen_by(MEMBER)), scan_every_s=60.0)
    runner.infer(0.0, frame())
    runner.infer(0.03, frame())
    found["crop"] = False
    assert runner.infer(0.06, frame()) == []
    assert runner.infer(0.1, frame()) == [MEMBER] and runner.calls["scan"] == 2


def test_two_people_are_both_followed_and_the_larger_comes_first():
    model = Fake(seen_by(WALKER, MEMBER))
    runner = CropRunner(model, model, scan_every_s=60.0)
    assert runner.infer(0.0, frame()) == [MEMBER, WALKER]
    assert runner.infer(0.03, frame()) == [MEMBER, WALKER]
    assert runner.calls["crop"] == 2


def test_a_fixed_size_model_gets_one_crop_per_person_at_its_own_size():
    crop = Fake(seen_by(WALKER, MEMBER), dynamic=False)
    runner = CropRunner(crop, Fake(seen_by(WALKER, MEMBER)), scan_every_s=60.0)
    runner.infer(0.0, frame())
    runner.infer(0.03, frame())
    assert [size for _, size in crop.calls] == [(320, 320), (320, 320)]


def test_an_empty_still_scene_costs_one_scan_per_scan_interval():
    model = Fake(lambda roi: [])
    runner = CropRunner(model, model, scan_every_s=2.0)
    for i in range(150):  # 5 s at 30 fps
        assert runner.infer(i / 30, frame()) == []
    assert runner.calls == {"scan": 3, "crop": 0, "motion": 0}


def moving_member(i: int) -> Person:
    return person(400 + 6 * i, 400, 900 + 6 * i, 560)


def test_stream_gives_every_frame_in_order_with_the_model_on_its_own_thread():
    threads = set()

    def answer(roi):
        threads.add(threading.current_thread().name)
        return [p for p in (moving_member(answer.i),) if inside(roi, p)]

    model = Fake(answer)
    runner = CropRunner(model, model, scan_every_s=60.0)
    frames = [(i / 30, frame()) for i in range(40)]

    def source():
        for i, item in enumerate(frames):
            answer.i = i  # the member walks along 6 px per frame; crops planned two frames back keep up
            yield item

    got = list(runner.stream(source()))
    assert [t for t, _, _ in got] == [t for t, _ in frames]
    assert all(image is frames[i][1] for i, (_, image, _) in enumerate(got))
    assert all(len(people) == 1 for _, _, people in got)
    assert runner.calls["scan"] == 1
    assert threads == {"pose-model"}


def test_while_the_caller_analyses_a_frame_the_model_has_the_next_two():
    # The caller's analysis of a frame can take as long as a model call; if the model had nothing
    # queued meanwhile, it would sit idle and the pipeline would fall behind its model calls.
    model = Fake(seen_by(MEMBER))
    runner = CropRunner(model, model, scan_every_s=60.0)
    pulled: list[int] = []

    def source():
        for i in range(20):
            pulled.append(i)
            yield i / 30, frame()

    handed = [pulled[-1] for _ in runner.stream(source())]
    # Frame 0 is waited for (nobody is followed before it); from then on, frame k reaches the caller once
    # frames k+1 and k+2 are with the model; the last two after the source has ended.
    assert handed == [1] + [k + 2 for k in range(1, 18)] + [19, 19]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: nothing to keep apart")
def test_the_model_has_its_cores_to_itself_while_the_caller_keeps_to_the_side_core():
    # A model call preempted by the analysis or the decoder stalls until it gets its core back.
    on_model: list[set[int]] = []

    def answer(roi):
        on_model.append(os.sched_getaffinity(0))
        return [MEMBER] if inside(roi, MEMBER) else []

    model = Fake(answer)
    runner = CropRunner(model, model, scan_every_s=60.0)
    before = os.sched_getaffinity(0)
    on_caller = [os.sched_getaffinity(0) for _ in runner.stream((i / 30, frame()) for i in range(10))]
    assert on_model and all(mask == cores.model_cores() for mask in on_model)
    assert on_caller and all(mask == cores.side_cores() for mask in on_caller)
    assert not cores.model_cores() & cores.side_cores()
    assert os.sched_getaffinity(0) == before  # the caller's thread is given back all its cores


def test_a_model_failure_in_the_stream_reaches_the_caller_and_stops_the_model_thread():
    def answer(roi):
        if roi is not None:
            raise PoseError("fake: inference failed: out of memory")
        return [MEMBER]

    model = Fake(answer)
    runner = CropRunner(model, model, scan_every_s=60.0)
    with pytest.raises(PoseError, match="out of memory"):
        list(runner.stream((i / 30, frame()) for i in range(10)))
    for _ in range(50):
        if not any(t.name == "pose-model" for t in threading.enumerate()):
            break
        threading.Event().wait(0.02)
    assert not any(t.name == "pose-model" for t in threading.enumerate())


def lying(head_x: float, seat_x: float, y: float = 480.0) -> Person:
    """A person lying along the image, shoulders at head_x and hips at seat_x."""
    p = person(min(head_x, seat_x) - 60, y - 50, max(head_x, seat_x) + 260, y + 50)
    p.keypoints[list(SHOULDERS), :2] = head_x, y
    p.keypoints[list(HIPS), :2] = seat_x, y + 5
    return p


def test_a_lying_member_is_shown_to_the_model_upright_head_up():
    # YOLO pose models learnt people upright; lying with the legs raised they misplace knees and merge
    # legs (docs/keypoints.md). The crop is turned a quarter so the head is at the top.
    head_right, head_left = lying(800.0, 600.0), lying(500.0, 700.0)
    assert upright_turn(head_right) == 1 and upright_turn(head_left) == -1
    assert upright_turn(person(100, 100, 160, 400)) == 0  # standing (its keypoints: all at the centre)
    for member, turn in ((head_right, 1), (head_left, -1)):
        model = Fake(seen_by(member))
        runner = CropRunner(model, model)
        for i in range(5):
            runner.infer(i / 30, frame())
        assert model.turns[0] == 0 and set(model.turns[1:]) == {turn}  # the scan is not turned
        (crop,) = plan_crops([member], (720, 1280, 3))
        w, h = crop.size
        assert h > w  # the wide region is shown tall
        model = Fake(seen_by(member))
        runner = CropRunner(model, model, upright=False)
        for i in range(5):
            runner.infer(i / 30, frame())
        assert set(model.turns) == {0}
