"""Train the rep classifier and export it to ONNX (a build step: PyTorch and scikit-learn run here, never
on a station). Reproducible: fixed seeds, CPU only, one thread; a few minutes on a laptop core.

    python -m models.classifier.dataset --seeds 10000-10399 -o /tmp/classifier/train.npz
    python -m models.classifier.dataset --seeds 11000-11099 -o /tmp/classifier/val.npz
    python -m models.classifier.train --train /tmp/classifier/train.npz --val /tmp/classifier/val.npz \
        -o models/rep-classifier.onnx --report /tmp/classifier/train.json

Two architectures are trained on the same data and compared on the validation sessions: a small 1-D
temporal CNN over the resampled movement, and gradient-boosted trees over per-channel summaries of it.
The CNN is exported (the model card says why, with both figures). Its probabilities are calibrated by
temperature scaling on the validation sessions, inside the exported graph.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from torch import nn

from edge.analysis.classifier import CLASSES, SCORABLE_FAULTS
from edge.analysis.movement import BODY, CHANNELS, FEATURES_VERSION, STEPS

SEED = 20261205
EPOCHS = 40
BATCH = 128
_NOT_A_REP = CLASSES.index("not_a_rep")
_XY = slice(0, 2 * len(BODY))
_CONF = slice(2 * len(BODY), 3 * len(BODY))
_ANGLES = slice(3 * len(BODY), CHANNELS)
_KNEES, _ANKLES = (8, 9), (10, 11)  # indices into BODY
_ELEV, _KNEE_ANGLE = (_ANGLES.start, _ANGLES.start + 1), (_ANGLES.start + 2, _ANGLES.start + 3)
# Channel pairs to exchange when the pose model puts the left leg's points on the right one.
_LR = [(2 * i + k, 2 * (i + 1) + k) for i in range(0, len(BODY), 2) for k in (0, 1)] + \
      [(_CONF.start + i, _CONF.start + i + 1) for i in range(0, len(BODY), 2)] + \
      [(_ANGLES.start + 0, _ANGLES.start + 1), (_ANGLES.start + 2, _ANGLES.start + 3)]


class Net(nn.Module):
    """Three 1-D convolutions over time, mean- and max-pooled, the log duration beside them; a class
    head and one logit per fault."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(CHANNELS, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2, stride=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, 96, 3, padding=1, stride=2), nn.BatchNorm1d(96), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * 96 + 1, 96), nn.ReLU(), nn.Dropout(0.2))
        self.classes = nn.Linear(96, len(CLASSES))
        self.faults = nn.Linear(96, len(SCORABLE_FAULTS))

    def forward(self, x: torch.Tensor, duration: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x)
        h = torch.cat([h.mean(dim=2), h.amax(dim=2), duration], dim=1)
        h = self.head(h)
        return self.classes(h), self.faults(h)


class Calibrated(nn.Module):
    """What is exported: probabilities, each head divided by its fitted temperature."""

    def __init__(self, net: Net, t_class: float, t_fault: float) -> None:
        super().__init__()
        self.net, self.t_class, self.t_fault = net, t_class, t_fault

    def forward(self, movement: torch.Tensor, duration: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, faults = self.net(movement, duration)
        return torch.softmax(logits / self.t_class, dim=1), torch.sigmoid(faults / self.t_fault)


def _pose_model_errors(x: np.ndarray, rng: np.random.Generator) -> None:
    """The structured errors a real pose model makes on a lying body (../shared/MODELS.md), in place on
    one sample: knees misplaced for a stretch (straight legs read bent), feet off the top of the frame,
    the far leg put on the near one."""
    if rng.random() < 0.25:
        a0 = int(rng.integers(0, STEPS - 4))
        a1 = min(STEPS, a0 + int(rng.integers(3, 16)))
        shift = rng.uniform(-0.5, 0.5, size=2)
        for k in _KNEES:
            for c in (0, 1):
                x[2 * k + c, a0:a1] += shift[c] * (x[_CONF.start + k, a0:a1] > 0)
        for c in _KNEE_ANGLE:
            x[c, a0:a1] *= rng.uniform(0.6, 0.85)
    if rng.random() < 0.2:
        high = x[2 * _ANKLES[0] + 1] > rng.uniform(0.8, 1.4)  # ankles high above the hips: out of frame
        for k in _ANKLES:
            x[[2 * k, 2 * k + 1, _CONF.start + k], :] *= ~high
        x[[*_ELEV, *_KNEE_ANGLE], :] *= ~high
    if rng.random() < 0.1:
        src = int(rng.integers(2))
        for p, q in _LR:
            a, b = (p, q) if src == 0 else (q, p)
            x[b] = x[a]


def augment(x: np.ndarray, d: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Speed, scale, tilt, jitter, dropped frames, facing, left/right exchanges and a pose model's
    structured errors, per sample; now and then the keypoints are hidden, so that the angles are
    learnt from too."""
    x, d = x.copy(), d.copy()
    n = len(x)
    d += np.log(rng.uniform(0.8, 1.25, size=(n, 1))).astype(np.float32)
    xy = x[:, _XY].reshape(n, len(BODY), 2, STEPS)
    seen = x[:, _CONF][:, :, None, :] > 0
    xy *= rng.uniform(0.9, 1.1, size=(n, 1, 1, 1))
    a = np.radians(rng.uniform(-8, 8, size=n))
    c, s = np.cos(a)[:, None, None], np.sin(a)[:, None, None]
    along, up = xy[:, :, 0].copy(), xy[:, :, 1].copy()
    xy[:, :, 0], xy[:, :, 1] = c * along - s * up, s * along + c * up
    xy += rng.normal(0, 0.03, size=xy.shape) * seen
    flip = rng.random(n) < 0.1  # the facing read the wrong way round
    xy[flip, :, 0] *= -1
    x[:, _XY] = (xy * seen).reshape(n, -1, STEPS)
    for i in range(n):
        if rng.random() < 0.3:  # a burst of frames the member was not seen in
            a0 = int(rng.integers(0, STEPS - 4))
            x[i, :, a0:a0 + int(rng.integers(2, 8))] = 0.0
        if rng.random() < 0.15:  # the legs exchanged for a stretch
            a0 = int(rng.integers(0, STEPS - 2))
            a1 = min(STEPS, a0 + int(rng.integers(1, 6)))
            for p, q in _LR:
                x[i, [p, q], a0:a1] = x[i, [q, p], a0:a1]
        _pose_model_errors(x[i], rng)
        if rng.random() < 0.15:
            x[i, _XY] = 0.0
    return x.astype(np.float32), d.astype(np.float32)


def _weights(labels: np.ndarray) -> torch.Tensor:
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(float)
    w = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    return torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)


def train_cnn(tr: dict, rng: np.random.Generator) -> Net:
    torch.manual_seed(SEED)
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    steps = EPOCHS * math.ceil(len(tr["label"]) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    ce = nn.CrossEntropyLoss(weight=_weights(tr["label"]))
    bce = nn.BCEWithLogitsLoss(reduction="none")
    labels = torch.tensor(tr["label"])
    faults = torch.tensor(tr["faults"])
    is_rep = (labels != _NOT_A_REP).float()
    for _ in range(EPOCHS):
        net.train()
        order = rng.permutation(len(labels))
        for b in range(0, len(order), BATCH):
            idx = order[b:b + BATCH]
            x, d = augment(tr["x"][idx], tr["duration"][idx], rng)
            logits, fl = net(torch.tensor(x), torch.tensor(d))
            loss = ce(logits, labels[idx])
            mask = is_rep[idx][:, None]
            fault_loss = (bce(fl, faults[idx]) * mask).sum() / mask.sum().clamp(min=1) / len(SCORABLE_FAULTS)
            loss = loss + 2 * fault_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net


def cnn_logits(net: Net, data: dict) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        logits, fl = net(torch.tensor(data["x"]), torch.tensor(data["duration"]))
    return logits.numpy(), fl.numpy()


def summaries(data: dict) -> np.ndarray:
    """Per-channel summaries of the movement for the trees: mean, spread, extremes, ends, where the
    extremes fall."""
    x = data["x"]
    parts = [x.mean(2), x.std(2), x.min(2), x.max(2), x[:, :, 0], x[:, :, -1], x[:, :, STEPS // 2],
             x.argmax(2) / STEPS, x.argmin(2) / STEPS, data["duration"]]
    return np.concatenate(parts, axis=1)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, binary: bool = False) -> float:
    """The temperature minimising the validation log-loss (a grid: one scalar, no optimiser needed)."""
    best, best_t = math.inf, 1.0
    for t in np.exp(np.linspace(math.log(0.3), math.log(5.0), 120)):
        z = logits / t
        if binary:
            p = 1 / (1 + np.exp(-z))
            loss = -np.mean(labels * np.log(p + 1e-9) + (1 - labels) * np.log(1 - p + 1e-9))
        else:
            z = z - z.max(1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(1, keepdims=True))
            loss = -np.mean(logp[np.arange(len(labels)), labels])
        if loss < best:
            best, best_t = loss, float(t)
    return best_t


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> tuple[float, list[list[float]]]:
    """Expected calibration error of the top class, and the reliability curve (confidence, accuracy,
    share of samples) per bin."""
    conf = probs.max(1)
    right = probs.argmax(1) == labels
    curve, total = [], 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        inside = (conf > lo) & (conf <= lo + 1 / bins)
        if inside.any():
            gap = abs(conf[inside].mean() - right[inside].mean())
            total += gap * inside.mean()
            curve.append([round(float(conf[inside].mean()), 3), round(float(right[inside].mean()), 3),
                          round(float(inside.mean()), 4)])
    return float(total), curve


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def export(model: Calibrated, path: Path, extra: dict[str, str]) -> None:
    x = torch.zeros(1, CHANNELS, STEPS)
    d = torch.zeros(1, 1)
    torch.onnx.export(model, (x, d), str(path), input_names=["movement", "duration"],
                      output_names=["class_probs", "fault_probs"], opset_version=17, dynamo=False,
                      dynamic_axes={"movement": {0: "N"}, "duration": {0: "N"}, "class_probs": {0: "N"},
                                    "fault_probs": {0: "N"}})
    m = onnx.load(str(path))
    meta = {"matcoach.classes": json.dumps(list(CLASSES)),
            "matcoach.faults": json.dumps(list(SCORABLE_FAULTS)),
            "matcoach.features_version": str(FEATURES_VERSION), **extra}
    for k, v in meta.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = k, v
    m.producer_name = "matcoach models/classifier/train.py"
    onnx.save(m, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--val", type=Path, required=True)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tr, va = dict(np.load(args.train)), dict(np.load(args.val))
    rng = np.random.default_rng(SEED)

    t0 = time.perf_counter()
    net = train_cnn(tr, rng)
    cnn_s = time.perf_counter() - t0
    logits, fl = cnn_logits(net, va)
    t_class = fit_temperature(logits, va["label"])
    rep = va["label"] != _NOT_A_REP
    t_fault = fit_temperature(fl[rep].ravel(), va["faults"][rep].ravel(), binary=True)
    cnn_acc = float((logits.argmax(1) == va["label"]).mean())

    t0 = time.perf_counter()
    trees = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.08, random_state=SEED,
                                           class_weight="balanced").fit(summaries(tr), tr["label"])
    trees_s = time.perf_counter() - t0
    trees_acc = float((trees.predict(summaries(va)) == va["label"]).mean())

    calibrated = Calibrated(net, t_class, t_fault).eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(calibrated, args.out, {"matcoach.train_seed": str(SEED),
                                  "matcoach.temperatures": f"{t_class:.3f},{t_fault:.3f}"})
    with torch.no_grad():
        probs = calibrated(torch.tensor(va["x"]), torch.tensor(va["duration"]))[0].numpy()
    report = {
        "train_candidates": len(tr["label"]), "val_candidates": len(va["label"]),
        "cnn": {"val_accuracy": cnn_acc, "train_s": round(cnn_s, 1),
                "parameters": int(sum(p.numel() for p in net.parameters()))},
        "trees": {"val_accuracy": trees_acc, "train_s": round(trees_s, 1)},
        "temperature_class": t_class, "temperature_fault": t_fault,
        "val_ece_before": ece(_softmax(logits), va["label"])[0],
        "val_ece_after": ece(probs, va["label"])[0],
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
