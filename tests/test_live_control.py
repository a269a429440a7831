"""OSC messages sent to a running `live` set change what it records (issue 13): bypass shows the
raw feed at once, strength 0 equals bypass, a seed changes the look, and a preset restores it.

The set plays a still picture with a silent track, so with smoothing off and the reactive
mapping off every frame of one control state is the same picture: the assertions follow the
order of events (a message is sent, the dispatcher has applied it, the next frames show it), not
wall-clock times.
"""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livestyle.cli import main

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "data" / "photos" / "coffee.jpg"
W, H = 128, 72


def still_clip(path: Path, seconds: float = 2.0, fps: int = 20) -> np.ndarray:
    """A still picture with a silent PCM track; returns the picture as the decoder gives it."""
    rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(PHOTO)), (W, H), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = W, H, "yuv444p"
        audio = out.add_stream("pcm_s16le", rate=22050, layout="mono")
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = fractions.Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = int(seconds * 22050)
        for start in range(0, samples, 1024):
            block = av.AudioFrame.from_ndarray(np.zeros((1, min(1024, samples - start)), np.int16),
                                               format="s16", layout="mono")
            block.sample_rate = 22050
            block.pts = start
            out.mux(audio.encode(block))
        out.mux(audio.encode())
    with av.open(str(path)) as decoded:
        return next(decoded.decode(video=0)).to_ndarray(format="rgb24")


def test_osc_controls_a_running_set(tmp_path, monkeypatch):
    pytest.importorskip("pythonosc")
    from pythonosc.udp_client import SimpleUDPClient

    import livestyle.io.osc as osc_module
    from livestyle.io.outputs import FileOutput

    clip = tmp_path / "still.mkv"
    raw_still = still_clip(clip)
    servers = []

    class Recorded(osc_module.OscControl):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            servers.append(self)

    monkeypatch.setattr(osc_module, "OscControl", Recorded)
    recorded: list[np.ndarray] = []
    script = iter(())
    show = FileOutput.show

    def send(*messages) -> None:
        """Send, then wait (main thread, so no frame is shown meanwhile) until the dispatcher has
        applied every message."""
        osc = servers[0]
        client = SimpleUDPClient("127.0.0.1", osc.port)
        version = osc.dispatch.controls.version
        for address, value in messages:
            client.send_message(f"/livestyle/{address}", value)
        assert wait_until(lambda: osc.dispatch.controls.version >= version + len(messages))

    def steady(*before: np.ndarray):
        """Frames until two in a row are equal and differ from every picture `before`: the new
        state shows (frames still in flight, or gliding between two style ticks, do not)."""
        last = None
        while True:
            image = yield
            if last is not None and np.array_equal(image, last) and \
                    not any(np.array_equal(image, old) for old in before):
                return image
            last = image

    def scenario():
        look_0 = yield from steady()
        send(("bypass", 1))
        bypassed = yield                       # the next frame shown: the raw feed, at once
        assert np.array_equal(bypassed, raw_still) or np.abs(bypassed.astype(int) - raw_still).max() <= 2
        send(("bypass", 0), ("strength", 0.0))
        zero = yield from steady(look_0)
        assert np.array_equal(zero, bypassed)  # strength 0 = bypass, to the level
        send(("strength", 1.0), ("seed", 5))
        look_5 = yield from steady(zero, look_0)
        assert not np.array_equal(look_5, look_0)
        assert np.abs(look_5.astype(float) - look_0).mean() > 2.0   # a visible change of look
        send(("preset/save", 1), ("seed", 9))
        look_9 = yield from steady(look_5)
        send(("preset/recall", 1))
        restored = yield from steady(look_9)
        assert np.array_equal(restored, look_5), "the preset did not restore the look"
        assert servers[0].dispatch.controls.seed == 5

    def recording(self, image, now):
        nonlocal script
        if not recorded:
            script = scenario()
            next(script)
        recorded.append(image.copy())
        try:
            script.send(image)
        except StopIteration:
            return False  # the scenario is done: end the set
        if len(recorded) > 2000:
            raise AssertionError("the scenario did not finish")
        return show(self, image, now)

    monkeypatch.setattr(FileOutput, "show", recording)
    out = tmp_path / "set.mkv"
    assert main(["live", "--clip", str(clip), "--loop", "-o", str(out), "--osc-port", "0",
                 "--presets", str(tmp_path / "presets.json"), "--providers", "cpu", "--quiet",
                 "--model", "lite", "--smoothing", "0", "--no-reactive", "--size", f"{W}x{H}"]) == 0
    assert len(recorded) >= 10   # the scenario ran (look, bypass, strength 0, two seeds, a preset)
    with av.open(str(out)) as played:  # the recording is whole and playable
        assert sum(1 for _ in played.decode(video=0)) >= 1


def wait_until(condition, seconds: float = 10.0) -> bool:
    """Polls for what another thread does; the bound only keeps a broken build from hanging."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.002)
    return False
