"""Audio from any media file -> mono float32 at a chosen rate, through PyAV (FFmpeg's decoders and
its swr resampler, a real band-limited resampler). `decode_audio` streams chunks with their times
(render, live rehearsal); `load_audio` collects a whole file or a part of it (training, tools)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from livestyle.errors import UserError
from livestyle.io.video import open_media

SAMPLE_RATE = 22050


def require_audio(path: str | Path) -> None:
    """A clear error now, before any work, if `path` is unreadable or has no audio stream."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise UserError(f"{path}: has no audio stream")


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
