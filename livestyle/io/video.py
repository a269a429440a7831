"""Video files through PyAV: probing, streaming decode, and an encoder that muxes audio back in.

Times are seconds from the input's zero: the earliest start time of its streams, so audio and
video keep the offset they had in the source.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from livestyle.errors import UserError

log = logging.getLogger(__name__)

# Audio codecs each output format can carry as a stream copy; anything else is re-encoded.
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le"},
    "matroska": None,  # Matroska takes any codec
    "webm": {"opus", "vorbis"},
}
DEFAULT_VIDEO_CODEC = {"webm": "libvpx-vp9"}
DEFAULT_AUDIO_CODEC = {"webm": "libopus"}


def open_media(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a media file")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"{path}: not a readable media file ({exc})") from None


def open_video(path: str | Path) -> av.container.InputContainer:
    container = open_media(path)
    if not container.streams.video:
        container.close()
        raise UserError(f"{path}: has no video stream")
    return container


def _start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


@dataclass(frozen=True)
class Orientation:
    """How to turn a decoded frame upright, as FFmpeg's own player and CLI do (autorotate).

    Phones store portrait video as landscape frames plus a display matrix; mirrored front-camera
    clips add a flip. The matrix's 2x2 part is one of the eight signed permutations; it says
    whether the axes are swapped and which display axis is reversed. The mapping was checked
    against `ffmpeg` 9's autorotate for all eight (see tests/test_orientation.py).
    """

    transpose: bool = False
    hflip: bool = False
    vflip: bool = False

    @classmethod
    def from_display_matrix(cls, matrix) -> "Orientation":
        """`matrix`: the 9 int32 of AV_FRAME_DATA_DISPLAYMATRIX (a, b, u, c, d, v, x, y, w)."""
        a, b, c, d = (float(matrix[i]) for i in (0, 1, 3, 4))
        if abs(b) > abs(a):  # axes swapped: 90 or 270 degrees, possibly mirrored
            return cls(True, c < 0, b < 0)
        return cls(False, a < 0, d < 0)

    @classmethod
    def of(cls, frame: av.VideoFrame) -> "Orientation":
        for side in frame.side_data:
            if side.type.name == "DISPLAYMATRIX":
                return cls.from_display_matrix(np.frombuffer(bytes(side), dtype="<i4", count=9))
        return cls()

    def apply(self, image: np.ndarray) -> np.ndarray:
        if not (self.transpose or self.hflip or self.vflip):
            return image  # the common case: no copy
        if self.transpose:
            image = image.transpose(1, 0, 2)
        if self.hflip:
            image = image[:, ::-1]
        if self.vflip:
            image = image[::-1]
        return np.ascontiguousarray(image)


@dataclass
class MediaInfo:
    path: Path
    width: int
    height: int           # as displayed (after rotation)
    fps: Fraction
    duration: float       # seconds of video
    orientation: Orientation  # from the display matrix; frames are turned upright
    zero: float           # the input's time zero (earliest stream start)
    has_audio: bool
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None


def probe(path: str | Path) -> MediaInfo:
    """Stream facts needed before rendering; decodes the first frame to learn the rotation."""
    with open_video(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        zero = min(_start(s) for s in [video] + ([audio] if audio else []))
        fps = video.average_rate or video.guessed_rate or Fraction(25)
        if video.duration is not None:
            duration = float(video.duration * video.time_base) + _start(video) - zero
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        try:
            first = next(container.decode(video))
        except (StopIteration, av.error.FFmpegError):
            raise UserError(f"{path}: the video stream has no decodable frames") from None
        orientation = Orientation.of(first)
        w, h = video.codec_context.width, video.codec_context.height
        if orientation.transpose:
            w, h = h, w
        return MediaInfo(Path(path), w, h, Fraction(fps), duration, orientation, zero, audio is not None,
                         audio.codec_context.name if audio else None,
                         audio.codec_context.sample_rate if audio else None,
                         audio.codec_context.channels if audio else None)


def decode_video(path: str | Path, zero: float, start: float = 0.0,
                 orientation: Orientation = Orientation()) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB uint8 frame) from `start` on, streaming; any pixel format the decoder gives,
    turned upright by `orientation` (from `probe`)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            container.seek(int((start + zero) / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) - zero
            if t < start - 1e-6:
                continue
            yield t, orientation.apply(frame.to_ndarray(format="rgb24"))


def sample_frames(path: str | Path, count: int) -> list[np.ndarray]:
    """`count` RGB frames spread evenly over the clip (decodes the clip once, streaming)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        if total <= 0:  # unknown length: count first
            total = sum(1 for _ in container.decode(stream))
            container.seek(0)
        wanted = {int(i * total / count) for i in range(count)}
        frames = []
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
        return frames


def container_format(path: Path) -> str:
    """FFmpeg muxer name for an output path, from its extension."""
    try:
        fmt = av.format.ContainerFormat(path.suffix.lstrip(".").lower() or "mp4", "w")
    except (ValueError, av.error.FFmpegError):
        fmt = None
    if fmt is None or not path.suffix:
        guesses = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
        name = guesses.get(path.suffix.lower())
        if name is None:
            raise UserError(f"{path}: unknown output container {path.suffix!r} (use .mp4, .mov, .mkv or .webm)")
        return name
    return fmt.name.split(",")[0]


def check_encoder(name: str) -> None:
    try:
        codec = av.codec.Codec(name, "w")
    except (ValueError, av.error.FFmpegError):
        raise UserError(f"unknown video codec {name!r}; this FFmpeg can encode e.g. "
                        f"{', '.join(c for c in ('libx264', 'libx265', 'libvpx-vp9', 'mpeg4') if c in av.codecs_available)}") from None
    if codec.type != "video":
        raise UserError(f"{name!r} is a {codec.type} codec, not a video codec")


def rgb_frame(rgb: np.ndarray, width: int, height: int) -> av.VideoFrame:
    """An RGB array as a frame of the encoder's (even) size: the missing edge row/column is
    repeated, since 4:2:0 cannot hold odd sizes."""
    h, w = rgb.shape[:2]
    if (w, h) != (width, height):
        rgb = np.pad(rgb, ((0, height - h), (0, width - w), (0, 0)), mode="edge")
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


class VideoWriter:
    """Encode RGB frames at a fixed rate and mux an audio track in.

    Writes to `tmp_path`; `commit()` renames it to the target only after the file is complete,
    `abort()` deletes it. Audio is stream-copied when the output format can carry the source codec
    and no trimming is asked for; otherwise it is re-encoded (AAC, or Opus for WebM) with
    sample-exact trimming. Audio is interleaved as video is written, so memory stays flat.
    """

    def __init__(self, target: Path, width: int, height: int, fps: Fraction, codec: str | None = None,
                 crf: int = 20, audio_source: Path | None = None, audio_zero: float = 0.0,
                 audio_start: float = 0.0, end_time: float | None = None):
        self.target = target
        self.fmt = container_format(target)
        self.tmp_path = target.with_name(f".{target.stem}.partial{target.suffix}")
        codec = codec or DEFAULT_VIDEO_CODEC.get(self.fmt, "libx264")
        check_encoder(codec)
        try:
            self.output = av.open(str(self.tmp_path), mode="w", format=self.fmt)
        except (av.error.FFmpegError, OSError) as exc:
            raise UserError(f"{target}: cannot write here ({exc})") from None
        self.fps = fps
        self.width, self.height = width + width % 2, height + height % 2  # 4:2:0 needs even sizes
        self.video = self.output.add_stream(codec, rate=fps)
        self.video.width, self.video.height = self.width, self.height
        self.video.pix_fmt = "yuv420p"
        self.time_base = Fraction(1, 1) / fps  # kept: the muxer changes the stream's own later
        self.video.time_base = self.time_base
        options = {}
        if codec in ("libx264", "libx265"):
            options = {"crf": str(crf), "preset": "veryfast"}
        elif codec.startswith("libvpx"):
            options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        self.video.options = options
        self.frames = 0
        self.end_time = end_time
        self.audio = None
        if audio_source is not None:
            self.audio = _AudioMux(self.output, self.fmt, audio_source, audio_zero, audio_start, end_time)

    def write(self, rgb: np.ndarray, repeat: int = 1) -> None:
        """Encode `rgb` as the next `repeat` frames (converted once)."""
        frame = rgb_frame(rgb, self.width, self.height)
        frame.time_base = self.time_base
        for _ in range(repeat):
            frame.pts = self.frames
            self.output.mux(self.video.encode(frame))
            self.frames += 1
        if self.audio is not None:
            self.audio.mux_until(self.frames / self.fps)

    def commit(self) -> Path:
        self.output.mux(self.video.encode(None))
        if self.audio is not None:
            self.audio.mux_until(self.end_time if self.end_time is not None else float(self.frames / self.fps),
                                 final=True)
            self.audio.close()
        self.output.close()
        os.replace(self.tmp_path, self.target)
        return self.target

    def abort(self) -> None:
        try:
            if self.audio is not None:
                self.audio.close()
            self.output.close()
        except Exception:  # noqa: BLE001 - closing a half-written file may fail; we delete it anyway
            pass
        self.tmp_path.unlink(missing_ok=True)


class _AudioMux:
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
