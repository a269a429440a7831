"""AudioTimeline: mono samples arriving from a reader thread, read by the style worker.

Sample index 0 is time 0 of the render. The reader appends; the style worker waits until the
samples a window needs have arrived (or the stream has ended) and reads windows with silence
outside the recording. Memory stays flat: samples no later window can need are dropped, and the
reader is held back (`wait_for_room`) when it runs too far ahead of the consumer.
"""

from __future__ import annotations

import threading

import numpy as np


class AudioTimeline:
    def __init__(self, sample_rate: int, max_ahead_seconds: float = 30.0):
        self.sample_rate = sample_rate
        self.max_ahead = int(max_ahead_seconds * sample_rate)
        self._buf = np.zeros(1 << 16, dtype=np.float32)
        self._offset = 0      # absolute index of _buf[0]
        self._len = 0         # valid samples in _buf
        self._consumed = 0    # absolute index before which nothing will be read again
        self._finished = False
        self._cond = threading.Condition()

    # -- reader side
    def append(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._cond:
            need = self._len + len(samples)
            if need > len(self._buf):
                capacity = len(self._buf)
                while capacity < need:
                    capacity *= 2
                grown = np.zeros(capacity, dtype=np.float32)
                grown[:self._len] = self._buf[:self._len]
                self._buf = grown
            self._buf[self._len:need] = samples
            self._len = need
            self._cond.notify_all()

    def finish(self) -> None:
        """The stream has ended: reads past the end are silence, waits return at once."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def wait_for_room(self, stop: threading.Event, poll: float = 0.1) -> None:
        """Block the reader while it is more than max_ahead samples past the consumer."""
        with self._cond:
            while self.end - self._consumed > self.max_ahead and not stop.is_set():
                self._cond.wait(poll)

    # -- consumer side
    @property
    def end(self) -> int:
        """Absolute index one past the last sample received."""
        return self._offset + self._len

    @property
    def finished(self) -> bool:
        return self._finished

    def wait_until(self, index: int, stop: threading.Event, poll: float = 0.1) -> bool:
        """Wait until sample `index` has arrived or the stream ended; False if stopped."""
        with self._cond:
            while self.end < index and not self._finished:
                if stop.is_set():
                    return False
                self._cond.wait(poll)
            return not stop.is_set()

    def read(self, start: int, length: int) -> np.ndarray:
        """Samples [start, start + length) as float64, silence outside what was received."""
        out = np.zeros(length, dtype=np.float64)
        with self._cond:
            if 0 < self._consumed and start < self._consumed:
                raise ValueError(f"samples before {self._consumed} were already released")
            lo, hi = max(start, self._offset), min(start + length, self.end)
            if hi > lo:
                out[lo - start:hi - start] = self._buf[lo - self._offset:hi - self._offset]
        return out

    def release_before(self, index: int) -> None:
        """Nothing before `index` will be read again: free it and let the reader move on."""
        with self._cond:
            self._consumed = max(self._consumed, index)
            drop = min(index, self.end) - self._offset
            if drop > len(self._buf) // 2:  # compact in bulk, not per call
                self._buf[:self._len - drop] = self._buf[drop:self._len]
                self._len -= drop
                self._offset += drop
            self._cond.notify_all()
