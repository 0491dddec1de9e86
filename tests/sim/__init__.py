"""Side-view leg-lift session simulator: keypoint traces (trace v1) with ground truth.

    spec = random_session_spec(seed)        # or craft / edit a SessionSpec
    result = simulate(spec)                 # .header, .frames, .truth
    result.write("s.jsonl", "s.truth.json")

    rs = render_session(seed)               # the same session as side-view BGR frames (tests/sim/render.py)
    rs.frame(i), rs.people(i), rs.lift_cm(i), rs.reps
"""

import importlib

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
    "Arch",
    "BystanderSpec",
    "CameraSpec",
    "Clothes",
    "ExtraWalker",
    "HoldTruth",
    "Look",
    "NoiseSpec",
    "PresenceTruth",
    "RenderedHold",
    "RenderedRep",
    "RenderedSession",
    "RepSpec",
    "RepTruth",
    "SessionSpec",
    "SetSpec",
    "SetTruth",
    "SimResult",
    "Truth",
    "make_rep",
    "random_session_spec",
    "render_session",
    "sample_look",
    "simulate",
]

# The renderer (and OpenCV) load on first use: most users of the simulator never draw a frame, and
# `python -m tests.sim.render` must not find its module already imported by the package.
_RENDER_EXPORTS = {
    "Arch": "tests.sim.render_arch",
    "Clothes": "tests.sim.render_look",
    "ExtraWalker": "tests.sim.render_look",
    "Look": "tests.sim.render_look",
    "RenderedHold": "tests.sim.render_arch",
    "RenderedRep": "tests.sim.render_arch",
    "RenderedSession": "tests.sim.render",
    "render_session": "tests.sim.render",
    "sample_look": "tests.sim.render_look",
}


def __getattr__(name: str) -> object:
    if name not in _RENDER_EXPORTS:
        raise AttributeError(f"module 'tests.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(_RENDER_EXPORTS[name]), name)
