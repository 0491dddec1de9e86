"""The analysis pipeline, one frame at a time: people → the person on the mat → joint angles →
reps and holds → the member's session. The same object serves `matcoach analyze` (a whole trace or
video) and, frame by frame, the live station.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.config import AnalysisConfig
from edge.holds import Hold, HoldDetector
from edge.kinematics import Kinematics
from edge.people import PoseFrame
from edge.reps import RepSegmenter
from edge.scoring import ScoredRep
from edge.session import Analysis, Session, SetSummary
from edge.trace import TraceHeader
from edge.tracking import MatTracker

Event = ScoredRep | Hold | SetSummary


class Analyzer:
    def __init__(self, config: AnalysisConfig | None = None,
                 floor_line: tuple[tuple[float, float], tuple[float, float]] | None = None,
                 mat_region: tuple[float, float, float, float] | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.tracker = MatTracker(self.config.tracking, mat_region=mat_region)
        self.kinematics = Kinematics(self.config.kinematics, floor_line)
        self.segmenter = RepSegmenter(self.config.reps)
        self.holds = HoldDetector(self.config.session)
        self.session = Session(self.config)
        self.mat_state = "empty"  # who is on the mat, as of the last frame

    @classmethod
    def for_trace(cls, header: TraceHeader, config: AnalysisConfig | None = None) -> Analyzer:
        return cls(config, floor_line=header.floor_line, mat_region=header.mat_region)

    def push(self, frame: PoseFrame) -> list[Event]:
        """Feed one frame; returns the reps, holds and sets that finished in it."""
        mat = self.tracker.update(frame)
        self.mat_state = mat.state
        angles = self.kinematics.update(mat)
        events: list[Event] = [self.session.add_rep(rep) for rep in self.segmenter.push(angles)]
        hold = self.holds.push(angles)
        if hold is not None:
            self.session.add_hold(hold)
            events.append(hold)
        if "got_up" in mat.events or "left" in mat.events:
            self.session.end_set()
        events.extend(self.session.take_closed())
        return events

    def drain(self) -> list[Event]:
        """End of input, or the member left: the reps and hold still in progress, and the set they close."""
        events: list[Event] = [self.session.add_rep(rep) for rep in self.segmenter.flush()]
        hold = self.holds.flush()
        if hold is not None:
            self.session.add_hold(hold)
            events.append(hold)
        self.session.end_set()
        events.extend(self.session.take_closed())
        return events

    def finish(self) -> Analysis:
        """End of input: report what was still in progress and return the whole session."""
        self.drain()
        return self.session.result()


def analyze_frames(frames: Iterable[PoseFrame], header: TraceHeader,
                   config: AnalysisConfig | None = None) -> Analysis:
    analyzer = Analyzer.for_trace(header, config)
    for frame in frames:
        analyzer.push(frame)
    return analyzer.finish()
