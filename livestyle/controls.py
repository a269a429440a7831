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
    input_gain_db: float = 0.0   # added to the measured level before the reactive mapping (live:
                                 # the room's gain instead of a running normalisation; +/- keys)
    calibrate: bool = False      # C key: at the next tick, set input_gain_db so that the last
                                 # seconds' level sits CALIBRATE_HEADROOM_DB below the reference


CALIBRATE_HEADROOM_DB = 6.0     # what "playing normally" maps to: 6 dB under the loud end
CALIBRATE_SECONDS = 2.0         # audio the calibration measures
GAIN_STEP_DB = 3.0              # one +/- key press
