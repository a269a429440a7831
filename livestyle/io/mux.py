"""The audio side of an output file: the source's audio track copied, or re-encoded where the
container cannot carry it or trimming must be sample-exact, interleaved as video is written."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livestyle.errors import UserError
from livestyle.io.media import open_media

log = logging.getLogger(__name__)

# Audio codecs each output format can carry as a stream copy; anything else is re-encoded.
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le"},
    "matroska": None,  # Matroska takes any codec
    "webm": {"opus", "vorbis"},
}
DEFAULT_AUDIO_CODEC = {"webm": "libopus"}


class AudioMux:
    """The audio side of VideoWriter: copies packets or re-encodes frames up to a given time."""

    def __init__(self, output, fmt: str, source: Path, zero: float, start: float, end_time: float | None):
        self.output = output
        self.input = open_media(source)
        if not self.input.streams.audio:
            raise UserError(f"{source}: has no audio stream")
        self.in_stream = self.input.streams.audio[0]
        self.zero, self.start, self.end_time = zero, start, end_time
        copyable = COPYABLE_AUDIO.get(fmt, set())
        name = self.in_stream.codec_context.name
        self.copy = start == 0 and (copyable is None or name in copyable)
        if self.copy:
            self.out_stream = output.add_stream_from_template(self.in_stream)
            self.packets = self.input.demux(self.in_stream)
        else:
            ctx = self.in_stream.codec_context
            rate = ctx.sample_rate if ctx.sample_rate in (48000, 44100, 32000, 24000, 22050, 16000) else 48000
            codec = DEFAULT_AUDIO_CODEC.get(fmt, "aac")
            if codec == "libopus":
                rate = 48000
            self.out_stream = output.add_stream(codec, rate=rate, layout="stereo" if ctx.channels != 1 else "mono")
            self.resampler = None
            self.frames = self.input.decode(self.in_stream)
            self.samples_out = 0
            self.fifo = av.AudioFifo()
        self.done = False
        log.debug("audio %s: %s", "copied" if self.copy else "re-encoded", name)

    def mux_until(self, t: float, final: bool = False) -> None:
        """Write audio up to output time t (a little ahead of the video, as muxers like)."""
        if self.done:
            return
        limit = t if final else t + 0.5
        if self.end_time is not None:
            limit = min(limit, self.end_time)
        if self.copy:
            self._copy_until(limit, final)
        else:
            self._encode_until(limit, final)

    def _copy_until(self, limit: float, final: bool) -> None:
        tb = self.in_stream.time_base
        for packet in self.packets:
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * tb) - self.zero
            if self.end_time is not None and t >= self.end_time:
                self.done = True
                return
            shift = int(round(self.zero / tb))
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = self.out_stream
            self.output.mux(packet)
            if t >= limit and not final:
                return
        self.done = True

    def _encode_until(self, limit: float, final: bool) -> None:
        rate = self.out_stream.codec_context.sample_rate
        target = int(round(limit * rate))
        if self.resampler is None:
            self.resampler = av.AudioResampler(format=self.out_stream.codec_context.format.name,
                                               layout=self.out_stream.codec_context.layout.name, rate=rate)
        while self.samples_out + self.fifo.samples < target:
            frame = next(self.frames, None)
            if frame is None:
                break
            if frame.pts is not None:
                t = float(frame.pts * self.in_stream.time_base) - self.zero - self.start
                if t + frame.samples / frame.sample_rate <= 0:
                    continue  # before --start
                skip = int(round(-t * frame.sample_rate)) if t < 0 else 0
            else:
                skip = 0
            for out in self.resampler.resample(frame):
                if skip:
                    n = int(round(skip * rate / frame.sample_rate))
                    arr = out.to_ndarray()
                    if n >= arr.shape[-1]:
                        skip = 0
                        continue
                    out = _trimmed(out, n)
                    skip = 0
                out.pts = None
                self.fifo.write(out)
        size = self.out_stream.codec_context.frame_size or 1024
        want = target - self.samples_out
        while want > 0 and self.fifo.samples > 0:
            take = min(size, want, self.fifo.samples)
            if take < size and not final and self.fifo.samples < want:
                break
            chunk = self.fifo.read(take)
            chunk.pts = self.samples_out
            chunk.time_base = Fraction(1, rate)
            chunk.sample_rate = rate
            self.output.mux(self.out_stream.encode(chunk))
            self.samples_out += take
            want -= take
        if final:
            self.output.mux(self.out_stream.encode(None))
            self.done = True

    def close(self) -> None:
        self.input.close()


def _trimmed(frame: av.AudioFrame, skip: int) -> av.AudioFrame:
    """The frame without its first `skip` samples."""
    arr = frame.to_ndarray()
    planar = frame.format.is_planar
    arr = arr[:, skip:] if planar else arr[:, skip * len(frame.layout.channels):]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out
