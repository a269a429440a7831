"""Encoding RGB frames to a video file, with an audio track muxed in (livestyle.io.mux).

The file is written beside the target under a temporary name and renamed into place only when
complete, so an interrupted or failed job never leaves a file that looks finished.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livestyle.errors import UserError
from livestyle.io.mux import AudioMux
from livestyle.io.paths import temporary_beside

log = logging.getLogger(__name__)

DEFAULT_VIDEO_CODEC = {"webm": "libvpx-vp9"}


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


CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63)}


def video_codec(target: Path, codec: str | None = None) -> str:
    """The encoder an output gets: `codec`, else the container's default (VP9 for WebM, else H.264),
    checked to exist and to be a video encoder."""
    codec = codec or DEFAULT_VIDEO_CODEC.get(container_format(target), "libx264")
    check_encoder(codec)
    return codec


def check_crf(codec: str, crf: int) -> None:
    """--crf within the encoder's range (encoders without a CRF ignore it)."""
    lo, hi = CRF_RANGE.get(codec, (crf, crf))
    if not lo <= crf <= hi:
        raise UserError(f"--crf {crf} is outside {codec}'s range {lo}-{hi} (lower is better quality)")


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
        codec = video_codec(target, codec)
        check_crf(codec, crf)
        self.audio = self.output = None
        self.tmp_path = temporary_beside(target)  # unique: concurrent jobs to one target never share it
        try:  # from here on, any failure or interrupt (Ctrl-C, SIGTERM) deletes the temporary file
            try:
                self.output = av.open(str(self.tmp_path), mode="w", format=self.fmt)
            except (av.error.FFmpegError, OSError) as exc:
                raise UserError(f"{target}: cannot write here ({exc})") from None
            self._setup(width, height, fps, codec, crf, audio_source, audio_zero, audio_start, end_time)
        except BaseException:
            self.abort()
            raise

    def _setup(self, width, height, fps, codec, crf, audio_source, audio_zero, audio_start, end_time) -> None:
        self.fps = fps
        self.width, self.height = width + width % 2, height + height % 2  # 4:2:0 needs even sizes
        if (self.width, self.height) != (width, height):
            log.info("%s: %dx%d is encoded as %dx%d (4:2:0 video needs even sizes; the edge is repeated)",
                     self.target, width, height, self.width, self.height)
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
        if audio_source is not None:
            self.audio = AudioMux(self.output, self.fmt, audio_source, audio_zero, audio_start, end_time)

    def write(self, rgb: np.ndarray, repeat: int = 1) -> None:
        """Encode `rgb` as the next `repeat` frames (converted once)."""
        frame = rgb_frame(rgb, self.width, self.height)
        frame.time_base = self.time_base
        for _ in range(repeat):
            frame.pts = self.frames
            try:
                self.output.mux(self.video.encode(frame))
            except (av.error.FFmpegError, OSError) as exc:
                raise UserError(f"{self.target}: cannot write ({exc})") from None
            self.frames += 1
        if self.audio is not None:
            self.audio.mux_until(self.frames / self.fps)

    def commit(self) -> Path:
        """Finish the file and rename it to the target. A file without a single video frame is
        not a result: it is deleted and reported."""
        if not self.frames:
            self.abort()
            raise UserError(f"{self.target}: no video frame was produced; nothing written")
        try:
            self.output.mux(self.video.encode(None))
            if self.audio is not None:
                self.audio.mux_until(self.end_time if self.end_time is not None else float(self.frames / self.fps),
                                     final=True)
                self.audio.close()
            self.output.close()
            os.replace(self.tmp_path, self.target)
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise UserError(f"{self.target}: cannot write ({exc})") from None
        return self.target

    def abort(self) -> None:
        try:
            if self.audio is not None:
                self.audio.close()
            if self.output is not None:
                self.output.close()
        except Exception:  # noqa: BLE001 - closing a half-written file may fail; we delete it anyway
            pass
        self.tmp_path.unlink(missing_ok=True)


