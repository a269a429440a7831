"""Streaming decode through PyAV: video frames as upright RGB, audio as mono float32.

Video: any pixel format the decoder gives, converted to RGB (and resized, when asked) in one
libswscale pass, then turned upright. Audio: FFmpeg's decoders and its swr resampler (a real
band-limited resampler); `decode_audio` streams chunks with their times (render, live
rehearsal), `load_audio` collects a whole file or a part of it (training, tools).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from livestyle.errors import UserError
from livestyle.io.media import Orientation, open_media, open_video

log = logging.getLogger(__name__)

def decode_video(path: str | Path, zero: float, start: float = 0.0, orientation: Orientation = Orientation(),
                 size: tuple[int, int] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB uint8 frame) from `start` on, streaming; any pixel format the decoder gives,
    turned upright by `orientation` (from `probe`). `size` (W, H, as displayed): resized in the
    same libswscale pass that converts to RGB (area averaging when shrinking, bicubic when
    enlarging), instead of a second pass over a full-size RGB copy."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            container.seek(int((start + zero) / stream.time_base), stream=stream, backward=True)
        convert = {"format": "rgb24"}
        if size is not None:
            w, h = (size[1], size[0]) if orientation.transpose else size
            ctx = stream.codec_context
            if (w, h) != (ctx.width, ctx.height):
                shrinking = w * h < ctx.width * ctx.height
                convert.update(width=w, height=h, interpolation="AREA" if shrinking else "BICUBIC")
        for frame in _decode_tolerantly(container, stream, path, zero):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) - zero
            if t < start - 1e-6:
                continue
            yield t, orientation.apply(frame.to_ndarray(**convert))


def _decode_tolerantly(container, stream, path, zero: float) -> Iterator:
    """Frames of `stream`, packet by packet: a packet that fails to demux or decode (a damaged or
    truncated file) is reported once as a warning with the time where the damage starts, and
    decoding goes on with the next good packet instead of ending the whole job."""
    damaged_at = None
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # the container itself is cut: nothing more to read
            log.warning("%s: the file is damaged after %s (%s); what came before is used", path,
                        "the start" if damaged_at is None else f"{damaged_at:.2f} s", exc)
            break
        when = float(packet.pts * stream.time_base) - zero if packet.pts is not None else None
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            if damaged_at is None:
                damaged_at = when if when is not None else -1.0
                log.warning("%s: damaged %s stream at %s (%s); skipping the damaged data", path, stream.type,
                            f"{when:.2f} s" if when is not None else "an unknown time", exc)
            continue
        yield from frames


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


SAMPLE_RATE = 22050


def require_audio(path: str | Path) -> float | None:
    """A clear error now, before any work, if `path` is unreadable or has no audio stream.
    Returns the duration the container declares, in seconds (None when it declares none)."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise UserError(f"{path}: has no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / 1e6 if container.duration is not None else None


def decode_audio(path: str | Path, sample_rate: int, zero: float = 0.0,
                 start: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
    """(time of first sample, mono float32 chunk at `sample_rate`) from about `start` on (from
    the packet before it: callers trim by the time given). Times count from `zero`."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise UserError(f"{path}: has no audio stream")
        stream = container.streams.audio[0]
        if start > 0:
            container.seek(int((start + zero) / stream.time_base), stream=stream, backward=True)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        position = None
        try:
            for frame in container.decode(stream):
                if position is None:
                    position = (float(frame.pts * stream.time_base) - zero) if frame.pts is not None else 0.0
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    yield position, chunk
                    position += len(chunk) / sample_rate
            for out in resampler.resample(None):
                chunk = out.to_ndarray().reshape(-1)
                yield position or 0.0, chunk
        except av.error.FFmpegError as exc:
            raise UserError(f"{path}: audio stream cannot be decoded ({exc})") from None


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """The first audio stream as one array, downmixed to mono and resampled; `start`/`duration` in
    seconds from its first sample select a part (decoding stops once it is complete)."""
    first = int(round(start * sample_rate))
    last = None if duration is None else first + int(round(duration * sample_rate))
    chunks, total = [], 0
    with contextlib.closing(decode_audio(path, sample_rate)) as stream:
        for _, chunk in stream:
            chunks.append(chunk)
            total += len(chunk)
            if last is not None and total >= last:
                break
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return np.ascontiguousarray(audio[first:last], dtype=np.float32)
