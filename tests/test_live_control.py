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
                 "--model", "lite", "--smoothing", "0", "--no-reactive", "--size", f"{W}x{H}",
                 # MVNet's own image: there the seed changes the look whatever the audio; with the
                 # default bank it acts through the music, and this clip is silent
                 "--styles", "mvnet"]) == 0
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


class FakeVirtualCamera:
    """pyvirtualcam's Camera as livestyle uses it (CI cannot load v4l2loopback)."""

    made: list["FakeVirtualCamera"] = []

    def __init__(self, width, height, fps, fmt=None, device=None):
        self.size, self.fps, self.fmt = (width, height), fps, fmt
        self.device = device or "/dev/video9"
        self.frames: list[np.ndarray] = []
        self.closed = False
        FakeVirtualCamera.made.append(self)

    def send(self, frame: np.ndarray) -> None:
        assert frame.dtype == np.uint8 and frame.shape == (self.size[1], self.size[0], 3)
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True


def test_virtual_camera_gets_the_set_through_the_output_interface(monkeypatch):
    import sys
    import types

    fake = types.SimpleNamespace(Camera=FakeVirtualCamera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    FakeVirtualCamera.made.clear()
    clip = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
    assert main(["live", "--clip", str(clip), "--virtual-cam", "--duration", "1.5", "--providers", "cpu",
                 "--quiet", "--height", "48", "--model", "lite"]) == 0
    (cam,) = FakeVirtualCamera.made
    assert cam.fmt == "RGB" and cam.closed and cam.fps == 20
    assert len(cam.frames) >= 5 and len({f.tobytes() for f in cam.frames}) > 1   # the set, moving


def listening_ports() -> set[int]:
    """TCP ports this process listens on (Linux /proc), to find the NDI sender without NDI's
    discovery, which needs multicast DNS that CI containers lack."""
    import os

    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_ndi_source_carries_the_set(monkeypatch):
    """--ndi NAME: a receiver on this machine (connected by address: no discovery here) gets the
    frames the set sends."""
    import sys
    import threading

    ndi = pytest.importorskip("NDIlib")
    if not sys.platform.startswith("linux"):
        pytest.skip("finds the sender's port through /proc")
    from livestyle.io.outputs import NdiOutput

    before = listening_ports()
    received: list[np.ndarray] = []
    sent: list[np.ndarray] = []
    show = NdiOutput.show

    def receive(ports: set[int]) -> None:
        ndi.initialize()
        settings = ndi.RecvCreateV3()
        settings.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
        for port in sorted(ports):
            recv = ndi.recv_create_v3(settings)
            source = ndi.Source()
            source.url_address = f"127.0.0.1:{port}"
            ndi.recv_connect(recv, source)
            for _ in range(30):
                kind, video, _, _ = ndi.recv_capture_v2(recv, 100)
                if kind == ndi.FRAME_TYPE_VIDEO:
                    received.append(np.copy(video.data))
                    ndi.recv_free_video_v2(recv, video)
                    break
            ndi.recv_destroy(recv)
            if received:
                return

    def sending(self, image, now):
        result = show(self, image, now)
        sent.append(image.copy())
        if len(sent) == 3:
            threading.Thread(target=receive, args=(listening_ports() - before,), daemon=True).start()
        if received:
            return False  # got one: end the set
        return result

    monkeypatch.setattr(NdiOutput, "show", sending)
    clip = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
    assert main(["live", "--clip", str(clip), "--ndi", "livestyle-test", "--duration", "8", "--providers", "cpu",
                 "--quiet", "--height", "48", "--model", "lite"]) == 0
    assert received, "no NDI frame arrived"
    frame = received[0]
    assert frame.shape == (48, sent[0].shape[1], 4)
    # NDI's codec is lossy: the received picture is close to one of the frames sent
    assert min(np.abs(frame[..., :3].astype(int) - s).mean() for s in sent) < 12
