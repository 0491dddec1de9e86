"""One member's session: scored reps grouped into sets by rest, holds, and the personal end range.

A set's variant is what most of its reps look like, so one odd-looking rep does not flip the
exercise; a rep of another variant after a longer pause than the reps of a set leave between them
starts a new set (the member switched exercise with too short a rest on the mat to end the set).
Live, each rep is judged with the set's variant so far; the final analysis re-judges every rep with
its set's settled variant, so `matcoach analyze` and the screen agree once a set is over.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from edge.analysis.config import AnalysisConfig
from edge.analysis.holds import Hold
from edge.analysis.reps import Note, Rep
from edge.analysis.scoring import ScoredRep, score_rep

STRAIGHT_LEG = ("double_leg", "single_leg")


@dataclass(frozen=True, slots=True)
class SetSummary:
    """A set that just closed, as the member saw it live (each rep judged as it came)."""

    index: int
    variant: str
    rep_count: int
    mean_score: float
    end_range_deg: float | None


@dataclass(slots=True)
class _Set:
    reps: list[Rep] = field(default_factory=list)
    live_scores: list[int] = field(default_factory=list)

    @property
    def variant(self) -> str:
        # Ties go to the variant seen first.
        counts = Counter(r.variant for r in self.reps)
        return max(counts, key=lambda v: (counts[v], -[r.variant for r in self.reps].index(v)))


class Session:
    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self._sets: list[_Set] = []
        self._holds: list[Hold] = []
        self._open = False
        self._closed: list[SetSummary] = []
        self.end_range_deg: float | None = None  # live personal end range, for the screen

    @property
    def set_index(self) -> int:
        return len(self._sets)

    def _score(self, rep: Rep, variant: str) -> ScoredRep:
        return score_rep(rep, variant, self.config.faults, self.config.scoring, self.config.classifier)

    def add_rep(self, rep: Rep) -> ScoredRep:
        """Record a finished rep and judge it with its set's variant so far."""
        last = self._sets[-1].reps[-1] if self._open and self._sets else None
        cfg = self.config.session
        gap = rep.start_t - last.end_t if last is not None else None
        if gap is None or gap > cfg.rest_split_s or (
                gap > cfg.switch_split_s and rep.variant != self._sets[-1].variant):
            self._close()
            self._sets.append(_Set())
            self._open = True
        current = self._sets[-1]
        current.reps.append(rep)
        scored = self._score(rep, current.variant)
        current.live_scores.append(scored.score)
        flat_to = _flat_to(scored)
        if flat_to is not None:
            self.end_range_deg = flat_to if self.end_range_deg is None else min(self.end_range_deg, flat_to)
        return scored

    def add_hold(self, hold: Hold) -> None:
        self._holds.append(hold)

    def end_set(self) -> None:
        """The member sat up or left: the next rep starts a new set however soon it comes."""
        self._close()

    def _close(self) -> None:
        if self._open and self._sets:
            s = self._sets[-1]
            self._closed.append(SetSummary(len(self._sets), s.variant, len(s.reps),
                                           round(sum(s.live_scores) / len(s.live_scores), 1),
                                           self.end_range_deg))
        self._open = False

    def take_closed(self) -> list[SetSummary]:
        """Sets closed since the last call (by a rest long enough, or by the member getting up)."""
        closed, self._closed = self._closed, []
        return closed

    def result(self) -> Analysis:
        reps: list[ScoredRep] = []
        sets: list[dict] = []
        end_range: float | None = None
        for set_index, s in enumerate(self._sets, start=1):
            variant = s.variant
            scored = [self._score(r, variant) for r in s.reps]
            first = len(reps) + 1
            reps.extend(scored)
            flat = [v for x in scored if (v := _flat_to(x)) is not None]
            if flat:
                end_range = min([*flat, end_range] if end_range is not None else flat)
            sets.append({
                "index": set_index,
                "variant": variant,
                "start_t": scored[0].rep.start_t,
                "end_t": scored[-1].rep.end_t,
                "rep_count": len(scored),
                "rep_indices": list(range(first, len(reps) + 1)),
                "mean_score": round(sum(x.score for x in scored) / len(scored), 1),
                "end_range_deg": end_range,
            })
        return Analysis(reps=reps, sets=sets, holds=list(self._holds))


@dataclass(frozen=True, slots=True)
class Analysis:
    reps: list[ScoredRep]
    sets: list[dict]
    holds: list[Hold]
    # Why each movement of the legs was counted or not, when the analysis was asked to explain.
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict:
        """The analysis object of SPEC.md "Data contracts"."""
        return {
            "reps": [
                {
                    "index": i,
                    "start_t": s.rep.start_t,
                    "end_t": s.rep.end_t,
                    "variant": s.variant,
                    "descent_s": s.rep.descent_s,
                    "ascent_s": s.rep.ascent_s,
                    "bottom_pause_s": s.rep.bottom_pause_s,
                    "top_angle_deg": s.rep.top_angle_deg,
                    "bottom_angle_deg": s.rep.bottom_angle_deg,
                    "min_knee_angle_deg": s.rep.min_knee_angle_deg,
                    "back_lift_cm": s.rep.back_lift_cm,
                    "back_onset_deg": s.rep.back_onset_deg,
                    "faults": list(s.faults),
                    "score": s.score,
                }
                for i, s in enumerate(self.reps, start=1)
            ],
            "sets": self.sets,
            "holds": [
                {"index": i, "variant": h.variant, "start_t": h.start_t, "end_t": h.end_t,
                 "duration_s": h.duration_s, "flat_share": h.flat_share}
                for i, h in enumerate(self.holds, start=1)
            ],
        }


def _flat_to(scored: ScoredRep) -> float | None:
    """The lowest elevation a straight-leg rep reached with the back still flat (the personal end range
    is the lowest of these): its bottom, or where the back began to lift in an arched rep ("if your back
    arches at 30 degrees, then 30 degrees is your floor"). None for other variants or an unknown onset."""
    if scored.variant not in STRAIGHT_LEG:
        return None
    return scored.rep.back_onset_deg if "back_arched" in scored.faults else scored.rep.bottom_angle_deg
