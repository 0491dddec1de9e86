"""The analysis pipeline, one frame at a time: people → the person on the mat → joint angles (and,
when the frame itself is given, the lower back's profile) → candidate reps → the rep classifier's
verdict → reps and holds → the member's session. The same object serves `matcoach analyze` (a whole
trace or video) and, frame by frame, the live station.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from edge.analysis.back import BackMeter, BackProfile, flat_share, rep_evidence
from edge.analysis.classifier import DEFAULT_MODEL, RepClassifier
from edge.analysis.config import AnalysisConfig, ClassifierConfig
from edge.analysis.holds import Hold, HoldDetector
from edge.analysis.kinematics import Kinematics
from edge.analysis.movement import Moment, Movement, MovementHistory
from edge.analysis.reps import Rep, RepSegmenter
from edge.analysis.scoring import ScoredRep
from edge.analysis.session import Analysis, Session, SetSummary
from edge.analysis.tracking import MatFrame, MatTracker
from edge.analysis.verdict import ClassifiedJudge
from edge.people import Person, PoseFrame
from edge.trace import TraceHeader

Event = ScoredRep | Hold | SetSummary
# Back profiles and leg elevations are kept this long: longer than any rep or hold can last.
HISTORY_S = 120.0


class Judge(Protocol):
    """Decides on each candidate rep the segmenter proposes: the rep as it stands (possibly with another
    variant or fault probabilities), or None when it is no rep. The rep classifier is one
    (edge.analysis.verdict.ClassifiedJudge); without one the rules' candidates are the reps."""

    def judge(self, rep: Rep, movement: Movement) -> Rep | None: ...


def load_classifier(config: ClassifierConfig) -> RepClassifier | None:
    """The rep classifier the config asks for (None: disabled); raises ClassifierError, one line, for a
    file that is missing, broken or not what this code feeds and reads."""
    return _classifier(config.model) if config.enabled else None


@functools.cache
def _classifier(path: str) -> RepClassifier:
    # One ONNX Runtime session per model file and process, however many analyses run in it.
    return RepClassifier.load(path or DEFAULT_MODEL)


class Analyzer:
    def __init__(self, config: AnalysisConfig | None = None,
                 floor_line: tuple[tuple[float, float], tuple[float, float]] | None = None,
                 mat_region: tuple[float, float, float, float] | None = None, explain: bool = False,
                 judge: Judge | None = None) -> None:
        """judge: what decides on the segmenter's candidates; None: the rep classifier of the config
        (`[analysis.classifier]`), or the rules alone when it is disabled."""
        self.config = config or AnalysisConfig()
        self._moments = MovementHistory()
        self.tracker = MatTracker(self.config.tracking, mat_region=mat_region)
        self.kinematics = Kinematics(self.config.kinematics, floor_line)
        self.segmenter = RepSegmenter(self.config.reps, explain=explain)
        classifier = load_classifier(self.config.classifier) if judge is None else None
        if classifier is not None:
            judge = ClassifiedJudge(classifier, self.config.classifier, notes=self.segmenter.notes)
        self.judge = judge
        if isinstance(judge, ClassifiedJudge):
            self.segmenter.weigh = functools.partial(_weigh_readings, judge, self._movement)
        self.holds = HoldDetector(self.config.session)
        self.session = Session(self.config)
        self.mat_state = "empty"  # who is on the mat, as of the last frame
        self.back = BackMeter(self.config.back)
        self._profiles: deque[BackProfile] = deque()
        self._elevations: deque[tuple[float, np.ndarray]] = deque()

    @classmethod
    def for_trace(cls, header: TraceHeader, config: AnalysisConfig | None = None,
                  explain: bool = False, judge: Judge | None = None) -> Analyzer:
        return cls(config, floor_line=header.floor_line, mat_region=header.mat_region, explain=explain,
                   judge=judge)

    def push(self, frame: PoseFrame, image: np.ndarray | None = None) -> list[Event]:
        """Feed one frame (and the camera image it came from, on a station); returns the reps, holds
        and sets that finished in it. The image is only looked at here and never kept."""
        mat = self.tracker.update(frame)
        self.mat_state = mat.state
        if image is not None:
            member, others = _member_and_others(frame.people, mat)
            profile = self.back.measure(frame.t, image, member, others)
            if profile is not None:
                self._profiles.append(profile)
        events: list[Event] = []
        for m in (*mat.earlier, mat):
            events += self._measure(m)
        self._forget(frame.t)
        if {"got_up", "let_go", "left"} & set(mat.events):
            events += self._add(self.segmenter.end_set())
            self.session.end_set()
        events.extend(self.session.take_closed())
        return events

    def _measure(self, mat: MatFrame) -> list[Event]:
        """Angles, reps and holds of one frame of the member."""
        angles = self.kinematics.update(mat)
        if angles is not None:
            self._elevations.append((angles.t, angles.leg_elevation))
        self._moments.add(Moment(mat.t, mat.keypoints if mat.observed else None, angles))
        events: list[Event] = self._add(self.segmenter.push(angles))
        if self.segmenter.rested:
            self.session.end_set()  # the legs rest on the mat: the next rep starts a new set
        hold = self.holds.push(angles)
        if hold is not None:
            hold = self._hold_with_back(hold)
            self.session.add_hold(hold)
            events.append(hold)
        return events

    def drain(self) -> list[Event]:
        """End of input, or the member left: the reps and hold still in progress, and the set they close."""
        events: list[Event] = self._add(self.segmenter.flush())
        hold = self.holds.flush()
        if hold is not None:
            hold = self._hold_with_back(hold)
            self.session.add_hold(hold)
            events.append(hold)
        self.session.end_set()
        events.extend(self.session.take_closed())
        return events

    def _add(self, candidates: list[Rep]) -> list[Event]:
        """The candidates the judge takes as reps, into the session."""
        events: list[Event] = []
        for rep in candidates:
            if self.judge is not None:
                judged = self.judge.judge(rep, self._movement(rep))
                if judged is None:
                    continue
                rep = judged
            events.append(self.session.add_rep(self._with_back(rep)))
        return events

    def _movement(self, rep: Rep) -> Movement:
        """What the member did over a candidate rep, as the rep classifier reads it."""
        return self._moments.window(rep.start_t, rep.end_t, self.kinematics.floor.angle,
                                    self.kinematics.feet_sign)

    def _forget(self, t: float) -> None:
        while self._profiles and t - self._profiles[0].t > HISTORY_S:
            self._profiles.popleft()
        while self._elevations and t - self._elevations[0][0] > HISTORY_S:
            self._elevations.popleft()

    def _with_back(self, rep: Rep) -> Rep:
        """The rep with its back-lift evidence, when the lower back was seen (on the mat only)."""
        if not self._profiles or rep.variant == "hanging":
            return rep
        legs = {"both": [0, 1], "left": [0], "right": [1]}[rep.moving]
        elevation = [(t, _mean_seen(e[legs])) for t, e in self._elevations]
        lift, onset = rep_evidence(list(self._profiles), elevation, rep.start_t, rep.end_t)
        return dataclasses.replace(rep, back_lift_cm=lift, back_onset_deg=onset)

    def _hold_with_back(self, hold: Hold) -> Hold:
        share = flat_share(list(self._profiles), hold.start_t, hold.end_t, self.config.back.flat_cm)
        return dataclasses.replace(hold, flat_share=share)

    def finish(self) -> Analysis:
        """End of input: report what was still in progress and return the whole session (with why each
        movement was counted or not, if the analyzer was asked to explain)."""
        self.drain()
        return dataclasses.replace(self.session.result(), notes=list(self.segmenter.notes or []))


def _weigh_readings(judge: ClassifiedJudge, movement: Callable[[Rep], Movement], told: list[Rep],
                    other: list[Rep]) -> str | None:
    """The other reading of a set holds where the classifier makes no rep of some of the candidates of
    the one its bottoms tell, takes every one of the other's, and so counts more reps by the other. (On a
    tie the bottoms' reading stands: the classifier turning one rep down tells nothing of the order.)"""
    dropped = sum(not judge.takes(movement(r)) for r in told)
    if (len(other) <= len(told) - dropped or not dropped
            or not all(judge.takes(movement(r)) for r in other)):
        return None
    return (f"the rep classifier makes no rep of {dropped} of that reading's {len(told)} candidates and "
            f"takes all {len(other)} of the other's")


def _mean_seen(values: np.ndarray) -> float:
    seen = values[np.isfinite(values)]
    return float(seen.mean()) if seen.size else math.nan


def _member_and_others(people: tuple[Person, ...], mat: MatFrame) -> tuple[Person | None, list[Person]]:
    """The detection the tracker followed as the member in this frame (closest to its keypoints), and
    everyone else. A member the pose model missed in this frame but the tracker still holds is among
    the others, by their held keypoints: not measured, but never learnt as empty scene either."""
    if mat.keypoints is None:
        return None, list(people)
    if not mat.observed or not people:
        xy = mat.keypoints[:, :2]
        box = np.array([*np.nanmin(xy, axis=0), *np.nanmax(xy, axis=0)], dtype=np.float32)
        return None, [*people, Person(0.0, box, mat.keypoints.astype(np.float32))]
    member = min(people, key=lambda p: float(np.nanmean(np.abs(p.keypoints[:, :2] - mat.keypoints[:, :2]))))
    return member, [p for p in people if p is not member]


def analyze_frames(frames: Iterable[PoseFrame] | Iterable[tuple[PoseFrame, np.ndarray]], header: TraceHeader,
                   config: AnalysisConfig | None = None, explain: bool = False,
                   judge: Judge | None = None) -> Analysis:
    """A whole recording: poses alone (a trace), or each with the image it came from (a video, where the
    lower back is measured too)."""
    analyzer = Analyzer.for_trace(header, config, explain, judge)
    for item in frames:
        frame, image = item if isinstance(item, tuple) else (item, None)
        analyzer.push(frame, image)
    return analyzer.finish()
