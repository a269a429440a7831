"""The one control path (livestyle.controls.Dispatcher) and what feeds it: keys, OSC, MIDI."""

from __future__ import annotations

import json
import logging
import time

import pytest
import yaml

from livestyle.controls import ACTIONS, Controls, Dispatcher, PresetStore
from livestyle.errors import UserError


def make(tmp_path, styles: int = 0) -> Dispatcher:
    return Dispatcher(Controls(), PresetStore(tmp_path / "presets.json"), styles=styles)


def test_every_action_is_dispatched():
    assert make_dispatch_actions() == set(ACTIONS)


def make_dispatch_actions() -> set[str]:
    return set(Dispatcher(Controls()).actions)


def test_values_and_toggles(tmp_path):
    d = make(tmp_path, styles=3)
    c = d.controls
    assert d("bypass") and c.bypass and d("bypass") and not c.bypass       # no value: toggle
    assert d("bypass", 1) and c.bypass and d("bypass", 0.0) and not c.bypass
    assert d("blackout", "on") and c.blackout
    assert d("strength", 0.25) and c.strength == 0.25
    assert d("seed", 7) and d("next") and d("next") and d("prev") and c.seed == 8
    assert d("seed", 0) and d("prev") and c.seed == 0                      # seeds stay >= 0
    assert d("smoothing", 2.0) and c.smoothing == 2.0
    assert d("hold", 0.1) and c.hold == 0.1
    assert d("style", 2) and c.style == 2 and d("style", -1) and c.style == -1
    assert d("reactive", 0.5) and c.reactive == 0.5
    assert d("gain", -12) and c.input_gain_db == -12.0
    assert d("calibrate") and c.calibrate
    assert d("freeze", 1) and c.frozen
    assert c.version == 20   # one per applied message


def test_strength_combines_with_the_reactive_mapping_and_bypass():
    c = Controls(strength=0.5)
    assert c.frame_strength(0.8) == pytest.approx(0.4)
    c.bypass = True
    assert c.frame_strength(0.8) == 0.0


@pytest.mark.parametrize("action, values", [
    ("strength", (1.5,)), ("strength", ("loud",)), ("strength", ()), ("strength", (float("nan"),)),
    ("seed", (2.5,)), ("seed", (-1,)), ("smoothing", (-1.0,)), ("hold", (3.0,)), ("gain", (99.0,)), ("reactive", (2.0,)),
    ("style", (0,)),          # no --styles bank in this set
    ("bypass", ("maybe",)), ("next", (1,)), ("calibrate", (1,)),
    ("preset/recall", (5,)),  # an empty slot
    ("preset/save", (100,)), ("warp", (1,)),
])
def test_bad_messages_are_logged_once_and_ignored(tmp_path, caplog, action, values):
    d = make(tmp_path)
    before = Controls()
    with caplog.at_level(logging.WARNING, logger="livestyle.controls"):
        for _ in range(50):  # a controller repeating itself
            assert not d(action, *values)
    assert len(caplog.records) == 1
    assert d.controls == before


def test_presets_keep_the_whole_state_between_sets(tmp_path):
    d = make(tmp_path, styles=4)
    for call in (("seed", 5), ("strength", 0.7), ("style", 3), ("reactive", 0.2), ("smoothing", 1.5),
                 ("hold", 0.1), ("gain", 6), ("freeze", 1)):
        d(*call)
    assert d("preset/save", 1)
    for call in (("seed", 9), ("strength", 0.1), ("style", -1), ("freeze", 0), ("bypass", 1), ("overlay", 1)):
        d(*call)
    saved = json.loads((tmp_path / "presets.json").read_text())["slots"]["1"]
    assert saved["seed"] == 5 and "overlay" not in saved and "version" not in saved

    later = make(tmp_path, styles=4)   # the next set reads the file
    assert later("preset/recall", 1)
    c = later.controls
    assert (c.seed, c.strength, c.style, c.reactive, c.smoothing, c.hold, c.input_gain_db, c.frozen, c.bypass) == \
        (5, 0.7, 3, 0.2, 1.5, 0.1, 6.0, True, False)
    assert c.preset == 1   # the overlay shows which slot is on
    small = make(tmp_path, styles=2)   # a smaller bank: the music chooses instead of image 3
    assert small("preset/recall", 1) and small.controls.style == -1


@pytest.mark.parametrize("text, problem", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "no \"slots\""),
    ('{"slots": {"a": {}}}', "slot 'a'"),
    ('{"slots": {"1": {"strength": 3}}}', "slot 1: 3 is outside"),
    ('{"slots": {"1": {"frozen": "yes"}}}', "slot 1: 'yes' is not true or false"),
])
def test_a_bad_presets_file_is_named(tmp_path, text, problem):
    path = tmp_path / "presets.json"
    path.write_text(text)
    with pytest.raises(UserError, match=f"{path}.*{problem}"):
        PresetStore(path)


def test_presets_that_cannot_be_written_are_reported_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    d = Dispatcher(Controls(), PresetStore(blocker / "presets.json"))   # its folder is a file
    assert not d("preset/save", 1)


# ---------------------------------------------------------------------------------------- keys

def test_keys_go_through_the_dispatcher(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import numpy as np
    import pygame

    from livestyle.io.outputs import WindowOutput

    d = Dispatcher(Controls())
    window = WindowOutput(dispatch=d, status=lambda: ["12.0 fps", "BYPASS"])
    image = np.zeros((36, 64, 3), np.uint8)
    window.show(image, 0.0)
    for key in (pygame.K_b, pygame.K_4, pygame.K_k, pygame.K_h, pygame.K_n, pygame.K_EQUALS):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    assert window.show(image, 0.1)
    c = d.controls
    assert c.bypass and c.blackout and c.overlay and c.seed == 1 and c.input_gain_db == 3.0
    assert c.strength == pytest.approx(4 / 9, abs=1e-4)
    window.show(image, 0.2)
    assert window.overlay_drawn >= 1   # drawn on the window only; the frame array is untouched
    assert not image.any()
    window.close()


# ---------------------------------------------------------------------------------------- OSC

def wait_for(condition, seconds: float = 5.0) -> bool:
    """Polls for an event that another thread causes (not a timing assertion: the bound only
    keeps a broken build from hanging the suite)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return False


def test_osc_messages_reach_the_dispatcher(tmp_path):
    from pythonosc.udp_client import SimpleUDPClient

    from livestyle.io.osc import OscControl

    d = make(tmp_path)
    osc = OscControl(d, "127.0.0.1", 0).start()
    try:
        client = SimpleUDPClient("127.0.0.1", osc.port)
        client.send_message("/livestyle/strength", 0.3)
        client.send_message("/livestyle/bypass", 1)
        client.send_message("/elsewhere/strength", 0.9)      # not ours: ignored
        client.send_message("/livestyle/strength", "loud")   # bad value: ignored
        client.send_message("/livestyle/seed", 4)
        assert wait_for(lambda: osc.received == 5)
        assert wait_for(lambda: d.controls.seed == 4)
        assert d.controls.strength == pytest.approx(0.3) and d.controls.bypass
    finally:
        osc.close()


def test_osc_port_in_use_is_a_user_error(tmp_path):
    from livestyle.io.osc import OscControl

    first = OscControl(make(tmp_path), "127.0.0.1", 0)
    try:
        with pytest.raises(UserError, match=f"--osc-port {first.port}: cannot listen"):
            OscControl(make(tmp_path), "127.0.0.1", first.port)
    finally:
        first.close()


@pytest.mark.parametrize("target", ["localhost", "host:port", ":9000", "host:70000"])
def test_osc_send_target_is_checked(target):
    from livestyle.io.osc import OscFeedback

    with pytest.raises(UserError, match="--osc-send"):
        OscFeedback(target)


def test_osc_feedback_sends_figures():
    from pythonosc.dispatcher import Dispatcher as OscDispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    from livestyle.io.osc import OscFeedback

    got = []
    mapping = OscDispatcher()
    mapping.set_default_handler(lambda address, *v: got.append((address, *v)))
    server = BlockingOSCUDPServer(("127.0.0.1", 0), mapping)
    server.timeout = 5
    feedback = OscFeedback(f"127.0.0.1:{server.server_address[1]}")
    feedback.send({"fps": 15.0, "latency": 80.5, "level": -20.0})
    for _ in range(3):
        server.handle_request()
    server.server_close()
    feedback.close()
    assert got == [("/livestyle/fps", 15.0), ("/livestyle/latency", 80.5), ("/livestyle/level", -20.0)]


# ---------------------------------------------------------------------------------------- MIDI

def test_midi_mapping_through_the_dispatch_function(tmp_path):
    import mido

    from livestyle.io.midi import load_midi_map, translate

    d = make(tmp_path, styles=4)
    bindings = load_midi_map(None)
    for msg in (mido.Message("control_change", control=70, value=127),     # strength 1
                mido.Message("control_change", control=74, value=42),      # style: round(42/127 * 4) - 1 = 0
                mido.Message("note_on", note=36, velocity=100),            # bypass toggles on
                mido.Message("note_off", note=36),                         # nothing
                mido.Message("note_on", note=39, velocity=0),              # = note off: nothing
                mido.Message("note_on", note=39, velocity=90),             # next seed
                mido.Message("control_change", control=1, value=10)):      # unmapped
        for call in translate(bindings, msg):
            d(*call)
    c = d.controls
    assert c.strength == 1.0 and c.style == 0 and c.bypass and c.seed == 1


def test_midi_channel_and_knob_on_a_toggle():
    import mido

    from livestyle.io.midi import parse_midi_map, translate

    bindings = parse_midi_map([{"cc": 20, "action": "bypass", "channel": 10}], "test")
    assert translate(bindings, mido.Message("control_change", channel=9, control=20, value=100)) == [("bypass", 1)]
    assert translate(bindings, mido.Message("control_change", channel=9, control=20, value=10)) == [("bypass", 0)]
    assert translate(bindings, mido.Message("control_change", channel=0, control=20, value=100)) == []


def test_shipped_midi_map_is_the_default():
    from pathlib import Path

    from livestyle.io.midi import DEFAULT_MAP, load_midi_map

    path = Path(__file__).parent.parent / "configs" / "midi_generic8.yaml"
    assert yaml.safe_load(path.read_text())["midi"] == DEFAULT_MAP
    assert load_midi_map(path) == load_midi_map(None)


@pytest.mark.parametrize("text, problem", [
    ("midi: {cc: 1}", "non-empty list"),
    ("other: []", "expected a 'midi:' list"),
    ("midi:\n  - {cc: 200, action: strength}", "cc must be a number 0..127"),
    ("midi:\n  - {cc: 1, note: 2, action: bypass}", "exactly one of cc: or note:"),
    ("midi:\n  - {cc: 1, action: warp}", "unknown action 'warp'"),
    ("midi:\n  - {note: 1, action: strength}", "needs a value"),
    ("midi:\n  - {cc: 1, action: strength, range: [0]}", "range must be two numbers"),
    ("midi:\n  - {cc: 1, action: bypass, channel: 17}", "channel must be 1..16"),
    ("midi:\n  - {cc: 1, action: bypass, knob: 3}", "unknown key"),
    ("midi: [unclosed", "not a readable YAML"),
])
def test_a_bad_midi_map_is_named(tmp_path, text, problem):
    from livestyle.io.midi import load_midi_map

    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=problem):
        load_midi_map(path)


def test_midi_without_a_midi_system_is_a_user_error(tmp_path):
    """Where the platform has no MIDI system (CI containers have no ALSA sequencer), --midi says
    so in one line; where it has one, a virtual port carries a message to the dispatcher."""
    import mido

    from livestyle.io.midi import MidiControl, load_midi_map

    d = make(tmp_path)
    try:
        port = mido.open_output("livestyle-test", virtual=True)
    except Exception:  # noqa: BLE001 - rtmidi's SystemError: no sequencer here
        with pytest.raises(UserError, match="MIDI"):
            MidiControl("livestyle-test", load_midi_map(None), d)
        return
    control = MidiControl("livestyle-test", load_midi_map(None), d).start()
    try:
        port.send(mido.Message("control_change", control=70, value=0))
        assert wait_for(lambda: d.controls.strength == 0.0)
    finally:
        control.close()
        port.close()


def test_reblend_moves_a_frame_to_the_new_strength():
    """A frame stylised at one strength and shown after the performer moved it: the output stage
    re-blends it, within a level of what the graph would give."""
    import numpy as np

    from livestyle.commands.live import reblend

    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    full = rng.integers(0, 256, (8, 8, 3)).astype(np.float64)
    at = lambda s: np.clip(raw + s * (full - raw) + 0.5, 0, 255).astype(np.uint8)  # noqa: E731 - the graph's blend
    for used, wanted in ((0.8, 0.4), (0.5, 1.0), (1.0, 0.25)):
        got = reblend(raw, at(used), used, wanted).astype(int)
        assert np.abs(got - at(wanted)).max() <= 1 + wanted / used
