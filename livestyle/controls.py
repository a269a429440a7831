"""What a performer or a controller changes during a set, and the one path every change takes.

`Controls` is the state: plain attributes, read by the style ticker at every tick and by `live`'s
stylize worker at every frame. A single attribute write is atomic under the GIL, so readers need
no lock. `Dispatcher` is the only writer: the window's keys, OSC messages and MIDI messages all
become `dispatch(action, *values)` calls, so the three sources behave identically, a bad action or
value is logged once and ignored (a controller repeating a wrong message must not flood the
terminal), and compound changes (a preset recall) happen under one lock.

Actions (OSC address `/livestyle/<action>`; README "Control"):

  bypass [i]        the raw feed (no value: toggle)            at once
  blackout [i]      black output (no value: toggle)            at once
  strength f        0 = the raw frame .. 1 = full style         at once
  freeze [i]        hold the style (no value: toggle)           next tick
  seed i, next, prev  MVNet's noise seed                        through the smoothing
  smoothing f       seconds of style smoothing                  next tick
  hold f            RMS change of MVNet's image before the look  next tick
                    follows it, 0..2 (0: off; render --hold)
  style i           --styles bank image i; -1: the music picks  through the smoothing
  style/fraction f  the same from a knob or slider: 0 = the music picks, 0..1 spans the bank
  reactive f        how strongly loudness drives the look, 0..1 next tick
  gain f            microphone gain for the loudness, dB        next tick
  calibrate         set the gain from the last seconds' level   next tick
  preset/save i     store the whole control state in slot i (kept in a file between sets)
  preset/recall i   restore it
  overlay [i]       the window's status overlay (no value: toggle; never recorded)

Strength combines with the reactive mapping's by multiplication; bypass is strength 0 whatever the
others say (runtime/reactive.py). This module sits beside pipeline.py, below io/ and runtime/,
because both read or write it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from livestyle.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class Controls:
    seed: int = 0          # seed of MVNet's fixed noise z (N/P keys step it)
    frozen: bool = False   # hold the current style whatever the music does; the audio keeps flowing
    input_gain_db: float = 0.0   # added to the measured level before the reactive mapping (live:
                                 # the room's gain instead of a running normalisation; +/- keys)
    calibrate: bool = False      # C key: at the next tick, set input_gain_db so that the last
                                 # seconds' level sits CALIBRATE_HEADROOM_DB below the reference
    bypass: bool = False         # show the raw feed
    blackout: bool = False       # show black
    strength: float = 1.0        # the performer's strength, times the reactive mapping's
    smoothing: float | None = None   # style smoothing in seconds; None: the config's
    hold: float | None = None        # the style hold (StyleTicker.held_image); None: the config's
    style: int = -1              # --styles bank: -1 = the music chooses, i = that image
    reactive: float = 1.0        # share of the reactive mapping's effect: 0 = none, 1 = as configured
    overlay: bool = False        # the window's status overlay
    preset: int | None = None    # the slot last saved or recalled (shown on the overlay)
    version: int = 0             # bumped by every change the dispatcher makes

    def frame_strength(self, state_strength: float) -> float:
        """The content graph's strength for one frame: 0 when bypassed, else the performer's
        strength times the style state's (the reactive mapping's)."""
        return 0.0 if self.bypass else self.strength * state_strength


CALIBRATE_HEADROOM_DB = 6.0     # what "playing normally" maps to: 6 dB under the loud end
CALIBRATE_SECONDS = 2.0         # audio the calibration measures
GAIN_STEP_DB = 3.0              # one +/- key press
GAIN_RANGE_DB = (-60.0, 60.0)
SMOOTHING_RANGE_S = (0.0, 30.0)
HOLD_RANGE = (0.0, 2.0)         # RMS between two images in -1..1
PRESET_SLOTS = 100              # preset/save 0..99

ACTIONS = ("bypass", "blackout", "freeze", "overlay", "strength", "seed", "next", "prev", "smoothing", "hold",
           "style", "style/fraction", "reactive", "gain", "calibrate", "preset/save", "preset/recall")
FLAG_ACTIONS = ("bypass", "blackout", "freeze", "overlay")            # a value of 0/1, or none: toggle
WHOLE_ACTIONS = ("seed", "style", "preset/save", "preset/recall")     # whole numbers

# What a preset holds: the whole control state a performer sets, not one-shot requests
# (calibrate) or what only the operator's window shows (overlay).
PRESET_FIELDS = ("seed", "frozen", "input_gain_db", "bypass", "blackout", "strength", "smoothing",
                 "hold", "style", "reactive")


class PresetStore:
    """Numbered slots of control state in a JSON file, kept between sets. Read once at start (a
    file that is not ours fails then, naming it); written atomically at every save."""

    def __init__(self, path: Path):
        self.path = path
        self.slots: dict[int, dict[str, Any]] = {}
        if path.exists():
            self.slots = self._read(path)

    @staticmethod
    def _read(path: Path) -> dict[int, dict[str, Any]]:
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read the presets file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not a presets file (invalid JSON at line {exc.lineno}); "
                            f"fix it, delete it or pass another --presets FILE") from None
        slots = data.get("slots") if isinstance(data, dict) else None
        if not isinstance(slots, dict):
            raise UserError(f"{path}: not a presets file (no \"slots\" object); fix it, delete it or "
                            f"pass another --presets FILE")
        out: dict[int, dict[str, Any]] = {}
        for key, slot in slots.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) < PRESET_SLOTS and isinstance(slot, dict)):
                raise UserError(f"{path}: slot {key!r} is not a number 0..{PRESET_SLOTS - 1} with an object")
            try:
                out[int(key)] = {k: SLOT_CHECKS[k](v) for k, v in slot.items() if k in PRESET_FIELDS}
            except BadControl as exc:
                raise UserError(f"{path}: slot {key}: {exc}") from None
        return out

    def save(self, slot: int, values: dict[str, Any]) -> None:
        self.slots[slot] = dict(values)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"slots": {str(k): v for k, v in sorted(self.slots.items())}}, indent=1) + "\n")
        tmp.replace(self.path)


def default_presets_path() -> Path:
    """$XDG_CONFIG_HOME/livestyle/presets.json (~/.config/... when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "livestyle" / "presets.json"


class BadControl(ValueError):
    """A control message that cannot be applied; the dispatcher logs it once and goes on."""


def _flag(values: tuple, current: bool) -> bool:
    if not values:
        return not current
    (value,) = values
    if isinstance(value, str):
        if value.lower() in ("1", "on", "true"):
            return True
        if value.lower() in ("0", "off", "false"):
            return False
        raise BadControl(f"{value!r} is not 0/1 or on/off")
    return bool(_number(value))


def _number(value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadControl(f"{value!r} is not a number")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadControl(f"{value!r} is outside {lo:g}..{hi:g}")
    return float(value)


def _whole(value: Any, lo: int, hi: int) -> int:
    number = _number(value, lo, hi)
    if number != int(number):
        raise BadControl(f"{value!r} is not a whole number")
    return int(number)


def _one(values: tuple) -> Any:
    if len(values) != 1:
        raise BadControl(f"takes one value, got {len(values)}")
    return values[0]


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadControl(f"{value!r} is not true or false")
    return value


# How each preset field is checked when a presets file is read (the dispatcher's own ranges).
SLOT_CHECKS: dict[str, Callable[[Any], Any]] = {
    "seed": lambda v: _whole(v, 0, 2**31 - 1),
    "frozen": _bool, "bypass": _bool, "blackout": _bool,
    "input_gain_db": lambda v: _number(v, *GAIN_RANGE_DB),
    "strength": lambda v: _number(v, 0.0, 1.0),
    "smoothing": lambda v: None if v is None else _number(v, *SMOOTHING_RANGE_S),
    "hold": lambda v: None if v is None else _number(v, *HOLD_RANGE),
    "style": lambda v: _whole(v, -1, 10**6),
    "reactive": lambda v: _number(v, 0.0, 1.0),
}


class Dispatcher:
    """`dispatch(action, *values)`: apply one control message to `controls`. Returns whether it
    was applied. `styles`: how many images the --styles bank has (0: none); `presets`: where
    preset/save and preset/recall keep their slots (None: presets unavailable). `on_change` is
    called after every applied message (live uses it to wake nothing; tests count)."""

    def __init__(self, controls: Controls, presets: PresetStore | None = None, styles: int = 0,
                 on_change: Callable[[str], None] | None = None):
        self.controls = controls
        self.presets = presets
        self.styles = styles
        self.on_change = on_change
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._actions: dict[str, Callable[..., None]] = {
            "bypass": lambda *v: self._set("bypass", _flag(v, controls.bypass)),
            "blackout": lambda *v: self._set("blackout", _flag(v, controls.blackout)),
            "freeze": lambda *v: self._set("frozen", _flag(v, controls.frozen)),
            "overlay": lambda *v: self._set("overlay", _flag(v, controls.overlay)),
            "strength": lambda *v: self._set("strength", _number(_one(v), 0.0, 1.0)),
            "seed": lambda *v: self._set("seed", _whole(_one(v), 0, 2**31 - 1)),
            "next": lambda *v: self._step_seed(v, 1),
            "prev": lambda *v: self._step_seed(v, -1),
            "smoothing": lambda *v: self._set("smoothing", _number(_one(v), *SMOOTHING_RANGE_S)),
            "hold": lambda *v: self._set("hold", _number(_one(v), *HOLD_RANGE)),
            "style": lambda *v: self._set("style", self._style(_one(v))),
            "style/fraction": lambda *v: self._set("style", self._style(
                round(_number(_one(v), 0.0, 1.0) * self.styles) - 1)),
            "reactive": lambda *v: self._set("reactive", _number(_one(v), 0.0, 1.0)),
            "gain": lambda *v: self._set("input_gain_db", _number(_one(v), *GAIN_RANGE_DB)),
            "calibrate": lambda *v: self._set("calibrate", True) if not v else self._no_values(v),
            "preset/save": lambda *v: self._save(_whole(_one(v), 0, PRESET_SLOTS - 1)),
            "preset/recall": lambda *v: self._recall(_whole(_one(v), 0, PRESET_SLOTS - 1)),
        }

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self._actions)

    def __call__(self, action: str, *values: Any) -> bool:
        handler = self._actions.get(action)
        if handler is None:
            self.warn_once(f"unknown control {action!r} (known: {', '.join(self._actions)})")
            return False
        try:
            with self._lock:
                handler(*values)
                self.controls.version += 1
        except BadControl as exc:
            self.warn_once(f"control {action}: {exc}; ignored")
            return False
        if self.on_change is not None:
            self.on_change(action)
        return True

    def warn_once(self, message: str) -> None:
        """Log a bad message the first time only: a controller repeats its messages many times a
        second, and the terminal must stay readable during a set."""
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # -- the actions
    def _set(self, name: str, value: Any) -> None:
        setattr(self.controls, name, value)

    @staticmethod
    def _no_values(values: tuple) -> None:
        raise BadControl(f"takes no value, got {len(values)}")

    def _step_seed(self, values: tuple, step: int) -> None:
        if values:
            self._no_values(values)
        self.controls.seed = max(0, self.controls.seed + step)  # seeds are >= 0

    def _style(self, value: Any) -> int:
        if self.styles == 0:
            raise BadControl("no --styles bank in this set")
        return _whole(value, -1, self.styles - 1)

    def _save(self, slot: int) -> None:
        if self.presets is None:
            raise BadControl("presets are off in this set")
        try:
            self.presets.save(slot, {name: getattr(self.controls, name) for name in PRESET_FIELDS})
        except OSError as exc:
            raise BadControl(f"cannot write {self.presets.path} ({exc.strerror or exc})") from None
        self.controls.preset = slot
        log.info("preset %d saved", slot)

    def _recall(self, slot: int) -> None:
        if self.presets is None:
            raise BadControl("presets are off in this set")
        values = self.presets.slots.get(slot)
        if values is None:
            raise BadControl(f"preset slot {slot} is empty")
        defaults = Controls()
        for f in fields(Controls):
            if f.name in PRESET_FIELDS:
                value = values.get(f.name, getattr(defaults, f.name))
                if f.name == "style" and not -1 <= value < max(self.styles, 0):
                    value = -1  # saved with a larger bank: the music chooses
                setattr(self.controls, f.name, value)
        self.controls.preset = slot
        log.info("preset %d recalled", slot)
