"""The analysis against the labelled real clips of ../shared/footage/ (labels: tests/footage_labels.toml).

    python -m tests.footage                 # analyse every clip (pose model included) and print a report
    python -m tests.footage --traces DIR    # the same from keypoint traces recorded with `matcoach trace`

A labelled rep is found when a reported rep starts and ends within MATCH_S of it; every other reported
rep is a false one. Used by tests/test_footage_clips.py.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FOOTAGE = Path(__file__).resolve().parents[2] / "shared" / "footage"
LABELS = Path(__file__).with_name("footage_labels.toml")
MATCH_S = 0.5


@dataclass(frozen=True)
class LabelledRep:
    start: float
    end: float
    variant: str
    faults: dict[str, bool]


@dataclass(frozen=True)
class Clip:
    file: str
    reps: tuple[LabelledRep, ...]

    @property
    def path(self) -> Path:
        return FOOTAGE / self.file


def load_labels(path: Path = LABELS) -> list[Clip]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Clip(c["file"], tuple(LabelledRep(r["start"], r["end"], r["variant"], dict(r["faults"]))
                                  for r in c.get("rep", [])))
            for c in data["clip"]]


@dataclass
class ClipResult:
    clip: Clip
    reps: list[dict]  # the analysis' reps (SPEC.md analysis object)
    matched: list[tuple[LabelledRep, dict]] = field(default_factory=list)
    missed: list[LabelledRep] = field(default_factory=list)
    false: list[dict] = field(default_factory=list)

    def disagreements(self) -> list[str]:
        """Each labelled variant or fault verdict the analysis contradicts."""
        out = []
        for label, rep in self.matched:
            if rep["variant"] != label.variant:
                out.append(f"{label.start:.2f}s variant: labelled {label.variant}, found {rep['variant']}")
            for fault, present in label.faults.items():
                if (fault in rep["faults"]) != present:
                    out.append(f"{label.start:.2f}s {fault}: labelled {present}, found {not present}")
        return out


def score(clip: Clip, reps: list[dict]) -> ClipResult:
    result = ClipResult(clip, reps)
    unused = list(reps)
    for label in clip.reps:
        near = [r for r in unused
                if abs(r["start_t"] - label.start) <= MATCH_S and abs(r["end_t"] - label.end) <= MATCH_S]
        if not near:
            result.missed.append(label)
            continue
        best = min(near, key=lambda r: abs(r["start_t"] - label.start) + abs(r["end_t"] - label.end))
        unused.remove(best)
        result.matched.append((label, best))
    result.false = unused
    return result


def analyse(clip: Clip, traces: Path | None = None) -> ClipResult:
    from edge.analysis.analyzer import analyze_frames
    from edge.pixels.recording import pose_frames_from_video
    from edge.trace import iter_trace

    if traces is not None:
        with (traces / clip.file).with_suffix(".jsonl").open(encoding="utf-8") as fh:
            header, frames = iter_trace(fh)
            analysis = analyze_frames(frames, header)
    else:
        header, with_images = pose_frames_from_video(clip.path)
        analysis = analyze_frames(with_images, header)
    return score(clip, analysis.to_json()["reps"])


def report(results: list[ClipResult]) -> str:
    rows = [f"{'clip':<28} {'reps':>4} {'found':>5} {'false':>5}  disagreements"]
    for r in results:
        rows.append(f"{r.clip.file:<28} {len(r.clip.reps):>4} {len(r.matched):>5} {len(r.false):>5}  "
                    f"{'; '.join(r.disagreements()) or '-'}")
        for rep in r.reps:
            rows.append(f"    {rep['start_t']:6.2f}-{rep['end_t']:6.2f} {rep['variant']:<10} "
                        f"top {rep['top_angle_deg']:5.1f} knee {rep['min_knee_angle_deg']:5.1f} "
                        f"{','.join(rep['faults'])}")
    total = sum(len(r.clip.reps) for r in results)
    rows.append(f"{'all':<28} {total:>4} {sum(len(r.matched) for r in results):>5} "
                f"{sum(len(r.false) for r in results):>5}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=Path, help="read CLIP.jsonl keypoint traces from this folder")
    parser.add_argument("clips", nargs="*", help="only these files")
    args = parser.parse_args()
    clips = [c for c in load_labels() if not args.clips or c.file in args.clips]
    print(report([analyse(c, args.traces) for c in clips]))


if __name__ == "__main__":
    main()
