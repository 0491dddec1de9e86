"""The rules propose, the rep classifier decides: how a candidate rep of the segmenter and the
classifier's verdict on its movement make a rep (docs/analysis.md, "Rules and classifier").

- Rep or not: a candidate the classifier gives at least `not_a_rep_min` of being no rep is none; it never
  reaches the screen or the server (with `--explain`, the analysis says so).
- Where the member's legs went unseen in more than `unseen_max` of a movement's span (a dark picture, a
  covered lens, legs out of the picture, a detector losing them), the rules' reading stands whole: the
  classifier learnt from movements seen through, with short dropouts only, and a rep held up through a
  second of darkness reads to it as a stretch. A rep the member did is never dropped for what the
  camera missed, if the pose model was sure of the legs it saw (`seen_conf_min`): guesses at legs it
  keeps losing are left to the classifier.
- Which reading of a set holds (reps done from the top or from the floor): the rules read it from the
  set's bottoms; where the classifier (at even odds, `takes`) makes no rep of some candidates of that
  reading, takes every candidate of the other and so counts more reps by it, the other holds (a top
  set lowered onto the mat with pauses reads like one done from the floor, and its floor-reading
  candidates each span halves of two reps). Later in the set, a candidate the classifier makes no rep
  of, where it takes the other reading's candidates overlapping it, turns the reading from there on.
- Variant: the classifier's most likely variant among those the posture allows (hanging from a bar:
  `hanging`; lying: `double_leg`, `single_leg` or `heel_tap`). Where it differs from the rules' reading
  the station logs one line, at most one a minute.
- Faults: the rules measure tempo, depth, knees and the back; per fault, `fault_modes` says whether
  the rules decide, the classifier does, or the rules do unless the classifier is confident
  (`combine`, applied when a rep is scored).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from edge.analysis.classifier import RepClassifier, Verdict
from edge.analysis.config import ClassifierConfig
from edge.analysis.movement import Movement
from edge.analysis.reps import Note, Rep

LYING_VARIANTS = ("double_leg", "single_leg", "heel_tap")
_LOG_EVERY_S = 60.0
_EVEN_ODDS = 0.5  # which reading of a set holds: the one the classifier believes more

log = logging.getLogger("matcoach.analysis")


class ClassifiedJudge:
    def __init__(self, classifier: RepClassifier, config: ClassifierConfig | None = None,
                 notes: list[Note] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.classifier = classifier
        self.config = config or ClassifierConfig()
        self.notes = notes  # the analysis's explanation, when it was asked for one
        self._clock = clock
        self._logged_at = -float("inf")
        self._unlogged = 0
        self.disagreements = 0

    def takes(self, movement: Movement) -> bool:
        """Whether the classifier holds a candidate on this movement more likely a rep than not (quietly:
        no note, no log). Which reading of a set holds is weighed so: the one the classifier believes
        more, where dropping a rep the rules found asks it to be sure (`not_a_rep_min`)."""
        return self._kept(movement, self.classifier.judge(movement), _EVEN_ODDS)

    def _kept(self, movement: Movement, verdict: Verdict, not_a_rep_min: float) -> bool:
        return self._rules_stand(movement) or verdict.probs["not_a_rep"] < not_a_rep_min

    def _rules_stand(self, movement: Movement) -> bool:
        return (movement.unseen_share > self.config.unseen_max
                and movement.leg_conf >= self.config.seen_conf_min)

    def judge(self, rep: Rep, movement: Movement) -> Rep | None:
        verdict = self.classifier.judge(movement)
        p_none = verdict.probs["not_a_rep"]
        if not self._kept(movement, verdict, self.config.not_a_rep_min):
            self._note(rep, False, f"the rules' {rep.variant} rep, but the rep classifier makes it no rep "
                                   f"(p = {p_none:.2f})")
            return None
        if self._rules_stand(movement):
            label = verdict.label
            p = verdict.probs[label]
            self._note(rep, True, f"the legs went unseen in {movement.unseen_share:.0%} of it: the rules' "
                                  f"reading stands (the rep classifier: {label}, p = {p:.2f})")
            return rep
        allowed = ("hanging",) if rep.variant == "hanging" else LYING_VARIANTS
        variant = max(allowed, key=verdict.probs.__getitem__)
        if variant != rep.variant:
            self._disagree(rep, variant, verdict.probs[variant])
        faults = ", ".join(f"{f} {p:.2f}" for f, p in verdict.faults.items())
        self._note(rep, True, f"the rep classifier: {variant} (p = {verdict.probs[variant]:.2f}), no rep "
                              f"p = {p_none:.2f}; faults {faults}")
        return dataclasses.replace(rep, variant=variant, fault_probs=tuple(verdict.faults.items()))

    def _note(self, rep: Rep, counted: bool, why: str) -> None:
        if self.notes is not None:
            self.notes.append(Note(rep.start_t, rep.end_t, counted, why))

    def _disagree(self, rep: Rep, variant: str, p: float) -> None:
        self.disagreements += 1
        now = self._clock()
        if now - self._logged_at < _LOG_EVERY_S:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last line)" if self._unlogged else ""
        log.info("rep at %.1f-%.1f s: the rules read %s, the rep classifier %s (p = %.2f); taking %s%s",
                 rep.start_t, rep.end_t, rep.variant, variant, p, variant, more)
        self._logged_at, self._unlogged = now, 0


def combine(found: set[str], rep: Rep, judged: tuple[str, ...], config: ClassifierConfig) -> set[str]:
    """The rules' faults of a rep, with each judged fault the classifier scored decided as `fault_modes`
    says."""
    if not rep.fault_probs:
        return found
    out = set(found)
    for fault, p in rep.fault_probs:
        mode = config.fault_modes.get(fault, "rules")
        if fault not in judged or mode == "rules":
            continue
        if mode == "classifier" or p <= config.confident or p >= 1 - config.confident:
            out.discard(fault)
            if p >= 0.5:
                out.add(fault)
    return out
