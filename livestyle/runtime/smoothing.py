"""Temporal smoothing of the style state so colours do not flicker from one style tick to the next.

An exponential moving average with time constant tau seconds, applied to (s_mean, s_matrix). The
content branch is affine in both (out features = unzip(s_matrix T_c comp) + s_mean), so averaging
the state averages the transformed features the decoder sees: no ghosting of frame content, only
of style. tau = 0 disables it.
"""

from __future__ import annotations

import math

from livestyle.runtime.stylizer import StyleState


class StyleSmoother:
    def __init__(self, time_constant: float, tick_seconds: float):
        if time_constant < 0:
            raise ValueError("smoothing time constant must be >= 0")
        self.time_constant = time_constant
        self.alpha = self._alpha(tick_seconds)
        self.state: StyleState | None = None

    def _alpha(self, seconds: float) -> float:
        return 1.0 if self.time_constant == 0 else 1.0 - math.exp(-seconds / self.time_constant)

    def __call__(self, state: StyleState, seconds: float | None = None) -> StyleState:
        """Blend in `state`; `seconds` since the previous call if ticks are irregular (live: a
        slow device skips ticks), else the tick length given at construction."""
        a = self.alpha if seconds is None else self._alpha(seconds)
        if self.state is None or a == 1.0:
            self.state = state
        else:
            self.state = StyleState(self.state.mean + a * (state.mean - self.state.mean),
                                    self.state.matrix + a * (state.matrix - self.state.matrix))
        return self.state
