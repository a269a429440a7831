"""Video files through PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from livestyle.errors import UserError


def open_video(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"{path}: not a readable media file ({exc})") from None
    if not container.streams.video:
        container.close()
        raise UserError(f"{path}: has no video stream")
    return container


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
