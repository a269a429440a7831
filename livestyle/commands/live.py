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
from livestyle.io.camera import CameraSource, Captured, ClipSource
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
from livestyle.runtime.style_bank import StyleBank
from livestyle.runtime.reactive import Reactive, ReactiveConfig, load_reactive_config
from livestyle.runtime.style_ticker import StyleTicker, TickSettings
from livestyle.runtime.style_state import StyleGlide

log = logging.getLogger(__name__)

FEEDBACK_SECONDS = 0.1   # --osc-send: figures 10 times a second


@dataclass
class LiveConfig:
    style_hz: int = 20            # style ticks per second (fewer when a tick takes longer)
    cpu_style_hz: int = 5         # ... when the frames are painted on the CPU, which the tick shares;
                                  # states glide from tick to tick (StyleGlide), so no steps show
    smoothing: float = 0.5        # seconds; EMA of the style state, as in render
    style_size: int = 128
    seed: int = 0
    record_fps: int = 20          # constant rate of -o files and --stream
    crf: int = 23
    stream_kbps: int = 4000
    status_every: float = 2.0     # seconds between status lines on a terminal
    styles_temperature: float = 0.5  # --styles: lower = the music picks one look, higher = blends
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
    styles: Path | None = None    # a folder of the user's style images: the music chooses among them
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


def live(job: LiveJob) -> LiveStats:
    cfg = job.cfg
    check_job(job)
    folder = models_dir(job.models)
    mel_cfg = MelConfig(**model_info(folder, "mvnet")["mel"])
    pipeline = Pipeline()
    frames = pipeline.latest()
    states = pipeline.latest()
    shown = pipeline.latest()
    timeline = AudioTimeline(mel_cfg.sample_rate)

    controls = Controls(seed=cfg.seed, input_gain_db=cfg.input_gain_db, smoothing=cfg.smoothing)
    presets = PresetStore(job.presets or default_presets_path())
    dispatch = Dispatcher(controls, presets)
    outputs: list[Any] = []
    video = None
    sources: list[Any] = []
    status_lines = lambda: []  # noqa: E731 - replaced once the set's parts exist
    try:  # what a user can get wrong first, then the models (TensorRT may take minutes to build)
        sources = open_controls(job, dispatch)
        feedback = next((s for s in sources if hasattr(s, "send")), None)
        if job.window:
            outputs.append(WindowOutput(fullscreen=job.fullscreen, dispatch=dispatch, status=lambda: status_lines()))
        raw_video = open_video_source(job)
        raw_audio = open_audio_source(job, mel_cfg.sample_rate, raw_video)
        # a device lost during the set is retried (io/recovery.py); at the start it is the user's
        video = RecoveringVideo(raw_video, lambda: open_video_source(job), fill=cfg.camera_loss,
                                health=DeviceHealth(raw_video.name, job.on_device_event))
        audio = RecoveringAudio(raw_audio, lambda: open_audio_source(job, mel_cfg.sample_rate, raw_video),
                                health=DeviceHealth(raw_audio.name, job.on_device_event))
        width, height = output_size(video.width, video.height, job.size, job.height)
        video.output_size = (width, height)  # resized in the source's own thread, beside the stylizer
        check_frame_size(width, height, frame_size_limits(job.runtime),
                         f"{job.clip}: output" if job.clip is not None else f"camera {job.camera}: output")
        engine = Engine(job.runtime, job.providers)
        stnet = STNetRunner(engine, folder, style_size=cfg.style_size)
        bank = None if job.styles is None else StyleBank.from_folder(job.styles, stnet, cfg.style_size,
                                                                     cfg.styles_temperature)
        dispatch.styles = 0 if bank is None else len(bank.states)
        style_hz = cfg.cpu_style_hz if stnet.provider == "cpu" else cfg.style_hz
        ticker = StyleTicker(MVNetRunner(engine, folder), stnet,
                             TickSettings(cfg.style_size, cfg.smoothing, 1.0 / style_hz), controls, bank,
                             Reactive(job.reactive, 1.0 / style_hz))
        stats = LiveStats(provider=stnet.provider)
        t0 = time.monotonic()
        open_outputs(job, width, height, t0, outputs)
    except BaseException:
        for out in outputs:
            out.close(complete=False)
        if video is not None:
            video.close()
        for source in sources:
            source.close()
        raise
    status = SetStatus(stats, RecentFigures(), controls, ticker, stnet,
                       [video.health, audio.health] + [o.health for o in outputs if hasattr(o, "health")],
                       lambda now: update(now))
    status_lines = status.lines  # noqa: F811 - the window's overlay reads this one
    level_dbfs, device_problems, recent = status.level_dbfs, status.problems, status.recent

    def style_worker() -> None:
        """Ticks at style_hz on the wall clock; a tick that would start late is skipped, never
        queued, so the style stays current. Frozen: the audio keeps flowing, the style holds."""
        period = 1.0 / style_hz
        next_tick, last = time.monotonic(), None
        while not pipeline.stop.is_set():
            start = ticker.trailing_start(timeline.end)
            if controls.frozen and ticker.state is not None:
                timeline.release_before(max(0, start))
                next_tick, last = time.monotonic() + period, None
                pipeline.stop.wait(period)
                continue
            now = time.monotonic()
            states.put((now, ticker.tick(timeline, start, None if last is None else now - last,
                                         anchor=timeline.end)))
            timeline.release_before(max(0, start))
            last = now
            stats.ticks += 1
            next_tick += period
            if time.monotonic() > next_tick:  # too slow for style_hz: skip ticks, never queue them
                missed = int((time.monotonic() - next_tick) / period) + 1
                stats.skipped_ticks += missed
                next_tick += missed * period
            pipeline.stop.wait(max(0.0, next_tick - time.monotonic()))

    def stylize_worker() -> None:
        while states.peek() is None:  # the first style tick
            if pipeline.stop.wait(0.01):
                return
        glide = StyleGlide(1.0 / style_hz)
        while True:
            item = frames.get()
            if item is END:
                break
            frame: Captured = item
            image = frame.image if (frame.image.shape[1], frame.image.shape[0]) == (width, height) \
                else resize_to(frame.image, width, height)
            state = glide.at(states.peek(), time.monotonic())  # glides on even when bypassed
            strength = controls.frame_strength(state.strength)
            as_is = controls.blackout or strength <= 0.0 or frame.as_is
            styled = image if as_is else stnet.stylize(image, state, strength)
            shown.put((styled, frame.captured, image, 0.0 if as_is else strength, state.strength))
            stats.stylized += 1
        shown.end()

    def output_loop() -> None:
        end = None if job.duration is None else t0 + job.duration
        next_status = t0 + cfg.status_every
        next_feedback = t0 + FEEDBACK_SECONDS
        terminal = job.status and sys.stderr.isatty()
        black = np.zeros((height, width, 3), np.uint8)
        while end is None or time.monotonic() < end:
            item = shown.get()
            if item is END:
                return
            image, captured, raw, used, state_strength = item
            if controls.blackout:  # at once, whatever the stylizer was doing
                image = black
            elif controls.bypass:
                image = raw
            elif used > 0.0 and abs(controls.frame_strength(state_strength) - used) > 1e-6:
                image = reblend(raw, image, used, controls.frame_strength(state_strength))
            now = time.monotonic()
            for out in list(outputs):
                try:
                    if not out.show(image, now):
                        return
                except Exception as exc:  # noqa: BLE001 - one failing output must not end the others
                    drop_output(out, exc)
            stats.shown += 1
            latency = (time.monotonic() - captured) * 1000.0
            stats.latencies_ms.append(latency)
            recent.add(now, latency)
            if len(stats.latencies_ms) > 10_000:  # a long set: keep the recent ones
                del stats.latencies_ms[:5_000]
            if feedback is not None and now >= next_feedback:
                r, level = recent.figures(now), level_dbfs()
                feedback.send({"fps": r["fps"], "latency": r["latency"],
                               **({} if level is None else {"level": level})})
                next_feedback = now + FEEDBACK_SECONDS
            if terminal and now >= next_status:
                update(now)
                level = level_dbfs()
                print(f"\rlive: {stats.line()} {stnet.model}, {'-' if level is None else f'{level:.0f}'} dBFS, "
                      f"{control_state(controls)}{''.join(', ' + p for p in device_problems())}   ",
                      end="", file=sys.stderr, flush=True)
                next_status = now + cfg.status_every

    def drop_output(out: Any, exc: Exception) -> None:
        """A failed output (a dropped network stream) is reported once and closed; the others go
        on, and what they recorded is kept. When none is left the set ends with the error."""
        outputs.remove(out)
        name = getattr(out, "url", None) or getattr(out, "path", None) or "the window"
        try:
            out.close(complete=False)
        except Exception:  # noqa: BLE001 - it has failed already
            pass
        if not outputs:
            raise exc
        log.warning("%s: output failed and was dropped (%s); %d other output(s) go on",
                    name, str(exc).removeprefix(f"{name}: "), len(outputs))

    def update(now: float) -> None:
        stats.seconds = now - t0
        stats.dropped = frames.dropped
        stats.captured = stats.stylized + frames.dropped
        stats.audio_overflows = audio.overflows
        stats.outages = sorted((o for h in status.healths for o in h.outages), key=lambda o: o.lost_at)

    for source in sources:
        if hasattr(source, "start"):
            source.start()
    pipeline.stage("video source", lambda: video.run(frames, pipeline.stop, t0))
    pipeline.stage("audio source", lambda: audio.run(timeline, pipeline.stop, t0))
    pipeline.stage("style worker", style_worker)
    pipeline.stage("stylize worker", stylize_worker)
    complete = False
    try:
        pipeline.run(main=output_loop)
        complete = True
    except KeyboardInterrupt:  # Ctrl-C is how a set ends: keep the recording
        complete = True
    finally:
        update(time.monotonic())
        for source in sources:
            source.close()
        for out in outputs:
            out.close(complete=complete)
        if job.status and sys.stderr.isatty():
            print(file=sys.stderr)
    return stats


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
    for name in ("seed", "smoothing"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    window = not args.no_window and not (args.output or args.stream or args.virtual_cam or args.ndi) or args.window
    job = LiveJob(camera=args.camera, clip=args.clip, loop=args.loop, mic=args.mic, audio=args.audio,
                  window=window, fullscreen=args.fullscreen, record=args.output, stream=args.stream,
                  stream_format=args.stream_format, size=args.size, height=args.height, duration=args.duration,
                  cfg=cfg, runtime=runtime, providers=args.providers, models=args.models, styles=args.styles,
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
