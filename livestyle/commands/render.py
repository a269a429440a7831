"""`livestyle render`: a clip in, the clip restyled by its own music out, audio muxed back.

Threads (see livestyle.pipeline), joined by bounded queues:
  audio reader   decodes the audio track into an AudioTimeline (mono 22 050 Hz), ahead of video
  video reader   decodes frames at the output size, resamples them to the output rate
  style worker   every 1/20 s tick t: waits for audio up to t + 4.455 s, then the style tick
                 (livestyle.runtime.style_ticker) on the 8.91 s window centred on t
  stylize worker each frame -> the style state at its time (interpolated between the ticks
                 around it) -> STNet content branch
  writer         encodes frames and muxes the audio (copied, or re-encoded where it must be)
The output goes to a temporary file beside the target and is renamed into place when complete.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from tqdm import tqdm

from livestyle.audio.timeline import AudioTimeline
from livestyle.config import load_config
from livestyle.controls import Controls
from livestyle.errors import UserError
from livestyle.io.decode import decode_audio, decode_video, require_audio
from livestyle.io.encode import VideoWriter, check_crf, video_codec
from livestyle.io.images import output_size
from livestyle.io.media import MediaInfo, probe
from livestyle.io.paths import check_output
from livestyle.pipeline import END, Channel, Pipeline
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner
from livestyle.runtime.sessions import Engine, RuntimeConfig, frame_size_limits
from livestyle.runtime.stnet_runner import STNetRunner, check_frame_size
from livestyle.runtime.style_bank import BUILTIN, StyleBank, look_grid, styles_folder
from livestyle.runtime.style_state import StyleTrack
from livestyle.runtime.reactive import Reactive, ReactiveConfig, load_reactive_config
from livestyle.runtime.style_ticker import StyleTicker, TickSettings, check_tick_config

log = logging.getLogger(__name__)


@dataclass
class RenderConfig:
    fps: int | str = 20            # "source" keeps the input's rate
    style_hz: int = 20             # style ticks per second of output (the paper's 20)
    cpu_style_hz: int = 5          # ... when the frames are painted on the CPU, where the tick shares the
                                   # cores: states are interpolated between ticks (StyleTrack), not
                                   # skipped (bench/RESULTS.md, issue 11)
    smoothing: float = 0.5         # seconds; see bench/temporal.py for how it was chosen
    hold: float = 0.0              # RMS change of MVNet's image before the look follows (0: off)
    style_size: int = 128
    seed: int = 0
    crf: int = 20
    styles: str = "builtin"        # the bank the music steers: builtin (the shipped paintings), mvnet
                                   # (MVNet's image itself) or a folder of images; --styles overrides
    styles_temperature: float = 0.2  # --styles: lower = the music picks one look, higher = blends
    styles_follow: float = 4.0     # --styles: seconds the music embedding that steers the bank is averaged over
    frame_queue: int = 8
    style_queue: int = 40


@dataclass
class RenderJob:
    input: Path
    output: Path
    cfg: RenderConfig = field(default_factory=RenderConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    providers: tuple[str, ...] | None = None
    audio: Path | None = None
    start: float = 0.0
    duration: float | None = None
    size: tuple[int, int] | None = None
    height: int | None = None
    codec: str | None = None
    models: Path | None = None
    styles: Path | None = BUILTIN  # the bank's folder (the music chooses among its images); None: MVNet's image
    reactive: ReactiveConfig = field(default_factory=ReactiveConfig)  # loudness/onsets -> the picture
    progress: bool = True


@dataclass
class RenderStats:
    frames: int = 0
    ticks: int = 0
    seconds: float = 0.0
    provider: str = ""
    output: Path | None = None
    style_hz: int = 0


def validate(job: RenderJob) -> tuple[MediaInfo, Path, float]:
    """Check everything a user can get wrong before any work starts. Returns the media info, the
    audio source and the zero time of that source."""
    info = probe(job.input)
    if job.styles is not None:
        StyleBank.image_files(job.styles)
    if job.audio is not None:
        require_audio(job.audio)
        audio_source, audio_zero = job.audio, 0.0
    elif not info.has_audio:
        raise UserError(f"{job.input}: has no audio stream; pass --audio FILE to drive the style with "
                        f"(and mux) another recording")
    else:
        audio_source, audio_zero = job.input, info.zero
    if job.start < 0:
        raise UserError(f"--start must be >= 0, got {job.start}")
    if info.duration and job.start >= info.duration:
        raise UserError(f"{job.input}: --start {job.start:g} s is beyond the end of the video "
                        f"({info.duration:.2f} s)")
    if job.duration is not None and job.duration <= 0:
        raise UserError(f"--duration must be positive, got {job.duration}")
    check_output(job.output, (job.input, job.audio))
    check_crf(video_codec(job.output, job.codec), job.cfg.crf)  # container, encoder, quality: before any work
    fps = job.cfg.fps
    if not (fps == "source" or (isinstance(fps, int) and fps > 0)):
        raise UserError(f"fps must be a positive integer or 'source', got {fps!r}")
    return info, audio_source, audio_zero


@dataclass(frozen=True)
class RenderPlan:
    """What a job works out to: output size and rate, frame and tick counts."""
    start: float
    length: float          # seconds of output
    fps: Fraction
    n_frames: int
    width: int
    height: int
    tick_seconds: float
    n_ticks: int

    @classmethod
    def of(cls, job: RenderJob, info: MediaInfo, style_hz: int | None = None) -> "RenderPlan":
        end = info.duration if job.duration is None else min(info.duration, job.start + job.duration)
        length = end - job.start
        fps = info.fps if job.cfg.fps == "source" else Fraction(int(job.cfg.fps))
        width, height = output_size(info.width, info.height, job.size, job.height)
        plan = cls(job.start, length, fps, max(1, round(length * fps)), width, height, 0.0, 0)
        return plan.ticking_at(style_hz or job.cfg.style_hz)

    def ticking_at(self, style_hz: int) -> "RenderPlan":
        return replace(self, tick_seconds=1.0 / style_hz, n_ticks=int(math.ceil(self.length * style_hz)) + 1)


# ---------------------------------------------------------------------------- stages (one thread each)

def read_audio(source: Path, zero: float, start: float, needed: int, timeline: AudioTimeline,
               stop: threading.Event, expected: int = 0) -> None:
    """Decode `source` from `start` into `timeline` (gaps become silence) until `needed` samples.
    Audio that ends before `expected` samples (the video's length) is reported: silence follows."""
    sr, position = timeline.sample_rate, None
    for t, chunk in decode_audio(source, sr, zero=zero, start=start):
        if stop.is_set():
            break
        if position is None:
            position = int(round((t - start) * sr))
        if position < 0:  # decoding starts at the keyframe before --start
            drop = min(-position, len(chunk))
            chunk, position = chunk[drop:], position + drop
            if not len(chunk):
                continue
        if position > timeline.end:  # a gap in the stream: silence
            timeline.append(np.zeros(position - timeline.end, np.float32))
        timeline.wait_for_room(stop)
        timeline.append(chunk)
        position += len(chunk)
        if timeline.end >= needed:
            break
    if not stop.is_set() and timeline.end < expected - sr // 2:
        log.warning("%s: the audio ends at %.2f s, before the %.2f s asked for (damaged or truncated file?); "
                    "the style hears silence after that", source, start + timeline.end / sr, start + expected / sr)
    timeline.finish()


def at_constant_rate(frames: Iterator[tuple[float, np.ndarray]], fps: Fraction,
                     n_frames: int) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, time, frame) at `fps`: each output time takes the nearest source frame; a stream
    that ends early holds its last frame."""
    index, previous = 0, None
    for t, frame in frames:
        while index < n_frames and index / fps <= t:
            tau = float(index / fps)
            yield index, tau, frame if previous is None or t - tau < tau - previous[0] else previous[1]
            index += 1
        previous = (t, frame)
        if index >= n_frames:
            return
    while previous is not None and index < n_frames:
        yield index, float(index / fps), previous[1]
        index += 1


def read_frames(job: RenderJob, info: MediaInfo, plan: RenderPlan, out: Channel) -> None:
    """Decoded frames at the output size (resized in the decoder's own conversion), at the output
    rate or the source's."""
    last = [None]  # time of the last decoded frame

    def decoded():
        for t, frame in decode_video(job.input, info.zero, plan.start, info.orientation, size=(plan.width, plan.height)):
            last[0] = t - plan.start
            yield t - plan.start, frame

    if job.cfg.fps == "source":
        for index, (t, frame) in enumerate(decoded()):
            if index >= plan.n_frames:
                break
            out.put((index, t, frame))
    else:
        for item in at_constant_rate(decoded(), plan.fps, plan.n_frames):
            out.put(item)
    if last[0] is None:
        raise UserError(f"{job.input}: no decodable video from {plan.start:g} s on (damaged or truncated file?)")
    if last[0] < plan.length - 2.0 / float(plan.fps):
        log.warning("%s: the video ends at %.2f s, before the %.2f s asked for (damaged or truncated file?); "
                    "its last frame is held to the end", job.input, plan.start + last[0], plan.start + plan.length)
    out.put(END)


def tick_styles(ticker: StyleTicker, timeline: AudioTimeline, plan: RenderPlan, out: Channel,
                stop: threading.Event) -> None:
    """One style state per tick k at time k * tick_seconds, from the window centred on it; waits
    until the audio the window needs is decoded (or the recording ends)."""
    clip = ticker.mel_config.clip_samples
    for k in range(plan.n_ticks):
        start = ticker.centred_start(k * plan.tick_seconds)
        if not timeline.wait_until(start + clip, stop):
            return
        state = ticker.tick(timeline, start)
        timeline.release_before(start)
        out.put((k * plan.tick_seconds, state))
    out.put(END)


def stylize_frames(stnet: STNetRunner, frames: Channel, styles: Channel, out: Channel) -> None:
    """Each frame with the style state at its time, interpolated between the ticks around it."""
    track = StyleTrack()
    ended = False
    while (item := frames.get()) is not END:
        index, t, frame = item
        while not ended and (track.last_time is None or track.last_time < t):
            got = styles.get()
            if got is END:
                ended = True
            else:
                track.add(*got)
        out.put((index, stnet.stylize(frame, track.at(t))))
    out.put(END)


def write_frames(writer: VideoWriter, frames: Channel, bar: tqdm, stop: threading.Event) -> int:
    """Encode until the end marker; then stop the producers still running ahead (audio read-ahead,
    ticks past the last frame) instead of letting them block on full queues."""
    written = 0
    while (item := frames.get()) is not END:
        writer.write(item[1])
        written += 1
        bar.update(1)
    stop.set()
    return written


# ---------------------------------------------------------------------------------------- render

def render(job: RenderJob) -> RenderStats:
    cfg = job.cfg
    info, audio_source, audio_zero = validate(job)
    plan = RenderPlan.of(job, info)
    if info.duration and plan.length * plan.fps < 0.5:  # not one whole frame: refuse an audio-only "video"
        raise UserError(f"{job.input}: nothing to render: {max(plan.length, 0):.3f} s from --start {job.start:g} "
                        f"is less than one frame at {float(plan.fps):g} fps")
    check_frame_size(plan.width, plan.height, frame_size_limits(job.runtime), f"{job.input}: output")
    engine = Engine(job.runtime, job.providers)
    folder = models_dir(job.models)
    stnet = STNetRunner(engine, folder, style_size=cfg.style_size)
    style_hz = cfg.cpu_style_hz if stnet.provider == "cpu" else cfg.style_hz
    plan = plan.ticking_at(style_hz)
    bank = None if job.styles is None else StyleBank.from_folder(job.styles, stnet, cfg.style_size, cfg.styles_temperature,
                                                                look_grid(job.reactive))
    ticker = StyleTicker(MVNetRunner(engine, folder), stnet,
                         TickSettings(cfg.style_size, cfg.smoothing, plan.tick_seconds, cfg.hold, cfg.styles_follow), Controls(seed=cfg.seed), bank,
                         Reactive(job.reactive, plan.tick_seconds))
    mel_cfg = ticker.mel_config
    writer: VideoWriter | None = None  # created last, inside the try that deletes it on any failure
    pipeline = Pipeline()
    timeline = AudioTimeline(mel_cfg.sample_rate)
    frames_q, styles_q, out_q = (pipeline.channel(n) for n in (cfg.frame_queue, cfg.style_queue, cfg.frame_queue))
    stats = RenderStats(provider=stnet.provider, style_hz=style_hz)
    bar = tqdm(total=plan.n_frames, unit="frame", desc=f"render {job.output.name}", dynamic_ncols=True,
               disable=not (job.progress and sys.stderr.isatty()))
    needed = int((plan.length + mel_cfg.clip_seconds) * mel_cfg.sample_rate) + mel_cfg.sample_rate

    def writer_stage() -> None:
        stats.frames = write_frames(writer, out_q, bar, pipeline.stop)

    pipeline.stage("audio reader", lambda: read_audio(audio_source, audio_zero, job.start, needed, timeline,
                                                      pipeline.stop, int(plan.length * mel_cfg.sample_rate)))
    pipeline.stage("video reader", lambda: read_frames(job, info, plan, frames_q))
    pipeline.stage("style worker", lambda: tick_styles(ticker, timeline, plan, styles_q, pipeline.stop))
    pipeline.stage("stylize worker", lambda: stylize_frames(stnet, frames_q, styles_q, out_q))
    pipeline.stage("writer", writer_stage)
    t0 = time.perf_counter()
    try:
        writer = VideoWriter(job.output, plan.width, plan.height, plan.fps, codec=job.codec, crf=cfg.crf,
                             audio_source=audio_source, audio_zero=audio_zero, audio_start=job.start,
                             end_time=plan.n_frames / plan.fps)
        with bar:
            pipeline.run()
        stats.output = writer.commit()
    except av.error.FFmpegError as exc:
        if writer is not None:
            writer.abort()
        raise UserError(f"{job.input}: {exc}") from None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    stats.seconds = time.perf_counter() - t0
    stats.ticks = plan.n_ticks
    log.debug("wrote %s: %d frames in %.1f s (%.2f fps, %s)", job.output, stats.frames, stats.seconds,
              stats.frames / max(stats.seconds, 1e-9), stats.provider)
    return stats


def load_render_config(path: Path | None) -> tuple[RenderConfig, RuntimeConfig]:
    return (load_config(RenderConfig, path, section="render"),
            load_config(RuntimeConfig, path, section="runtime"))



def run(args: argparse.Namespace) -> None:
    """`livestyle render`: options -> job -> result on the terminal."""
    cfg, runtime = load_render_config(args.config)
    if args.model is not None:
        runtime.model = args.model
    for name in ("style_hz", "cpu_style_hz"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 120:
            raise UserError(f"{args.config}:render: {name} must be a whole number of ticks per second in 1..120, "
                            f"not {value!r}")
    for name in ("fps", "seed", "smoothing", "hold", "crf"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    check_tick_config(cfg, f"{args.config}:render")
    styles = styles_folder(*((args.styles, "--styles") if args.styles is not None
                             else (cfg.styles, f"{args.config}:render")))
    job = RenderJob(args.input, args.output, cfg, runtime, providers=args.providers, audio=args.audio,
                    start=args.start, duration=args.duration, size=args.size, height=args.height,
                    codec=args.codec, models=args.models, styles=styles, progress=not args.quiet,
                    reactive=load_reactive_config(args.config, args.no_reactive))
    stats = render(job)
    if not args.quiet:
        print(f"{stats.output}: {stats.frames} frames in {stats.seconds:.1f} s "
              f"({stats.frames / max(stats.seconds, 1e-9):.2f} fps on {stats.provider}, style {stats.style_hz} Hz)")
