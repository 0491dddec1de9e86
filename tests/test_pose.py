"""Pose stage: geometry and decoding on exact synthetic numbers, then the real model on the real clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.people import NUM_KEYPOINTS, Person
from edge.pixels.pose import (
    ROW_LEN,
    Letterbox,
    OnnxPoseBackend,
    PoseError,
    crop_around,
    decode,
    expand_to_aspect,
    letterbox,
    load_backend,
    nms,
    to_blob,
)

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT / "models" / "footage" / "demo.mp4"
BASELINE = ROOT / "models" / "yolo11n-pose-640.onnx"
OPERATING_POINT = ROOT / "models" / "yolo11n-pose-320-int8.onnx"
SAMPLE_STRIDE = 10


# ---------------------------------------------------------------- geometry


def test_the_model_input_is_rgb_planes_divided_by_255_in_the_order_the_model_reads() -> None:
    # Every byte value in every channel, each channel different, so a swapped or rounded one shows.
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    bgr = np.dstack([values, values[::-1], values.T])
    blob = to_blob(bgr)
    assert blob.shape == (1, 3, 16, 16) and blob.dtype == np.float32
    assert blob.flags["C_CONTIGUOUS"]  # what onnxruntime and the model's process read without a copy
    # Bit for bit the calibration's own formula (division; multiplying by 1/255 differs in 126 values
    # of 256), so the int8 model sees the inputs it was calibrated on.
    expected = bgr[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)
    assert blob.tobytes() == np.ascontiguousarray(expected).tobytes()


def test_letterbox_maps_points_both_ways_exactly() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    padded, lb = letterbox(image, (64, 64))
    assert padded.shape == (64, 64, 3)
    assert lb == Letterbox(scale_x=0.32, scale_y=0.32, pad_x=0, pad_y=16, offset_x=0, offset_y=0, width=200,
                           height=100)
    pts = np.array([[0, 0], [200, 100], [100, 50]], np.float32)
    np.testing.assert_allclose(lb.to_input(pts), [[0, 16], [64, 48], [32, 32]], atol=1e-5)
    np.testing.assert_allclose(lb.to_image(lb.to_input(pts)), pts, atol=1e-4)


def test_letterbox_of_roi_adds_the_roi_offset() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    _, lb = letterbox(image, (64, 64), roi=(50, 20, 150, 70))
    # The 100×50 region fills the width at scale 0.64 and is centred vertically: 16 px pad above.
    assert (lb.offset_x, lb.offset_y, lb.pad_x, lb.pad_y) == (50, 20, 0, 16)
    np.testing.assert_allclose(lb.to_input(np.array([[50, 20], [150, 70]], np.float32)), [[0, 16], [64, 48]],
                               atol=1e-5)
    np.testing.assert_allclose(lb.to_image(np.array([[32, 32]], np.float32)), [[100, 45]], atol=1e-5)


def test_letterbox_pixels_land_where_the_mapping_says() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:50, 100:110] = 255
    padded, lb = letterbox(image, (100, 100))
    ys, xs = np.nonzero(padded[..., 0] > 127)
    centre = lb.to_input(np.array([[105, 45]], np.float32))[0]
    assert abs(xs.mean() + 0.5 - centre[0]) < 0.5 and abs(ys.mean() + 0.5 - centre[1]) < 0.5
    assert (padded[:25] == 114).all() and (padded[75:] == 114).all()


@pytest.mark.parametrize("turn", [1, -1])
def test_a_turned_region_stands_its_right_or_left_side_up_and_maps_back(turn: int) -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    image[100:110, 290:300] = 255  # a bright spot near the region's right end
    roi = (100, 80, 300, 180)  # 200 wide, 100 tall: tall once turned
    padded, lb = letterbox(image, (64, 128), roi=roi, turn=turn)
    assert padded.shape == (128, 64, 3)
    # Turned counter-clockwise (1) the region's right end is at the top of the input; clockwise, the bottom.
    ys, xs = np.nonzero(padded[..., 0] > 127)
    assert (ys.mean() < 32) if turn == 1 else (ys.mean() > 96)
    centre = lb.to_input(np.array([[295, 105]], np.float32))[0]
    assert abs(xs.mean() + 0.5 - centre[0]) < 0.6 and abs(ys.mean() + 0.5 - centre[1]) < 0.6
    pts = np.array([[100, 80], [300, 180], [150, 130]], np.float32)
    np.testing.assert_allclose(lb.to_image(lb.to_input(pts)), pts, atol=1e-3)


def test_a_box_found_in_a_turned_region_is_a_box_in_the_frame() -> None:
    _, lb = letterbox(np.zeros((300, 400, 3), np.uint8), (64, 128), roi=(100, 80, 300, 180), turn=1)
    corners = lb.to_input(np.array([[120, 90], [280, 170]], np.float32))
    box = np.concatenate([corners.min(0) + 1, corners.max(0) - 1])  # a box a pixel inside them
    row = np.zeros((1, 56, 1), np.float32)
    row[0, :4, 0] = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]]
    row[0, 4, 0] = 0.9
    (found,) = decode(row, lb, (300, 400, 3), 0.25, 0.7, 10)
    x1, y1, x2, y2 = found.bbox
    assert x1 < x2 and y1 < y2
    assert abs(x1 - 120) < 3 and abs(x2 - 280) < 3 and abs(y1 - 90) < 3 and abs(y2 - 170) < 3


def test_roi_outside_the_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="no area"):
        letterbox(np.zeros((100, 100, 3), np.uint8), (64, 64), roi=(200, 200, 300, 300))


def test_crop_around_grows_by_the_longer_side_and_stays_in_frame() -> None:
    assert crop_around(np.array([100, 200, 300, 250]), (480, 640), margin=0.1) == (80, 180, 320, 270)
    assert crop_around(np.array([0, 0, 100, 100]), (480, 640), margin=0.5) == (0, 0, 150, 150)


def test_expand_to_aspect_matches_the_model_and_stays_in_frame() -> None:
    assert expand_to_aspect((100, 200, 300, 250), 1.0, (480, 640)) == (100, 125, 300, 325)
    # Near the bottom edge the square is shifted up rather than cut.
    assert expand_to_aspect((100, 440, 300, 480), 1.0, (480, 640)) == (100, 280, 300, 480)
    # Wider than the frame is tall: clipped to the frame height, the letterbox pads the rest.
    assert expand_to_aspect((0, 0, 600, 100), 1.0, (480, 640)) == (0, 0, 600, 480)


# ---------------------------------------------------------------- NMS and decoding


def test_nms_suppresses_overlaps_and_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, iou_threshold=0.5).tolist() == [1, 2]
    assert nms(boxes, scores, iou_threshold=0.99).tolist() == [1, 0, 2, 3]


def _row(cx: float, cy: float, w: float, h: float, score: float, kp_offset: float) -> np.ndarray:
    kps = np.stack([np.full(NUM_KEYPOINTS, cx) + np.arange(NUM_KEYPOINTS) * 0.5,
                    np.full(NUM_KEYPOINTS, cy) + kp_offset,
                    np.linspace(0.1, 0.9, NUM_KEYPOINTS)], axis=1)
    return np.concatenate([[cx, cy, w, h, score], kps.reshape(-1)]).astype(np.float32)


def test_decode_hand_built_output_gives_the_person_in_image_pixels() -> None:
    rows = [_row(32, 32, 20, 40, 0.9, 5),  # the person
            _row(33, 32, 20, 40, 0.8, 0),  # a duplicate anchor on the same person: suppressed
            _row(10, 10, 4, 4, 0.1, 0)]  # background: below the threshold
    output = np.stack(rows, axis=1)[None]
    assert output.shape == (1, ROW_LEN, 3)
    lb = Letterbox(scale_x=0.5, scale_y=0.5, pad_x=0, pad_y=16, offset_x=100, offset_y=200)
    (person,) = decode(output, lb, (1000, 1000, 3), conf_threshold=0.25, iou_threshold=0.7, max_people=10)
    assert isinstance(person, Person)
    assert person.score == pytest.approx(0.9)
    # x: (22 .. 42) / 0.5 + 100; y: (12 - 16 .. 52 - 16) / 0.5 + 200
    np.testing.assert_allclose(person.bbox, [144, 192, 184, 272])
    np.testing.assert_allclose(person.keypoints[0], [164, 242, 0.1], atol=1e-6)
    np.testing.assert_allclose(person.keypoints[16], [180, 242, 0.9], atol=1e-6)


def test_decode_clips_boxes_to_the_frame() -> None:
    output = _row(5, 5, 20, 20, 0.9, 0)[None, :, None]
    lb = Letterbox(1.0, 1.0, 0, 0, 0, 0)
    (person,) = decode(output, lb, (8, 8, 3), 0.25, 0.7, 10)
    np.testing.assert_allclose(person.bbox, [0, 0, 8, 8])


def test_decode_rejects_a_non_pose_output() -> None:
    with pytest.raises(PoseError, match="unexpected pose output"):
        decode(np.zeros((1, 84, 10), np.float32), Letterbox(1, 1, 0, 0, 0, 0), (8, 8, 3), 0.25, 0.7, 10)


# ---------------------------------------------------------------- loading


def test_missing_model_is_a_pose_error(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match="not found"):
        OnnxPoseBackend(tmp_path / "nope.onnx")


def test_corrupt_model_is_a_pose_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(PoseError, match="cannot be loaded") as info:
        OnnxPoseBackend(bad)
    assert "\n" not in str(info.value)


def test_truncated_model_is_a_pose_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(OPERATING_POINT.read_bytes()[:100_000])
    with pytest.raises(PoseError, match="cannot be loaded"):
        OnnxPoseBackend(cut)


def test_registry_builds_backends_by_name_and_rejects_unknown_ones() -> None:
    backend = load_backend("onnx", model_path=OPERATING_POINT)
    assert backend.input_size == (320, 320)
    assert "320" in backend.name
    with pytest.raises(PoseError, match="unknown pose backend"):
        load_backend("tflite", model_path=OPERATING_POINT)


# ---------------------------------------------------------------- the real clip
# The clip (checked by eye): the jumper is in view throughout; the walker enters from the right at about
# frame 35 and leaves on the left at about frame 205; from about frame 135 to 185 the jumper flips
# through the sun's glare, where even the 640 model loses them. So both people are in view and
# findable on frames 41-131, and at least one person on every frame.
BOTH_IN_VIEW = range(41, 132, SAMPLE_STRIDE)


def _sample_frames() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Frame index → (previous frame, frame), every SAMPLE_STRIDE frames of the real clip."""
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run `bash models/fetch_footage.sh` first")
    cap = cv2.VideoCapture(str(FOOTAGE))
    pairs, prev, i = {}, None, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % SAMPLE_STRIDE == 1:
            pairs[i] = (prev, frame)
        prev, i = frame, i + 1
    cap.release()
    return pairs


@pytest.fixture(scope="module")
def samples() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return _sample_frames()


@pytest.fixture(scope="module")
def baseline() -> OnnxPoseBackend:
    return OnnxPoseBackend(BASELINE)


@pytest.fixture(scope="module")
def found(samples, baseline) -> dict[int, list[Person]]:
    """The baseline's confident people on every sampled frame."""
    return {i: _confident(baseline.infer(frame)) for i, (_, frame) in samples.items()}


def _confident(people: list[Person], score: float = 0.5) -> list[Person]:
    return [p for p in people if p.score > score]


def _keypoints_inside_bbox(p: Person, tolerance: float = 0.1) -> bool:
    x1, y1, x2, y2 = p.bbox
    tx, ty = tolerance * (x2 - x1), tolerance * (y2 - y1)
    kps = p.keypoints[p.keypoints[:, 2] > 0.5]
    return bool(((kps[:, 0] >= x1 - tx) & (kps[:, 0] <= x2 + tx)
                 & (kps[:, 1] >= y1 - ty) & (kps[:, 1] <= y2 + ty)).all())


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _rotate_box(bbox: np.ndarray, height: int) -> np.ndarray:
    """Where a box lands after cv2.ROTATE_90_CLOCKWISE of a frame `height` pixels tall."""
    x1, y1, x2, y2 = bbox
    return np.array([height - y2, x1, height - y1, x2], np.float32)


@pytest.mark.footage
def test_baseline_finds_both_people_when_both_are_in_view(found) -> None:
    both = [len(found[i]) == 2 for i in BOTH_IN_VIEW]
    assert sum(both) >= 0.9 * len(both), f"2 people on only {sum(both)} of {len(both)} frames"
    assert all(found.values()), "a sampled frame with nobody found"
    for people in found.values():
        for p in people:
            assert _keypoints_inside_bbox(p), f"keypoints outside their box: {p.bbox}"
    # Whole, upright people in plain view: most joints should be confident, not just the box.
    for i in BOTH_IN_VIEW:
        for p in found[i]:
            assert (p.keypoints[:, 2] > 0.5).sum() >= 10, f"frame {i}: few confident keypoints"


@pytest.mark.footage
def test_operating_point_on_person_crops_finds_each_person(samples, baseline, found) -> None:
    """The station's mode: the small int8 model on a crop around where the person was one frame earlier."""
    small = OnnxPoseBackend(OPERATING_POINT)
    hits = total = 0
    for i, (prev, frame) in samples.items():
        seeds = baseline.infer(prev)
        for target in found[i]:
            seed = max(seeds, key=lambda p, t=target: _box_iou(p.bbox, t.bbox))
            roi = expand_to_aspect(crop_around(seed.bbox, frame.shape), 1.0, frame.shape)
            total += 1
            match = [p for p in _confident(small.infer(frame, roi)) if _box_iou(p.bbox, target.bbox) > 0.5]
            if match:
                hits += 1
                # In full-frame pixels (it overlaps the baseline's box), with its keypoints on the body.
                assert _keypoints_inside_bbox(match[0])
    assert hits >= 0.9 * total, f"found {hits} of {total} people"


@pytest.mark.footage
def test_people_lying_down_are_still_found(samples, baseline, found) -> None:
    small = OnnxPoseBackend(OPERATING_POINT)
    full_hits = crop_hits = 0
    for i in BOTH_IN_VIEW:
        frame = samples[i][1]
        lying = cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)
        people = _confident(baseline.infer(lying))
        full_hits += bool(people)
        for p in people:
            assert _keypoints_inside_bbox(p)
            assert p.bbox[2] - p.bbox[0] > p.bbox[3] - p.bbox[1], "a lying body gives a wide box"
        # The operating point, cropped around where each upright person now lies.
        crops = [small.infer(lying, expand_to_aspect(crop_around(_rotate_box(p.bbox, frame.shape[0]),
                                                                 lying.shape), 1.0, lying.shape))
                 for p in found[i]]
        crop_hits += any(_confident(c) for c in crops)
    assert full_hits >= 0.8 * len(BOTH_IN_VIEW), f"640: people on {full_hits} of {len(BOTH_IN_VIEW)} frames"
    assert crop_hits >= 0.8 * len(BOTH_IN_VIEW), f"320-int8: people on {crop_hits} of {len(BOTH_IN_VIEW)}"
