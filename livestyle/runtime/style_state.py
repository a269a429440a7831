"""The style state and the arithmetic the runtime does on it: smoothing over time, interpolation
between ticks, and blends of several styles.

The content branch is affine in the state (out features = unzip(s_matrix T_c comp) + s_mean), so a
weighted average of states is the same weighted average of the transformed features the decoder
sees: averaging styles blends their looks without ghosting any frame content. That one fact makes
smoothing (an exponential moving average), interpolation between ticks and a bank of the user's
styles all plain weighted sums of (s_mean, s_matrix).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class StyleState:
    """What the content branch needs from a style: per-channel mean, the 32x32 style matrix and
    the strength to apply it with (0 = the raw frame, 1 = full style; the reactive mapping sets
    it per tick, so it is smoothed and interpolated with the rest). Plain arrays, so they can be
    cached, smoothed and blended."""
    mean: np.ndarray    # (1, C) float32
    matrix: np.ndarray  # (1, 32, 32) float32
    strength: float = 1.0

    def lerp(self, other: "StyleState", weight: float) -> "StyleState":
        """(1 - weight) * self + weight * other."""
        w = np.float32(weight)
        return StyleState(self.mean + w * (other.mean - self.mean), self.matrix + w * (other.matrix - self.matrix),
                          float(self.strength + weight * (other.strength - self.strength)))

    @staticmethod
    def blend(states: Sequence["StyleState"], weights: Sequence[float]) -> "StyleState":
        """Weighted average (weights are normalised to sum to 1)."""
        w = np.asarray(weights, np.float64)
        if len(states) != len(w) or not len(states) or w.sum() <= 0 or (w < 0).any():
            raise ValueError("blend needs as many non-negative weights as states, not all zero")
        w = (w / w.sum()).astype(np.float32)
        return StyleState(sum(wi * s.mean for wi, s in zip(w, states)).astype(np.float32),
                          sum(wi * s.matrix for wi, s in zip(w, states)).astype(np.float32),
                          float(sum(float(wi) * s.strength for wi, s in zip(w, states))))


class StyleSmoother:
    """Exponential moving average of the state with time constant `time_constant` seconds, so
    colours do not flicker from one tick to the next; 0 disables it."""

    def __init__(self, time_constant: float, tick_seconds: float):
        if time_constant < 0:
            raise ValueError("smoothing time constant must be >= 0")
        self.time_constant = time_constant
        self.tick_seconds = tick_seconds
        self.alpha = self._alpha(tick_seconds)
        self.state: StyleState | None = None

    def set_time_constant(self, seconds: float) -> None:
        """A new time constant from the next call on (the performer's `smoothing` control)."""
        if seconds != self.time_constant:
            if seconds < 0:
                raise ValueError("smoothing time constant must be >= 0")
            self.time_constant = seconds
            self.alpha = self._alpha(self.tick_seconds)

    def _alpha(self, seconds: float) -> float:
        return 1.0 if self.time_constant == 0 else 1.0 - math.exp(-seconds / self.time_constant)

    def __call__(self, state: StyleState, seconds: float | None = None) -> StyleState:
        """Blend in `state`; `seconds` since the previous call if ticks are irregular (live: a
        slow device skips ticks), else the tick length given at construction."""
        a = self.alpha if seconds is None else self._alpha(seconds)
        if self.state is None or a == 1.0:
            self.state = state
        else:
            self.state = self.state.lerp(state, a)
        return self.state


class StyleTrack:
    """The style state as a function of time, from ticks at any rate: linear between the two
    ticks around t, the first held before it and the last after it. Keeps `keep` ticks."""

    def __init__(self, keep: int = 64):
        self.times: list[float] = []
        self.states: list[StyleState] = []
        self.keep = keep

    def add(self, t: float, state: StyleState) -> None:
        if self.times and t <= self.times[-1]:
            raise ValueError(f"ticks must come in time order ({t} after {self.times[-1]})")
        self.times.append(t)
        self.states.append(state)
        if len(self.times) > self.keep:
            del self.times[0], self.states[0]

    @property
    def last_time(self) -> float | None:
        return self.times[-1] if self.times else None

    def at(self, t: float) -> StyleState:
        if not self.times:
            raise LookupError("no style tick yet")
        i = bisect.bisect_right(self.times, t)
        if i == 0:
            return self.states[0]
        if i == len(self.times):
            return self.states[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        weight = (t - t0) / (t1 - t0)
        if weight < 1e-6:  # a frame on a tick (render at the tick rate): the tick's own state, so
            return self.states[i - 1]  # the runner binds it once per tick, not once per frame
        if weight > 1 - 1e-6:
            return self.states[i]
        return self.states[i - 1].lerp(self.states[i], weight)


class StyleGlide:
    """Live's counterpart of StyleTrack: the future is unknown, so each new tick's state is reached
    by gliding from the state on screen when it arrived, over the time the previous tick took
    (at least `min_seconds`). Frames between ticks then change a little each instead of all at
    once per tick, which lets a CPU tick at a few Hz without visible steps."""

    def __init__(self, min_seconds: float):
        self.min_seconds = min_seconds
        self._from: StyleState | None = None
        self._to: StyleState | None = None
        self._t = 0.0
        self._span = min_seconds

    def at(self, stamped: tuple[float, StyleState], now: float) -> StyleState:
        """The state to paint at `now`, given the newest (tick time, state)."""
        t, state = stamped
        if state is not self._to:
            if self._to is None:
                self._from = state
            else:
                self._from = self._current(now)
                self._span = max(self.min_seconds, min(1.0, t - self._t))
            self._to, self._t = state, t
        return self._current(now)

    def _current(self, now: float) -> StyleState:
        weight = (now - self._t) / self._span
        if weight >= 1.0 or self._from is self._to:
            return self._to
        return self._from.lerp(self._to, max(0.0, weight))
