"""The pose model files shipped with the code (models/README.md), in one place and without importing
onnxruntime, so configuration can name them on a station that only replays traces."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
# The 640×640 fp32 model: whole-frame scans (on a station and offline), and the benchmark's baseline.
BASELINE_MODEL = MODELS_DIR / "yolo11n-pose-640.onnx"
# The int8 model taking any input size: the station's crops around people (edge/pixels/runner.py).
CROP_MODEL = MODELS_DIR / "yolo11n-pose-dyn-int8.onnx"
FOOTAGE = MODELS_DIR / "footage" / "demo.mp4"
