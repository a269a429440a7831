"""Live audio sources feeding an AudioTimeline (mono, the mel front end's sample rate):
a microphone / line input through sounddevice (PortAudio), or a file played in real time.

Neither ever blocks on the consumer: the style worker releases what it no longer needs, so the
timeline holds a little more than one 8.91 s window however long the set lasts.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from livestyle.io.decode import decode_audio
from livestyle.audio.timeline import AudioTimeline
from livestyle.errors import UserError
from livestyle.pipeline import sleep_until


def import_sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the module loads PortAudio when imported
        raise UserError(f"the microphone needs the PortAudio library ({exc}); install it, e.g. "
                        f"`apt install libportaudio2` on Debian/Ubuntu") from None
    return sounddevice


class MicSource:
    """The default input device, or one by index or (part of its) name: `livestyle live
    --list-devices` shows them. PortAudio delivers our sample rate; up to two channels are
    recorded and averaged (a stereo line input is downmixed)."""

    STALL_SECONDS = 1.0   # no audio for this long while the set runs: the input is lost (unplugged)

    def __init__(self, device: str | int | None, sample_rate: int, sd: Any = None):
        self.sd = sd or import_sounddevice()
        self.sample_rate = sample_rate
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        try:
            info = self.sd.query_devices(self.device, "input")
        except (ValueError, self.sd.PortAudioError) as exc:
            which = f"audio input {device!r}" if device is not None else "default audio input"
            raise UserError(f"{which}: not available ({exc}); `livestyle live --list-devices` shows the "
                            f"devices, or use --audio FILE") from None
        self.name = f"microphone {info['name']}"
        self.channels = max(1, min(2, int(info["max_input_channels"])))
        self.overflows = 0

    def run(self, timeline: AudioTimeline, stop: threading.Event, t0: float) -> None:
        heard = [time.monotonic()]

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            heard[0] = time.monotonic()
            if status and getattr(status, "input_overflow", False):
                self.overflows += 1
            timeline.append(indata.mean(axis=1) if indata.ndim == 2 else indata)

        try:
            stream = self.sd.InputStream(samplerate=self.sample_rate, channels=self.channels, dtype="float32",
                                         device=self.device, blocksize=self.sample_rate // 100,
                                         latency="low", callback=callback)
        except (ValueError, self.sd.PortAudioError) as exc:
            raise UserError(f"{self.name}: cannot record at {self.sample_rate} Hz ({exc})") from None
        with stream:
            while not stop.is_set():
                stop.wait(0.1)
                if time.monotonic() - heard[0] > self.STALL_SECONDS or not getattr(stream, "active", True):
                    raise UserError(f"{self.name}: stopped delivering audio (unplugged?)")
        timeline.finish()


class ClipAudioSource:
    """The audio of a file, appended to the timeline as fast as it would play from t0 (it is not
    played to the speakers). `loop` restarts it at the end, like ClipSource does the video."""

    def __init__(self, path: Path, sample_rate: int, loop: bool = False):
        self.path, self.sample_rate, self.loop = Path(path), sample_rate, loop
        self.name = f"{path} (audio)"
        self.overflows = 0

    def run(self, timeline: AudioTimeline, stop: threading.Event, t0: float) -> None:
        written = 0
        try:
            while not stop.is_set():
                start = written
                for _, chunk in decode_audio(self.path, self.sample_rate):
                    if not sleep_until(t0 + (written + len(chunk)) / self.sample_rate, stop):
                        return
                    timeline.append(chunk)
                    written += len(chunk)
                if not self.loop or written == start:
                    return
        finally:
            timeline.finish()
