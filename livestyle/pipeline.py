"""Worker threads joined by bounded queues, with one stop signal and the first error surfaced.

Every stage is a function run in its own thread. Queues are bounded, so a fast stage waits for a
slow one (back-pressure) and memory does not grow with the length of the input. Any exception
stops all stages; `run()` re-raises the first one in the calling thread. The last stage may also
set `stop` when it has all it needs: producers still running ahead then end quietly.

Live work wants the opposite of back-pressure: a camera must never wait for a slow stylizer, and
a frame that waited is worth less than the next one. `Latest` is a slot of one that keeps only the
newest item and counts what it overwrote.
"""

from __future__ import annotations

import queue
import threading
import time
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


def sleep_until(due: float, stop: threading.Event) -> bool:
    """Sleep until time.monotonic() reaches `due` (a few ms granularity, for real-time pacing);
    False if `stop` was set first."""
    while not stop.is_set():
        left = due - time.monotonic()
        if left <= 0:
            return True
        stop.wait(min(0.005, left))
    return False


class Latest:
    """Holds only the newest item. `put` never blocks (an unread item is replaced and counted as
    dropped); `get` waits for an item newer than the last one taken."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self._cond = threading.Condition()
        self._item: Any = None
        self._fresh = False
        self._ended = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._fresh:
                self.dropped += 1
            self._item, self._fresh = item, True
            self._cond.notify_all()

    def end(self) -> None:
        """No more items: `get` returns END once the last one was taken."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def get(self) -> Any:
        with self._cond:
            while not self._fresh:
                if self._ended:
                    return END
                if self.stop.is_set():
                    raise Stopped
                self._cond.wait(0.1)
            self._fresh = False
            return self._item

    def peek(self) -> Any:
        """The newest item, taken or not (None before the first); never waits."""
        with self._cond:
            return self._item


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

    def latest(self) -> Latest:
        return Latest(self.stop)

    def run(self, main: Callable[[], None] | None = None) -> None:
        """Start all stages, wait for them, re-raise the first error. Ctrl-C stops every stage.
        `main`, if given, runs in the calling thread meanwhile (GUI toolkits want the main thread);
        when it returns the pipeline stops."""
        for thread in self.threads:
            thread.start()
        try:
            if main is not None:
                try:
                    main()
                except (Stopped, KeyboardInterrupt) as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                except BaseException as exc:  # noqa: BLE001 - reported like a stage's error
                    with self._lock:
                        self.errors.append(("main", exc))
                self.stop.set()
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
