"""Side-view leg-lift session simulator: keypoint traces (trace v1) with ground truth.

    spec = random_session_spec(seed)        # or craft / edit a SessionSpec
    result = simulate(spec)                 # .header, .frames, .truth
    result.write("s.jsonl", "s.truth.json")
"""

from tests.sim.simulate import SimResult, simulate
from tests.sim.spec import (
    FAULTS,
    FAULTS_BY_VARIANT,
    REP_VARIANTS,
    BystanderSpec,
    CameraSpec,
    NoiseSpec,
    RepSpec,
    SessionSpec,
    SetSpec,
    make_rep,
    random_session_spec,
)
from tests.sim.truth import HoldTruth, PresenceTruth, RepTruth, SetTruth, Truth

__all__ = [
    "FAULTS",
    "FAULTS_BY_VARIANT",
    "REP_VARIANTS",
    "BystanderSpec",
    "CameraSpec",
    "HoldTruth",
    "NoiseSpec",
    "PresenceTruth",
    "RepSpec",
    "RepTruth",
    "SessionSpec",
    "SetSpec",
    "SetTruth",
    "SimResult",
    "Truth",
    "make_rep",
    "random_session_spec",
    "simulate",
]
