"""The style tick, defined once for render, live and bench:

    audio window -> log-mel front end -> MVNet (fixed z of the seed) -> style image
                 -> STNet style branch -> style state -> temporal smoothing

Where the 8.91 s window sits is the caller's choice: centred on the frame time (render, which has
the whole recording) or trailing the newest sample (live). Ticks may come at any rate: the
smoothing takes the time since the previous tick, and a StyleTrack interpolates states between
ticks. What a performer or a controller changes (seed, freeze, smoothing, the bank image, the
reactive amount and gain, from keys, OSC or MIDI) lives in livestyle.controls, read at every tick;
bypass, blackout and strength act per frame, in the caller. With a StyleBank
(the user's own images, or the paintings shipped in the package) the music chooses and blends among
the bank's states instead of MVNet's image being the style itself: by MVNet's music embedding,
averaged over `follow` seconds, where the graph exposes it, else by the generated image.
`measure_dynamics` gives the level and onsets the mel front end loses;
with a Reactive mapping (runtime/reactive.py) they set each tick's strength and the style
image's brightness and contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livestyle.audio.dynamics import Dynamics, dynamics
from livestyle.audio.features import IncrementalMel, MelConfig, clip_start_for
from livestyle.controls import CALIBRATE_HEADROOM_DB, CALIBRATE_SECONDS, HOLD_RANGE, Controls
from livestyle.errors import UserError
from livestyle.image_adjust import adjust
from livestyle.runtime.reactive import NEUTRAL, Look, Reactive
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
    hold: float = 0.0            # RMS change of MVNet's image (range -1..1) before the look follows it
                                 # (0: off); see StyleTicker.held_image
    follow: float = 4.0          # with a bank steered by the music: EMA time constant of the music
                                 # embedding, seconds (0: off); see StyleTicker.follow_music


def check_tick_config(cfg, where: str) -> None:
    """`smoothing`, `hold` and `styles_follow` of a render or live config section: one-line errors
    naming `where`."""
    for name, low, high, unit in (("smoothing", 0.0, float("inf"), "seconds"), ("hold", *HOLD_RANGE, "RMS"),
                                  ("styles_follow", 0.0, float("inf"), "seconds")):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            bound = f">= {low:g}" if high == float("inf") else f"in [{low:g}, {high:g}]"
            raise UserError(f"{where}: {name} must be a number {bound} ({unit}), not {value!r}")


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
                 controls: Controls | None = None, bank: StyleBank | None = None,
                 reactive: Reactive | None = None):
        self.mvnet, self.stnet, self.bank, self.reactive = mvnet, stnet, bank, reactive
        self.settings = settings or TickSettings()
        self.controls = controls or Controls()
        self.mel_config: MelConfig = mvnet.mel_config
        self._mel = IncrementalMel(self.mel_config)
        self._smoother = StyleSmoother(self.settings.smoothing, self.settings.tick_seconds)
        self._seed: int | None = None
        self._z: np.ndarray | None = None
        self._held: np.ndarray | None = None   # the image the look follows while `hold` is on
        self.last_music: np.ndarray | None = None   # MVNet's music embedding of the last window, if exposed
        self._music: np.ndarray | None = None       # its whitened running average (follow_music)
        self.last_weights: np.ndarray | None = None  # the bank's blend weights of the last tick
        self.state: StyleState | None = None
        self.last_dynamics: Dynamics | None = None   # level and onsets of the last tick's audio
        self.last_look: Look = NEUTRAL                # what the reactive mapping set last tick

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
            self._held = None   # a new seed always shows, whatever the hold
        return self._z

    def mel_window(self, audio, start: int) -> np.ndarray:
        """`audio`: an AudioTimeline or an array of samples; silence outside the recording."""
        return self._mel.window(audio, start)

    def style_image(self, mel: np.ndarray) -> np.ndarray:
        """(3,128,256) log-mel -> MVNet style image (1,3,64,64) in [-1,1]; keeps the window's music
        embedding in `last_music` where the graph exposes it."""
        style, music = self.mvnet.run(mel[None], self.z)
        self.last_music = None if music is None else music[0]
        return style

    @property
    def steered_by_music(self) -> bool:
        return self.bank is not None and self.mvnet.music_map is not None

    def follow_music(self, seconds: float | None = None) -> np.ndarray | None:
        """The whitened music embedding averaged over the last `follow` seconds (an EMA), which a
        bank is steered by. Why average: one 8.91 s window's embedding wanders within a piece about
        as much as it differs between pieces; over a few seconds the piece's own character wins
        (bench/RESULTS.md, issue 10), and the state smoothing alone (0.5 s) would let the wander
        through as looks that drift within a piece."""
        if not self.steered_by_music or self.last_music is None:
            return None
        music = self.mvnet.music_map.whiten(self.last_music)
        seconds = self.settings.tick_seconds if seconds is None else seconds
        if self._music is None or self.settings.follow <= 0:
            self._music = music
        else:
            self._music = self._music + (1.0 - np.exp(-seconds / self.settings.follow)) * (music - self._music)
        return self._music

    def held_image(self, image: np.ndarray) -> np.ndarray:
        """The image the look follows: with `hold` > 0, the last image that differed by more than
        `hold` (RMS over pixels and channels) from the one held before it, else `image` itself.

        Why: MVNet turns the small differences between windows 50 ms apart into small changes of
        its image, and the smoothing alone lets them through as a slow shimmer on steady music
        (bench/RESULTS.md, issue 10). Held, steady music keeps one look; music that changes moves
        the image past the threshold within a tick or a few, and the smoothing glides to it. A new
        seed always takes effect (the N/P keys must do something: `z` drops the held image). The
        performer's `hold` control, when set, replaces the configured value from this tick on."""
        hold = self.settings.hold if self.controls.hold is None else self.controls.hold
        if hold <= 0:
            return image
        if self._held is None or float(np.sqrt(np.mean(np.square(image - self._held)))) > hold:
            self._held = image
        return self._held

    def style_state(self, image: np.ndarray, look: Look = NEUTRAL) -> StyleState:
        """MVNet's image as the style (brightness and contrast of `look` applied to it first), or,
        with a bank, the blend of its states that the music chooses (follow_music's average where
        the graph exposes the embedding, else the image) at the look's brightness and contrast
        (StyleBank.blend); the state carries the look's strength."""
        if self.bank is not None:
            pinned = self.controls.style
            if 0 <= pinned < len(self.bank.states):
                self.last_weights = np.eye(len(self.bank.states))[pinned]
            elif self._music is not None:
                self.last_weights = self.bank.music_weights(self._music, self.controls.seed)
            else:
                self.last_weights = self.bank.weights(image)
            state = self.bank.blend(self.last_weights, look)
        else:
            style = style_input(image, self.settings.style_size)
            if look.brightness or look.contrast:
                hwc = adjust(style[0].transpose(1, 2, 0), look.brightness, look.contrast)
                style = np.ascontiguousarray(hwc.transpose(2, 0, 1)[None], dtype=np.float32)
            state = self.stnet.style_state_tensor(style)
        state.strength = look.strength
        return state

    def measure_dynamics(self, audio, anchor: int, seconds: float | None = None) -> Dynamics:
        """Level and onsets of the audio before sample `anchor` (the window's centre in render, its
        end in live): `seconds` of it, by default one tick's worth."""
        seconds = self.settings.tick_seconds if seconds is None else seconds
        n = max(1, round(seconds * self.mel_config.sample_rate))
        read = audio.read if hasattr(audio, "read") else None
        if read is not None:
            samples = read(anchor - n, n)
        else:
            lo = max(0, anchor - n)
            samples = np.asarray(audio[lo:max(lo, anchor)])
        self.last_dynamics = dynamics(samples)
        return self.last_dynamics

    # -- the whole tick
    def look(self, audio, anchor: int, seconds: float | None = None) -> Look:
        """The reactive mapping's look for the audio before sample `anchor` (neutral without one)."""
        if self.reactive is None or not self.reactive.cfg.enabled:
            return NEUTRAL
        cfg = self.reactive.cfg
        if self.controls.calibrate:  # the C key: this room's normal level -> just under the loud end
            self.controls.calibrate = False
            heard = self.measure_dynamics(audio, anchor, CALIBRATE_SECONDS).level_dbfs
            if heard > cfg.floor_dbfs - 30.0:  # not silence: a gain from silence would be absurd
                self.controls.input_gain_db = cfg.reference_dbfs - CALIBRATE_HEADROOM_DB - heard
        d = self.measure_dynamics(audio, anchor, cfg.level_seconds)
        if self.controls.input_gain_db:
            d = Dynamics(d.level_dbfs + self.controls.input_gain_db, d.onset_strength)
        self.last_look = self.reactive(d, seconds).scaled(self.controls.reactive)
        return self.last_look

    def tick(self, audio, start: int, seconds: float | None = None, anchor: int | None = None) -> StyleState:
        """The smoothed style state for the window starting at sample `start`. `seconds` since the
        previous tick when ticks are irregular; `anchor`: the sample the tick is for (default the
        window's centre, as render uses; live passes the newest sample). Frozen: the held state,
        no work done."""
        if self.controls.frozen and self.state is not None:
            return self.state
        if self.controls.smoothing is not None:
            self._smoother.set_time_constant(self.controls.smoothing)
        anchor = start + self.mel_config.clip_samples // 2 if anchor is None else anchor
        look = self.look(audio, anchor, seconds)
        image = self.held_image(self.style_image(self.mel_window(audio, start)))
        self.follow_music(seconds)
        raw = self.style_state(image, look)
        self.state = self._smoother(raw, seconds)
        return self.state
