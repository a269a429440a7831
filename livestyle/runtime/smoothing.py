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
        self.alpha = 1.0 if time_constant == 0 else 1.0 - math.exp(-tick_seconds / time_constant)
        self.state: StyleState | None = None

    def __call__(self, state: StyleState) -> StyleState:
        if self.state is None or self.alpha == 1.0:
            self.state = state
        else:
            a = self.alpha
            self.state = StyleState(self.state.mean + a * (state.mean - self.state.mean),
                                    self.state.matrix + a * (state.matrix - self.state.matrix))
        return self.state
