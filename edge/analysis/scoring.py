"""Judging a measured rep: which faults it has, its 0–100 score, and the one cue that matters most.

Score (documented for members and staff):
    score = 100 − Σ points of each fault present − tempo shortfall
Each fault costs the points in `ScoringConfig` (back_arched 45, fast_descent 30, momentum 20,
knees_bent 15, short_top 15). The tempo shortfall rewards the guide's four-count descent in the
straight-leg variants: a descent between the fast-descent limit (3 s) and the 4 s target costs up to
10 points, linearly (3.5 s costs 5). The score is clamped to 0–100 and rounded. Depth never costs
points: a rep that stops at the member's personal end range is a full rep.

Which faults apply depends on the variant (`VARIANT_RULES`): heel taps are short bent-knee moves, so
tempo, knee bend and top height are not judged there; hanging raises are judged on swinging and on
height only (the lower back is off any mat, and knee raises are the leg raise's regression).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from edge.analysis.config import ClassifierConfig, FaultRules, ScoringConfig
from edge.analysis.reps import Rep
from edge.analysis.verdict import combine

FAULTS = ("back_arched", "fast_descent", "momentum", "knees_bent", "short_top")
_TEMPO_POINTS = 10.0

CUES = {
    "back_arched": "Press your lower back into the mat: squish the grape",
    "fast_descent": "Slower on the way down: count to four",
    "momentum": "No swinging: lift with your abs, not momentum",
    "knees_bent": "Straighten your legs a little more",
    "short_top": "Bring your legs all the way up to vertical",
}
PRAISE = "Great control, keep it up"


@dataclass(frozen=True, slots=True)
class ScoredRep:
    rep: Rep
    variant: str
    faults: tuple[str, ...]
    score: int
    cue: str


def _momentum(rep: Rep, rules: FaultRules) -> bool:
    bounce = min(rep.bottom_in_speed_dps, rep.bottom_out_speed_dps) >= rules.rebound_speed_dps
    return (bounce or rep.peak_return_speed_dps > rules.momentum_return_speed_dps
            or rep.overshoot_deg >= rules.overshoot_deg)


def _momentum_reasons(rep: Rep, rules: FaultRules) -> str:
    return (f"momentum: bottom in/out {rep.bottom_in_speed_dps:.0f}/{rep.bottom_out_speed_dps:.0f}°/s "
            f"(a bounce: both ≥ {rules.rebound_speed_dps:.0f}), "
            f"peak return {rep.peak_return_speed_dps:.0f}°/s "
            f"(over {rules.momentum_return_speed_dps:.0f}), swing past the top {rep.overshoot_deg:.0f}° "
            f"(≥ {rules.overshoot_deg:.0f})")


class VariantRules(Protocol):
    """The faults a variant can have, from a rep's measurements."""

    # Cues worded for this variant, where the general one would be wrong (no mat under a hanging back).
    cues: ClassVar[dict[str, str]]
    # The faults judged for this variant.
    judged: ClassVar[tuple[str, ...]]

    def faults(self, rep: Rep, rules: FaultRules) -> set[str]: ...

    def tempo_shortfall(self, rep: Rep, rules: FaultRules) -> float: ...

    def reasons(self, rep: Rep, rules: FaultRules) -> list[str]:
        """What each fault judged for this variant was decided on: the measurement and the rule."""
        ...


class StraightLegRules:
    """double_leg and single_leg: slow lowering, straight knees, legs up to vertical, no swing."""

    cues: ClassVar[dict[str, str]] = {}
    judged = FAULTS

    def faults(self, rep: Rep, rules: FaultRules) -> set[str]:
        found = set()
        if rep.descent_s < rules.fast_descent_s:
            found.add("fast_descent")
        if _momentum(rep, rules):
            found.add("momentum")
        if rep.min_knee_angle_deg < rules.knees_bent_deg:
            found.add("knees_bent")
        if rep.top_angle_deg < rules.short_top_deg:
            found.add("short_top")
        if rep.back_lift_cm is not None and rep.back_lift_cm >= rules.back_arched_cm:
            found.add("back_arched")
        return found

    def reasons(self, rep: Rep, rules: FaultRules) -> list[str]:
        back = ("back_arched: lower back not seen" if rep.back_lift_cm is None else
                f"back_arched: lower back lifted {rep.back_lift_cm:.1f} cm "
                f"(rule ≥ {rules.back_arched_cm} cm)")
        return [
            f"fast_descent: lowered in {rep.descent_s:.1f} s (rule < {rules.fast_descent_s} s)",
            _momentum_reasons(rep, rules),
            f"knees_bent: smallest knee {rep.min_knee_angle_deg:.0f}°, held a moment (rule < "
            f"{rules.knees_bent_deg:.0f}°)",
            f"short_top: top {rep.top_angle_deg:.0f}° (rule < {rules.short_top_deg:.0f}°)",
            back,
        ]

    def tempo_shortfall(self, rep: Rep, rules: FaultRules) -> float:
        span = rules.target_descent_s - rules.fast_descent_s
        if span <= 0 or rep.descent_s < rules.fast_descent_s:
            return 0.0
        return _TEMPO_POINTS * min(1.0, max(0.0, (rules.target_descent_s - rep.descent_s) / span))


class HeelTapRules:
    """heel_tap: knees stay bent by design and taps are quick; only swinging is judged."""

    cues: ClassVar[dict[str, str]] = {}
    judged = ("momentum",)

    def faults(self, rep: Rep, rules: FaultRules) -> set[str]:
        return {"momentum"} if _momentum(rep, rules) else set()

    def tempo_shortfall(self, rep: Rep, rules: FaultRules) -> float:
        return 0.0

    def reasons(self, rep: Rep, rules: FaultRules) -> list[str]:
        return [_momentum_reasons(rep, rules), "knees bent, tempo and top height are not judged in heel taps"]


class HangingRules:
    """hanging: no swinging of the legs or of the whole body under the bar, and legs up to hip height
    or higher (the guide: "most people just swing their legs up using momentum from their lats")."""

    cues: ClassVar[dict[str, str]] = {
        "momentum": "Don't swing: curl your pelvis up to your ribs",
        "short_top": "Bring your legs up to hip height",
    }
    judged = ("momentum", "short_top")

    def faults(self, rep: Rep, rules: FaultRules) -> set[str]:
        found = set()
        if rep.swing_deg >= rules.hanging_swing_deg or _momentum(rep, rules):
            found.add("momentum")
        if rep.top_angle_deg < rules.short_top_deg:
            found.add("short_top")
        return found

    def tempo_shortfall(self, rep: Rep, rules: FaultRules) -> float:
        return 0.0

    def reasons(self, rep: Rep, rules: FaultRules) -> list[str]:
        return [f"{_momentum_reasons(rep, rules)}, the body swung {rep.swing_deg:.0f}° under the bar "
                f"(≥ {rules.hanging_swing_deg:.0f})",
                f"short_top: top {rep.top_angle_deg:.0f}° from the hanging vertical (rule < "
                f"{rules.short_top_deg:.0f}°)",
                "lower back, knee bend and tempo are not judged hanging from a bar"]


VARIANT_RULES: dict[str, VariantRules] = {
    "double_leg": StraightLegRules(),
    "single_leg": StraightLegRules(),
    "heel_tap": HeelTapRules(),
    "hanging": HangingRules(),
}


def score_rep(rep: Rep, variant: str, rules: FaultRules, points: ScoringConfig,
              classifier: ClassifierConfig | None = None) -> ScoredRep:
    """Faults, score and cue of a rep judged as `variant` (the set's variant, see edge.analysis.session),
    with the rep classifier's fault probabilities combined as `classifier` says when it judged the rep."""
    judge = VARIANT_RULES[variant]
    found = judge.faults(rep, rules)
    if classifier is not None:
        found = combine(found, rep, judge.judged, classifier)
    faults = tuple(f for f in FAULTS if f in found)
    lost = sum(getattr(points, f) for f in faults) + judge.tempo_shortfall(rep, rules)
    score = round(min(100.0, max(0.0, 100.0 - lost)))
    if faults:
        worst = max(faults, key=lambda f: getattr(points, f))
        cue = judge.cues.get(worst, CUES[worst])
    else:
        cue = PRAISE
    return ScoredRep(rep=rep, variant=variant, faults=faults, score=score, cue=cue)
