"""Live video sources: a camera (OpenCV), or a clip played at its own pace (rehearsal, tests).

A source runs in its own thread and puts `Captured` frames into a `Latest` slot: it never waits for
the stylizer, and the stylizer never sees a stale frame twice. The capture time is taken right
after the frame arrives, so latency is measured from there to the output.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livestyle.errors import UserError
from livestyle.io.decode import decode_video
from livestyle.io.images import resize_to
from livestyle.io.media import probe
from livestyle.native_output import captured_native_output
from livestyle.pipeline import Latest, sleep_until

log = logging.getLogger(__name__)


@dataclass
class Captured:
    image: np.ndarray   # RGB uint8 (H, W, 3)
    captured: float     # time.monotonic() when the frame arrived
    index: int
    as_is: bool = False  # show it unstyled (the black filler while a lost camera is retried)


class CameraSource:
    """A camera by index (0, 1, ...) or device path (/dev/video2), or a URL OpenCV can open
    (rtsp://...). The driver's own queue is set to one frame where the backend allows, so what we
    read is what the camera sees now, not a second ago."""

    def __init__(self, device: str, size: tuple[int, int] | None = None, fps: float | None = None,
                 failure_timeout: float = 2.0):
        import cv2

        self.name = f"camera {device}"
        self.failure_timeout = failure_timeout
        with captured_native_output() as printed:  # OpenCV warns on stderr for every backend it tries
            self.capture = cv2.VideoCapture(int(device) if str(device).isdigit() else str(device))
        log.debug("OpenCV printed: %s", printed[0] if printed else "")
        if not self.capture.isOpened():
            raise UserError(f"{self.name}: cannot be opened (no such device, no permission, or in use "
                            f"by another program)")
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if size is not None:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps is not None:
            self.capture.set(cv2.CAP_PROP_FPS, fps)
        ok, image = self.capture.read()
        if not ok or image is None:
            self.capture.release()
            raise UserError(f"{self.name}: opened but delivers no frames")
        self.first = image
        self.height, self.width = image.shape[:2]
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0) or None
        self.output_size: tuple[int, int] | None = None  # (W, H) to deliver; resized in this thread

    def close(self) -> None:
        self.capture.release()

    def run(self, out: Latest, stop: threading.Event, t0: float) -> None:
        import cv2

        index, image, failing_since = 0, self.first, None
        try:
            while not stop.is_set():
                if image is not None:
                    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                    if self.output_size is not None:
                        rgb = resize_to(rgb, *self.output_size)
                    out.put(Captured(rgb, time.monotonic(), index))
                    index += 1
                ok, image = self.capture.read()
                if ok and image is not None:
                    failing_since = None
                    continue
                image = None
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.failure_timeout:
                    raise UserError(f"{self.name}: stopped delivering frames (unplugged?)")
                time.sleep(0.01)
        finally:
            self.close()
            out.end()


class ClipSource:
    """A video file played in real time from t0, as if a camera were filming it; `loop` restarts
    it at the end. Frames arrive when their timestamp is due, so a slow stylizer drops them just
    as it would drop camera frames."""

    def __init__(self, path: Path, loop: bool = False):
        self.info = probe(path)
        self.path, self.loop = Path(path), loop
        self.name = str(path)
        self.width, self.height = self.info.width, self.info.height
        self.fps = float(self.info.fps)
        self.output_size: tuple[int, int] | None = None  # (W, H) to deliver; resized by the decoder

    def close(self) -> None:
        pass  # files are opened by run()

    def run(self, out: Latest, stop: threading.Event, t0: float) -> None:
        index, offset = 0, 0.0
        try:
            while not stop.is_set():
                last = 0.0
                for t, image in decode_video(self.path, self.info.zero, 0.0, self.info.orientation,
                                             size=self.output_size):
                    if not sleep_until(t0 + offset + t, stop):
                        return
                    out.put(Captured(image, time.monotonic(), index))
                    index, last = index + 1, t
                if not self.loop:
                    return
                offset += last + 1.0 / self.fps
        finally:
            out.end()
