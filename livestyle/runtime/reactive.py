"""Reactive mapping: the music's loudness and attacks, which MVNet cannot see, onto the picture.

MVNet's log-mel input turns gain into an offset that its InstanceNorm removes, so without this a
whisper and a climax look alike. Per style tick:

  level    RMS level in dBFS over the last `level_seconds` (audio/dynamics.py), against a fixed
           reference, so a quiet recording looks calmer than a loud one (no running
           normalisation; `live` has an input gain for the room instead)
  drive    u = (level - floor_dbfs) / (reference_dbfs - floor_dbfs), clipped to [0, 1], plus
           `onset_boost` x (onset strength / onset_scale) clipped, so attacks flash; smoothed by
           an exponential moving average with time constant `smoothing` seconds
  picture  strength   = strength_quiet + u (strength_loud - strength_quiet)      content graph
           brightness = brightness_quiet + u (brightness_loud - brightness_quiet) style image, %
           contrast   = contrast_quiet + u (contrast_loud - contrast_quiet)       style image, %

Strength has one definition for every control source: 0 = the raw frame, 1 = full style. The
rule for combining sources: each one multiplies (reactive strength x the performer's strength
key/OSC value, both in [0, 1]); bypass is strength 0 whatever the others say. Brightness and
contrast follow PIL's conventions (image_adjust.py, the Vis2Mus spec §3.4), applied to MVNet's
style image before the style branch, so they change the look's palette, not the frame's
exposure. With a bank of the user's styles (--styles) the bank's states are fixed, so only
strength reacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pathlib import Path

from livestyle.audio.dynamics import Dynamics
from livestyle.config import load_config
from livestyle.errors import UserError


@dataclass
class ReactiveConfig:
    """The `reactive:` section of configs/livestyle.yaml. Defaults chosen on bench/fidelity.py's
    tuning set (bench/RESULTS.md): the reference is near the loud end of its pieces' levels and
    the floor 36 dB below it, so the 30 dB range of a fade spans most of the mapping; a 1 s level
    window, 0.5 s smoothing and a 0.15 onset boost keep steady music as calm as without the
    mapping (F 0.025 against the target 0.026; 0.5 s and 0.25 gave 0.040)."""
    enabled: bool = True
    reference_dbfs: float = -12.0    # at or above: the loud end of the mapping
    floor_dbfs: float = -48.0        # at or below: the quiet end
    level_seconds: float = 1.0       # audio the level is measured over, before the tick's moment
    onset_boost: float = 0.15        # added to u by a strong attack
    onset_scale: float = 4.0         # onset strength (dB per frame) that counts as strong
    smoothing: float = 0.5           # EMA time constant of u, seconds (0: off)
    strength_quiet: float = 0.45
    strength_loud: float = 1.0
    brightness_quiet: float = -45.0  # PIL brightness, percent (-100..100)
    brightness_loud: float = 10.0
    contrast_quiet: float = -50.0    # PIL contrast, percent (-100..100)
    contrast_loud: float = 20.0

    def check(self, where: str = "reactive") -> None:
        """One-line errors for values that cannot work (the CLI shows them as they are)."""
        if not isinstance(self.enabled, bool):
            raise UserError(f"{where}: enabled must be true or false, not {self.enabled!r}")
        for name, value in vars(self).items():
            if name != "enabled" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise UserError(f"{where}: {name} must be a number, not {value!r}")
        if not self.reference_dbfs > self.floor_dbfs:
            raise UserError(f"{where}: reference_dbfs ({self.reference_dbfs}) must be above floor_dbfs "
                             f"({self.floor_dbfs})")
        if self.level_seconds <= 0 or self.onset_scale <= 0 or self.smoothing < 0:
            raise UserError(f"{where}: level_seconds and onset_scale must be > 0 and smoothing >= 0")
        for name in ("strength_quiet", "strength_loud"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{where}: {name} must be in [0, 1] (0 = the raw frame, 1 = full style)")
        for name in ("brightness_quiet", "brightness_loud", "contrast_quiet", "contrast_loud"):
            if not -100.0 <= getattr(self, name) <= 100.0:
                raise UserError(f"{where}: {name} must be a percentage in [-100, 100]")


@dataclass(frozen=True)
class Look:
    """What the reactive mapping sets for one tick."""
    strength: float = 1.0
    brightness: float = 0.0   # PIL percent
    contrast: float = 0.0     # PIL percent

    def scaled(self, amount: float) -> "Look":
        """`amount` of this look's departure from neutral (the performer's `reactive` control:
        0 = no effect, 1 = the mapping as configured)."""
        if amount == 1.0:
            return self
        return Look(1.0 + amount * (self.strength - 1.0), amount * self.brightness, amount * self.contrast)


NEUTRAL = Look()


class Reactive:
    """Dynamics -> Look, with the drive smoothed over time. One per ticker (it has state)."""

    def __init__(self, cfg: ReactiveConfig, tick_seconds: float, where: str = "reactive"):
        cfg.check(where)
        self.cfg = cfg
        self.tick_seconds = tick_seconds
        self.drive: float | None = None

    def target(self, d: Dynamics) -> float:
        """The unsmoothed drive u in [0, 1] for one tick's dynamics."""
        c = self.cfg
        u = (d.level_dbfs - c.floor_dbfs) / (c.reference_dbfs - c.floor_dbfs)
        u += c.onset_boost * min(1.0, d.onset_strength / c.onset_scale)
        return min(1.0, max(0.0, u))

    def __call__(self, d: Dynamics, seconds: float | None = None) -> Look:
        if not self.cfg.enabled:
            return NEUTRAL
        u = self.target(d)
        dt = self.tick_seconds if seconds is None else seconds
        if self.drive is None or self.cfg.smoothing == 0:
            self.drive = u
        else:
            self.drive += (1.0 - math.exp(-dt / self.cfg.smoothing)) * (u - self.drive)
        return self.look(self.drive)

    def look(self, u: float) -> Look:
        c = self.cfg
        lerp = lambda quiet, loud: quiet + u * (loud - quiet)  # noqa: E731
        return Look(lerp(c.strength_quiet, c.strength_loud), lerp(c.brightness_quiet, c.brightness_loud),
                    lerp(c.contrast_quiet, c.contrast_loud))


def load_reactive_config(path: Path | None, off: bool = False) -> ReactiveConfig:
    """The `reactive:` section of a config (shared by render and live), checked before any work;
    `off`: --no-reactive."""
    cfg = load_config(ReactiveConfig, path, section="reactive")
    cfg.check(f"{path}:reactive" if path else "reactive")
    if off:
        cfg.enabled = False
    return cfg
