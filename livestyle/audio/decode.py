"""Audio files -> mono float32 at 22 050 Hz, through PyAV (FFmpeg's decoders and its swr resampler,
a real band-limited resampler)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from livestyle.errors import UserError

SAMPLE_RATE = 22050


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """Decode the first audio stream of any media file, downmixed to mono and resampled.

    `start`/`duration` in seconds select a part (decoding stops once it is complete)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"{path}: not a readable audio file ({exc})") from None
    with container:
        if not container.streams.audio:
            raise UserError(f"{path}: has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        first = int(round(start * sample_rate))
        last = None if duration is None else first + int(round(duration * sample_rate))
        chunks, total = [], 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if last is not None and total >= last:
                    break
            else:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise UserError(f"{path}: audio stream cannot be decoded ({exc})") from None
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return np.ascontiguousarray(audio[first:last], dtype=np.float32)
