"""Worker threads joined by bounded queues, with one stop signal and the first error surfaced.

Every stage is a function run in its own thread. Queues are bounded, so a fast stage waits for a
slow one (back-pressure) and memory does not grow with the length of the input. Any exception
stops all stages; `run()` re-raises the first one in the calling thread. The last stage may also
set `stop` when it has all it needs: producers still running ahead then end quietly.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

END = object()  # end-of-stream marker


class Stopped(Exception):
    """Raised inside a stage when the pipeline is stopping."""


class Channel:
    """A bounded queue whose put/get give up when the pipeline stops."""

    def __init__(self, stop: threading.Event, size: int):
        self.stop = stop
        self.queue: queue.Queue = queue.Queue(maxsize=size)

    def put(self, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> Any:
        while True:
            try:
                return self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.stop.is_set():
                    raise Stopped from None


class Pipeline:
    def __init__(self):
        self.stop = threading.Event()
        self.errors: list[tuple[str, BaseException]] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def channel(self, size: int) -> Channel:
        return Channel(self.stop, size)

    def stage(self, name: str, fn: Callable[[], None]) -> None:
        def run() -> None:
            try:
                fn()
            except Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - any failure must stop the whole pipeline
                with self._lock:
                    self.errors.append((name, exc))
                self.stop.set()

        self.threads.append(threading.Thread(target=run, name=name, daemon=True))

    def run(self) -> None:
        """Start all stages, wait for them, re-raise the first error. Ctrl-C stops every stage."""
        for thread in self.threads:
            thread.start()
        try:
            for thread in self.threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            for thread in self.threads:
                thread.join(5)
            raise
        if self.errors:
            raise self.errors[0][1]
