"""What a performer or a controller changes during a set: one object, written from the window's
keys (and, to come, OSC and MIDI), read by the style ticker at every tick.

Plain attributes: a write is atomic under the GIL and takes effect at the next tick, so the
sources of control need no lock and no queue. It sits beside pipeline.py, below io/ and runtime/,
because both read or write it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Controls:
    seed: int = 0          # seed of MVNet's fixed noise z (N/P keys step it)
    frozen: bool = False   # hold the current style whatever the music does; the audio keeps flowing
