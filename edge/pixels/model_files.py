"""The pose model files shipped with the code (models/README.md), in one place and without importing
onnxruntime, so configuration can name them on a station that only replays traces."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
# The 640×640 fp32 model: whole-frame scans (on a station and offline), and the benchmark's baseline.
BASELINE_MODEL = MODELS_DIR / "yolo11n-pose-640.onnx"
# The fp32 model taking any input size: the station's crops around people (edge/pixels/runner.py). Not
# the int8 one beside it: int8 arithmetic differs between CPUs (models/README.md, "7-bit weights"), and
# the keypoints, and with them the reps counted on real clips, changed with the machine; on this x86 the
# fp32 model is as fast on crops. `crop_model` in a station's config can still name the int8 file.
CROP_MODEL = MODELS_DIR / "yolo11n-pose-dyn.onnx"
FOOTAGE = MODELS_DIR / "footage" / "demo.mp4"
