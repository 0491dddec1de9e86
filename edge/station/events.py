"""The analyzer's output as wire events (`matcoach.wire`): what a station queues and sends.

Each event gets its id here, once; the outbox keeps it with the event, so every resend carries the
same id and the server stores it once. A member's session runs from the moment someone is seen on
the mat until the mat is empty again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from edge.analysis.analyzer import Analyzer, Event
from edge.analysis.holds import Hold
from edge.analysis.scoring import ScoredRep
from edge.analysis.session import SetSummary
from matcoach.wire import Event as WireEvent
from matcoach.wire import HoldEvent, MatEvent, RepEvent, SetEvent


def random_ids() -> str:
    return uuid.uuid4().hex


def replay_ids(seed: str) -> Callable[[], str]:
    """Ids that are the same every time the same recording is replayed from the start: a replay
    restarted after a crash makes the events it made before again, identical, and the server keeps
    each once."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"matcoach-replay:{seed}")
    count = 0

    def next_id() -> str:
        nonlocal count
        count += 1
        return uuid.uuid5(namespace, str(count)).hex

    return next_id


class EventMaker:
    def __init__(self, clock: Callable[[], float] = time.time, ids: Callable[[], str] = random_ids) -> None:
        self.clock = clock
        self.ids = ids
        self.session_id: str | None = None
        self._mat = "empty"
        self._set_base = 0  # sets the analyzer had seen before this member's session
        self._reps = 0

    def after_frame(self, analyzer: Analyzer, events: list[Event]) -> list[WireEvent]:
        """Wire events for one frame pushed through the analyzer, in the order they happened."""
        out: list[WireEvent] = []
        state = analyzer.mat_state
        arrived = state != "empty" and self._mat == "empty"
        if arrived:
            self._start_session(analyzer)
        for event in events:
            out.append(self._convert(analyzer, event))
        if state != self._mat:
            out.append(MatEvent(id=self.ids(), at=self.clock(), state=state,
                                session_id=self.session_id if state != "empty" else None))
            self._mat = state
        return out

    def _start_session(self, analyzer: Analyzer) -> None:
        self.session_id = self.ids()[:16]
        self._set_base = analyzer.session.set_index
        self._reps = 0

    def _session(self, analyzer: Analyzer) -> str:
        # Reps only come from someone on the mat; this covers a trace that starts mid-rep.
        if self.session_id is None:
            self._start_session(analyzer)
        assert self.session_id is not None
        return self.session_id

    def _convert(self, analyzer: Analyzer, event: Event) -> WireEvent:
        at = self.clock()
        session_id = self._session(analyzer)
        if isinstance(event, ScoredRep):
            r = event.rep
            self._reps += 1
            return RepEvent(
                id=self.ids(), at=at, session_id=session_id,
                set_index=max(1, analyzer.session.set_index - self._set_base),
                rep_index=self._reps, variant=event.variant,  # type: ignore[arg-type]
                start_t=r.start_t, end_t=r.end_t, descent_s=r.descent_s, ascent_s=r.ascent_s,
                bottom_pause_s=r.bottom_pause_s, top_angle_deg=r.top_angle_deg,
                bottom_angle_deg=r.bottom_angle_deg, min_knee_angle_deg=r.min_knee_angle_deg,
                faults=list(event.faults), score=event.score, cue=event.cue,  # type: ignore[arg-type]
                end_range_deg=analyzer.session.end_range_deg, back_lift_cm=r.back_lift_cm,
                back_onset_deg=r.back_onset_deg)
        if isinstance(event, Hold):
            return HoldEvent(id=self.ids(), at=at, session_id=session_id,
                             variant=event.variant, duration_s=event.duration_s,  # type: ignore[arg-type]
                             flat_share=event.flat_share)
        assert isinstance(event, SetSummary)
        return SetEvent(id=self.ids(), at=at, session_id=session_id,
                        set_index=max(1, event.index - self._set_base),
                        variant=event.variant, rep_count=event.rep_count,  # type: ignore[arg-type]
                        mean_score=event.mean_score, end_range_deg=event.end_range_deg)
