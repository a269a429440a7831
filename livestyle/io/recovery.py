"""A set that survives a loose cable: live sources and outputs that lose their device keep the
show going, retry with back-off and resume when the device returns.

  camera / clip    the last frame (or black) keeps coming at the source's rate, so the outputs
                   and the overlay go on; the source is reopened with back-off
  microphone       the audio timeline stops growing, so the style holds (the trailing window no
                   longer moves); the input is reopened with back-off
  stream output    io/outputs.ReconnectingStream: frames for it are skipped while it reconnects

A failure when the set starts is the user's (a wrong device or URL) and ends it with one line;
only a device lost during the set is retried. Nothing queues while a device is away, so memory
and latency stay where they were. Each outage is recorded (device, reason, seconds to recover)
for the set's summary and the soak benchmark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from livestyle.pipeline import Latest, Stopped

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (0.25, 0.5, 1.0, 2.0)   # then every 2 s: a device back after 5 s is used 0.75 s later


def backoff(attempt: int) -> float:
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]


def reopen_with_backoff(reopen: Callable[[], Any], stop: threading.Event, name: str, attempt: int = 0,
                        tick: Callable[[], None] | None = None, period: float = 0.1) -> tuple[Any, int]:
    """Call `reopen()` at the back-off schedule from step `attempt` until it returns (a device
    that is back) or `stop` is set (None). `tick`, if given, runs every `period` seconds
    meanwhile (a lost camera's filler frames). Returns the result and the next back-off step.
    The one retry loop of the camera, the microphone and the stream."""
    next_try = time.monotonic() + backoff(attempt)
    while not stop.is_set():
        if tick is not None:
            tick()
        if time.monotonic() >= next_try:
            try:
                return reopen(), attempt + 1
            except Exception as exc:  # noqa: BLE001 - still away: every kind is retried
                log.debug("%s: reopen failed (%s)", name, exc)
                attempt += 1
                next_try = time.monotonic() + backoff(attempt)
        stop.wait(period if tick is not None else max(0.0, next_try - time.monotonic()))
    return None, attempt


@dataclass
class Outage:
    device: str
    reason: str
    lost_at: float
    back_at: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.back_at is None else self.back_at - self.lost_at


class DeviceHealth:
    """Whether a device is up, and its outages (the last 100), reported once per outage."""

    def __init__(self, name: str, on_event: Callable[[str, str], None] | None = None):
        self.name = name
        self.outages: deque[Outage] = deque(maxlen=100)
        self.on_event = on_event   # ("lost" | "back", device): tests follow the order of events

    @property
    def down(self) -> Outage | None:
        return self.outages[-1] if self.outages and self.outages[-1].back_at is None else None

    def lost(self, reason: str) -> None:
        if self.down is None:
            self.outages.append(Outage(self.name, reason, time.monotonic()))
            log.warning("%s: lost (%s); retrying", self.name, reason)
            if self.on_event:
                self.on_event("lost", self.name)

    def back(self) -> None:
        outage = self.down
        if outage is not None:
            outage.back_at = time.monotonic()
            log.warning("%s: back after %.1f s", self.name, outage.seconds)
            if self.on_event:
                self.on_event("back", self.name)

    def status(self) -> str | None:
        outage = self.down
        return None if outage is None else f"{self.name} LOST {time.monotonic() - outage.lost_at:.0f} s, retrying"


class _Tap:
    """The Latest slot as a source sees it: frames go through (the last one kept for filling
    in), but the source's end() does not end the set: only the recovering wrapper decides that."""

    def __init__(self, out: Latest, keep: Callable[[Any], None]):
        self.out, self.keep = out, keep

    def put(self, item: Any) -> None:
        self.keep(item)
        self.out.put(item)

    def end(self) -> None:
        pass


class RecoveringVideo:
    """Wraps a live video source (io/camera.py's interface: width, height, fps, output_size, run,
    close). When its `run` raises, the last frame (or black, `fill="black"`) keeps coming at the
    source's rate with fresh capture times, while `reopen()` is tried with back-off; a source
    that ends normally (a clip without --loop) ends the set as before."""

    def __init__(self, source: Any, reopen: Callable[[], Any], fill: str = "last",
                 health: DeviceHealth | None = None):
        if fill not in ("last", "black"):
            raise ValueError(f"fill must be 'last' or 'black', not {fill!r}")
        self.source, self.reopen, self.fill = source, reopen, fill
        self.name = source.name
        self.width, self.height = source.width, source.height
        self.fps = source.fps or 20.0
        self.info = getattr(source, "info", None)
        self.output_size: tuple[int, int] | None = None
        self.health = health or DeviceHealth(source.name)
        self._last: Any = None
        self._index = 0

    def close(self) -> None:
        self.source.close()

    def _keep(self, item: Any) -> None:
        self._last = item
        self._index = item.index + 1

    def run(self, out: Latest, stop: threading.Event, t0: float) -> None:
        from livestyle.io.camera import Captured

        tap = _Tap(out, self._keep)
        source, start = self.source, t0
        try:
            while not stop.is_set():
                try:
                    source.output_size = self.output_size
                    source.run(tap, stop, start)
                    return  # ended normally (or stopped)
                except Stopped:
                    return
                except Exception as exc:  # noqa: BLE001 - a lost device: every kind is retried
                    self.health.lost(str(exc) or type(exc).__name__)
                source = self._fill_until_back(out, stop, Captured)
                if source is None:
                    return
                self.source, start = source, time.monotonic()  # a reopened clip plays on from now
                self.health.back()
        finally:
            out.end()

    def _fill_until_back(self, out: Latest, stop: threading.Event, captured_type: Any) -> Any:
        """Put filler frames at the source's rate while reopening with back-off; the new source,
        or None when the set stops first."""
        def fill() -> None:
            image = self._filler()
            if image is not None:
                out.put(captured_type(image, time.monotonic(), self._index, as_is=self.fill == "black"))
                self._index += 1

        source, _ = reopen_with_backoff(self.reopen, stop, self.name, tick=fill, period=1.0 / self.fps)
        return source

    def _filler(self) -> np.ndarray | None:
        last = self._last.image if self._last is not None else None
        if self.fill == "last" and last is not None:
            return last
        if last is not None:
            return np.zeros_like(last)
        if self.output_size is not None:
            return np.zeros((self.output_size[1], self.output_size[0], 3), np.uint8)
        return None


class _HeldTimeline:
    """The timeline as an audio source sees it: its finish() on a failure does not end the audio."""

    def __init__(self, timeline: Any):
        self.timeline = timeline

    def __getattr__(self, name: str) -> Any:
        return getattr(self.timeline, name)

    def finish(self) -> None:
        pass


class RecoveringAudio:
    """Wraps a live audio source (io/mic.py's interface: name, overflows, run). When its `run`
    raises, the timeline stops growing (the style holds) while `reopen()` is tried with back-off."""

    def __init__(self, source: Any, reopen: Callable[[], Any], health: DeviceHealth | None = None):
        self.source, self.reopen = source, reopen
        self.name = source.name
        self.health = health or DeviceHealth(source.name)

    @property
    def overflows(self) -> int:
        return self.source.overflows

    def run(self, timeline: Any, stop: threading.Event, t0: float) -> None:
        held = _HeldTimeline(timeline)
        source, start = self.source, t0
        try:
            while not stop.is_set():
                try:
                    source.run(held, stop, start)
                    return
                except Stopped:
                    return
                except Exception as exc:  # noqa: BLE001 - a lost device: every kind is retried
                    self.health.lost(str(exc) or type(exc).__name__)
                source, _ = reopen_with_backoff(self.reopen, stop, self.name)
                if source is None:
                    return
                self.source, start = source, time.monotonic()
                self.health.back()
        finally:
            timeline.finish()
