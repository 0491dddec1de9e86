"""The rep classifier: an ONNX model that says what a candidate movement is — a rep of which variant,
or no rep at all — and how likely each fault is, from the movement's keypoints and angles
(`edge.analysis.movement`). Trained by models/classifier/ (see its model card); run by ONNX Runtime.

The model file carries its contract in its metadata (`matcoach.*`): the class list, the faults it
scores and the input layout version. `RepClassifier.load` checks the file against what this code
feeds it and reads back, so a wrong, truncated or foreign file stops the station at start with one
line naming the file and what differs, never a wrong verdict later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.analysis.movement import CHANNELS, FEATURES_VERSION, STEPS, Movement, features

CLASSES = ("double_leg", "single_leg", "heel_tap", "hanging", "not_a_rep")
REP_CLASSES = CLASSES[:-1]
# Faults a model may score; it must score at least momentum (the one angles alone measure worst).
SCORABLE_FAULTS = ("fast_descent", "momentum", "knees_bent", "short_top")
INPUTS = {"movement": ["N", CHANNELS, STEPS], "duration": ["N", 1]}
OUTPUTS = ("class_probs", "fault_probs")
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "rep-classifier.onnx"


class ClassifierError(ValueError):
    """The model file cannot be used; the message is one line naming the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the classifier makes of one movement."""

    probs: dict[str, float]  # per class, summing to 1
    faults: dict[str, float]  # per scored fault, the probability it is there

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)

    @property
    def variant(self) -> str:
        """The most likely rep variant (whether or not it is a rep at all)."""
        return max(REP_CLASSES, key=self.probs.__getitem__)


class RepClassifier:
    def __init__(self, session: object, path: Path, faults: tuple[str, ...], digest: str) -> None:
        self._session = session
        self.path = path
        self.faults = faults
        self.sha256 = digest

    @property
    def version(self) -> str:
        """Name and hash, as the station's heartbeat reports it."""
        return f"{self.path.stem}@{self.sha256[:12]}"

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL) -> RepClassifier:
        import onnxruntime as ort  # the analysis of a trace without a classifier needs no ONNX Runtime

        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ClassifierError(f"{path}: cannot read the rep classifier ({exc.strerror or exc})") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one movement at a time, next to the pose model's core
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several types for broken files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClassifierError(f"{path}: not a usable ONNX model ({first[:160]})") from None
        faults = _check(path, session)
        return cls(session, path, faults, hashlib.sha256(data).hexdigest())

    def predict(self, x: np.ndarray, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class and fault probabilities of a batch: x (N, CHANNELS, STEPS), duration (N, 1)."""
        probs, fault_probs = self._session.run(  # type: ignore[attr-defined]
            list(OUTPUTS), {"movement": x, "duration": duration})
        return probs, fault_probs

    def judge(self, movement: Movement) -> Verdict:
        x, duration = features(movement)
        probs, fault_probs = self.predict(x[None], duration[None])
        return Verdict({c: float(p) for c, p in zip(CLASSES, probs[0], strict=True)},
                       {f: float(p) for f, p in zip(self.faults, fault_probs[0], strict=True)})


def _check(path: Path, session: object) -> tuple[str, ...]:
    """The model's inputs, outputs and metadata against what this code feeds and reads; the faults it
    scores."""
    def fail(what: str) -> ClassifierError:
        return ClassifierError(f"{path}: {what}")

    inputs = {i.name: list(i.shape) for i in session.get_inputs()}  # type: ignore[attr-defined]
    for name, shape in INPUTS.items():
        if name not in inputs:
            raise fail(f"no input {name!r} (it has {sorted(inputs)})")
        got = inputs[name]
        fixed = [(g, w) for g, w in zip(got, shape, strict=False) if isinstance(w, int)]
        if len(got) != len(shape) or any(g != w for g, w in fixed):
            raise fail(f"input {name!r} is {got}, expected {shape}")
    outputs = [o.name for o in session.get_outputs()]  # type: ignore[attr-defined]
    missing = [o for o in OUTPUTS if o not in outputs]
    if missing:
        raise fail(f"no output {missing[0]!r} (it has {outputs})")
    meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
    try:
        classes = tuple(json.loads(meta["matcoach.classes"]))
        faults = tuple(json.loads(meta["matcoach.faults"]))
        version = int(meta["matcoach.features_version"])
    except (KeyError, ValueError, TypeError):
        raise fail("no MatCoach contract in its metadata (matcoach.classes, .faults, "
                   ".features_version)") from None
    if classes != CLASSES:
        raise fail(f"classes {list(classes)}, expected {list(CLASSES)}")
    if "momentum" not in faults or set(faults) - set(SCORABLE_FAULTS):
        raise fail(f"scores faults {list(faults)}; expected momentum and only {list(SCORABLE_FAULTS)}")
    if version != FEATURES_VERSION:
        raise fail(f"trained on input layout {version}, this code makes layout {FEATURES_VERSION}")
    probe = session.run(list(OUTPUTS), {  # type: ignore[attr-defined]
        "movement": np.zeros((1, CHANNELS, STEPS), np.float32), "duration": np.zeros((1, 1), np.float32)})
    if probe[0].shape != (1, len(CLASSES)) or probe[1].shape != (1, len(faults)):
        raise fail(f"outputs shaped {probe[0].shape} and {probe[1].shape}, expected (1, {len(CLASSES)}) and "
                   f"(1, {len(faults)})")
    return faults
