"""MIDI control for `live` (mido with python-rtmidi, the `control` extra): a mapping (YAML) turns
control changes and notes into dispatcher calls, the same path as the window's keys and OSC.

Mapping file (`--midi-map FILE`; without one, DEFAULT_MAP, the same as configs/midi_generic8.yaml,
for a generic controller with 8 knobs on CC 70-77 and 8 pads on notes 36-43):

    midi:
      - {cc: 70, action: strength, range: [0, 1]}   # knob: 0..127 spans the range
      - {note: 36, action: bypass}                   # pad: toggles (bypass, blackout, freeze, overlay)
      - {note: 39, action: next}                     # pad: triggers (next, prev, calibrate)
      - {note: 42, action: preset/recall, value: 1}  # pad: a fixed value
      - {cc: 20, action: bypass, channel: 10}        # only on MIDI channel 10 (1..16; default any)

A knob on a toggle action switches it on at 64 and above. `--midi-learn` prints every incoming
message and what it maps to, to find a controller's numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from livestyle.controls import ACTIONS, FLAG_ACTIONS, WHOLE_ACTIONS, Dispatcher
from livestyle.errors import UserError
from livestyle.native_output import captured_native_output

log = logging.getLogger(__name__)

TRIGGER_ACTIONS = ("next", "prev", "calibrate")
DEFAULT_RANGES = {"strength": (0.0, 1.0), "reactive": (0.0, 1.0), "smoothing": (0.0, 4.0), "hold": (0.0, 0.3),
                  "gain": (-24.0, 24.0), "seed": (0.0, 127.0), "style": (-1.0, 15.0), "style/fraction": (0.0, 1.0)}

DEFAULT_MAP: list[dict[str, Any]] = [
    {"cc": 70, "action": "strength", "range": [0, 1]},
    {"cc": 71, "action": "reactive", "range": [0, 1]},
    {"cc": 72, "action": "smoothing", "range": [0, 4]},
    {"cc": 73, "action": "gain", "range": [-24, 24]},
    {"cc": 74, "action": "style/fraction", "range": [0, 1]},
    {"cc": 75, "action": "seed", "range": [0, 127]},
    {"note": 36, "action": "bypass"},
    {"note": 37, "action": "blackout"},
    {"note": 38, "action": "freeze"},
    {"note": 39, "action": "next"},
    {"note": 40, "action": "prev"},
    {"note": 41, "action": "calibrate"},
    {"note": 42, "action": "preset/recall", "value": 1},
    {"note": 43, "action": "preset/recall", "value": 2},
]


@dataclass(frozen=True)
class MidiBinding:
    kind: str                         # "cc" or "note"
    number: int                       # controller or note number, 0..127
    action: str
    channel: int | None = None        # 1..16, None: any
    range: tuple[float, float] | None = None   # cc on a value action
    value: float | None = None        # a fixed value sent instead

    def translate(self, msg: Any) -> tuple | None:
        """(action, *values) for a mido message this binding matches, else None."""
        if self.channel is not None and getattr(msg, "channel", -1) + 1 != self.channel:
            return None
        if self.kind == "cc":
            if msg.type != "control_change" or msg.control != self.number:
                return None
            if self.value is not None:
                return (self.action, self.value) if msg.value >= 64 else None
            if self.action in FLAG_ACTIONS:
                return (self.action, int(msg.value >= 64))
            if self.action in TRIGGER_ACTIONS:
                return (self.action,) if msg.value >= 64 else None
            lo, hi = self.range or DEFAULT_RANGES[self.action]
            value = lo + msg.value / 127.0 * (hi - lo)
            return (self.action, int(round(value)) if self.action in WHOLE_ACTIONS else round(value, 4))
        if msg.type != "note_on" or msg.note != self.number or msg.velocity == 0:
            return None  # note_off (and note_on at velocity 0, which means the same) do nothing
        if self.value is not None:
            return (self.action, self.value)
        return (self.action,)  # toggles and triggers


def parse_midi_map(entries: Any, where: str) -> list[MidiBinding]:
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{where}: expected a non-empty list under 'midi:'")
    bindings = []
    for i, e in enumerate(entries):
        at = f"{where}: entry {i + 1}"
        if not isinstance(e, dict):
            raise UserError(f"{at}: expected a mapping like {{cc: 70, action: strength}}")
        unknown = set(e) - {"cc", "note", "action", "channel", "range", "value"}
        if unknown:
            raise UserError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        kinds = [k for k in ("cc", "note") if k in e]
        if len(kinds) != 1:
            raise UserError(f"{at}: give exactly one of cc: or note:")
        kind, number = kinds[0], e[kinds[0]]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 127:
            raise UserError(f"{at}: {kind} must be a number 0..127, not {number!r}")
        action = e.get("action")
        if action not in ACTIONS:
            raise UserError(f"{at}: unknown action {action!r} (known: {', '.join(ACTIONS)})")
        channel = e.get("channel")
        if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16):
            raise UserError(f"{at}: channel must be 1..16, not {channel!r}")
        rng = e.get("range")
        if rng is not None:
            if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, (int, float)) and
                                                                    not isinstance(v, bool) for v in rng)):
                raise UserError(f"{at}: range must be two numbers, e.g. [0, 1]")
            rng = (float(rng[0]), float(rng[1]))
        value = e.get("value")
        needs_value = action in ("seed", "strength", "smoothing", "hold", "style", "style/fraction", "reactive", "gain",
                                 "preset/save", "preset/recall")
        if kind == "note" and needs_value and value is None:
            raise UserError(f"{at}: a note on {action} needs a value: (a pad sends no amount)")
        if kind == "cc" and needs_value and value is None and rng is None and action not in DEFAULT_RANGES:
            raise UserError(f"{at}: a knob on {action} needs a value:")
        bindings.append(MidiBinding(kind, number, action, channel, rng, value))
    return bindings


def load_midi_map(path: Path | None) -> list[MidiBinding]:
    """`--midi-map FILE` (YAML with a `midi:` list), or DEFAULT_MAP."""
    if path is None:
        return parse_midi_map(DEFAULT_MAP, "the default MIDI map")
    if not path.is_file():
        raise UserError(f"{path}: MIDI map not found")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: not a readable YAML MIDI map ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "midi" not in data:
        raise UserError(f"{path}: expected a 'midi:' list (see configs/midi_generic8.yaml)")
    return parse_midi_map(data["midi"], str(path))


def translate(bindings: list[MidiBinding], msg: Any) -> list[tuple]:
    """Every dispatcher call a message maps to (several bindings may share a control)."""
    return [call for b in bindings if (call := b.translate(msg)) is not None]


def import_mido():
    try:
        import mido
        import rtmidi  # noqa: F401 - mido's backend
    except ImportError:
        raise UserError("MIDI needs mido and python-rtmidi: pip install 'livestyle[control]'") from None
    return mido


def input_names() -> list[str]:
    mido = import_mido()
    try:
        with captured_native_output():  # ALSA prints its probing failures straight to stderr
            return list(mido.get_input_names())
    except Exception as exc:  # noqa: BLE001 - rtmidi raises its own SystemError when there is no MIDI system
        raise UserError(f"MIDI: no MIDI system on this machine ({str(exc).strip()}); on Linux the ALSA "
                        f"sequencer (/dev/snd/seq) must exist") from None


class MidiControl:
    """An open MIDI input whose messages go through `translate` to the dispatcher, on mido's
    callback thread. `learn`: also print each message and what it maps to."""

    def __init__(self, port: str, bindings: list[MidiBinding], dispatch: Dispatcher, learn: bool = False):
        self.bindings, self.dispatch, self.learn = bindings, dispatch, learn
        try:
            names = input_names()
        except UserError as exc:
            raise UserError(f"--midi {port!r}: {exc}") from None
        matches = [n for n in names if n == port] or [n for n in names if n.startswith(port)]
        if not matches:
            raise UserError(f"--midi {port!r}: no such MIDI input (inputs: {', '.join(names) or 'none'})")
        self.name = matches[0]
        self.received = 0
        try:
            self.port = import_mido().open_input(self.name, callback=self.handle)
        except Exception as exc:  # noqa: BLE001 - rtmidi's own errors
            raise UserError(f"--midi {port!r}: cannot open {self.name} ({exc})") from None

    def start(self) -> "MidiControl":
        log.info("MIDI: listening to %s", self.name)
        return self

    def handle(self, msg: Any) -> None:
        self.received += 1
        calls = translate(self.bindings, msg)
        if self.learn:
            print(f"MIDI {msg} -> {', '.join(' '.join(map(str, c)) for c in calls) or 'nothing mapped'}", flush=True)
        for call in calls:
            self.dispatch(*call)

    def close(self) -> None:
        self.port.close()
