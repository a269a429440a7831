"""`livestyle live`: camera + microphone in, restyled video out (window, file, network stream).

Threads, none of which waits for a slower one (see docs/ARCHITECTURE.md, "Threads"):
  video source   camera (or a clip played in real time) -> a slot holding only the newest frame
  audio source   microphone callback (or a clip's audio in real time) -> AudioTimeline
  style worker   ticks at 20 Hz on the wall clock: log-mel of the trailing 8.91 s, MVNet with a
                 fixed z, STNet style branch, smoothing -> the current style state. When a tick
                 costs more than 50 ms (a CPU), ticks are skipped, not queued: style stays current
  stylize worker takes the newest frame (older ones are dropped), restyles it with the current state
  outputs        in the main thread (SDL wants it): window, file, stream
  control        keys (main thread), OSC (its own thread), MIDI (the port's callback thread): all
                 through one livestyle.controls.Dispatcher, which only writes Controls attributes;
                 the style worker reads them at every tick, the stylize worker and the outputs at
                 every frame (bypass, blackout and strength are applied as a frame is shown, so
                 they show at once: a frame stylised at another strength is re-blended)
Latency is measured per frame from capture to output and reported with the frame rates at the end
(and every few seconds on a terminal, on the window's status overlay and to --osc-send).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livestyle.audio.features import MelConfig
from livestyle.io.decode import require_audio
from livestyle.audio.timeline import AudioTimeline
from livestyle.config import load_config
from livestyle.controls import Controls, Dispatcher, PresetStore, default_presets_path
from livestyle.errors import UserError
from livestyle.io.camera import CameraSource, ClipSource
from livestyle.io.images import output_size, resize_to
from livestyle.io.media import output_protocols
from livestyle.io.mic import ClipAudioSource, MicSource
from livestyle.io.outputs import (FileOutput, NdiOutput, ReconnectingStream, StreamOutput, VirtualCamOutput,
                                  WindowOutput)
from livestyle.io.recovery import DeviceHealth, Outage, RecoveringAudio, RecoveringVideo
from livestyle.io.paths import check_output, write_text
from livestyle.pipeline import END, Pipeline
from livestyle.runtime.sessions import Engine, RuntimeConfig, frame_size_limits
from livestyle.runtime.manifest import model_info, models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner
from livestyle.runtime.stnet_runner import STNetRunner, check_frame_size
from livestyle.runtime.style_bank import BUILTIN, StyleBank, look_grid, styles_folder
from livestyle.runtime.reactive import Reactive, ReactiveConfig, load_reactive_config
from livestyle.runtime.style_ticker import StyleTicker, TickSettings, check_tick_config
from livestyle.runtime.style_state import StyleGlide

log = logging.getLogger(__name__)

FEEDBACK_SECONDS = 0.1   # --osc-send: figures 10 times a second


@dataclass
class LiveConfig:
    style_hz: int = 20            # style ticks per second (fewer when a tick takes longer)
    cpu_style_hz: int = 5         # ... when the frames are painted on the CPU, which the tick shares;
                                  # states glide from tick to tick (StyleGlide), so no steps show
    smoothing: float = 0.5        # seconds; EMA of the style state, as in render
    hold: float = 0.0             # RMS change of MVNet's image before the look follows, as in render
    style_size: int = 128
    seed: int = 0
    record_fps: int = 20          # constant rate of -o files and --stream
    crf: int = 23
    stream_kbps: int = 4000
    status_every: float = 2.0     # seconds between status lines on a terminal
    styles: str = "builtin"        # the bank the music steers: builtin (the shipped paintings), mvnet
                                   # (MVNet's image itself) or a folder of images; --styles overrides
    styles_temperature: float = 0.2  # --styles: lower = the music picks one look, higher = blends
    styles_follow: float = 4.0     # --styles: seconds the music embedding that steers the bank is averaged over
    input_gain_db: float = 0.0    # added to the measured level for the reactive mapping; C/+/- keys change it
    camera_loss: str = "last"     # while a lost camera is retried: "last" frame or "black"


@dataclass
class LiveJob:
    camera: str | None = "0"      # device index/path/URL; None when `clip` is set
    clip: Path | None = None      # rehearse on a file played in real time instead of a camera
    loop: bool = False
    mic: str | None = None        # input device (None: the default one)
    audio: Path | None = None     # drive the style from a file played in real time
    window: bool = True
    fullscreen: bool = False
    record: Path | None = None
    stream: str | None = None
    stream_format: str | None = None
    size: tuple[int, int] | None = None
    height: int | None = None
    duration: float | None = None
    cfg: LiveConfig = field(default_factory=LiveConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    providers: tuple[str, ...] | None = None
    models: Path | None = None
    styles: Path | None = BUILTIN  # the bank's folder (the music chooses among its images); None: MVNet's image
    reactive: ReactiveConfig = field(default_factory=ReactiveConfig)  # loudness/onsets -> the picture
    status: bool = True
    osc_port: int | None = None   # listen for /livestyle/<action> (0: any free port)
    osc_host: str = "127.0.0.1"
    osc_send: str | None = None   # HOST:PORT for fps, latency and level
    presets: Path | None = None   # preset slots file (None: the per-user default)
    midi: str | None = None       # MIDI input port name
    midi_map: Path | None = None  # YAML mapping (None: io/midi.DEFAULT_MAP = configs/midi_generic8.yaml)
    midi_learn: bool = False      # print each MIDI message and what it maps to
    virtual_cam: str | None = None  # "default" or a device (/dev/videoN): a camera other programs open
    on_device_event: Any = None     # (event, device) on each loss and recovery (tests, the soak benchmark)
    ndi: str | None = None          # an NDI source of this name


@dataclass
class LiveStats:
    seconds: float = 0.0
    captured: int = 0
    stylized: int = 0
    shown: int = 0
    dropped: int = 0            # captured frames never stylised (the stylizer was busy)
    ticks: int = 0
    skipped_ticks: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    provider: str = ""
    audio_overflows: int = 0
    outages: list[Outage] = field(default_factory=list, repr=False)   # devices lost and recovered

    def summary(self) -> dict[str, Any]:
        p50, p95 = np.percentile(self.latencies_ms, [50, 95]) if self.latencies_ms else (None, None)
        s = max(self.seconds, 1e-9)
        return {"seconds": round(self.seconds, 2), "captured_fps": round(self.captured / s, 2),
                "shown_fps": round(self.shown / s, 2), "style_hz": round(self.ticks / s, 2),
                "dropped_fraction": round(self.dropped / max(self.captured, 1), 3),
                "latency_ms_p50": None if p50 is None else round(float(p50), 1),
                "latency_ms_p95": None if p95 is None else round(float(p95), 1),
                "provider": self.provider, "audio_overflows": self.audio_overflows,
                "outages": [{"device": o.device, "reason": o.reason,
                             "recovered_after_s": None if o.seconds is None else round(o.seconds, 2)}
                            for o in self.outages]}

    def line(self) -> str:
        s = self.summary()
        lat = f"latency {s['latency_ms_p50']:.0f} ms (p95 {s['latency_ms_p95']:.0f})" if s["latency_ms_p50"] else "latency -"
        return (f"{s['shown_fps']:.1f} fps shown of {s['captured_fps']:.1f} captured, {lat}, style "
                f"{s['style_hz']:.1f} Hz, {s['dropped_fraction']:.0%} dropped, {s['provider']}")


class RecentFigures:
    """Frames shown and their latencies over the last `seconds`: what the overlay and --osc-send
    report (the end-of-set summary keeps the whole set's)."""

    def __init__(self, seconds: float = 1.0):
        self.seconds = seconds
        self.items: deque[tuple[float, float]] = deque()

    def add(self, now: float, latency_ms: float) -> None:
        self.items.append((now, latency_ms))
        while self.items and self.items[0][0] < now - self.seconds:
            self.items.popleft()

    def figures(self, now: float) -> dict[str, float]:
        recent = [lat for t, lat in self.items if t >= now - self.seconds]
        if not recent:
            return {"fps": 0.0, "latency": 0.0, "latency_p95": 0.0}
        p50, p95 = np.percentile(recent, [50, 95])
        return {"fps": len(recent) / self.seconds, "latency": float(p50), "latency_p95": float(p95)}


@dataclass
class SetStatus:
    """What the overlay, the terminal line and --osc-send report, from the set's parts."""
    stats: LiveStats
    recent: RecentFigures
    controls: Controls
    ticker: StyleTicker
    stnet: STNetRunner
    healths: list[DeviceHealth]
    update: Any                       # (now) -> None: brings `stats` up to date

    def level_dbfs(self) -> float | None:
        d = self.ticker.last_dynamics
        return None if d is None else d.level_dbfs + self.controls.input_gain_db

    def problems(self) -> list[str]:
        return [status for h in self.healths if (status := h.status()) is not None]

    def lines(self) -> list[str]:
        now = time.monotonic()
        self.update(now)
        s, r = self.stats, self.recent.figures(now)
        return [f"{r['fps']:.1f} fps shown, {s.captured / max(s.seconds, 1e-9):.1f} captured, "
                f"style {s.ticks / max(s.seconds, 1e-9):.1f} Hz",
                f"latency {r['latency']:.0f} ms (p95 {r['latency_p95']:.0f})",
                f"{self.stnet.provider}, {self.stnet.model}", level_meter(self.level_dbfs()),
                control_state(self.controls), *self.problems()]


def reblend(raw: np.ndarray, styled: np.ndarray, used: float, wanted: float) -> np.ndarray:
    """A frame stylised at strength `used` shown at `wanted` instead (the performer moved the
    strength while it was in the graph): the graph's blend is raw + s (styled - raw), so scaling
    the difference by wanted / used gives the new blend, up to the graph's rounding (one numpy
    pass, for the frame or two in flight only)."""
    out = raw.astype(np.float32) + (wanted / used) * (styled.astype(np.float32) - raw.astype(np.float32))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def control_state(c: Controls) -> str:
    """The performer's state in a few words (overlay, terminal)."""
    flags = [name for name, on in (("BLACKOUT", c.blackout), ("BYPASS", c.bypass), ("frozen", c.frozen)) if on]
    style = (f", style {c.style}" if c.style >= 0 else "") + (f", preset {c.preset}" if c.preset is not None else "")
    return " ".join(flags + [f"seed {c.seed}, strength {c.strength:.0%}, reactive {c.reactive:.0%}, "
                             f"gain {c.input_gain_db:+.0f} dB{style}"])


def level_meter(level_dbfs: float | None, floor: float = -60.0, width: int = 20) -> str:
    if level_dbfs is None:
        return "level -"
    filled = int(round(width * min(1.0, max(0.0, (level_dbfs - floor) / -floor))))
    return f"level {'#' * filled}{'.' * (width - filled)} {level_dbfs:5.1f} dBFS"


def open_video_source(job: LiveJob):
    if job.clip is not None:
        return ClipSource(job.clip, loop=job.loop)
    return CameraSource(job.camera or "0")


def open_audio_source(job: LiveJob, sample_rate: int, video: CameraSource | ClipSource):
    """--audio FILE, else a rehearsal clip's own track (unless --mic), else the microphone."""
    if job.audio is not None:
        require_audio(job.audio)
        return ClipAudioSource(job.audio, sample_rate, loop=job.loop)
    if isinstance(video, ClipSource) and job.mic is None:
        if not video.info.has_audio:
            raise UserError(f"{job.clip}: has no audio stream; pass --audio FILE or --mic DEVICE")
        return ClipAudioSource(job.clip, sample_rate, loop=job.loop)
    return MicSource(job.mic, sample_rate)


def check_job(job: LiveJob) -> None:
    """What a user can get wrong in the options, before anything opens."""
    if not (job.window or job.record or job.stream or job.virtual_cam or job.ndi):
        raise UserError("no output: use the window (default), -o FILE, --stream URL, --virtual-cam and/or --ndi NAME")
    if job.duration is not None and job.duration <= 0:
        raise UserError(f"--duration must be positive, got {job.duration}")
    if job.record is not None:
        check_output(job.record, (job.clip, job.audio), option="recording")
    if job.styles is not None:
        StyleBank.image_files(job.styles)
    if job.stream is not None and "://" in job.stream:
        scheme, protocols = job.stream.split("://", 1)[0].lower(), output_protocols()
        if protocols and scheme not in protocols:
            raise UserError(f"{job.stream}: this FFmpeg build cannot send {scheme}:// (it can: "
                            f"{', '.join(p for p in ('rtmp', 'udp', 'tcp', 'srt', 'http') if p in protocols)})")


def open_controls(job: LiveJob, dispatch: Dispatcher) -> list[Any]:
    """OSC server, OSC feedback and MIDI input, as asked (each has start() or not, and close())."""
    sources: list[Any] = []
    try:
        if job.osc_port is not None:
            from livestyle.io.osc import OscControl
            sources.append(OscControl(dispatch, job.osc_host, job.osc_port))
        if job.osc_send is not None:
            from livestyle.io.osc import OscFeedback
            sources.append(OscFeedback(job.osc_send))
        if job.midi is not None:
            from livestyle.io.midi import MidiControl, load_midi_map
            sources.append(MidiControl(job.midi, load_midi_map(job.midi_map), dispatch, learn=job.midi_learn))
    except BaseException:
        for source in sources:
            source.close()
        raise
    return sources


def open_outputs(job: LiveJob, width: int, height: int, t0: float, outputs: list[Any]) -> None:
    """The constant-rate outputs (recording, virtual camera, NDI, stream), appended to `outputs`
    as each opens, so the caller closes what opened if a later one fails."""
    cfg = job.cfg
    if job.record:
        outputs.append(FileOutput(job.record, width, height, cfg.record_fps, t0, crf=cfg.crf))
    if job.virtual_cam:
        outputs.append(VirtualCamOutput(width, height, cfg.record_fps, t0,
                                        None if job.virtual_cam == "default" else job.virtual_cam))
    if job.ndi:
        outputs.append(NdiOutput(job.ndi, width, height, cfg.record_fps, t0))
    if job.stream:
        outputs.append(ReconnectingStream(
            lambda start: StreamOutput(job.stream, width, height, cfg.record_fps, start, fmt=job.stream_format,
                                       bitrate_kbps=cfg.stream_kbps),
            job.stream, DeviceHealth(f"stream {job.stream}", job.on_device_event)))


class LiveSet:
    """One running set: the devices, models, controls and outputs it opened, and the four stages
    that move frames and style states between them (the module docstring). Each stage is a
    method, so it reads, and can be tested, on its own."""

    def __init__(self, job: LiveJob):
        self.job, self.cfg = job, job.cfg
        self.folder = models_dir(job.models)
        self.mel_cfg = MelConfig(**model_info(self.folder, "mvnet")["mel"])
        self.pipeline = Pipeline()
        self.frames, self.states, self.shown = self.pipeline.latest(), self.pipeline.latest(), self.pipeline.latest()
        self.timeline = AudioTimeline(self.mel_cfg.sample_rate)
        self.controls = Controls(seed=self.cfg.seed, input_gain_db=self.cfg.input_gain_db,
                                 smoothing=self.cfg.smoothing, hold=self.cfg.hold)
        self.dispatch = Dispatcher(self.controls, PresetStore(job.presets or default_presets_path()))
        self.outputs: list[Any] = []
        self.sources: list[Any] = []
        self.video: RecoveringVideo | None = None
        self.status: SetStatus | None = None
        self.started = False
        try:  # what a user can get wrong first, then the models (TensorRT may take minutes to build)
            self._open()
        except BaseException:
            self.close(complete=False)
            raise

    def _open(self) -> None:
        job, cfg = self.job, self.cfg
        self.sources = open_controls(job, self.dispatch)
        self.feedback = next((s for s in self.sources if hasattr(s, "send")), None)
        if job.window:
            self.outputs.append(WindowOutput(fullscreen=job.fullscreen, dispatch=self.dispatch,
                                             status=lambda: self.status.lines() if self.status else []))
        raw_video = open_video_source(job)
        self.video = RecoveringVideo(raw_video, lambda: open_video_source(job), fill=cfg.camera_loss,
                                     health=DeviceHealth(raw_video.name, job.on_device_event))
        rate = self.mel_cfg.sample_rate
        raw_audio = open_audio_source(job, rate, raw_video)
        # a device lost during the set is retried (io/recovery.py); at the start it is the user's
        self.audio = RecoveringAudio(raw_audio, lambda: open_audio_source(job, rate, raw_video),
                                     health=DeviceHealth(raw_audio.name, job.on_device_event))
        self.width, self.height = output_size(self.video.width, self.video.height, job.size, job.height)
        self.video.output_size = (self.width, self.height)  # resized in the source's thread
        check_frame_size(self.width, self.height, frame_size_limits(job.runtime),
                         f"{job.clip}: output" if job.clip is not None else f"camera {job.camera}: output")
        engine = Engine(job.runtime, job.providers)
        self.stnet = STNetRunner(engine, self.folder, style_size=cfg.style_size)
        bank = None if job.styles is None else StyleBank.from_folder(job.styles, self.stnet, cfg.style_size,
                                                                     cfg.styles_temperature, look_grid(job.reactive))
        self.dispatch.styles = 0 if bank is None else len(bank.states)
        self.style_hz = cfg.cpu_style_hz if self.stnet.provider == "cpu" else cfg.style_hz
        self.ticker = StyleTicker(MVNetRunner(engine, self.folder), self.stnet,
                                  TickSettings(cfg.style_size, cfg.smoothing, 1.0 / self.style_hz, cfg.hold, cfg.styles_follow),
                                  self.controls, bank, Reactive(job.reactive, 1.0 / self.style_hz))
        self.stats = LiveStats(provider=self.stnet.provider)
        self.t0 = time.monotonic()
        open_outputs(job, self.width, self.height, self.t0, self.outputs)
        self.status = SetStatus(self.stats, RecentFigures(), self.controls, self.ticker, self.stnet,
                                [self.video.health, self.audio.health]
                                + [o.health for o in self.outputs if hasattr(o, "health")], self.update)

    def style_worker(self) -> None:
        """Ticks at style_hz on the wall clock; a tick that would start late is skipped, never
        queued, so the style stays current. Frozen: the audio keeps flowing, the style holds."""
        period, stop, timeline = 1.0 / self.style_hz, self.pipeline.stop, self.timeline
        next_tick, last = time.monotonic(), None
        while not stop.is_set():
            start = self.ticker.trailing_start(timeline.end)
            if self.controls.frozen and self.ticker.state is not None:
                timeline.release_before(max(0, start))
                next_tick, last = time.monotonic() + period, None
                stop.wait(period)
                continue
            now = time.monotonic()
            self.states.put((now, self.ticker.tick(timeline, start, None if last is None else now - last,
                                                   anchor=timeline.end)))
            timeline.release_before(max(0, start))
            last = now
            self.stats.ticks += 1
            next_tick += period
            if time.monotonic() > next_tick:  # too slow for style_hz: skip ticks, never queue them
                missed = int((time.monotonic() - next_tick) / period) + 1
                self.stats.skipped_ticks += missed
                next_tick += missed * period
            stop.wait(max(0.0, next_tick - time.monotonic()))

    def stylize_worker(self) -> None:
        """The newest frame, restyled with the current state (gliding between ticks)."""
        while self.states.peek() is None:  # the first style tick
            if self.pipeline.stop.wait(0.01):
                return
        glide = StyleGlide(1.0 / self.style_hz)
        size = (self.width, self.height)
        while (frame := self.frames.get()) is not END:
            image = frame.image if (frame.image.shape[1], frame.image.shape[0]) == size \
                else resize_to(frame.image, *size)
            state = glide.at(self.states.peek(), time.monotonic())  # glides on even when bypassed
            strength = self.controls.frame_strength(state.strength)
            as_is = self.controls.blackout or strength <= 0.0 or frame.as_is
            styled = image if as_is else self.stnet.stylize(image, state, strength)
            self.shown.put((styled, frame.captured, image, 0.0 if as_is else strength, state.strength))
            self.stats.stylized += 1
        self.shown.end()

    def output_loop(self) -> None:
        """Main thread: each stylised frame to every output, with the controls that act at once."""
        end = None if self.job.duration is None else self.t0 + self.job.duration
        controls, black = self.controls, np.zeros((self.height, self.width, 3), np.uint8)
        self.next_report = {"status": self.t0 + self.cfg.status_every, "feedback": self.t0 + FEEDBACK_SECONDS}
        while end is None or time.monotonic() < end:
            if (item := self.shown.get()) is END:
                return
            image, captured, raw, used, state_strength = item
            if controls.blackout:  # at once, whatever the stylizer was doing
                image = black
            elif controls.bypass:
                image = raw
            elif used > 0.0 and abs((wanted := controls.frame_strength(state_strength)) - used) > 1e-6:
                image = reblend(raw, image, used, wanted)
            now = time.monotonic()
            for out in list(self.outputs):
                try:
                    if not out.show(image, now):
                        return
                except Exception as exc:  # noqa: BLE001 - one failing output must not end the others
                    self.drop_output(out, exc)
            self.count_shown(now, (time.monotonic() - captured) * 1000.0)
            self.report(now)

    def count_shown(self, now: float, latency_ms: float) -> None:
        self.stats.shown += 1
        self.stats.latencies_ms.append(latency_ms)
        self.status.recent.add(now, latency_ms)
        if len(self.stats.latencies_ms) > 10_000:  # a long set: keep the recent ones
            del self.stats.latencies_ms[:5_000]

    def report(self, now: float) -> None:
        """--osc-send figures 10 times a second; the terminal line every status_every seconds."""
        status = self.status
        if self.feedback is not None and now >= self.next_report["feedback"]:
            recent, level = status.recent.figures(now), status.level_dbfs()
            self.feedback.send({"fps": recent["fps"], "latency": recent["latency"],
                                **({} if level is None else {"level": level})})
            self.next_report["feedback"] = now + FEEDBACK_SECONDS
        if self.job.status and sys.stderr.isatty() and now >= self.next_report["status"]:
            self.update(now)
            level = status.level_dbfs()
            print(f"\rlive: {self.stats.line()} {self.stnet.model}, {'-' if level is None else f'{level:.0f}'} dBFS, "
                  f"{control_state(self.controls)}{''.join(', ' + p for p in status.problems())}   ",
                  end="", file=sys.stderr, flush=True)
            self.next_report["status"] = now + self.cfg.status_every

    def drop_output(self, out: Any, exc: Exception) -> None:
        """A failed output (a dropped network stream) is reported once and closed; the others go
        on, and what they recorded is kept. When none is left the set ends with the error."""
        self.outputs.remove(out)
        name = getattr(out, "url", None) or getattr(out, "path", None) or "the window"
        try:
            out.close(complete=False)
        except Exception:  # noqa: BLE001 - it has failed already
            pass
        if not self.outputs:
            raise exc
        log.warning("%s: output failed and was dropped (%s); %d other output(s) go on",
                    name, str(exc).removeprefix(f"{name}: "), len(self.outputs))

    def update(self, now: float) -> None:
        """Bring the set's figures up to date (the overlay, the terminal, the end of the set)."""
        stats = self.stats
        stats.seconds = now - self.t0
        stats.dropped = self.frames.dropped
        stats.captured = stats.stylized + self.frames.dropped
        stats.audio_overflows = self.audio.overflows
        stats.outages = sorted((o for h in self.status.healths for o in h.outages), key=lambda o: o.lost_at)

    def close(self, complete: bool) -> None:
        """Close what opened; `complete`: recordings are kept as finished files. A camera whose
        thread ran has closed itself."""
        for source in self.sources:
            source.close()
        if self.video is not None and not self.started:
            self.video.close()
        for out in self.outputs:
            out.close(complete=complete)

    def run(self) -> LiveStats:
        """The stages in their threads, the outputs in this one, until the set ends."""
        self.started = True
        for source in self.sources:
            if hasattr(source, "start"):
                source.start()
        self.pipeline.stage("video source", lambda: self.video.run(self.frames, self.pipeline.stop, self.t0))
        self.pipeline.stage("audio source", lambda: self.audio.run(self.timeline, self.pipeline.stop, self.t0))
        self.pipeline.stage("style worker", self.style_worker)
        self.pipeline.stage("stylize worker", self.stylize_worker)
        complete = False
        try:
            self.pipeline.run(main=self.output_loop)
            complete = True
        except KeyboardInterrupt:  # Ctrl-C is how a set ends: keep the recording
            complete = True
        finally:
            self.update(time.monotonic())
            self.close(complete)
            if self.job.status and sys.stderr.isatty():
                print(file=sys.stderr)
        return self.stats


def live(job: LiveJob) -> LiveStats:
    """Run a set until --duration, the window is closed, or Ctrl-C; the set's figures."""
    check_job(job)
    return LiveSet(job).run()


def list_devices() -> str:
    from livestyle.io.mic import import_sounddevice

    devices = str(import_sounddevice().query_devices()).strip()
    return devices or "no audio devices found"


def load_live_config(path: Path | None) -> tuple[LiveConfig, RuntimeConfig]:
    return (load_config(LiveConfig, path, section="live"),
            load_config(RuntimeConfig, path, section="runtime"))


def run(args: argparse.Namespace) -> None:
    """`livestyle live`: options -> job -> result on the terminal."""
    if args.list_devices:
        print(list_devices())
        return
    if args.list_midi:
        from livestyle.io.midi import input_names
        print("\n".join(input_names()) or "no MIDI inputs found")
        return
    if (args.midi_map is not None or args.midi_learn) and args.midi is None:
        raise UserError("--midi-map and --midi-learn need --midi PORT")
    if args.json is not None:
        check_output(args.json, (args.clip, args.audio, args.output), option="--json file")
    cfg, runtime = load_live_config(args.config)
    if args.model is not None:
        runtime.model = args.model
    for name in ("style_hz", "cpu_style_hz"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
            raise UserError(f"{args.config}:live: {name} must be a whole number of ticks per second in 1..60, "
                            f"not {value!r}")
    if cfg.camera_loss not in ("last", "black"):
        raise UserError(f"{args.config}:live: camera_loss must be 'last' or 'black', not {cfg.camera_loss!r}")
    if args.camera_loss is not None:
        cfg.camera_loss = args.camera_loss
    gain = cfg.input_gain_db
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not -60.0 <= gain <= 60.0:
        raise UserError(f"{args.config}:live: input_gain_db must be a number of dB in [-60, 60], not {gain!r}")
    for name in ("seed", "smoothing", "hold"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    check_tick_config(cfg, f"{args.config}:live")
    styles = styles_folder(*((args.styles, "--styles") if args.styles is not None
                             else (cfg.styles, f"{args.config}:live")))
    window = not args.no_window and not (args.output or args.stream or args.virtual_cam or args.ndi) or args.window
    job = LiveJob(camera=args.camera, clip=args.clip, loop=args.loop, mic=args.mic, audio=args.audio,
                  window=window, fullscreen=args.fullscreen, record=args.output, stream=args.stream,
                  stream_format=args.stream_format, size=args.size, height=args.height, duration=args.duration,
                  cfg=cfg, runtime=runtime, providers=args.providers, models=args.models, styles=styles,
                  status=not args.quiet, reactive=load_reactive_config(args.config, args.no_reactive),
                  osc_port=args.osc_port, osc_host=args.osc_host, osc_send=args.osc_send, presets=args.presets,
                  midi=args.midi, midi_map=args.midi_map, midi_learn=args.midi_learn, virtual_cam=args.virtual_cam,
                  ndi=args.ndi)
    stats = live(job)
    summary = stats.summary()
    if args.json:
        write_text(args.json, json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(f"live: {stats.shown} frames shown in {stats.seconds:.1f} s; {stats.line()}")
        if args.output:
            print(f"recorded {args.output}")
