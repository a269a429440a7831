"""`livestyle live` without a camera or microphone on the machine: a clip played in real time
stands in for the camera, a fake sounddevice module (behaving as its docs say: an InputStream
calling back with float32 blocks) for the microphone. Outputs: file, UDP MPEG-TS stream, window
(SDL's dummy driver). Timing values are never asserted, only that they were measured."""

import json
import socket
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle.audio.timeline import AudioTimeline
from livestyle.cli import main
from livestyle.io.mic import MicSource
from livestyle.io.outputs import ConstantRate
from livestyle.runtime.style_ticker import trailing_start
from livestyle.pipeline import END, Latest, Stopped

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
QUIET = ["--providers", "cpu", "--quiet", "--height", "48"]


class FakeSoundDevice:
    """The part of the sounddevice API MicSource uses."""

    class PortAudioError(Exception):
        pass

    def __init__(self, devices=True, channels=2, left=0.5, right=-0.1):
        self.devices, self.channels, self.level = devices, channels, (left, right)
        self.blocks = 0

    def query_devices(self, device=None, kind=None):
        if not self.devices:
            raise self.PortAudioError("Error querying device -1")
        return {"name": "Fake USB audio", "max_input_channels": self.channels}

    def InputStream(self, samplerate, channels, dtype, device, blocksize, latency, callback):
        fake = self

        class Stream:
            def __enter__(self):
                self.stop = threading.Event()

                def pump():
                    while not self.stop.wait(blocksize / samplerate):
                        block = np.empty((blocksize, channels), np.float32)
                        block[:] = fake.level[:channels]
                        callback(block, blocksize, None, None)
                        fake.blocks += 1
                self.thread = threading.Thread(target=pump, daemon=True)
                self.thread.start()
                return self

            def __exit__(self, *exc):
                self.stop.set()
                self.thread.join()

        return Stream()


def frames_in(path: Path) -> tuple[int, tuple[int, int]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sum(1 for _ in c.decode(video=0)), (s.codec_context.width, s.codec_context.height)


def test_rehearsal_clip_to_file_with_figures(tmp_path, capsys):
    out, figures = tmp_path / "set.mp4", tmp_path / "live.json"
    assert main(["live", "--clip", str(CLIP), "-o", str(out), "--duration", "3", "--json", str(figures), *QUIET]) == 0
    n, size = frames_in(out)
    assert size == (86, 48) and n >= 20  # a constant 20 fps for the time it ran
    stats = json.loads(figures.read_text())
    assert stats["shown_fps"] > 0 and stats["style_hz"] > 0 and stats["latency_ms_p50"] > 0
    assert 0 <= stats["dropped_fraction"] < 1 and stats["provider"] == "cpu"
    assert not list(tmp_path.glob(".*partial*"))


def test_microphone_drives_the_style(tmp_path, monkeypatch):
    fake = FakeSoundDevice()
    monkeypatch.setattr("livestyle.io.mic.import_sounddevice", lambda: fake)
    out = tmp_path / "mic.mkv"
    assert main(["live", "--clip", str(CLIP), "--mic", "Fake USB audio", "-o", str(out), "--duration", "2", *QUIET]) == 0
    assert fake.blocks > 50  # 10 ms blocks for about 2 s
    assert frames_in(out)[0] >= 10


def test_microphone_blocks_are_downmixed_into_the_timeline():
    sd = FakeSoundDevice(left=0.5, right=-0.1)
    mic = MicSource(None, 22050, sd=sd)
    timeline, stop = AudioTimeline(22050), threading.Event()
    thread = threading.Thread(target=mic.run, args=(timeline, stop, time.monotonic()))
    thread.start()
    while timeline.end < 2205:
        time.sleep(0.01)
    stop.set()
    thread.join()
    assert timeline.finished and np.allclose(timeline.read(0, 2205), 0.2)


def test_udp_stream_carries_decodable_video(tmp_path):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.2)
    port = receiver.getsockname()[1]
    data, done = bytearray(), threading.Event()

    def receive():
        while not done.is_set():
            try:
                data.extend(receiver.recv(65536))
            except socket.timeout:
                pass
    thread = threading.Thread(target=receive)
    thread.start()
    try:
        assert main(["live", "--clip", str(CLIP), "--stream", f"udp://127.0.0.1:{port}", "--duration", "2", *QUIET]) == 0
        time.sleep(0.3)
    finally:
        done.set()
        thread.join()
        receiver.close()
    assert data[0] == 0x47 and data[188] == 0x47  # MPEG-TS packets
    (tmp_path / "got.ts").write_bytes(bytes(data))
    n, size = frames_in(tmp_path / "got.ts")
    assert n >= 10 and size == (86, 48)


def test_window_output(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # SDL's documented headless driver
    assert main(["live", "--clip", str(CLIP), "--duration", "1.5", *QUIET]) == 0


def run_error(args, capsys) -> str:
    assert main(["live", *args, *QUIET]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("livestyle: error: ")  # one line, no traceback
    return err[0]


def test_user_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no display for the live window" in run_error(["--clip", str(CLIP), "--duration", "1"], capsys)
    out = tmp_path / "o.mp4"
    assert "camera /dev/video99: cannot be opened" in run_error(["--camera", "/dev/video99", "-o", str(out)], capsys)
    assert "missing/o.mp4: directory" in run_error(["--clip", str(CLIP), "-o", str(tmp_path / "missing" / "o.mp4")], capsys)
    assert "unknown stream URL" in run_error(["--clip", str(CLIP), "--stream", "http://example.org/x"], capsys)
    monkeypatch.setattr("livestyle.io.mic.import_sounddevice", lambda: FakeSoundDevice(devices=False))
    assert "audio input 'USB': not available" in run_error(["--clip", str(CLIP), "--mic", "USB", "-o", str(out)], capsys)
    silent = tmp_path / "silent.mp4"
    with av.open(str(silent), "w") as c:
        v = c.add_stream("libx264", rate=20)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    assert "silent.mp4: has no audio stream" in run_error(["--clip", str(silent), "-o", str(out)], capsys)
    assert not list(tmp_path.glob("*o.mp4")) and not list(tmp_path.glob(".*partial*"))


def test_trailing_window_ends_at_the_newest_sample():
    clip, hop = 196_608, 256
    for end in (0, 1000, clip, clip + 12_345, 10 * clip):
        start = trailing_start(end, clip, hop)
        assert start % hop == 0 and end - hop < start + clip <= end


def test_latest_keeps_only_the_newest_and_counts_drops():
    stop = threading.Event()
    slot = Latest(stop)
    assert slot.peek() is None
    for i in range(5):
        slot.put(i)
    assert slot.get() == 4 and slot.dropped == 4 and slot.peek() == 4
    slot.end()
    assert slot.get() is END
    stop.set()
    with pytest.raises(Stopped):
        Latest(stop).get()


def test_constant_rate_slots_follow_the_clock():
    rate = ConstantRate(20, t0=100.0)
    assert rate.due(100.0) == 1          # the first slot at once
    assert rate.due(100.04) == 0         # still inside it
    assert rate.due(100.26) == 5         # slots 1..5: a slow frame is repeated, not lost
    assert rate.due(100.26) == 0


def test_ctrl_c_ends_the_set_and_keeps_the_recording(tmp_path, monkeypatch):
    from livestyle.io.outputs import FileOutput

    show, calls = FileOutput.show, []

    def interrupted(self, image, now):
        calls.append(now)
        if len(calls) == 8:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread, where outputs run
        return show(self, image, now)

    monkeypatch.setattr(FileOutput, "show", interrupted)
    out = tmp_path / "set.mp4"
    assert main(["live", "--clip", str(CLIP), "-o", str(out), *QUIET]) == 0
    assert frames_in(out)[0] >= 7 and not list(tmp_path.glob(".*partial*"))


def test_window_keys_change_seed_and_freeze(monkeypatch):
    """N picks the next seed: the style worker switches z; Space freezes the style."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import pygame

    import livestyle.runtime.style_ticker as live_module
    from livestyle.io.outputs import WindowOutput

    seeds = []
    real_z = live_module.seeded_z
    monkeypatch.setattr(live_module, "seeded_z", lambda seed, *a: seeds.append(seed) or real_z(seed, *a))
    show, shown = WindowOutput.show, []

    def pressing(self, image, now):
        shown.append(now)
        if len(shown) == 2:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_n))
        if len(shown) == 10:  # ticks in between use the new seed (frozen, the ticker does no work)
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
        result = show(self, image, now)
        pressing.controls = self.controls
        return result

    monkeypatch.setattr(WindowOutput, "show", pressing)
    assert main(["live", "--clip", str(CLIP), "--duration", "3", "--seed", "7", *QUIET]) == 0
    assert seeds[0] == 7 and 8 in seeds  # the next seed was used for later ticks
    assert pressing.controls.seed == 8 and pressing.controls.frozen
