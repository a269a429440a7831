"""The style tick, defined once for render, live and bench:

    audio window -> log-mel front end -> MVNet (fixed z of the seed) -> style image
                 -> STNet style branch -> style state -> temporal smoothing

Where the 8.91 s window sits is the caller's choice: centred on the frame time (render, which has
the whole recording) or trailing the newest sample (live). Ticks may come at any rate: the
smoothing takes the time since the previous tick, and a StyleTrack interpolates states between
ticks. What a performer or a controller changes (seed, freeze; later strength, bypass, bank
choice from keys, OSC or MIDI) lives in livestyle.controls, read at every tick. With a StyleBank
(the user's own images) the generated image chooses and blends among the bank's states instead of
being the style itself. `measure_dynamics` gives the level and onsets the mel front end loses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livestyle.audio.dynamics import Dynamics, dynamics
from livestyle.audio.features import IncrementalMel, MelConfig, clip_start_for
from livestyle.controls import Controls
from livestyle.runtime.mvnet_runner import MVNetRunner, seeded_z
from livestyle.runtime.stnet_runner import STNetRunner
from livestyle.runtime.style_bank import StyleBank
from livestyle.runtime.style_state import StyleSmoother, StyleState


@dataclass
class TickSettings:
    """How ticks are made; render and live configs carry these values."""
    style_size: int = 128        # the 64x64 MVNet image is upscaled to this before STNet
    smoothing: float = 0.5       # EMA time constant of the style state, seconds (0: off)
    tick_seconds: float = 0.05   # nominal time between ticks (20 Hz)


def style_input(style: np.ndarray, size: int) -> np.ndarray:
    """MVNet output (1,3,64,64) in [-1,1] -> STNet style input (1,3,size,size) in [0,1]."""
    image = np.clip(style[0].transpose(1, 2, 0) * 0.5 + 0.5, 0.0, 1.0).astype(np.float32)
    if size != image.shape[0]:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def trailing_start(end: int, clip_samples: int, hop: int) -> int:
    """Start of the newest window that ends at or before sample `end`, on the hop grid (the
    incremental mel reuses frames between windows only on that grid). May be negative at first:
    the timeline reads silence there."""
    return ((end - clip_samples) // hop) * hop


class StyleTicker:
    def __init__(self, mvnet: MVNetRunner, stnet: STNetRunner, settings: TickSettings | None = None,
                 controls: Controls | None = None, bank: StyleBank | None = None):
        self.mvnet, self.stnet, self.bank = mvnet, stnet, bank
        self.settings = settings or TickSettings()
        self.controls = controls or Controls()
        self.mel_config: MelConfig = mvnet.mel_config
        self._mel = IncrementalMel(self.mel_config)
        self._smoother = StyleSmoother(self.settings.smoothing, self.settings.tick_seconds)
        self._seed: int | None = None
        self._z: np.ndarray | None = None
        self.state: StyleState | None = None
        self.last_dynamics: Dynamics | None = None   # level and onsets of the last tick's audio

    # -- where the window sits
    def centred_start(self, seconds: float) -> int:
        """First sample of the window centred on `seconds` (render)."""
        return clip_start_for(seconds, self.mel_config)

    def trailing_start(self, end_sample: int) -> int:
        """First sample of the newest window that ends by `end_sample` (live)."""
        return trailing_start(end_sample, self.mel_config.clip_samples, self.mel_config.hop)

    # -- the stages, one by one (bench times them separately)
    @property
    def z(self) -> np.ndarray:
        if self._seed != self.controls.seed:
            self._seed = self.controls.seed
            self._z = seeded_z(self._seed, 1, self.mvnet.z_dim)
        return self._z

    def mel_window(self, audio, start: int) -> np.ndarray:
        """`audio`: an AudioTimeline or an array of samples; silence outside the recording."""
        return self._mel.window(audio, start)

    def style_image(self, mel: np.ndarray) -> np.ndarray:
        """(3,128,256) log-mel -> MVNet style image (1,3,64,64) in [-1,1]."""
        return self.mvnet.style_tensor(mel[None], self.z)

    def style_state(self, image: np.ndarray) -> StyleState:
        """MVNet's image as the style, or, with a bank of the user's images, the blend of their
        states that the image chooses."""
        if self.bank is not None:
            return self.bank.state(image)
        return self.stnet.style_state_tensor(style_input(image, self.settings.style_size))

    def measure_dynamics(self, audio, anchor: int) -> Dynamics:
        """Level and onsets of the tick's worth of audio before sample `anchor` (the window's
        centre in render, its end in live)."""
        n = max(1, round(self.settings.tick_seconds * self.mel_config.sample_rate))
        read = audio.read if hasattr(audio, "read") else None
        if read is not None:
            samples = read(anchor - n, n)
        else:
            lo = max(0, anchor - n)
            samples = np.asarray(audio[lo:max(lo, anchor)])
        self.last_dynamics = dynamics(samples)
        return self.last_dynamics

    # -- the whole tick
    def tick(self, audio, start: int, seconds: float | None = None) -> StyleState:
        """The smoothed style state for the window starting at sample `start`. `seconds` since the
        previous tick when ticks are irregular. Frozen: the held state, no work done."""
        if self.controls.frozen and self.state is not None:
            return self.state
        raw = self.style_state(self.style_image(self.mel_window(audio, start)))
        self.state = self._smoother(raw, seconds)
        return self.state
