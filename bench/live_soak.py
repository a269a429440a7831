"""Soak test of `livestyle live` (issue 13): a long set with faults injected every few minutes.

The bundled clip plays as the camera and its audio as the microphone (looped), at a small size,
with a recording (.mkv, whose memory stays flat) and a tcp:// stream to a receiver in this process
both on. Every `--fault-every` seconds one device fails in turn and stays away for `--outage`
seconds: the camera (its reads fail, reopening fails until it is back), the microphone (the same),
the stream's receiver (it closes the connection and stops listening). Measured:

  RSS              resident memory every 5 s; the target is to stay within +-20 MB of the value
                   at the end of the first minute
  stalls           the longest gap between two frames reaching the recording (target: none > 1 s)
  recovery         per fault, seconds from loss to the device working again (the set's own
                   --json outages), and whether it recovered at all
  recording        decodable, and how many frames over how many seconds

    python bench/live_soak.py --minutes 60 --json soak.json
    python bench/live_soak.py --minutes 3 --fault-every 40     # a quick check

Run it when no training occupies the cores: it measures a real-time set.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
sys.path.insert(0, str(REPO))

import livestyle.commands.live as live_module  # noqa: E402
from livestyle.cli import main  # noqa: E402
from livestyle.errors import UserError  # noqa: E402
from livestyle.io.camera import ClipSource  # noqa: E402
from livestyle.io.mic import ClipAudioSource  # noqa: E402
from livestyle.io.outputs import FileOutput  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Faults:
    """The schedule: which device is away now. Devices check `away(name)`."""

    def __init__(self, every: float, outage: float, order=("camera", "microphone", "stream")):
        self.every, self.outage, self.order = every, outage, order
        self.t0 = time.monotonic()
        self.injected: list[dict] = []

    def current(self) -> tuple[str | None, int]:
        t = time.monotonic() - self.t0
        k = int(t // self.every)
        if k == 0 or t - k * self.every > self.outage:
            return None, k
        return self.order[(k - 1) % len(self.order)], k

    def away(self, name: str) -> bool:
        device, k = self.current()
        if device == name and not any(f["k"] == k for f in self.injected):
            self.injected.append({"k": k, "device": name, "at_s": round(time.monotonic() - self.t0, 1)})
        return device == name


class FaultyClip(ClipSource):
    def __init__(self, path: Path, faults: Faults):
        if faults.away("camera"):
            raise UserError("camera: away (soak fault)")
        super().__init__(path, loop=True)
        self.faults = faults

    def run(self, out, stop, t0):
        faults = self.faults

        class Checked:
            def put(self, item):
                if faults.away("camera"):
                    raise OSError("camera unplugged (soak fault)")
                out.put(item)

            def end(self):
                out.end()

        super().run(Checked(), stop, t0)


class FaultyAudio(ClipAudioSource):
    def __init__(self, path: Path, sample_rate: int, faults: Faults):
        if faults.away("microphone"):
            raise UserError("microphone: away (soak fault)")
        super().__init__(path, sample_rate, loop=True)
        self.faults = faults

    def run(self, timeline, stop, t0):
        faults = self.faults

        class Checked:
            def append(self, samples):
                if faults.away("microphone"):
                    raise OSError("microphone unplugged (soak fault)")
                timeline.append(samples)

            def finish(self):
                timeline.finish()

            def __getattr__(self, name):
                return getattr(timeline, name)

        super().run(Checked(), stop, t0)


def receiver(port: int, faults: Faults, stop: threading.Event, received: list[int]) -> None:
    """Accepts the stream and reads it; while the schedule has it away, it closes the connection
    and does not listen."""
    while not stop.is_set():
        if faults.away("stream"):
            time.sleep(0.1)
            continue
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        server.settimeout(0.5)
        try:
            while not stop.is_set() and not faults.away("stream"):
                try:
                    conn, _ = server.accept()
                except socket.timeout:
                    continue
                conn.settimeout(0.5)
                with conn:
                    while not stop.is_set() and not faults.away("stream"):
                        try:
                            data = conn.recv(65536)
                        except socket.timeout:
                            continue
                        if not data:
                            break
                        received[0] += len(data)
        finally:
            server.close()


def main_soak() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fault-every", type=float, default=180.0, help="seconds between faults")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each device stays away")
    parser.add_argument("--size", default="256x144")
    parser.add_argument("--model", default="lite")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    faults = Faults(args.fault_every, args.outage)
    live_module.open_video_source = lambda job: FaultyClip(job.clip, faults)
    live_module.open_audio_source = lambda job, sample_rate, video: FaultyAudio(job.clip, sample_rate, faults)
    shown: list[float] = []
    show = FileOutput.show

    def recording(self, image, now):
        shown.append(now)
        if len(shown) > 100_000:
            del shown[:50_000]
            shown.insert(0, float("nan"))
        return show(self, image, now)

    FileOutput.show = recording
    gaps = {"max": 0.0, "over_1s": 0}
    rss: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        last_seen = 0
        while not stop.wait(5.0):
            rss.append((time.monotonic() - faults.t0, rss_mb()))
            seen = shown[last_seen:]
            for a, b in zip(seen, seen[1:]):
                gap = b - a
                gaps["max"] = max(gaps["max"], gap)
                gaps["over_1s"] += gap > 1.0
            last_seen = max(0, len(shown) - 1)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    received = [0]
    threading.Thread(target=receiver, args=(port, faults, stop, received), daemon=True).start()
    time.sleep(0.5)
    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        recording_path, figures = Path(tmp) / "soak.mkv", Path(tmp) / "set.json"
        code = main(["live", "--clip", str(CLIP), "--loop", "-o", str(recording_path), "--stream",
                     f"tcp://127.0.0.1:{port}", "--no-window", "--size", args.size, "--model", args.model,
                     "--providers", "cpu", "--quiet", "--duration", str(args.minutes * 60), "--json", str(figures)])
        stop.set()
        set_figures = json.loads(figures.read_text()) if figures.exists() else {}
        frames, seconds = 0, 0.0
        try:
            with av.open(str(recording_path)) as played:
                stream = played.streams.video[0]
                for frame in played.decode(video=0):
                    frames += 1
                    seconds = float(frame.pts * stream.time_base)
            playable = frames > 0
        except (av.error.FFmpegError, OSError):
            playable = False
    after_first_minute = [m for t, m in rss if t >= 60.0]
    base = after_first_minute[0] if after_first_minute else None
    result = {
        "machine": f"{os.cpu_count()} CPU threads", "exit_code": code, "minutes": args.minutes,
        "size": args.size, "model": args.model, "fault_every_s": args.fault_every, "outage_s": args.outage,
        "rss_mb_at_1_min": base, "rss_mb_min_after": min(after_first_minute, default=None),
        "rss_mb_max_after": max(after_first_minute, default=None),
        "rss_drift_mb": None if base is None else round(max(abs(m - base) for m in after_first_minute), 1),
        "longest_gap_between_recorded_frames_s": round(gaps["max"], 3), "gaps_over_1s": gaps["over_1s"],
        "faults_injected": faults.injected, "outages": set_figures.get("outages", []),
        "recording_playable": playable, "recording_frames": frames, "recording_seconds": round(seconds, 1),
        "stream_bytes_received": received[0],
        "set": {k: v for k, v in set_figures.items() if k != "outages"},
        "rss_samples": [(round(t, 1), round(m, 1)) for t, m in rss],
    }
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, indent=1))


if __name__ == "__main__":
    main_soak()
