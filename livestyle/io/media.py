"""What a media file holds: opening it, probing its streams, and how its frames are turned upright.

Times are seconds from the input's zero: the earliest start time of its streams, so audio and
video keep the offset they had in the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livestyle.errors import UserError


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




def output_protocols() -> list[str]:
    """The network/file protocols this FFmpeg build can write to (FFmpeg's avio_enum_protocols on
    the libavformat PyAV loaded), e.g. rtmp, udp, tcp, srt. Empty if the library cannot be found."""
    import ctypes
    import ctypes.util
    import glob
    import os

    candidates = sorted(glob.glob(os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libavformat*")))
    candidates += [c for c in (ctypes.util.find_library("avformat"),) if c]
    for candidate in candidates:
        try:
            enum = ctypes.CDLL(candidate).avio_enum_protocols
        except (OSError, AttributeError):
            continue
        enum.restype = ctypes.c_char_p
        enum.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
        opaque, names = ctypes.c_void_p(), []
        while (name := enum(ctypes.byref(opaque), 1)) is not None:
            names.append(name.decode())
        return names
    return []
