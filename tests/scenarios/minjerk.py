"""Minimum-jerk submovements, and channels built as sums of them.

Every driven joint angle (and the pelvis position) of a scenario is a `Channel`: an initial value plus a
sum of minimum-jerk submovements, each a displacement Δ over [t0, t0 + T] with the profile

    s(τ) = 10τ³ − 15τ⁴ + 6τ⁵,   τ = (t − t0) / T ∈ [0, 1]

(Flash & Hogan 1985). Submovements that follow one another are point-to-point moves between postures;
submovements that overlap blend into one motion that never stops (Flash & Henis 1991): that is how a
bounce out of the bottom, or an oscillation past the top, is made here without any other profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Wave = Callable[[np.ndarray], np.ndarray]


def profile(tau: np.ndarray | float) -> np.ndarray:
    """Share of a minimum-jerk move covered at normalised time τ (clipped to [0, 1])."""
    x = np.clip(np.asarray(tau, dtype=float), 0.0, 1.0)
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x))


def profile_speed(tau: np.ndarray | float) -> np.ndarray:
    """d profile / dτ; the peak, 1.875 at τ = 0.5, makes a move of Δ over T peak at 1.875 Δ / T."""
    x = np.clip(np.asarray(tau, dtype=float), 0.0, 1.0)
    return 30.0 * x * x * (1.0 - x) ** 2


PEAK_SPEED_FACTOR = 1.875


def inverse_profile(share: np.ndarray | float) -> np.ndarray:
    """τ at which a minimum-jerk move has covered `share` of its amplitude."""
    grid = np.linspace(0.0, 1.0, 4001)
    return np.interp(np.asarray(share, dtype=float), profile(grid), grid)


def duration_for_peak_speed(amplitude: float, peak_speed: float) -> float:
    """T of a single move of `amplitude` whose speed peaks at `peak_speed` (same units per second)."""
    return PEAK_SPEED_FACTOR * abs(amplitude) / peak_speed


@dataclass(frozen=True, slots=True)
class Submove:
    t0: float
    duration: float
    delta: float


@dataclass(slots=True)
class Channel:
    """One driven coordinate over the whole session.

    `target` is the value once every submovement added so far has completed: a new move to a posture
    adds the displacement from there, so moves may overlap and still end exactly on their target.
    Waves are additive non-minimum-jerk components (a walking gait) active on a window.
    """

    initial: float
    moves: list[Submove] = field(default_factory=list)
    waves: list[tuple[float, float, Wave]] = field(default_factory=list)
    target: float = float("nan")

    def __post_init__(self) -> None:
        self.target = self.initial

    def move_to(self, value: float, t0: float, duration: float) -> None:
        self.add(value - self.target, t0, duration)

    def add(self, delta: float, t0: float, duration: float) -> None:
        if delta != 0.0:
            self.moves.append(Submove(t0, max(duration, 1e-6), delta))
            self.target += delta

    def set_now(self, value: float, t: float) -> None:
        """A jump, for a coordinate that has no visible effect at that moment (e.g. a leg's free thigh
        angle while the foot-on-floor constraint fully decides it)."""
        self.add(value - self.target, t, 1e-6)

    def add_wave(self, t0: float, t1: float, fn: Wave) -> None:
        self.waves.append((t0, t1, fn))

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Values at sorted times t."""
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, self.initial)
        steps = np.zeros(t.size + 1)
        for m in self.moves:
            i0 = int(np.searchsorted(t, m.t0, side="left"))
            i1 = int(np.searchsorted(t, m.t0 + m.duration, side="left"))
            if i1 > i0:
                out[i0:i1] += m.delta * profile((t[i0:i1] - m.t0) / m.duration)
            steps[i1] += m.delta
        out += np.cumsum(steps)[:-1]
        for t0, t1, fn in self.waves:
            i0 = int(np.searchsorted(t, t0, side="left"))
            i1 = int(np.searchsorted(t, t1, side="right"))
            if i1 > i0:
                out[i0:i1] += fn(t[i0:i1])
        return out

    def value_at(self, t: float) -> float:
        return float(self(np.array([t]))[0])


def smooth_noise(rng: np.random.Generator, band_hz: tuple[float, float], n: int = 5) -> Wave:
    """Zero-mean noise of unit RMS made of n sinusoids with random frequencies in the band."""
    freqs = rng.uniform(*band_hz, size=n)
    phases = rng.uniform(0, 2 * np.pi, size=n)
    amps = rng.uniform(0.5, 1.0, size=n)
    amps *= np.sqrt(2.0 / np.sum(amps**2))

    def fn(t: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * np.multiply.outer(t, freqs) + phases) @ amps

    return fn
