"""Held-out evaluation of the rep classifier, written into its model card (models/classifier/README.md,
between the `evaluation` markers): the confusion matrix over candidate movements, per-fault precision
and recall of the rules alone, the classifier alone and their combination, and calibration.

    python -m models.classifier.evaluate --seeds 90000-90119      # held out: never trained or tuned on

Sessions are drawn as for training (models/classifier/dataset.py: hanging sets in a third, movements
that are no reps in all); these seeds were never used for training, for the temperature or for choosing
how rules and classifier combine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import numpy as np

from edge.analysis.classifier import CLASSES, DEFAULT_MODEL, SCORABLE_FAULTS, RepClassifier
from edge.analysis.config import ClassifierConfig
from edge.analysis.scoring import VARIANT_RULES
from models.classifier.dataset import _seeds, build

CARD = Path(__file__).with_name("README.md")
_NOT_A_REP = CLASSES.index("not_a_rep")


def _prf(truth: np.ndarray, found: np.ndarray) -> dict[str, float]:
    tp = int((truth & found).sum())
    fp = int((~truth & found).sum())
    fn = int((truth & ~found).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3),
            "reps_with_it": int(truth.sum())}


def evaluate(data: dict[str, np.ndarray], probs: np.ndarray, fault_probs: np.ndarray,
             config: ClassifierConfig) -> dict:
    labels = data["label"]
    pred = np.where(probs[:, _NOT_A_REP] >= config.not_a_rep_min, _NOT_A_REP,
                    probs[:, :_NOT_A_REP].argmax(1))
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    np.add.at(confusion, (labels, pred), 1)
    rules = data["rules_variant"]
    out: dict = {
        "candidates": len(labels),
        "confusion": confusion.tolist(),
        "accuracy": round(float((pred == labels).mean()), 4),
        "rules_accuracy": round(float((rules == labels).mean()), 4),
        "not_a_rep_kept": int(((labels == _NOT_A_REP) & (pred != _NOT_A_REP)).sum()),
        "reps_dropped": int(((labels != _NOT_A_REP) & (pred == _NOT_A_REP)).sum()),
    }
    conf = probs.max(1)
    right = probs.argmax(1) == labels
    curve, ece = [], 0.0
    for lo in np.linspace(0, 1, 10, endpoint=False):
        inside = (conf > lo) & (conf <= lo + 0.1)
        if inside.any():
            ece += abs(conf[inside].mean() - right[inside].mean()) * inside.mean()
            curve.append([round(float(lo), 1), round(float(conf[inside].mean()), 3),
                          round(float(right[inside].mean()), 3), int(inside.sum())])
    out["ece"], out["reliability"] = round(float(ece), 4), curve
    faults = {}
    for j, fault in enumerate(SCORABLE_FAULTS):
        # Only the reps whose true variant is judged on this fault (edge/analysis/scoring.py).
        keep = np.array([lab != _NOT_A_REP and fault in VARIANT_RULES[CLASSES[lab]].judged for lab in labels])
        truth = data["faults"][keep, j] > 0.5
        by_rules = data["rules_faults"][keep, j] > 0.5
        p = fault_probs[keep, j]
        by_model = p >= 0.5
        sure = (p <= config.confident) | (p >= 1 - config.confident)
        mode = config.fault_modes.get(fault, "rules")
        combined = {"rules": by_rules, "classifier": by_model}.get(mode, np.where(sure, by_model, by_rules))
        faults[fault] = {"rules": _prf(truth, by_rules), "classifier": _prf(truth, by_model),
                         "combined": _prf(truth, combined), "mode": mode}
    out["faults"] = faults
    return out


def markdown(result: dict, seeds: range, model: RepClassifier) -> str:
    rows = ["| true \\ given | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
    for c, row in zip(CLASSES, result["confusion"], strict=True):
        rows.append(f"| **{c}** | " + " | ".join(str(v) for v in row) + " |")
    lines = [
        f"Held-out sessions: `tests/sim` seeds {seeds.start}–{seeds.stop - 1} (`python -m models.classifier."
        f"evaluate --seeds {seeds.start}-{seeds.stop - 1}`), model `{model.version}`: "
        f"{result['candidates']} candidate movements from the segmenter. Right: {result['accuracy']:.1%} "
        f"(the rules alone: {result['rules_accuracy']:.1%}); movements that are no reps kept as reps: "
        f"{result['not_a_rep_kept']} of {sum(result['confusion'][_NOT_A_REP])}; true reps dropped: "
        f"{result['reps_dropped']}.", "", *rows, "",
        "| fault | rules P / R / F1 | classifier P / R / F1 | combined P / R / F1 | combined as "
        "| reps with it |",
        "|---|---|---|---|---|---|",
    ]
    for fault, r in result["faults"].items():
        def prf(k: str, r: dict = r) -> str:
            return f"{r[k]['precision']:.3f} / {r[k]['recall']:.3f} / {r[k]['f1']:.3f}"
        lines.append(f"| `{fault}` | {prf('rules')} | {prf('classifier')} | {prf('combined')} | "
                     f"{r['mode']} | {r['rules']['reps_with_it']} |")
    lines += ["", f"Calibration: expected calibration error {result['ece']:.3f} (10 bins of top-class "
                  "confidence). Reliability, per bin: confidence from, mean confidence, share right, "
                  "movements:",
              "", "| from | confidence | right | n |", "|---|---|---|---|"]
    lines += [f"| {a} | {b:.3f} | {c:.3f} | {n} |" for a, b, c, n in result["reliability"]]
    return "\n".join(lines)


def write_card(text: str) -> None:
    card = CARD.read_text(encoding="utf-8")
    new = re.sub(r"(<!-- evaluation -->\n).*?(<!-- /evaluation -->)", lambda m: m[1] + text + "\n" + m[2],
                 card, flags=re.S)
    CARD.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=_seeds, required=True)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--json", action="store_true", help="print the figures, do not touch the model card")
    args = ap.parse_args()
    model = RepClassifier.load(args.model)
    data = build(args.seeds, args.workers)
    probs, fault_probs = model.predict(data["x"], data["duration"])
    result = evaluate(data, probs, fault_probs, ClassifierConfig())
    if args.json:
        print(json.dumps(result, indent=1))
        return
    text = markdown(result, args.seeds, model)
    write_card(text)
    print(text)


if __name__ == "__main__":
    main()
