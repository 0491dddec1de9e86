"""A second, independent leg-lift scenario generator: keypoint traces (trace v1) with ground truth.

tests/sim and the analysis were written with the same assumptions, so grading the analysis on tests/sim
alone grades it on its own assumptions. This generator shares none of its motion, body, camera or
error code: postures of a planar body joined by minimum-jerk moves (minjerk.py, body.py,
choreography.py), a pinhole camera set up imperfectly (camera.py), and a pose model whose errors are
structured like a real one's on lying bodies (pose_errors.py). The behaviours drawn per session are
listed in plan.py; the ground truth's event rule is in measure.py. Only the truth's dataclasses are
shared with tests/sim, so tests/accuracy.py grades both the same way.

    plan = random_plan(seed)                 # or craft / edit a SessionPlan
    scenario = build(plan)                   # .header, .frames, .truth, .plan
    scenario = generate(seed)                # the two at once
    scenario.write("s.jsonl", "s.truth.json")

    python -m tests.scenarios --seed 7 -o s.jsonl --truth s.truth.json
"""

from tests.scenarios.plan import (
    FAULTS,
    FAULTS_BY_VARIANT,
    VARIANTS,
    RepPlan,
    RestPlan,
    SessionPlan,
    SetPlan,
    random_plan,
)
from tests.scenarios.pose_errors import PERFECT, ErrorModel
from tests.scenarios.session import Scenario, build, generate

__all__ = [
    "FAULTS",
    "FAULTS_BY_VARIANT",
    "PERFECT",
    "VARIANTS",
    "ErrorModel",
    "RepPlan",
    "RestPlan",
    "Scenario",
    "SessionPlan",
    "SetPlan",
    "build",
    "generate",
    "random_plan",
]
