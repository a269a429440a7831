"""A set that survives a loose cable (issue 13): file-backed camera and audio sources that fail on
cue, and a stream receiver that goes away and comes back. Assertions follow the order of events
(lost, then back, then new frames or audio), never wall-clock times."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import livestyle.commands.live as live_module
from livestyle.cli import main
from livestyle.errors import UserError
from livestyle.io.camera import ClipSource
from livestyle.io.mic import ClipAudioSource
from livestyle.io.recovery import DeviceHealth, backoff

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
FAST = ["--providers", "cpu", "--quiet", "--height", "48", "--model", "lite"]


class Events:
    """DeviceHealth's events, and whatever the test adds, in the order they happened."""

    def __init__(self):
        self.items: list[tuple] = []
        self.lock = threading.Lock()

    def add(self, *item) -> None:
        with self.lock:
            self.items.append(item)



@pytest.fixture
def events(monkeypatch) -> Events:
    log = Events()

    class Recorded(DeviceHealth):
        def __init__(self, name, on_event=None):
            super().__init__(name, on_event=log.add)

    monkeypatch.setattr(live_module, "DeviceHealth", Recorded)
    return log


class FlakyClip(ClipSource):
    """The clip as a camera that is unplugged after `fail_at` frames."""

    def __init__(self, path: Path, fail_at: int | None, loop: bool = True):
        super().__init__(path, loop=loop)
        self.fail_at = fail_at

    def run(self, out, stop, t0):
        if self.fail_at is None:
            return super().run(out, stop, t0)
        count = [0]

        class Counting:
            def put(inner, item):
                if count[0] == self.fail_at:
                    raise OSError("camera unplugged (test)")
                count[0] += 1
                out.put(item)

            def end(inner):
                out.end()

        super().run(Counting(), stop, t0)


def opener(first, then, failures: int, events: Events, name: str):
    """open_video_source / open_audio_source for the test: the first call gives `first`; later
    calls (the recovery's reopens) fail `failures` times, then give `then()`."""
    calls = [0]

    def open_source(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 1:
            return first
        if calls[0] <= 1 + failures:
            events.add("reopen failed", name)
            raise UserError(f"{name}: not there yet (test)")
        return then()
    return open_source


@pytest.mark.parametrize("fill", ["last", "black"])
def test_lost_camera_shows_the_last_frame_or_black_and_resumes(tmp_path, monkeypatch, events, fill):
    from livestyle.io.outputs import FileOutput

    first = FlakyClip(CLIP, fail_at=15)
    monkeypatch.setattr(live_module, "open_video_source",
                        opener(first, lambda: FlakyClip(CLIP, None), 2, events, str(CLIP)))
    shown: list[tuple[str, np.ndarray]] = []
    show = FileOutput.show

    def recording(self, image, now):
        phase = "|".join(e[0] for e in events.items if e[0] in ("lost", "back")) or "up"
        shown.append((phase, image.copy()))
        if phase.endswith("back") and sum(p.endswith("back") for p, _ in shown) >= 10:
            return False   # enough frames after the camera came back
        return show(self, image, now)

    monkeypatch.setattr(FileOutput, "show", recording)
    out = tmp_path / "set.mkv"
    assert main(["live", "--clip", str(CLIP), "--loop", "-o", str(out), "--camera-loss", fill,
                 "--json", str(tmp_path / "set.json"), *FAST]) == 0
    video_events = [e[0] for e in events.items if e[1] == str(CLIP)]
    assert video_events == ["lost", "reopen failed", "reopen failed", "back"]
    during = [img for phase, img in shown if phase == "lost"]
    assert during, "no frame was shown while the camera was away"
    if fill == "black":
        assert all(not img.any() for img in during[2:])   # after the frames in flight: black
    else:  # the last frame, restyled with the current style: still pictures, not black
        assert all(img.any() for img in during)
    after = [img for phase, img in shown if phase == "lost|back"]
    assert len({img.tobytes() for img in after}) > 1      # moving pictures again
    import json

    outages = json.loads((tmp_path / "set.json").read_text())["outages"]
    assert [o["device"] for o in outages] == [str(CLIP)] and outages[0]["recovered_after_s"] > 0


class FlakyAudio(ClipAudioSource):
    """The clip's audio as a microphone that is unplugged after `fail_after` seconds."""

    def __init__(self, path, sample_rate, fail_after: float | None):
        super().__init__(path, sample_rate, loop=True)
        self.fail_after = fail_after

    def run(self, timeline, stop, t0):
        if self.fail_after is None:
            return super().run(timeline, stop, t0)
        limit = int(self.fail_after * self.sample_rate)

        class Counting:
            def append(inner, samples):
                if timeline.end >= limit:
                    raise OSError("microphone unplugged (test)")
                timeline.append(samples)

            def finish(inner):
                timeline.finish()

            def __getattr__(inner, name):
                return getattr(timeline, name)

        super().run(Counting(), stop, t0)


def test_lost_microphone_holds_the_style_and_resumes(tmp_path, monkeypatch, events):
    from livestyle.io.outputs import FileOutput

    sr = 22050
    made = []

    def source(fail_after):
        s = FlakyAudio(CLIP, sr, fail_after)
        made.append(s)
        return s

    monkeypatch.setattr(live_module, "open_audio_source",
                        opener(source(1.0), lambda: source(None), 1, events, "microphone"))
    ends: list[tuple[str, int]] = []
    timelines = []
    real_timeline = live_module.AudioTimeline

    def timeline(*args, **kwargs):
        t = real_timeline(*args, **kwargs)
        timelines.append(t)
        return t

    monkeypatch.setattr(live_module, "AudioTimeline", timeline)
    show = FileOutput.show

    def recording(self, image, now):
        phase = "|".join(e[0] for e in events.items if e[0] in ("lost", "back")) or "up"
        ends.append((phase, timelines[0].end))
        if phase == "lost|back" and ends[-1][1] > max(e for p, e in ends if p == "lost") + sr // 2:
            return False   # half a second of new audio after the microphone came back
        return show(self, image, now)

    monkeypatch.setattr(FileOutput, "show", recording)
    assert main(["live", "--clip", str(CLIP), "--loop", "-o", str(tmp_path / "set.mkv"), *FAST]) == 0
    audio_events = [e[0] for e in events.items if e[1] == f"{CLIP} (audio)"]
    assert "lost" in audio_events and audio_events[-1] == "back"
    held = [end for phase, end in ends if phase == "lost"]
    assert held and max(held) <= int(1.0 * sr) + sr // 10   # the timeline stopped growing: the style holds


def test_stream_receiver_goes_away_and_comes_back(tmp_path, monkeypatch, events):
    """tcp:// to a receiver that closes after some data, is away while the set reconnects with
    back-off, then listens again on the same port: data flows again, and the recording beside it
    never stopped."""
    from livestyle.io.outputs import FileOutput

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.listen(1)
    received = {"first": 0, "again": 0}
    gone = threading.Event()

    def receiver():
        conn, _ = listener.accept()
        while received["first"] < 20_000:
            data = conn.recv(65536)
            if not data:
                break
            received["first"] += len(data)
        conn.close()
        listener.close()
        gone.set()   # away: connections are refused now

    def receiver_again():
        again = socket.socket()
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen(1)
        again.settimeout(30)
        conn, _ = again.accept()
        conn.settimeout(30)
        while received["again"] < 20_000:
            data = conn.recv(65536)
            if not data:
                break
            received["again"] += len(data)
        conn.close()
        again.close()

    threading.Thread(target=receiver, daemon=True).start()
    recorded = []
    show = FileOutput.show
    comeback = []

    def recording(self, image, now):
        recorded.append(now)
        kinds = [e[0] for e in events.items if e[1].startswith("stream")]
        if kinds == ["lost"] and not comeback and sum(1 for e in events.items if e[0] == "lost") == 1:
            comeback.append(threading.Thread(target=receiver_again, daemon=True))
            comeback[0].start()
        if received["again"] >= 20_000:
            return False
        if len(recorded) > 3000:
            raise AssertionError("the stream did not come back")
        return show(self, image, now)

    monkeypatch.setattr(FileOutput, "show", recording)
    out = tmp_path / "set.mkv"
    assert main(["live", "--clip", str(CLIP), "--loop", "-o", str(out), "--stream", f"tcp://127.0.0.1:{port}",
                 *FAST]) == 0
    assert received["first"] >= 20_000 and received["again"] >= 20_000
    assert [e[0] for e in events.items if e[1].startswith("stream")] == ["lost", "back"]
    import av

    with av.open(str(out)) as played:   # the recording went on through the outage
        assert sum(1 for _ in played.decode(video=0)) >= len(recorded) // 4


def test_backoff_grows_and_caps():
    assert [backoff(i) for i in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
